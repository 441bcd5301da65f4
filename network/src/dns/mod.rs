//! Names of a network's containers answered by DNS: a small resolver per user network,
//! listening on the network's gateway address (port 53, in the host's namespace), started
//! when the network gets its first running container and gone after its last.
//!
//! The names live on disk beside the network's addresses ([`Names`]): one file per address,
//! `<root>/networks/<network id>.dns/<ip>`, holding the container's id and its names (its
//! name and aliases), written as its run attaches and removed as it detaches. The resolver
//! ([`server`]) reads them for each query: no state of its own to lose. It answers A
//! queries for those names with every address that has them (rotated, round robin), and
//! answers REFUSED for any other name. A name may also stand for another (`cname-<name>`
//! files, a Kubernetes ExternalName Service's): it is answered with a CNAME and the
//! other's addresses, the network's own or, for an outside name, those the upstream
//! servers give ([`forward`]); nothing else is forwarded.

pub mod codec;
pub mod forward;
pub mod server;

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::store::Network;

/// The names of the containers running on the networks of a data root.
pub struct Names {
    dir: PathBuf,
}

/// One registered address: its container and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ip: Ipv4Addr,
    pub container: String,
    pub names: Vec<String>,
}

impl Names {
    /// The names under data root `root` (beside its networks).
    pub fn open(root: &Path) -> Names {
        Names {
            dir: root.join("networks"),
        }
    }

    fn net_dir(&self, network_id: &str) -> PathBuf {
        self.dir.join(format!("{network_id}.dns"))
    }

    /// Records that `container` answers to `names` at `ip` on `net`.
    pub fn register(
        &self,
        net: &Network,
        ip: Ipv4Addr,
        container: &str,
        names: &[String],
    ) -> io::Result<()> {
        let dir = self.net_dir(&net.id);
        fs::create_dir_all(&dir)?;
        let mut text = format!("{container}\n");
        for n in names {
            text.push_str(&n.to_ascii_lowercase());
            text.push('\n');
        }
        let tmp = dir.join(format!(".{ip}.tmp"));
        fs::write(&tmp, text)?;
        fs::rename(&tmp, dir.join(ip.to_string()))
    }

    /// Forgets `ip` on `net` (only if `container` has it).
    pub fn unregister(&self, net: &Network, ip: Ipv4Addr, container: &str) {
        let dir = self.net_dir(&net.id);
        let path = dir.join(ip.to_string());
        let owner = fs::read_to_string(&path).unwrap_or_default();
        if owner.lines().next() == Some(container) {
            let _ = fs::remove_file(&path);
        }
        // The directory goes with its last entry (a resolver watching it then ends).
        let _ = fs::remove_dir(&dir);
    }

    /// Makes the names standing for others on `net` exactly `cnames` (name, target): the
    /// ones not there any more are forgotten.
    pub fn set_cnames(&self, net: &Network, cnames: &[(String, String)]) -> io::Result<()> {
        let dir = self.net_dir(&net.id);
        let file = |n: &str| format!("cname-{}", n.to_ascii_lowercase());
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("cname-") && !cnames.iter().any(|(n, _)| file(n) == name) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        if cnames.is_empty() {
            let _ = fs::remove_dir(&dir);
            return Ok(());
        }
        fs::create_dir_all(&dir)?;
        for (name, target) in cnames {
            let tmp = dir.join(format!(".{}.tmp", file(name)));
            fs::write(&tmp, format!("{}\n", target.to_ascii_lowercase()))?;
            fs::rename(&tmp, dir.join(file(name)))?;
        }
        Ok(())
    }

