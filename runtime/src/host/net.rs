//! Containers on networks: addresses taken at create and given back at removal, the
//! network namespace and veths of each run, published ports, and /etc/hosts entries for
//! the containers sharing a user-defined network.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use rbox_network::endpoint::{self, Attachment, Endpoint};
use rbox_network::store::DEFAULT_NETWORK;
use rbox_network::{Networks, PortMapping};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;
use crate::store::containers::Containers;
use crate::store::process;

/// The networks of the containers' data root.
pub fn networks(containers: &Containers) -> Networks {
    Networks::open(containers.root())
}

/// Whether a network mode puts the container on networks of its own (not `none`, `host`
/// or another container's).
pub fn on_networks(mode: &str) -> bool {
    crate::model::namespaces::NetworkMode::parse(mode).has_networks()
}

/// `--ip`'s value.
fn parse_ip(ip: &str) -> Result<Ipv4Addr> {
    ip.parse().map_err(|_| Error::InvalidOption {
        flag: "--ip".into(),
        reason: format!("{ip:?} is not an IPv4 address"),
    })
}

/// Takes an address on `mode`'s network for a new container (`--ip`, `--network-alias`).
pub fn join(
    containers: &Containers,
    id: &str,
    mode: &str,
    ip: Option<&str>,
    aliases: &[String],
) -> Result<Vec<Endpoint>> {
    if !on_networks(mode) {
        if ip.is_some() {
            return Err(Error::InvalidOption {
                flag: "--ip".into(),
                reason: format!("a fixed address needs a network, not {mode:?}"),
            });
        }
        return Ok(Vec::new());
    }
    let wanted = ip.map(parse_ip).transpose()?;
    if (wanted.is_some() || !aliases.is_empty()) && mode == DEFAULT_NETWORK {
        let flag = if wanted.is_some() {
            "--ip"
        } else {
            "--network-alias"
        };
        return Err(Error::InvalidOption {
            flag: flag.into(),
            reason: "only on user-defined networks".into(),
        });
    }
    let nets = networks(containers);
    let net = nets.get(mode).map_err(|e| match e {
        rbox_network::Error::NoSuchNetwork(_) => Error::InvalidOption {
            flag: "--network".into(),
            reason: e.to_string(),
        },
        e => e.into(),
    })?;
    Ok(vec![Endpoint::join(
        &nets,
        &net,
        id,
        &holder(),
        wanted,
        aliases.to_vec(),
    )?])
}

/// Gives back the addresses of a removed container, and takes its name out of the hosts
/// files of the containers it shared a network with.
pub fn release(containers: &Containers, config: &ContainerConfig) {
    if config.host.networks.is_empty() {
        return;
    }
    let nets = networks(containers);
    for ep in &config.host.networks {
        ep.leave(&nets, &config.id);
    }
    refresh_peers(containers, config);
}

/// Sets up the network of one run: namespace, veths, published ports.
pub fn attach(containers: &Containers, config: &ContainerConfig) -> Result<Option<Attachment>> {
    if config.host.networks.is_empty() {
        return Ok(None);
    }
    let nets = networks(containers);
    let attached = endpoint::setup(
        &nets,
        &config.id,
        &config.host.networks,
        &config.host.port_bindings,
    )?;
    crate::host::dns::attached(containers, config);
    Ok(Some(attached))
}

/// Undoes [`attach`] after a run; `published` are the ports it published.
pub fn detach(containers: &Containers, config: &ContainerConfig, published: &[PortMapping]) {
    if config.host.networks.is_empty() {
        return;
    }
    crate::host::dns::detached(containers, config);
    endpoint::teardown(
        &networks(containers),
        &config.id,
        &config.host.networks,
        published,
    );
}

/// The ids of the user-defined networks a container is on (names are resolved there only,
/// as docker does).
fn user_networks(config: &ContainerConfig) -> Vec<&str> {
    config
        .host
        .networks
        .iter()
        .filter(|e| e.network != DEFAULT_NETWORK)
        .map(|e| e.network_id.as_str())
        .collect()
}

/// The /etc/hosts lines naming the other containers on `config`'s user-defined networks.
pub fn peer_hosts(containers: &Containers, config: &ContainerConfig) -> String {
    if user_networks(config).is_empty() {
        return String::new();
    }
    peer_lines(config, &all_configs(containers))
}

/// Every container's configuration, each read once.
fn all_configs(containers: &Containers) -> Vec<ContainerConfig> {
    containers
        .ids()
        .unwrap_or_default()
        .iter()
        .filter_map(|id| containers.read_config(id).ok())
        .collect()
}

/// The hosts lines of `config`'s peers among `all`: every other container's address on a
/// user-defined network it shares, with its name and aliases.
fn peer_lines(config: &ContainerConfig, all: &[ContainerConfig]) -> String {
    let mine = user_networks(config);
    let mut out = String::new();
    for other in all.iter().filter(|o| o.id != config.id) {
        for ep in other
            .host
            .networks
            .iter()
            .filter(|e| mine.contains(&e.network_id.as_str()))
        {
            let _ = write!(out, "{}\t{}", ep.ip_address, other.name);
            for a in &ep.aliases {
                let _ = write!(out, " {a}");
            }
            out.push('\n');
        }
    }
    out
}

/// Rewrites the hosts files of the running containers sharing a user-defined network with
/// `config` (in place: the file is bind-mounted into each of them). Every configuration
/// is read once, however many peers there are.
pub fn refresh_peers(containers: &Containers, config: &ContainerConfig) {
    let mine = user_networks(config);
    if mine.is_empty() {
        return;
    }
    let all = all_configs(containers);
    for other in all.iter().filter(|o| o.id != config.id) {
        let hosts = containers.run_path(&other.id).join("hosts");
        if !other
            .host
            .networks
            .iter()
            .any(|e| mine.contains(&e.network_id.as_str()))
            || !hosts.exists()
        {
            continue;
        }
        rewrite_hosts(other, &peer_lines(other, &all), &hosts);
    }
}

