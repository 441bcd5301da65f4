//! The host side of a bridge network in the kernel's packet filter: one nftables table per
//! network (masquerade out, published ports in, isolation from other networks), and, where
//! iptables' FORWARD chain drops by default, rules there that let the network's traffic
//! through.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::ports::PortMapping;
use crate::{Error, Network, Result};

fn table(net: &Network) -> String {
    format!("rbox-{}", net.bridge)
}

/// Runs `nft -f -` with `script`: one transaction, applied whole or not at all.
fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("nft (apt-get install nftables)", e))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())
        .map_err(|e| Error::io("nft", e))?;
    let out = child.wait_with_output().map_err(|e| Error::io("nft", e))?;
    if !out.status.success() {
        return Err(Error::Nft {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The network's table, as one nft script that replaces whatever table of that name is
/// there (made empty first if missing, so that its deletion can't fail): masquerade out,
/// published ports in by DNAT maps, isolation from other networks, and no packets for the
/// host's loopback from the bridge.
pub fn ruleset(net: &Network) -> String {
    let t = table(net);
    let br = &net.bridge;
    let subnet = net.subnet;
    let outbound = if net.internal {
        String::new()
    } else {
        format!("ip saddr {subnet} oifname != \"{br}\" masquerade\n    ")
    };
    let internal = if net.internal {
        format!("\n    iifname \"{br}\" drop")
    } else {
        String::new()
    };
    format!(
        r#"table ip {t} {{}}
delete table ip {t}
table ip {t} {{
  map tcp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map tcp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map udp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map udp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map tcp_spread {{ type inet_service : verdict; }}
  map udp_spread {{ type inet_service : verdict; }}
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump publish; }}
  chain output {{ type nat hook output priority -100; policy accept; fib daddr type local jump publish; }}
  chain publish {{
    tcp dport vmap @tcp_spread
    udp dport vmap @udp_spread
    meta l4proto tcp dnat ip to ip daddr . tcp dport map @tcp_ip
    meta l4proto tcp dnat ip to tcp dport map @tcp_any
    meta l4proto udp dnat ip to ip daddr . udp dport map @udp_ip
    meta l4proto udp dnat ip to udp dport map @udp_any
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    {outbound}oifname "{br}" ip saddr 127.0.0.0/8 masquerade
    oifname "{br}" ct status dnat ip saddr {subnet} masquerade
  }}
  chain input {{ type filter hook input priority filter; policy accept;
    iifname "{br}" ip daddr 127.0.0.0/8 ct state != {{ established, related }} drop
  }}
  chain forward {{ type filter hook forward priority filter; policy accept;
    oifname "{br}" ct state established,related accept
    oifname "{br}" iifname "{br}" accept
    oifname "{br}" ct status dnat accept
    oifname "{br}" drop{internal}
  }}
}}
"#
    )
}

/// The network's table, made anew in one transaction.
pub fn setup(net: &Network) -> Result<()> {
    nft(&ruleset(net))?;
    iptables_forward(&net.bridge, true);
    Ok(())
}

/// Removes the network's table and FORWARD rules; what isn't there is not an error.
pub fn teardown(net: &Network) {
    let _ = nft(&format!("delete table ip {}\n", table(net)));
    iptables_forward(&net.bridge, false);
}

/// Whether iptables' FORWARD chain would drop the bridge's traffic (a DROP policy, as
/// docker sets), so that rules letting it through are needed there too.
fn forward_drops() -> bool {
    Command::new("iptables")
        .args(["-w", "-S", "FORWARD"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout).lines().any(|l| {
                l == "-P FORWARD DROP" || l.ends_with("-j DROP") || l.ends_with("-j REJECT")
            })
        })
}

