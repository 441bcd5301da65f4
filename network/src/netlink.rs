//! A small synchronous rtnetlink client: links, addresses and routes, in the network
//! namespace the socket was opened in.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

/// A route netlink socket bound to the network namespace it was made in.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

/// ENODEV: no such device.
const ENODEV: i32 = 19;

impl Netlink {
    /// A socket in the caller's current network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends a request and waits for its acknowledgement (or its dump).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut replies = Vec::new();
        let mut rx = vec![0u8; 32 * 1024];
        loop {
            let n = self.socket.recv(&mut &mut rx[..], 0)?;
            let mut offset = 0;
            while offset < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[offset..n])
                    .map_err(|e| io::Error::other(format!("netlink: {e}")))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number == self.seq {
                    match msg.payload {
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                None => Ok(replies),
                                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                            }
                        }
                        NetlinkPayload::Done(_) => return Ok(replies),
                        NetlinkPayload::InnerMessage(m) => replies.push(m),
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    fn change(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.request(msg, NLM_F_ACK | flags).map(drop)
    }

    /// The index of the link named `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::GetLink(msg), NLM_F_ACK) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes a bridge named `name` (EEXIST if there is one).
    pub fn add_bridge(&mut self, name: &str) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Makes a veth pair: `host` here, `peer` in the network namespace `peer_ns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
        peer_msg
            .attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.into()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
            peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Puts a link up, and under a bridge when `controller` is given.
    pub fn set_up(&mut self, index: u32, controller: Option<u32>) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        if let Some(c) = controller {
            msg.attributes.push(LinkAttribute::Controller(c));
        }
        self.change(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Sets a link's hardware address.
    pub fn set_address(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.change(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Deletes a link by name; a link that isn't there is not an error.
    pub fn delete_link(&mut self, name: &str) -> io::Result<()> {
        let Some(index) = self.link_index(name)? else {
            return Ok(());
        };
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.change(RouteNetlinkMessage::DelLink(msg), 0) {
            Err(e) if e.raw_os_error() == Some(ENODEV) => Ok(()),
            r => r,
        }
    }

    /// Adds `addr/prefix` to a link.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.into()));
        msg.attributes.push(AddressAttribute::Address(addr.into()));
        let bits = u32::from(addr);
        let host_mask = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
        msg.attributes
            .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                bits | host_mask,
            )));
        self.change(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Adds a default route via `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header = RouteHeader {
            address_family: AddressFamily::Inet,
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..msg.header
        };
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.change(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// The IPv4 networks routed on this host, as (network, prefix length).
    pub fn ipv4_routes(&mut self) -> io::Result<Vec<(Ipv4Addr, u8)>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let replies = self.request(
            RouteNetlinkMessage::GetRoute(msg),
            netlink_packet_core::NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(r)
                    if r.header.table == RouteHeader::RT_TABLE_MAIN
                        && r.header.destination_prefix_length > 0 =>
                {
                    r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                            Some((*d, r.header.destination_prefix_length))
                        }
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Runs `f` on a thread of its own in a new, private network namespace (gone with the
    /// thread), as root; elsewhere says why it didn't.
    pub(crate) fn in_private_netns(f: impl FnOnce() + Send + 'static) {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: making network namespaces needs root");
            return;
        }
        std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bridges_veths_addresses_and_routes_are_made_and_read_back() {
        in_private_netns(|| {
            let mut nl = Netlink::open().unwrap();
            assert_eq!(nl.link_index("rbt-test0").unwrap(), None);
            nl.add_bridge("rbt-test0").unwrap();
            // Made exclusively: a second time is EEXIST, with its errno.
            let again = nl.add_bridge("rbt-test0").unwrap_err();
            assert_eq!(again.raw_os_error(), Some(nix::libc::EEXIST));
            let br = nl.link_index("rbt-test0").unwrap().unwrap();
            nl.set_address(br, [0x02, 0, 0, 0, 0, 1]).unwrap();
            nl.add_address(br, "10.250.0.1".parse().unwrap(), 24)
                .unwrap();
            nl.set_up(br, None).unwrap();
            // A veth whose peer goes into this same namespace, under the bridge.
            let ns = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
            nl.add_veth("rbt-h0", "rbt-p0", ns.as_fd(), Some(1400))
                .unwrap();
            let h = nl.link_index("rbt-h0").unwrap().unwrap();
            let p = nl.link_index("rbt-p0").unwrap().unwrap();
            nl.set_up(h, Some(br)).unwrap();
            nl.set_up(p, None).unwrap();
            nl.add_address(p, "10.250.0.2".parse().unwrap(), 24)
                .unwrap();
            nl.add_default_route("10.250.0.1".parse().unwrap()).unwrap();
            let routes = nl.ipv4_routes().unwrap();
            assert!(
                routes.contains(&("10.250.0.0".parse().unwrap(), 24)),
                "{routes:?}"
            );
            nl.delete_link("rbt-h0").unwrap();
            // The pair goes together.
            assert_eq!(nl.link_index("rbt-p0").unwrap(), None);
            nl.delete_link("rbt-test0").unwrap();
            assert_eq!(nl.link_index("rbt-test0").unwrap(), None);
        });
    }
}