    /// The name `name` stands for on network `network_id`, if it stands for one.
    pub fn cname(&self, network_id: &str, name: &str) -> Option<String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains('/') {
            return None;
        }
        let text =
            fs::read_to_string(self.net_dir(network_id).join(format!("cname-{name}"))).ok()?;
        text.lines()
            .next()
            .map(str::to_owned)
            .filter(|t| !t.is_empty())
    }

    /// The entries of network `network_id`.
    pub fn entries(&self, network_id: &str) -> Vec<Entry> {
        let Ok(rd) = fs::read_dir(self.net_dir(network_id)) else {
            return Vec::new();
        };
        let mut out: Vec<Entry> = rd
            .flatten()
            .filter_map(|e| {
                let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
                let text = fs::read_to_string(e.path()).ok()?;
                let mut lines = text.lines();
                let container = lines.next()?.to_string();
                Some(Entry {
                    ip,
                    container,
                    names: lines.map(str::to_owned).collect(),
                })
            })
            .collect();
        out.sort_by_key(|e| e.ip);
        out
    }

    /// Whether network `network_id` has no running container with names.
    pub fn is_empty(&self, network_id: &str) -> bool {
        self.entries(network_id).is_empty()
    }

    /// The ids of the networks with names.
    fn network_ids(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".dns")
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The addresses `name` has for a query to network `network_id`'s resolver from
    /// `from`: on that network, and on every other network the asking container is on
    /// (one resolver answers a container for all its networks). None: a name no one has.
    pub fn resolve(&self, network_id: &str, from: Ipv4Addr, name: &str) -> Option<Vec<Ipv4Addr>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let here = self.entries(network_id);
        let asker = here
            .iter()
            .find(|e| e.ip == from)
            .map(|e| e.container.clone());
        let mut nets = vec![(network_id.to_string(), here)];
        if let Some(asker) = &asker {
            for id in self.network_ids() {
                if id == network_id {
                    continue;
                }
                let entries = self.entries(&id);
                if entries.iter().any(|e| &e.container == asker) {
                    nets.push((id, entries));
                }
            }
        }
        let mut out = Vec::new();
        for (_, entries) in &nets {
            for e in entries {
                if e.names.contains(&name) && !out.contains(&e.ip) {
                    out.push(e.ip);
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str) -> Network {
        Network {
            name: format!("n{id}"),
            id: id.into(),
            created: String::new(),
            driver: "bridge".into(),
            bridge: "br".into(),
            subnet: "10.9.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 9, 0, 1),
            internal: false,
            labels: Default::default(),
        }
    }

    #[test]
    fn names_by_network_and_by_the_askers_networks() {
        let d = tempfile::tempdir().unwrap();
        let names = Names::open(d.path());
        let (a, b) = (net("aaa"), net("bbb"));
        let ip = |n| Ipv4Addr::new(10, 9, 0, n);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        names
            .register(&a, ip(2), "c1", &s(&["p-web-1", "Web"]))
            .unwrap();
        names
            .register(&a, ip(3), "c2", &s(&["p-web-2", "web"]))
            .unwrap();
        names
            .register(&a, ip(4), "c3", &s(&["p-app-1", "app"]))
            .unwrap();
        names
            .register(&b, ip(9), "c3", &s(&["p-app-1", "app"]))
            .unwrap();
        names
            .register(&b, ip(10), "c4", &s(&["p-db-1", "db"]))
            .unwrap();
        assert_eq!(
            names.resolve("aaa", ip(4), "WEB."),
            Some(vec![ip(2), ip(3)])
        );
        // c3 is on both networks: it sees db; c1 is not.
        assert_eq!(names.resolve("aaa", ip(4), "db"), Some(vec![ip(10)]));
        assert_eq!(names.resolve("aaa", ip(2), "db"), None);
        assert_eq!(names.resolve("aaa", ip(2), "example.com"), None);
        names.unregister(&a, ip(2), "someone-else");
        assert_eq!(names.entries("aaa").len(), 3);
        for (n, c) in [(2, "c1"), (3, "c2"), (4, "c3")] {
            names.unregister(&a, ip(n), c);
        }
        assert!(names.is_empty("aaa"));
        assert!(!d.path().join("networks/aaa.dns").exists());
    }

    #[test]
    fn names_standing_for_others_are_set_whole() {
        let d = tempfile::tempdir().unwrap();
        let names = Names::open(d.path());
        let a = net("aaa");
        let pair = |n: &str, t: &str| (n.to_string(), t.to_string());
        names
            .set_cnames(
                &a,
                &[pair("ext", "db.example.test"), pair("Other", "x.test")],
            )
            .unwrap();
        assert_eq!(names.cname("aaa", "EXT."), Some("db.example.test".into()));
        assert_eq!(names.cname("aaa", "other"), Some("x.test".into()));
        assert!(names.entries("aaa").is_empty(), "no address is an entry");
        names
            .set_cnames(&a, &[pair("ext", "db2.example.test")])
            .unwrap();
        assert_eq!(names.cname("aaa", "ext"), Some("db2.example.test".into()));
        assert_eq!(names.cname("aaa", "other"), None);
        assert_eq!(names.cname("aaa", "../x"), None);
        names.set_cnames(&a, &[]).unwrap();
        assert!(!d.path().join("networks/aaa.dns").exists());
    }
}