fn iptables_forward(bridge: &str, add: bool) {
    let rule = |dir: &str| {
        vec![
            "-w".to_owned(),
            "FORWARD".to_owned(),
            dir.to_owned(),
            bridge.to_owned(),
            "-m".to_owned(),
            "comment".to_owned(),
            "--comment".to_owned(),
            "rbox".to_owned(),
            "-j".to_owned(),
            "ACCEPT".to_owned(),
        ]
    };
    let run = |op: &str, dir: &str| {
        let mut args = rule(dir);
        args.insert(1, op.to_owned());
        Command::new("iptables")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for dir in ["-i", "-o"] {
        // Any copy there is removed first, so that a rule is there at most once.
        let mut n = 0;
        while run("-D", dir) && n < 16 {
            n += 1;
        }
    }
    if add && forward_drops() {
        for dir in ["-i", "-o"] {
            run("-I", dir);
        }
    }
}

fn elements(ip: Ipv4Addr, ports: &[PortMapping]) -> Vec<(String, String)> {
    ports
        .iter()
        .map(|p| match p.host_ip {
            Some(h) => (
                format!("{}_ip", p.protocol),
                format!("{h} . {} : {ip} . {}", p.host_port, p.container_port),
            ),
            None => (
                format!("{}_any", p.protocol),
                format!("{} : {ip} . {}", p.host_port, p.container_port),
            ),
        })
        .collect()
}

/// The script that sends (`add`) or stops sending (`delete`) the published ports to the
/// container's address `ip`.
pub fn port_script(net: &Network, op: &str, ip: Ipv4Addr, ports: &[PortMapping]) -> String {
    let t = table(net);
    elements(ip, ports)
        .into_iter()
        .map(|(map, e)| format!("{op} element ip {t} {map} {{ {e} }}\n"))
        .collect()
}

/// Sends the published ports to the container's address `ip` on the network.
pub fn publish(net: &Network, ip: Ipv4Addr, ports: &[PortMapping]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    nft(&port_script(net, "add", ip, ports))
}

/// A port published on every host address and spread over several endpoints in turn (a
/// new connection goes to the next), as a Kubernetes NodePort Service's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spread {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The host's port.
    pub host_port: u16,
    /// The endpoints: address and port.
    pub targets: Vec<(Ipv4Addr, u16)>,
}

fn spread_chain(protocol: &str, host_port: u16) -> String {
    format!("spread-{protocol}-{host_port}")
}

/// Sends new connections to `s.host_port` to each of its targets in turn, replacing what
/// the port led to before; no targets: [`unspread`].
pub fn spread(net: &Network, s: &Spread) -> Result<()> {
    if !matches!(s.protocol.as_str(), "tcp" | "udp") {
        return Err(Error::InvalidPort(format!(
            "protocol {:?}: tcp or udp expected",
            s.protocol
        )));
    }
    if s.targets.is_empty() {
        unspread(net, &s.protocol, s.host_port);
        return Ok(());
    }
    nft(&spread_script(net, s))
}

/// The script of [`spread`]: the port's own chain made (or emptied) and given the rule
/// that picks the next target, and the port sent to that chain; one transaction.
fn spread_script(net: &Network, s: &Spread) -> String {
    let (t, p) = (table(net), &s.protocol);
    let chain = spread_chain(p, s.host_port);
    let map: Vec<String> = s
        .targets
        .iter()
        .enumerate()
        .map(|(i, (ip, port))| format!("{i} : {ip} . {port}"))
        .collect();
    format!(
        "add chain ip {t} {chain}\n\
         flush chain ip {t} {chain}\n\
         add rule ip {t} {chain} meta l4proto {p} dnat ip to numgen inc mod {} map {{ {} }}\n\
         add element ip {t} {p}_spread {{ {} : goto {chain} }}\n",
        s.targets.len(),
        map.join(", "),
        s.host_port
    )
}

/// Stops spreading `host_port`; what isn't there is not an error.
pub fn unspread(net: &Network, protocol: &str, host_port: u16) {
    let t = table(net);
    let _ = nft(&format!(
        "delete element ip {t} {protocol}_spread {{ {host_port} }}
"
    ));
    let _ = nft(&format!(
        "delete chain ip {t} {}
",
        spread_chain(protocol, host_port)
    ));
}

