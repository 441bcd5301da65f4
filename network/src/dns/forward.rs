//! What a network's resolver asks elsewhere: the addresses of the outside name a name
//! stands for (a Kubernetes ExternalName Service's), from the servers the data root names
//! (`dns-forward` in `<root>/defaults.json`: `["IP", "IP:PORT"]`), else the host's
//! (`/etc/resolv.conf`). Nothing else is forwarded: every other name is the network's or
//! REFUSED.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::time::Duration;

use super::codec;

/// How long one server is waited for.
const WAIT: Duration = Duration::from_secs(2);

/// The servers forwarded to: `dns-forward` of `<root>/defaults.json`, else the IPv4
/// nameservers of the host's /etc/resolv.conf.
pub fn upstreams(root: &Path) -> Vec<SocketAddr> {
    let configured: Option<Vec<SocketAddr>> = std::fs::read(root.join("defaults.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("dns-forward")?.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| server(s.as_str()?))
                    .collect::<Vec<_>>()
            })
        });
    configured.unwrap_or_else(|| {
        std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|s| server(s.trim()))
            .collect()
    })
}

/// `IP` (port 53) or `IP:PORT`; IPv4 only.
fn server(s: &str) -> Option<SocketAddr> {
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Some(SocketAddr::V4(SocketAddrV4::new(ip, 53)));
    }
    s.parse::<SocketAddrV4>().ok().map(SocketAddr::V4)
}

/// The rcode and addresses `servers` give for `name` (A records): the first that answers.
pub fn resolve(servers: &[SocketAddr], name: &str) -> Option<(u8, Vec<Ipv4Addr>)> {
    for s in servers {
        let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
            continue;
        };
        let _ = sock.set_read_timeout(Some(WAIT));
        let id = query_id();
        if sock
            .send_to(&codec::query(id, name, codec::TYPE_A), s)
            .is_err()
        {
            continue;
        }
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if from != *s || n < 12 || u16::from_be_bytes([buf[0], buf[1]]) != id {
                continue;
            }
            if let Some(answer) = codec::read_answer(&buf[..n]) {
                return Some(answer);
            }
            break;
        }
    }
    None
}

/// A query id no one on the path can guess (with the socket's random port).
fn query_id() -> u16 {
    let mut b = [0u8; 2];
    let _ = getrandom::getrandom(&mut b);
    u16::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_read_as_given() {
        assert_eq!(server("10.0.0.1"), Some("10.0.0.1:53".parse().unwrap()));
        assert_eq!(
            server("127.0.0.9:5353"),
            Some("127.0.0.9:5353".parse().unwrap())
        );
        assert_eq!(server("::1"), None);
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("defaults.json"),
            r#"{"dns-forward": ["127.0.0.9:5353", "nonsense"]}"#,
        )
        .unwrap();
        assert_eq!(upstreams(d.path()), vec!["127.0.0.9:5353".parse().unwrap()]);
    }

    #[test]
    fn a_name_is_asked_of_the_first_server_that_answers() {
        let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = fake.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = fake.recv_from(&mut buf).unwrap();
            let q = codec::parse(&buf[..n]).unwrap();
            assert_eq!(q.name, "db.example.test");
            let a = codec::answer(&q, codec::NOERROR, &[Ipv4Addr::new(192, 0, 2, 9)], 30);
            fake.send_to(&a, from).unwrap();
        });
        let got = resolve(&[at], "db.example.test");
        t.join().unwrap();
        assert_eq!(
            got,
            Some((codec::NOERROR, vec![Ipv4Addr::new(192, 0, 2, 9)]))
        );
    }
}
