//! A container on its networks: an address on each, and while it runs a network namespace
//! of its own with a veth pair into each network's bridge.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::netlink::Netlink;
use crate::ports::{self, PortMapping, Reservation};
use crate::store::{Network, Networks};
use crate::{nat, netns, Result};

/// A container's place on one network, in docker's `EndpointSettings` terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// The network's name.
    pub network: String,
    /// The network's id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// The container's address.
    #[serde(rename = "IPAddress")]
    pub ip_address: Ipv4Addr,
    /// The subnet's prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// The network's gateway.
    pub gateway: Ipv4Addr,
    /// The container's hardware address there.
    pub mac_address: String,
    /// Other names the container has on this network (`--network-alias`).
    pub aliases: Vec<String>,
}

impl Endpoint {
    /// Joins `container` to `net`: an address of its own (`wanted`, or a free one), taken
    /// by `holder` (see [`Networks::allocate`]).
    pub fn join(
        nets: &Networks,
        net: &Network,
        container: &str,
        holder: &str,
        wanted: Option<Ipv4Addr>,
        aliases: Vec<String>,
    ) -> Result<Endpoint> {
        let ip = nets.allocate(net, container, holder, wanted)?;
        Ok(Endpoint {
            network: net.name.clone(),
            network_id: net.id.clone(),
            ip_address: ip,
            ip_prefix_len: net.subnet.prefix,
            gateway: net.gateway,
            mac_address: mac_for(ip)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            aliases,
        })
    }

    /// Gives the address back.
    pub fn leave(&self, nets: &Networks, container: &str) {
        if let Ok(net) = nets.get(&self.network) {
            nets.release(&net, self.ip_address, container);
        }
    }
}

/// docker's locally administered MAC for an address: 02:42 and the address.
fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// The host end of a container's veth on a network (15 characters at most).
fn host_veth(container: &str, network_id: &str) -> String {
    format!(
        "rb{}{}",
        &container[..8.min(container.len())],
        &network_id[..5.min(network_id.len())]
    )
}

/// What a running container holds of the network.
pub struct Attachment {
    /// Its network namespace, for the OCI spec.
    pub netns: PathBuf,
    /// Its published ports, with the host ports chosen.
    pub ports: Vec<PortMapping>,
    _reservation: Reservation,
}

/// Makes the container's network namespace, plugs it into each network (the first gives
/// the default route) and publishes its ports on the first. On error nothing is left.
pub fn setup(
    nets: &Networks,
    container: &str,
    endpoints: &[Endpoint],
    publish: &[PortMapping],
) -> Result<Attachment> {
    let reservation = ports::reserve(publish)?;
    let path = netns::path_for(container);
    // A namespace left by a monitor that was killed.
    teardown(nets, container, endpoints, &[]);
    let mut inner = netns::create(&path, || {
        let mut nl = Netlink::open()?;
        if let Some(lo) = nl.link_index("lo")? {
            nl.set_up(lo, None)?;
        }
        Ok(nl)
    })?;
    let plugged = (|| {
        let ns = File::open(&path)?;
        let mut host = Netlink::open()?;
        let mut first = None;
        for (i, ep) in endpoints.iter().enumerate() {
            let net = nets.get(&ep.network)?;
            plug(
                nets,
                &net,
                &mut host,
                &mut inner,
                ns.as_fd(),
                container,
                ep,
                &format!("eth{i}"),
                i == 0,
            )?;
            first.get_or_insert((net, ep.ip_address));
        }
        if let Some((net, ip)) = first {
            nat::publish(&net, ip, &reservation.mappings)?;
        }
        Ok(())
    })();
    if let Err(e) = plugged {
        teardown(nets, container, endpoints, &reservation.mappings);
        return Err(e);
    }
    Ok(Attachment {
        netns: path,
        ports: reservation.mappings.clone(),
        _reservation: reservation,
    })
}

