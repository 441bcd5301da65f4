//! The network verbs that need containers: which networks `network prune` removes, what
//! `network rm` refuses, and the document of `network inspect` (its members are
//! containers, which the network crate doesn't know).

use std::collections::BTreeMap;

use rbox_network::store::DEFAULT_NETWORK;
use rbox_network::{Network, Networks};
use serde::Serialize;

use crate::host::net;
use crate::store::containers::Containers;

/// Removes the user-defined networks no container uses that `filter` admits, and takes
/// the default network's bridge down when none uses it (it comes back on first use).
/// Returns the names removed.
pub fn prune(
    containers: &Containers,
    filter: &crate::model::prune_filter::PruneFilter,
) -> crate::Result<Vec<String>> {
    let nets = net::networks(containers);
    net::sweep_addresses(containers);
    let used = net::in_use(containers)?;
    let mut removed = Vec::new();
    for n in nets.list()? {
        if used.iter().any(|(net, _)| *net == n.id) {
            continue;
        }
        if n.name == DEFAULT_NETWORK {
            nets.take_down(&n)?;
        } else if !filter.admits(Some(&n.created), &n.labels) {
            continue;
        } else if nets.remove(&n.name).is_ok() {
            destroyed(containers.root(), &n);
            removed.push(n.name);
        }
    }
    Ok(removed)
}

/// Frees the addresses of containers that are gone, so that `remove` sees only the
/// networks' real users.
pub fn prepare_removal(containers: &Containers) {
    net::sweep_addresses(containers);
}

/// Removes network `name` (refused for the default network and for one in use).
pub fn remove(nets: &Networks, name: &str) -> Result<Network, rbox_network::Error> {
    if name == DEFAULT_NETWORK {
        return Err(rbox_network::Error::Conflict(format!(
            "{name} is a pre-defined network and cannot be removed"
        )));
    }
    nets.remove(name)
}

/// Records a network's `destroy` event.
pub fn destroyed(root: &std::path::Path, n: &Network) {
    let attrs = [("name", n.name.clone()), ("type", "bridge".into())];
    crate::store::events::other(root, "network", "destroy", &n.id, &attrs);
}

/// Records a network's `create` event.
pub fn created(root: &std::path::Path, n: &Network) {
    let attrs = [("name", n.name.clone()), ("type", "bridge".into())];
    crate::store::events::other(root, "network", "create", &n.id, &attrs);
}

/// Every network, the default one first even before its first use.
pub fn list(nets: &Networks) -> Result<Vec<Network>, rbox_network::Error> {
    let mut list = nets.list()?;
    if !list.iter().any(|n| n.name == DEFAULT_NETWORK) {
        if let Ok(d) = nets.get(DEFAULT_NETWORK) {
            list.insert(0, d);
        }
    }
    Ok(list)
}

/// A network as `docker network inspect` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkJson {
    name: String,
    id: String,
    created: String,
    scope: &'static str,
    driver: String,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Ipam,
    internal: bool,
    containers: BTreeMap<String, Member>,
    options: BTreeMap<&'static str, String>,
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    driver: &'static str,
    config: Vec<IpamConfig>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    subnet: String,
    gateway: String,
}

/// A container on the network.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Member {
    name: String,
    mac_address: String,
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

impl NetworkJson {
    /// The document of `n`, its members read from `containers`.
    pub fn new(nets: &Networks, containers: &Containers, n: Network) -> NetworkJson {
        let mut members = BTreeMap::new();
        for (ip, id) in nets.users(&n).unwrap_or_default() {
            let Ok(c) = containers.read_config(&id) else {
                continue;
            };
            let mac_address = c
                .host
                .networks
                .iter()
                .find(|e| e.network_id == n.id)
                .map(|e| e.mac_address.clone())
                .unwrap_or_default();
            let member = Member {
                name: c.name,
                mac_address,
                ipv4_address: format!("{ip}/{}", n.subnet.prefix),
            };
            members.insert(id, member);
        }
        NetworkJson {
            ipam: Ipam {
                driver: "default",
                config: vec![IpamConfig {
                    subnet: n.subnet.to_string(),
                    gateway: n.gateway.to_string(),
                }],
            },
            options: [("com.docker.network.bridge.name", n.bridge)]
                .into_iter()
                .collect(),
            name: n.name,
            id: n.id,
            created: n.created,
            scope: "local",
            driver: n.driver,
            enable_ipv6: false,
            internal: n.internal,
            containers: members,
            labels: n.labels,
        }
    }
}