/// Rewrites a running container's hosts file in place (it is bind-mounted, by inode).
fn rewrite_hosts(config: &ContainerConfig, peers: &str, path: &std::path::Path) {
    let text = crate::oci::etc::hosts_for(config, peers);
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
}

/// `network connect`: an address on one more network, and, if the container runs, an
/// interface there at once.
pub fn connect(
    containers: &Containers,
    id: &str,
    network: &str,
    ip: Option<&str>,
    aliases: &[String],
) -> Result<()> {
    let _lock = containers.lock(id)?;
    let mut config = containers.read_config(id)?;
    if !on_networks(&config.host.network_mode) {
        return Err(Error::Conflict(format!(
            "container {} is on the {} network: it can't join another",
            config.name, config.host.network_mode
        )));
    }
    let nets = networks(containers);
    let net = nets.get(network)?;
    if config.host.networks.iter().any(|e| e.network_id == net.id) {
        return Err(Error::Conflict(format!(
            "container {} is already connected to network {}",
            config.name, net.name
        )));
    }
    let wanted = ip.map(parse_ip).transpose()?;
    let ep = Endpoint::join(&nets, &net, id, &holder(), wanted, aliases.to_vec())?;
    let running = containers.read_state(id)?.is_running();
    if running {
        let plugged =
            endpoint::next_ifname(id).and_then(|ifname| endpoint::connect(&nets, id, &ep, &ifname));
        if let Err(e) = plugged {
            ep.leave(&nets, id);
            return Err(e.into());
        }
    }
    config.host.networks.push(ep);
    containers.write_config(&config)?;
    refresh_own_and_peers(containers, &config);
    let attrs = [
        ("container", id.to_owned()),
        ("name", net.name.clone()),
        ("type", "bridge".into()),
    ];
    crate::store::events::other(containers.root(), "network", "connect", &net.id, &attrs);
    Ok(())
}

/// `network disconnect`.
pub fn disconnect(containers: &Containers, id: &str, network: &str) -> Result<()> {
    let _lock = containers.lock(id)?;
    let mut config = containers.read_config(id)?;
    let nets = networks(containers);
    let net = nets.get(network)?;
    let Some(pos) = config
        .host
        .networks
        .iter()
        .position(|e| e.network_id == net.id)
    else {
        return Err(Error::Conflict(format!(
            "container {} is not connected to network {}",
            config.name, net.name
        )));
    };
    if containers.read_state(id)?.is_running() {
        endpoint::disconnect(id, &config.host.networks[pos])?;
    }
    let ep = config.host.networks.remove(pos);
    ep.leave(&nets, id);
    containers.write_config(&config)?;
    let mut gone = config.clone();
    gone.host.networks.push(ep);
    refresh_own_and_peers(containers, &gone);
    let attrs = [
        ("container", id.to_owned()),
        ("name", net.name.clone()),
        ("type", "bridge".into()),
    ];
    crate::store::events::other(containers.root(), "network", "disconnect", &net.id, &attrs);
    Ok(())
}

fn refresh_own_and_peers(containers: &Containers, config: &ContainerConfig) {
    refresh_peers(containers, config);
    let hosts = containers.run_path(&config.id).join("hosts");
    if hosts.exists() {
        if let Ok(now) = containers.read_config(&config.id) {
            rewrite_hosts(&now, &peer_hosts(containers, &now), &hosts);
        }
    }
}

/// This process, as the taker of an address: `PID START` (its start time, since a pid is
/// reused).
fn holder() -> String {
    let me = std::process::id() as i32;
    format!("{me} {}", process::start_time(me).unwrap_or(0))
}

/// Whether the process that took an address (its holder, as [`holder`] writes it) is gone.
fn holder_gone(holder: Option<&str>) -> bool {
    let Some((pid, start)) = holder.and_then(|h| h.split_once(' ')) else {
        return false;
    };
    match (pid.parse(), start.parse()) {
        (Ok(pid), Ok(start)) => !process::alive(pid, start),
        _ => false,
    }
}

/// Gives back the addresses held by containers that don't exist (a create killed between
/// taking its address and recording the container): at once when the process that took it
/// is gone, else once they are 10 s old (a create in progress holds one for a moment).
/// Claims a killed taker left unlinked go once 10 s old.
pub fn sweep_addresses(containers: &Containers) {
    let nets = networks(containers);
    for net in nets.list().unwrap_or_default() {
        nets.sweep_claims(&net, std::time::Duration::from_secs(10));
        for (ip, owner) in nets.users(&net).unwrap_or_default() {
            let gone = owner.is_empty()
                || !(containers.dir(&owner).join("container.json").exists()
                    || containers
                        .root()
                        .join("pods")
                        .join(&owner)
                        .join("pod.json")
                        .exists());
            if gone {
                let age = if holder_gone(nets.holder(&net, ip).as_deref()) {
                    std::time::Duration::ZERO
                } else {
                    std::time::Duration::from_secs(10)
                };
                nets.release_stale(&net, ip, &owner, age);
            }
        }
    }
}

/// The containers (ids) using each network, for `network rm` and `prune`.
pub fn in_use(containers: &Containers) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for id in containers.ids()? {
        if let Ok(c) = containers.read_config(&id) {
            for ep in c.host.networks {
                out.push((ep.network_id, id.clone()));
            }
        }
    }
    Ok(out)
}