/// Stops sending the ports to `ip`; what isn't there is not an error (each element is its
/// own transaction, so one already gone doesn't keep the others).
pub fn unpublish(net: &Network, ip: Ipv4Addr, ports: &[PortMapping]) {
    for p in ports {
        let _ = nft(&port_script(net, "delete", ip, std::slice::from_ref(p)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(internal: bool) -> Network {
        Network {
            name: "app".into(),
            id: "0".repeat(64),
            created: String::new(),
            driver: "bridge".into(),
            bridge: "rbt0".into(),
            subnet: "10.99.0.0/24".parse().unwrap(),
            gateway: "10.99.0.1".parse().unwrap(),
            internal,
            labels: Default::default(),
        }
    }

    #[test]
    fn a_spread_port_goes_to_each_target_in_turn_and_nft_takes_it() {
        let n = net(false);
        let s = Spread {
            protocol: "tcp".into(),
            host_port: 30080,
            targets: vec![
                ("10.99.0.2".parse().unwrap(), 8080),
                ("10.99.0.3".parse().unwrap(), 8081),
            ],
        };
        let script = spread_script(&n, &s);
        assert!(
            script.contains(
                "dnat ip to numgen inc mod 2 map { 0 : 10.99.0.2 . 8080, 1 : 10.99.0.3 . 8081 }"
            ),
            "{script}"
        );
        assert!(
            script
                .contains("add element ip rbox-rbt0 tcp_spread { 30080 : goto spread-tcp-30080 }"),
            "{script}"
        );
        nft_accepts(&format!("{}{script}", ruleset(&n)));
    }

    /// The file `golden/NAME` (written anew with RBOX_BLESS=1).
    fn golden(name: &str, got: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/golden")
            .join(name);
        if std::env::var_os("RBOX_BLESS").is_some() {
            std::fs::write(&path, got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap();
        assert_eq!(got, want, "{name} changed (RBOX_BLESS=1 writes it anew)");
    }

    /// nft's own check (`nft -c`, which changes nothing), where nft runs as root.
    fn nft_accepts(script: &str) {
        let Ok(mut child) = Command::new("nft")
            .args(["-c", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        else {
            eprintln!("no nft here: the ruleset is checked against its golden copy only");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: nft -c can't check the ruleset");
            return;
        }
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_ruleset_of_a_network_is_its_golden_copy_and_nft_takes_it() {
        for (internal, name) in [(false, "bridge.nft"), (true, "internal.nft")] {
            let rules = ruleset(&net(internal));
            golden(name, &rules);
            nft_accepts(&rules);
        }
    }

    #[test]
    fn published_ports_become_map_elements() {
        let ports = [
            PortMapping {
                host_ip: None,
                host_port: 9000,
                container_port: 8080,
                protocol: "tcp".into(),
            },
            PortMapping {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 5353,
                container_port: 53,
                protocol: "udp".into(),
            },
        ];
        let ip = "10.99.0.2".parse().unwrap();
        assert_eq!(
            port_script(&net(false), "add", ip, &ports),
            "add element ip rbox-rbt0 tcp_any { 9000 : 10.99.0.2 . 8080 }\n\
             add element ip rbox-rbt0 udp_ip { 127.0.0.1 . 5353 : 10.99.0.2 . 53 }\n"
        );
    }

    #[test]
    fn nft_errors_keep_its_status_and_words() {
        let e = nft("this is not nft\n").unwrap_err();
        match &e {
            Error::Nft { code, stderr } => {
                assert_eq!(*code, Some(1), "{e}");
                assert!(!stderr.is_empty());
            }
            Error::Io { source, .. } => {
                // No nft on this machine: the OS error is kept.
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other}"),
        }
    }
}
