//! Published ports: `-p` as docker reads it, and the host ports a container holds while it
//! runs (so that nothing else takes them, and a taken one is refused at once).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::OwnedFd;

use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortMapping {
    /// The host address it is published on; `None` for all of them.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port; 0 before a free one is chosen.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl PortMapping {
    /// docker's `8080/tcp`.
    pub fn container_key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }

    /// The host address as docker shows it (`0.0.0.0` for all).
    pub fn host_ip_text(&self) -> String {
        self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
    }
}

impl fmt::Display for PortMapping {
    /// docker ps's `0.0.0.0:9000->8080/tcp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip_text(),
            self.host_port,
            self.container_port,
            self.protocol
        )
    }
}

fn port_range(s: &str, spec: &str) -> Result<(u16, u16)> {
    let bad = |why: &str| Error::InvalidPort(format!("{spec:?}: {why}"));
    let one = |p: &str| -> Result<u16> {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(&format!("invalid port {p:?}")))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(&format!("invalid range {s:?}")));
            }
            Ok((a, b))
        }
        None => one(s).map(|p| (p, p)),
    }
}

/// Parses one `-p`: `[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, each port possibly a range
/// (`8000-8010:8000-8010`). Returns one mapping per port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let bad = |why: String| Error::InvalidPort(format!("{spec:?}: {why}"));
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if protocol != "tcp" && protocol != "udp" {
        return Err(bad(format!(
            "invalid protocol {protocol:?}: use tcp or udp"
        )));
    }
    if rest.starts_with('[') || rest.matches(':').count() > 2 {
        return Err(bad("IPv6 host addresses are not supported".into()));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (None, None, *c),
        [h, c] => (None, Some(*h), *c),
        [ip, h, c] => (Some(*ip), (!h.is_empty()).then_some(*h), *c),
        _ => unreachable!("at most two colons"),
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(ip) => {
            let addr: Ipv4Addr = ip
                .parse()
                .map_err(|_| bad(format!("invalid host address {ip:?}")))?;
            (!addr.is_unspecified()).then_some(addr)
        }
    };
    let (c_lo, c_hi) = port_range(container, spec)?;
    let host = host.map(|h| port_range(h, spec)).transpose()?;
    if let Some((h_lo, h_hi)) = host {
        if h_hi - h_lo != c_hi - c_lo {
            return Err(bad(
                "the host and container port ranges must be of the same length".into(),
            ));
        }
    }
    Ok((0..=(c_hi - c_lo))
        .map(|i| PortMapping {
            host_ip,
            host_port: host.map_or(0, |(lo, _)| lo + i),
            container_port: c_lo + i,
            protocol: protocol.clone(),
        })
        .collect())
}

/// Parses an image's `ExposedPorts` key (`8080/tcp`, `53/udp`, `80`).
pub fn parse_exposed(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port = port.parse().ok().filter(|p| *p > 0)?;
    matches!(proto, "tcp" | "udp").then(|| (port, proto.to_owned()))
}

/// The host ports of a running container, held open (bound, never listening) so that no
/// one else can take them while it runs.
pub struct Reservation {
    /// The mappings with their host ports chosen.
    pub mappings: Vec<PortMapping>,
    _held: Vec<OwnedFd>,
}

/// Binds every host port of `mappings` (a free one for port 0); fails, holding nothing, if
/// one is taken.
pub fn reserve(mappings: &[PortMapping]) -> Result<Reservation> {
    let mut held = Vec::new();
    let mut out = Vec::new();
    for m in mappings {
        let addr = SocketAddrV4::new(m.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), m.host_port);
        let taken = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::PortInUse(format!(
                    "Bind for {}:{} failed: port is already allocated",
                    m.host_ip_text(),
                    m.host_port
                ))
            } else {
                Error::io(format!("publishing {m}"), e)
            }
        };
        let (fd, port) = if m.protocol == "udp" {
            let s = UdpSocket::bind(addr).map_err(taken)?;
            let port = s.local_addr().map_err(taken)?.port();
            (OwnedFd::from(s), port)
        } else {
            let fd = socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(|e| taken(e.into()))?;
            bind(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                &SockaddrIn::from(addr),
            )
            .map_err(|e| taken(e.into()))?;
            let local: SockaddrIn =
                getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd)).map_err(|e| taken(e.into()))?;
            (fd, local.port())
        };
        held.push(fd);
        out.push(PortMapping {
            host_port: port,
            ..m.clone()
        });
    }
    Ok(Reservation {
        mappings: out,
        _held: held,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortMapping {
        let mut v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.remove(0)
    }

    #[test]
    fn publish_specs_parse_as_dockers() {
        let m = one("9000:8080");
        assert_eq!(
            (m.host_ip, m.host_port, m.container_port),
            (None, 9000, 8080)
        );
        assert_eq!(m.protocol, "tcp");
        let m = one("8080");
        assert_eq!((m.host_port, m.container_port), (0, 8080));
        let m = one("127.0.0.1:9000:80/udp");
        assert_eq!(m.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!((m.host_port, m.protocol.as_str()), (9000, "udp"));
        let m = one("127.0.0.1::80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        assert_eq!(m.to_string(), "127.0.0.1:0->80/tcp");
        let r = parse_publish("8000-8002:9000-9002").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[2].host_port, r[2].container_port), (8002, 9002));
        for bad in [
            "",
            "x",
            "9000:",
            ":80",
            "70000:80",
            "1:2:3:4",
            "80/sctp",
            "8000-8002:80",
            "10.0.0.300:80:80",
            "0:80",
            "9-1",
        ] {
            let e = parse_publish(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn exposed_ports_parse() {
        assert_eq!(parse_exposed("8080/tcp"), Some((8080, "tcp".into())));
        assert_eq!(parse_exposed("53/udp"), Some((53, "udp".into())));
        assert_eq!(parse_exposed("80"), Some((80, "tcp".into())));
        assert_eq!(parse_exposed("x/tcp"), None);
    }

    #[test]
    fn a_taken_port_is_refused_and_nothing_is_held() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let spec = format!("127.0.0.1:{port}:80");
        let e = reserve(&parse_publish(&spec).unwrap()).err().unwrap();
        assert!(e.to_string().contains("already allocated"), "{e}");
        // A free port is chosen for 0, and held until the reservation goes.
        let r = reserve(&parse_publish("127.0.0.1::80").unwrap()).unwrap();
        let chosen = r.mappings[0].host_port;
        assert_ne!(chosen, 0);
        assert!(std::net::TcpListener::bind(("127.0.0.1", chosen)).is_err());
        drop(r);
        assert!(std::net::TcpListener::bind(("127.0.0.1", chosen)).is_ok());
    }
}
