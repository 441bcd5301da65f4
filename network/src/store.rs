//! Networks on disk, under `<root>/networks`: one JSON file per network, and its allocated
//! addresses as files named by address (each a hard link to a claim written whole, and a
//! link is never made over a name that exists, so an address is never handed out twice),
//! each holding the id of the container that has it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::ipnet::Subnet;
use crate::netlink::Netlink;
use crate::{nat, Error, Result};

/// The default network's name, as docker's.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The default network's bridge, unless `RBOX_BRIDGE` names another.
pub const DEFAULT_BRIDGE: &str = "rbox0";
/// The default network's subnet, unless `RBOX_BRIDGE_SUBNET` gives another.
pub const DEFAULT_SUBNET: &str = "10.66.0.0/16";
/// Where subnets of new networks are taken from, a /24 at a time.
const POOL: &str = "10.67.0.0/16";

/// A bridge network.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    /// Its unique name.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// Always `bridge`.
    pub driver: String,
    /// The Linux bridge's name.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// The bridge's own address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// No route out of the host (`--internal`).
    #[serde(default)]
    pub internal: bool,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The name.
    pub name: String,
    /// `--subnet`; a free /24 when not given.
    pub subnet: Option<String>,
    /// `--gateway`; the subnet's first address when not given.
    pub gateway: Option<String>,
    /// `--internal`.
    pub internal: bool,
    /// `--label K=V`.
    pub labels: Vec<String>,
}

/// The networks of one root.
pub struct Networks {
    dir: PathBuf,
}

fn random_id() -> String {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf).expect("random bytes from the kernel");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

