//! The files a container gets from its host: /etc/hostname, /etc/hosts and
//! /etc/resolv.conf, written into its directory and bind-mounted; and `--init`'s init.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;

/// Where Debian's tini package puts its static build, which runs in any image.
const INIT_CANDIDATES: &[&str] = &["/usr/bin/tini-static", "/usr/libexec/docker/docker-init"];

/// The init binary `--init` mounts at /sbin/docker-init.
pub fn init_binary() -> Result<PathBuf> {
    INIT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| Error::InvalidOption {
            flag: "--init".into(),
            reason: "no static init found (apt-get install tini)".into(),
        })
}

/// The host's resolv.conf without loopback resolvers (they would be the container's own).
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// resolv.conf with `--dns` resolvers, `--dns-search` domains (`.`: none) and
/// `--dns-option`s in place of the host's, as Docker writes it.
pub fn with_dns_options(
    base: &str,
    dns: &[String],
    search: &[String],
    options: &[String],
) -> String {
    let mut out = String::new();
    for line in base.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        let replaced = (key == "nameserver" && !dns.is_empty())
            || (matches!(key, "search" | "domain") && !search.is_empty())
            || (key == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for d in dns {
        let _ = writeln!(out, "nameserver {d}");
    }
    let domains: Vec<&str> = search
        .iter()
        .map(String::as_str)
        .filter(|s| *s != ".")
        .collect();
    if !domains.is_empty() {
        let _ = writeln!(out, "search {}", domains.join(" "));
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

/// /etc/hosts for a container of its own network: loopback names, the container's
/// hostname (on its first address, or on loopback without one), `--add-host` entries and
/// `peers` (lines naming the containers it shares a network with).
pub fn hosts(
    hostname: &str,
    own: Option<std::net::Ipv4Addr>,
    extra: &[String],
    peers: &str,
) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for e in extra {
        if let Some((name, ip)) = e.split_once(':') {
            let _ = writeln!(s, "{ip}\t{name}");
        }
    }
    match own {
        Some(ip) => {
            let _ = writeln!(s, "{ip}\t{hostname}");
        }
        None => {
            let _ = writeln!(s, "127.0.1.1\t{hostname}");
        }
    }
    s.push_str(peers);
    s
}

/// The /etc/hosts of a container: the host's own with `--network host`, else [`hosts`].
pub fn hosts_for(c: &ContainerConfig, peers: &str) -> String {
    if c.host.network_mode == "host" {
        let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        for e in &c.host.extra_hosts {
            if let Some((name, ip)) = e.split_once(':') {
                let _ = writeln!(h, "{ip}\t{name}");
            }
        }
        return h;
    }
    let own = c.host.networks.first().map(|e| e.ip_address);
    hosts(&c.config.hostname, own, &c.host.extra_hosts, peers)
}

/// Writes hostname, hosts and resolv.conf into the container's directory; `peers` are the
/// hosts lines of the containers it shares a network with.
pub fn write_files(c: &ContainerConfig, dir: &Path, peers: &str) -> Result<()> {
    let host_net = c.host.network_mode == "host";
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if host_net {
        resolv
    } else {
        resolv_conf(&resolv)
    };
    // On a user network, the network's resolver (rbox_network::dns) answers, alone.
    let user_net = c.host.networks.iter().find(|e| e.network != "bridge");
    let (dns, search) = match user_net {
        Some(ep) if c.host.dns.is_empty() => (
            vec![ep.gateway.to_string()],
            if c.host.dns_search.is_empty() {
                vec![".".to_string()]
            } else {
                c.host.dns_search.clone()
            },
        ),
        _ => (c.host.dns.clone(), c.host.dns_search.clone()),
    };
    let resolv = with_dns_options(&resolv, &dns, &search, &c.host.dns_options);
    for (name, content) in [
        ("hostname", format!("{}\n", c.config.hostname)),
        ("hosts", hosts_for(c, peers)),
        ("resolv.conf", resolv),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, content).map_err(|e| Error::io(p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_options_replace_the_hosts() {
        let base = "nameserver 10.0.0.2\nsearch example\noptions ndots:1\n# kept\n";
        let r = with_dns_options(
            base,
            &["10.9.9.9".into()],
            &["a.test".into(), "b.test".into()],
            &["ndots:3".into()],
        );
        assert_eq!(
            r,
            "# kept\nnameserver 10.9.9.9\nsearch a.test b.test\noptions ndots:3\n"
        );
        assert_eq!(with_dns_options(base, &[], &[], &[]), base);
        assert_eq!(
            with_dns_options(base, &[], &[".".into()], &[]),
            "nameserver 10.0.0.2\noptions ndots:1\n# kept\n"
        );
    }

    #[test]
    fn loopback_resolvers_are_dropped() {
        let r = resolv_conf("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example\n");
        assert_eq!(r, "nameserver 10.0.0.2\nsearch example\n");
    }

    #[test]
    fn hosts_name_the_container_and_extra_hosts() {
        let h = hosts("box", None, &["db:10.1.2.3".into()], "");
        assert!(h.contains("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.1.2.3\tdb\n"));
        assert!(h.contains("127.0.1.1\tbox\n"));
        let h = hosts(
            "box",
            Some("10.66.0.2".parse().unwrap()),
            &[],
            "10.66.0.3\tweb cache\n",
        );
        assert!(h.contains("10.66.0.2\tbox\n"), "{h}");
        assert!(h.ends_with("10.66.0.3\tweb cache\n"), "{h}");
    }
}
