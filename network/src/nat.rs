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

/// Runs `nft -f -` with `script`.
fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Io(format!("nft (apt-get install nftables): {e}")))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())
        .map_err(|e| Error::Io(format!("nft: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Io(format!("nft: {e}")))?;
    if !out.status.success() {
        return Err(Error::Io(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The network's table, made anew.
pub fn setup(net: &Network) -> Result<()> {
    let t = table(net);
    let br = &net.bridge;
    let subnet = net.subnet;
    let outbound = if net.internal {
        String::new()
    } else {
        format!("ip saddr {subnet} oifname != \"{br}\" masquerade\n")
    };
    let _ = nft(&format!("delete table ip {t}\n"));
    nft(&format!(
        r#"table ip {t} {{
  map tcp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map tcp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  map udp_any {{ type inet_service : ipv4_addr . inet_service; }}
  map udp_ip {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump publish; }}
  chain output {{ type nat hook output priority -100; policy accept; fib daddr type local jump publish; }}
  chain publish {{
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
    oifname "{br}" drop
    {internal}
  }}
}}
"#,
        internal = if net.internal {
            format!("iifname \"{br}\" drop")
        } else {
            String::new()
        }
    ))?;
    iptables_forward(br, true);
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

/// Sends the published ports to the container's address `ip` on the network.
pub fn publish(net: &Network, ip: Ipv4Addr, ports: &[PortMapping]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let t = table(net);
    let script: String = elements(ip, ports)
        .into_iter()
        .map(|(map, e)| format!("add element ip {t} {map} {{ {e} }}\n"))
        .collect();
    nft(&script)
}

/// Stops sending the ports to `ip`; what isn't there is not an error.
pub fn unpublish(net: &Network, ip: Ipv4Addr, ports: &[PortMapping]) {
    let t = table(net);
    for (map, e) in elements(ip, ports) {
        let _ = nft(&format!("delete element ip {t} {map} {{ {e} }}\n"));
    }
}