/// docker's rule for names.
fn validate_name(name: &str) -> Result<()> {
    let ok = name.len() > 1
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(Error::Invalid {
            flag: "network name".into(),
            reason: format!("{name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        });
    }
    Ok(())
}

impl Networks {
    /// The networks under the data root `root`.
    pub fn open(root: &Path) -> Networks {
        Networks {
            dir: root.join("networks"),
        }
    }

    fn lock(&self) -> Result<Flock<File>> {
        fs::create_dir_all(&self.dir).map_err(io_at(&self.dir))?;
        let path = self.dir.join(".lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_at(&path))?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io(path.display().to_string(), e.into()))
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn ips_dir(&self, net: &Network) -> PathBuf {
        self.dir.join(format!("{}.ips", net.id))
    }

    fn write(&self, net: &Network) -> Result<()> {
        let path = self.file(&net.name);
        let tmp = self.dir.join(format!(".{}.tmp", net.name));
        let json = serde_json::to_vec_pretty(net).expect("a network serializes");
        fs::write(&tmp, json)
            .and_then(|_| fs::rename(&tmp, &path))
            .map_err(io_at(&path))
    }

    fn read(&self, path: &Path) -> Result<Network> {
        let bytes = fs::read(path).map_err(io_at(path))?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Corrupt {
            path: path.to_owned(),
            source,
        })
    }

    /// Every network made so far (the default one once used).
    pub fn list(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_at(&self.dir)(e)),
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") && !name.starts_with('.') {
                out.push(self.read(&e.path())?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The network named `name` (or with that id or unique id prefix). The default network
    /// is made on first use.
    pub fn get(&self, name: &str) -> Result<Network> {
        if name == DEFAULT_NETWORK {
            return self.default_network();
        }
        let path = self.file(name);
        if path.is_file() {
            return self.read(&path);
        }
        let matches: Vec<Network> = self
            .list()?
            .into_iter()
            .filter(|n| !name.is_empty() && n.id.starts_with(name))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one")),
            0 => Err(Error::NoSuchNetwork(name.into())),
            _ => Err(Error::Conflict(format!(
                "network {name} is ambiguous ({} matches found on id)",
                matches.len()
            ))),
        }
    }

    fn default_network(&self) -> Result<Network> {
        let path = self.file(DEFAULT_NETWORK);
        if path.is_file() {
            return self.read(&path);
        }
        let _lock = self.lock()?;
        if path.is_file() {
            return self.read(&path);
        }
        let bridge = std::env::var("RBOX_BRIDGE").unwrap_or_else(|_| DEFAULT_BRIDGE.into());
        let subnet_text =
            std::env::var("RBOX_BRIDGE_SUBNET").unwrap_or_else(|_| DEFAULT_SUBNET.into());
        let subnet: Subnet = subnet_text.parse().map_err(|reason| Error::Invalid {
            flag: "RBOX_BRIDGE_SUBNET".into(),
            reason,
        })?;
        if bridge.is_empty() || bridge.len() > 15 {
            return Err(Error::Invalid {
                flag: "RBOX_BRIDGE".into(),
                reason: format!("{bridge:?}: an interface name of 1 to 15 characters"),
            });
        }
        let exists = Netlink::open()?.link_index(&bridge)?.is_some();
        if !exists {
            self.check_free(&subnet, "RBOX_BRIDGE_SUBNET")?;
        }
        let net = Network {
            name: DEFAULT_NETWORK.into(),
            id: random_id(),
            created: now(),
            driver: "bridge".into(),
            bridge,
            subnet,
            gateway: subnet.nth(1).expect("a /30 or larger has a first address"),
            internal: false,
            labels: BTreeMap::new(),
        };
        self.write(&net)?;
        Ok(net)
    }

    /// Fails if `subnet` overlaps a network of this root or a route of the host.
    fn check_free(&self, subnet: &Subnet, flag: &str) -> Result<()> {
        for n in self.list()? {
            if n.subnet.overlaps(subnet) {
                return Err(Error::Invalid {
                    flag: flag.into(),
                    reason: format!(
                        "subnet {subnet} overlaps with network {} ({})",
                        n.name, n.subnet
                    ),
                });
            }
        }
        for (dest, prefix) in Netlink::open()?.ipv4_routes()? {
            let route = Subnet::new(dest, prefix);
            if route.overlaps(subnet) {
                return Err(Error::Invalid {
                    flag: flag.into(),
                    reason: format!("subnet {subnet} overlaps with the host's route to {route}"),
                });
            }
        }
        Ok(())
    }

    /// `network create`: the network and its bridge.
    pub fn create(&self, o: &CreateOptions) -> Result<Network> {
        validate_name(&o.name)?;
        if matches!(o.name.as_str(), "bridge" | "host" | "none") {
            return Err(Error::Conflict(format!(
                "{} is a pre-defined network and cannot be created",
                o.name
            )));
        }
        let mut labels = BTreeMap::new();
        for l in &o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_owned(), v.to_owned());
        }
        let net = {
            let _lock = self.lock()?;
            if self.file(&o.name).exists() {
                return Err(Error::Exists(o.name.clone()));
            }
            let subnet = match &o.subnet {
                Some(s) => {
                    let subnet: Subnet = s.parse().map_err(|reason| Error::Invalid {
                        flag: "--subnet".into(),
                        reason,
                    })?;
                    self.check_free(&subnet, "--subnet")?;
                    subnet
                }
                None => self.free_subnet()?,
            };
            let gateway = match &o.gateway {
                Some(g) => {
                    let gw: Ipv4Addr = g.parse().map_err(|_| Error::Invalid {
                        flag: "--gateway".into(),
                        reason: format!("{g:?} is not an IPv4 address"),
                    })?;
                    if !subnet.contains(gw) || gw == subnet.network || gw == subnet.broadcast() {
                        return Err(Error::Invalid {
                            flag: "--gateway".into(),
                            reason: format!("{gw} is not a host address of {subnet}"),
                        });
                    }
                    gw
                }
                None => subnet.nth(1).expect("a /30 or larger has a first address"),
            };
            let id = random_id();
            let net = Network {
                name: o.name.clone(),
                bridge: format!("rbox-{}", &id[..10]),
                id,
                created: now(),
                driver: "bridge".into(),
                subnet,
                gateway,
                internal: o.internal,
                labels,
            };
            self.write(&net)?;
            net
        };
        if let Err(e) = self.ensure_up(&net) {
            let _ = self.remove(&net.name);
            return Err(e);
        }
        Ok(net)
    }

    fn free_subnet(&self) -> Result<Subnet> {
        let pool: Subnet = POOL.parse().expect("a valid pool");
        let taken: Vec<Subnet> = self.list()?.into_iter().map(|n| n.subnet).collect();
        let routes: Vec<Subnet> = Netlink::open()?
            .ipv4_routes()?
            .into_iter()
            .map(|(d, p)| Subnet::new(d, p))
            .collect();
        (0..256)
            .filter_map(|i| pool.nth(i * 256).map(|a| Subnet::new(a, 24)))
            .find(|s| !taken.iter().chain(&routes).any(|t| t.overlaps(s)))
            .ok_or_else(|| Error::Conflict(format!("no free /24 subnet left in {POOL}")))
    }

    /// Makes the network's bridge, its address and its packet filter table if they aren't
    /// there yet (first use, or after a reboot).
    pub fn ensure_up(&self, net: &Network) -> Result<()> {
        let mut nl = Netlink::open()?;
        if nl.link_index(&net.bridge)?.is_some() {
            return Ok(());
        }
        let _lock = self.lock()?;
        if nl.link_index(&net.bridge)?.is_some() {
            return Ok(());
        }
        let fail = |what: &str, e: io::Error| {
            Error::io(format!("network {}: {what} {}", net.name, net.bridge), e)
        };
        nl.add_bridge(&net.bridge)
            .map_err(|e| fail("creating bridge", e))?;
        let done = (|| {
            let index = nl
                .link_index(&net.bridge)?
                .ok_or_else(|| io::Error::from_raw_os_error(19))?;
            // A bridge's address is its lowest port's until it is given one of its own.
            let mut mac = [0u8; 6];
            getrandom::getrandom(&mut mac).map_err(|e| {
                io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(nix::libc::EIO))
            })?;
            mac[0] = (mac[0] & 0xfe) | 0x02;
            nl.set_address(index, mac)?;
            nl.add_address(index, net.gateway, net.subnet.prefix)?;
            // A container's Router Advertisement must not give the host an address or a
            // route (CVE-2020-13401): no RA, no autoconfiguration on the bridge, set before
            // it comes up. Without IPv6 in the kernel there is nothing to set.
            for key in ["accept_ra", "autoconf"] {
                match sysctl(&format!("net/ipv6/conf/{}/{key}", net.bridge), "0") {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    r => r?,
                }
            }
            nl.set_up(index, None)?;
            // Published ports on 127.0.0.1 are sent into the bridge; the kernel lets
            // loopback sources out there only with this. It would also let a container
            // reach the host's loopback-only services with frames to 127.0.0.1: the
            // network's table drops those at input (nat.rs).
            sysctl(&format!("net/ipv4/conf/{}/route_localnet", net.bridge), "1")?;
            if !net.internal {
                sysctl("net/ipv4/ip_forward", "1")?;
            }
            Ok(())
        })()
        .map_err(|e| fail("configuring", e));
        let done = done.and_then(|_| nat::setup(net));
        if done.is_err() {
            let _ = nl.delete_link(&net.bridge);
            nat::teardown(net);
        }
        done
    }

    /// Removes the bridge and packet filter table (the network stays defined).
    pub fn take_down(&self, net: &Network) -> Result<()> {
        Netlink::open()?.delete_link(&net.bridge)?;
        nat::teardown(net);
        Ok(())
    }

    /// `network rm`: refused while a container is on it.
    pub fn remove(&self, name: &str) -> Result<Network> {
        let net = self.get(name)?;
        let _lock = self.lock()?;
        let users = self.users(&net)?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints ({})",
                net.name,
                net.id,
                users
                    .iter()
                    .map(|(_, c)| &c[..12.min(c.len())])
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.take_down(&net)?;
        let _ = fs::remove_dir_all(self.ips_dir(&net));
        // What its resolver answered (names standing for others outlive no network).
        let _ = fs::remove_dir_all(self.dir.join(format!("{}.dns", net.id)));
        let path = self.file(&net.name);
        fs::remove_file(&path).map_err(io_at(&path))?;
        Ok(net)
    }

    /// The addresses in use on `net` and the containers that have them.
    pub fn users(&self, net: &Network) -> Result<Vec<(Ipv4Addr, String)>> {
        let dir = self.ips_dir(net);
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_at(&dir)(e)),
        };
        for e in entries.flatten() {
            if let Ok(ip) = e.file_name().to_string_lossy().parse::<Ipv4Addr>() {
                let text = fs::read_to_string(e.path()).unwrap_or_default();
                out.push((ip, owner(&text).to_owned()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Gives `container` an address on `net`: `wanted` (`--ip`) or the first free one.
    /// `holder` (recorded beside it, see [`Networks::holder`]) says who took it, so that an
    /// address whose taker died before recording its container can be told from one whose
    /// container is being made.
    pub fn allocate(
        &self,
        net: &Network,
        container: &str,
        holder: &str,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        let dir = self.ips_dir(net);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        // The claim is written whole beside the addresses, then linked to an address's
        // name (which fails if it is taken): a process killed midway leaves no address
        // file without its owner, only a claim file, which names no address.
        let draft = Draft::write(&dir, format!("{container}\n{holder}\n").as_bytes())
            .map_err(io_at(&dir))?;
        let claim = |ip: Ipv4Addr| -> io::Result<bool> {
            match fs::hard_link(&draft.0, dir.join(ip.to_string())) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        };
        if let Some(ip) = wanted {
            if !net.subnet.contains(ip)
                || ip == net.subnet.network
                || ip == net.subnet.broadcast()
                || ip == net.gateway
            {
                return Err(Error::Invalid {
                    flag: "--ip".into(),
                    reason: format!("{ip} is not a free host address of {}", net.subnet),
                });
            }
            return match claim(ip).map_err(io_at(&dir))? {
                true => Ok(ip),
                false => Err(Error::Conflict(format!(
                    "address {ip} is already in use on network {}",
                    net.name
                ))),
            };
        }
        for n in 1..net.subnet.size() - 1 {
            let ip = net.subnet.nth(n).expect("in range");
            if ip == net.gateway {
                continue;
            }
            if claim(ip).map_err(io_at(&dir))? {
                return Ok(ip);
            }
        }
        Err(Error::Conflict(format!(
            "no address left on network {} ({})",
            net.name, net.subnet
        )))
    }

    /// Gives back an address whose holder is gone (a create killed midway), once its file
    /// is `age` old (a create in progress holds it for a moment before its container is
    /// recorded).
    pub fn release_stale(
        &self,
        net: &Network,
        ip: Ipv4Addr,
        container: &str,
        age: std::time::Duration,
    ) {
        let path = self.ips_dir(net).join(ip.to_string());
        let old = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|e| e >= age));
        if old {
            self.release(net, ip, container);
        }
    }

    /// Removes the claims (see [`Networks::allocate`]) left on `net` by takers killed
    /// before they were done, once `age` old.
    pub fn sweep_claims(&self, net: &Network, age: std::time::Duration) {
        let entries = fs::read_dir(self.ips_dir(net))
            .into_iter()
            .flatten()
            .flatten();
        for e in entries {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|e| e >= age));
            if old && e.file_name().to_string_lossy().starts_with(".claim-") {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Gives an address back (only if `container` has it).
    pub fn release(&self, net: &Network, ip: Ipv4Addr, container: &str) {
        let path = self.ips_dir(net).join(ip.to_string());
        if fs::read_to_string(&path).is_ok_and(|text| owner(&text) == container) {
            let _ = fs::remove_file(path);
        }
    }

    /// Who took address `ip` on `net` (the `holder` given to [`Networks::allocate`]).
    pub fn holder(&self, net: &Network, ip: Ipv4Addr) -> Option<String> {
        let text = fs::read_to_string(self.ips_dir(net).join(ip.to_string())).ok()?;
        let h = text.lines().nth(1)?.trim();
        (!h.is_empty()).then(|| h.to_owned())
    }
}

/// An address claim being made: a file of its own in the addresses' directory, named so
/// that it is no address, removed when dropped.
struct Draft(PathBuf);

impl Draft {
    fn write(dir: &Path, text: &[u8]) -> io::Result<Draft> {
        let mut name = [0u8; 8];
        getrandom::getrandom(&mut name).map_err(|e| {
            io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(nix::libc::EIO))
        })?;
        let path = dir.join(format!(".claim-{:016x}", u64::from_le_bytes(name)));
        let mut file = File::options().write(true).create_new(true).open(&path)?;
        let draft = Draft(path);
        file.write_all(text)?;
        Ok(draft)
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The container an address file names (its first line).
fn owner(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

fn sysctl(key: &str, value: &str) -> io::Result<()> {
    let path = Path::new("/proc/sys").join(key);
    if fs::read_to_string(&path)?.trim() == value {
        return Ok(());
    }
    fs::write(&path, value)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str) -> Network {
        let subnet: Subnet = subnet.parse().unwrap();
        Network {
            name: "n".into(),
            id: "ab".repeat(32),
            created: now(),
            driver: "bridge".into(),
            bridge: "x".into(),
            subnet,
            gateway: subnet.nth(1).unwrap(),
            internal: false,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn addresses_are_handed_out_once_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::open(dir.path());
        let n = net("10.9.0.0/29");
        let a = nets.allocate(&n, "c1", "1 1", None).unwrap();
        let b = nets.allocate(&n, "c2", "", None).unwrap();
        assert_eq!(a, "10.9.0.2".parse::<Ipv4Addr>().unwrap());
        assert_eq!(b, "10.9.0.3".parse::<Ipv4Addr>().unwrap());
        assert_eq!(nets.holder(&n, a).as_deref(), Some("1 1"));
        assert_eq!(nets.holder(&n, b), None);
        assert_eq!(nets.users(&n).unwrap()[0].1, "c1");
        let e = nets
            .allocate(&n, "c3", "", Some(b))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already in use"), "{e}");
        assert!(nets.allocate(&n, "c3", "", Some(n.gateway)).is_err());
        // Only the owner gives it back.
        nets.release(&n, a, "c2");
        assert_eq!(nets.users(&n).unwrap().len(), 2);
        nets.release(&n, a, "c1");
        assert_eq!(nets.allocate(&n, "c4", "", None).unwrap(), a);
        for c in ["c5", "c6", "c7"] {
            nets.allocate(&n, c, "", None).unwrap();
        }
        let e = nets.allocate(&n, "c8", "", None).unwrap_err().to_string();
        assert!(e.contains("no address left"), "{e}");
        // An address whose holder is gone is given back once old enough, by its holder only.
        let held = nets.users(&n).unwrap()[0].clone();
        nets.release_stale(&n, held.0, &held.1, std::time::Duration::from_secs(3600));
        assert_eq!(nets.users(&n).unwrap().len(), 5);
        nets.release_stale(&n, held.0, "someone-else", std::time::Duration::ZERO);
        assert_eq!(nets.users(&n).unwrap().len(), 5);
        nets.release_stale(&n, held.0, &held.1, std::time::Duration::ZERO);
        assert_eq!(nets.users(&n).unwrap().len(), 4);
        // Every address file was written whole, and no claim outlives its allocation.
        let files = || -> Vec<String> {
            fs::read_dir(nets.ips_dir(&n))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(files().len(), 4, "{:?}", files());
        assert!(nets.users(&n).unwrap().iter().all(|(_, c)| !c.is_empty()));
        // A claim its taker was killed before linking goes once old enough.
        let left = Draft::write(&nets.ips_dir(&n), b"c9\n").unwrap();
        std::mem::forget(left);
        nets.sweep_claims(&n, std::time::Duration::from_secs(3600));
        assert_eq!(files().len(), 5);
        nets.sweep_claims(&n, std::time::Duration::ZERO);
        assert_eq!(files().len(), 4, "{:?}", files());
    }

    #[test]
    fn names_follow_dockers_rule() {
        assert!(validate_name("front-end_1.x").is_ok());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("a").is_err());
    }
}