#[allow(clippy::too_many_arguments)]
fn plug(
    nets: &Networks,
    net: &Network,
    host: &mut Netlink,
    inner: &mut Netlink,
    ns: BorrowedFd<'_>,
    container: &str,
    ep: &Endpoint,
    ifname: &str,
    default_route: bool,
) -> Result<()> {
    nets.ensure_up(net)?;
    let veth = host_veth(container, &net.id);
    let ctx = |what: &str, e: std::io::Error| {
        crate::Error::io(format!("network {}: {what}", net.name), e)
    };
    host.delete_link(&veth)
        .map_err(|e| ctx("removing an old veth", e))?;
    host.add_veth(&veth, ifname, ns, None)
        .map_err(|e| ctx("creating the veth pair", e))?;
    let (Some(index), Some(bridge)) = (
        host.link_index(&veth).map_err(|e| ctx("veth", e))?,
        host.link_index(&net.bridge).map_err(|e| ctx("bridge", e))?,
    ) else {
        return Err(crate::Error::io(
            format!("network {}: bridge {} or veth {veth}", net.name, net.bridge),
            std::io::Error::from_raw_os_error(nix::libc::ENODEV),
        ));
    };
    host.set_up(index, Some(bridge))
        .map_err(|e| ctx("attaching the veth", e))?;
    let inside = inner
        .link_index(ifname)
        .map_err(|e| ctx(ifname, e))?
        .ok_or_else(|| {
            crate::Error::io(
                format!("network {}: {ifname}", net.name),
                std::io::Error::from_raw_os_error(nix::libc::ENODEV),
            )
        })?;
    inner
        .set_address(inside, mac_for(ep.ip_address))
        .map_err(|e| ctx("setting the MAC address", e))?;
    inner
        .add_address(inside, ep.ip_address, ep.ip_prefix_len)
        .map_err(|e| ctx("setting the address", e))?;
    inner
        .set_up(inside, None)
        .map_err(|e| ctx("setting the interface up", e))?;
    if default_route && !net.internal {
        inner
            .add_default_route(ep.gateway)
            .map_err(|e| ctx("adding the default route", e))?;
    }
    Ok(())
}

/// Undoes [`setup`]: unpublishes `published`, removes the veths and the namespace. What
/// isn't there is not an error.
pub fn teardown(
    nets: &Networks,
    container: &str,
    endpoints: &[Endpoint],
    published: &[PortMapping],
) {
    let mut host = Netlink::open().ok();
    for (i, ep) in endpoints.iter().enumerate() {
        if let Some(h) = host.as_mut() {
            let _ = h.delete_link(&host_veth(container, &ep.network_id));
        }
        if i == 0 && !published.is_empty() {
            if let Ok(net) = nets.get(&ep.network) {
                nat::unpublish(&net, ep.ip_address, published);
            }
        }
    }
    let _ = netns::remove(&netns::path_for(container));
}

/// Plugs a running container (its namespace at [`netns::path_for`]) into one more network
/// as `ifname`.
pub fn connect(nets: &Networks, container: &str, ep: &Endpoint, ifname: &str) -> Result<()> {
    let path = netns::path_for(container);
    let ns = File::open(&path)?;
    let mut inner = netns::enter(&path, Netlink::open)?;
    let mut host = Netlink::open()?;
    let net = nets.get(&ep.network)?;
    let r = plug(
        nets,
        &net,
        &mut host,
        &mut inner,
        ns.as_fd(),
        container,
        ep,
        ifname,
        false,
    );
    if r.is_err() {
        let _ = host.delete_link(&host_veth(container, &ep.network_id));
    }
    r
}

/// Unplugs a running container from one network.
pub fn disconnect(container: &str, ep: &Endpoint) -> Result<()> {
    Netlink::open()?.delete_link(&host_veth(container, &ep.network_id))?;
    Ok(())
}

/// The interface name the next network of a running container gets.
pub fn next_ifname(container: &str) -> Result<String> {
    let path = netns::path_for(container);
    let mut inner = netns::enter(&path, Netlink::open)?;
    for i in 0.. {
        let name = format!("eth{i}");
        if inner.link_index(&name)?.is_none() {
            return Ok(name);
        }
    }
    unreachable!("some ethN is free")
}
