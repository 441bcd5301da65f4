//! A service of the project, every key typed.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::build::{build, Build};
use crate::de::{self, err, Fields};
use crate::deploy::{self, Deploy};
use crate::error::{Pos, Result, Warnings};
use crate::health::{healthcheck, Healthcheck};
use crate::mounts::{self, ServiceVolume};
use crate::node::Node;
use crate::parts::*;
use crate::ports::{self, PortBinding};

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Service {
    #[serde(skip)]
    pub name: String,
    /// Where the service is defined (its key), for messages.
    #[serde(skip)]
    pub pos: Option<Pos>,
    /// Whether `up` in the foreground shows this service's output (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// env_file values first, then `environment`; None: unset (`KEY` alone with no value in
    /// the environment).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    /// (host, address) pairs, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_hosts")]
    pub extra_hosts: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<u64>,
    /// -1: unlimited swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<NetworkMode>,
    /// The networks joined (`default` when neither networks nor network_mode is given).
    #[serde(
        skip_serializing_if = "IndexMap::is_empty",
        serialize_with = "ser_networks"
    )]
    pub networks: IndexMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortBinding>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<Restart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    #[serde(
        serialize_with = "ser_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_grace_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub sysctls: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub ulimits: IndexMap<String, Ulimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

fn ser_hosts<S: serde::Serializer>(
    h: &[(String, String)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    let l: Vec<String> = h.iter().map(|(n, a)| format!("{n}={a}")).collect();
    l.serialize(s)
}

/// A network joined with no options is `name: null`, as compose prints it.
fn ser_networks<S: serde::Serializer>(
    n: &IndexMap<String, ServiceNetwork>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(n.len()))?;
    for (k, v) in n {
        if *v == ServiceNetwork::default() {
            m.serialize_entry(k, &())?;
        } else {
            m.serialize_entry(k, v)?;
        }
    }
    m.end()
}

/// Where a service refers to something by name, for validation's messages.
#[derive(Clone, Debug, Default)]
pub struct Refs {
    pub depends_on: IndexMap<String, Pos>,
    pub networks: IndexMap<String, Pos>,
    pub volumes: Vec<(String, Pos)>,
    pub secrets: Vec<(String, Pos)>,
    pub configs: Vec<(String, Pos)>,
    pub build: Option<Pos>,
    pub network_mode: Option<Pos>,
    pub container_name: Option<Pos>,
}

/// What a service's parse needs besides its node: the environment for `KEY` alone and the
/// env_file contents, read by the loader.
/// Reads an env_file (the node of its entry, its path, whether it is required): its
/// variables, or None for a missing optional file.
pub type ReadEnvFile<'a> =
    dyn Fn(&Node, &str, bool) -> Result<Option<IndexMap<String, String>>> + 'a;

pub struct Ctx<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub read_env_file: &'a ReadEnvFile<'a>,
    pub warnings: &'a mut Warnings,
}

fn opt<T>(
    f: &mut Fields,
    key: &'static str,
    mut conv: impl FnMut(&Node) -> Result<T>,
) -> Result<Option<T>> {
    f.get(key).map(&mut conv).transpose()
}

fn list(f: &mut Fields, key: &'static str, single: bool) -> Result<Vec<String>> {
    Ok(f.get(key)
        .map(|n| de::strings(n, single))
        .transpose()?
        .unwrap_or_default())
}

pub fn parse(name: &str, n: &Node, cx: &mut Ctx) -> Result<(Service, Refs)> {
    let what = format!("service {name:?}");
    let mut f = Fields::new(n, &what)?;
    let mut refs = Refs::default();
    let w = &mut *cx.warnings;
    let mut s = Service {
        name: name.to_string(),
        pos: Some(n.key_pos.clone()),
        ..Default::default()
    };
    s.profiles = list(&mut f, "profiles", false)?;
    s.image = opt(&mut f, "image", de::string)?;
    if let Some(b) = f.get("build") {
        refs.build = Some(b.pos.clone());
        s.build = Some(build(b, w)?);
    }
    s.command = opt(&mut f, "command", words)?;
    s.entrypoint = opt(&mut f, "entrypoint", words)?;
    if let Some(c) = f.get("container_name") {
        refs.container_name = Some(c.pos.clone());
        s.container_name = Some(de::string(c)?);
    }
    // env_file first, environment over it; `KEY` alone takes the environment's value.
    if let Some(e) = f.get("env_file") {
        for (path, required, at) in env_files(e)? {
            if let Some(vars) = (cx.read_env_file)(&at, &path, required)? {
                s.environment
                    .extend(vars.into_iter().map(|(k, v)| (k, Some(v))));
            }
        }
    }
    if let Some(e) = f.get("environment") {
        for (k, v) in de::map_or_list(e, &['='])? {
            let v = v.or_else(|| (cx.lookup)(&k));
            s.environment.insert(k, v);
        }
    }
    if let Some(p) = f.get("ports") {
        s.ports = ports::parse(p, w)?;
    }
    s.expose = list(&mut f, "expose", false)?;
    if let Some(v) = f.get("volumes") {
        s.volumes = mounts::parse(v, w)?;
        let items = v.as_seq().map(Vec::as_slice).unwrap_or_default();
        for (vol, at) in s.volumes.iter().zip(items) {
            if let (mounts::MountType::Volume, Some(src)) = (vol.kind, &vol.source) {
                refs.volumes.push((src.clone(), at.pos.clone()));
            }
        }
    }
    s.volumes_from = list(&mut f, "volumes_from", false)?;
    s.tmpfs = list(&mut f, "tmpfs", true)?;
    if let Some(m) = f.get("network_mode") {
        refs.network_mode = Some(m.pos.clone());
        s.network_mode = Some(network_mode(m)?);
    }
    if let Some(nets) = f.get("networks") {
        if s.network_mode.is_some() {
            return err(nets, "networks and network_mode exclude each other");
        }
        for (k, (sn, at)) in service_networks(nets, w)? {
            refs.networks.insert(k.clone(), at.pos);
            s.networks.insert(k, sn);
        }
    } else if s.network_mode.is_none() {
        refs.networks.insert("default".into(), n.key_pos.clone());
        s.networks
            .insert("default".into(), ServiceNetwork::default());
    }
    if let Some(d) = f.get("depends_on") {
        for (k, (dep, at)) in depends_on(d, w)? {
            refs.depends_on.insert(k.clone(), at.pos);
            s.depends_on.insert(k, dep);
        }
    }
    s.healthcheck = opt(&mut f, "healthcheck", |h| healthcheck(h, w))?;
    s.restart = opt(&mut f, "restart", restart)?;
    s.deploy = f.get("deploy").map(|d| deploy::deploy(d, w)).transpose()?;
    s.scale = opt(&mut f, "scale", de::int)?;
    s.mem_limit = opt(&mut f, "mem_limit", bytes)?;
    s.mem_reservation = opt(&mut f, "mem_reservation", bytes)?;
    s.memswap_limit = opt(&mut f, "memswap_limit", |n| {
        if n.as_scalar() == Some("-1") {
            Ok(-1)
        } else {
            bytes(n).map(|b| b as i64)
        }
    })?;
    s.cpus = opt(&mut f, "cpus", de::float)?;
    s.cpu_shares = opt(&mut f, "cpu_shares", de::int)?;
    s.pids_limit = opt(&mut f, "pids_limit", de::int)?;
    s.user = opt(&mut f, "user", de::string)?;
    s.working_dir = opt(&mut f, "working_dir", de::string)?;
    s.hostname = opt(&mut f, "hostname", de::string)?;
    s.domainname = opt(&mut f, "domainname", de::string)?;
    s.labels = opt(&mut f, "labels", de::string_map)?.unwrap_or_default();
    s.tty = opt(&mut f, "tty", de::boolean)?.unwrap_or(false);
    s.stdin_open = opt(&mut f, "stdin_open", de::boolean)?.unwrap_or(false);
    s.init = opt(&mut f, "init", de::boolean)?;
    s.privileged = opt(&mut f, "privileged", de::boolean)?.unwrap_or(false);
    s.read_only = opt(&mut f, "read_only", de::boolean)?.unwrap_or(false);
    s.cap_add = list(&mut f, "cap_add", false)?;
    s.cap_drop = list(&mut f, "cap_drop", false)?;
    s.security_opt = list(&mut f, "security_opt", false)?;
    s.sysctls = opt(&mut f, "sysctls", de::string_map)?.unwrap_or_default();
    s.ulimits = opt(&mut f, "ulimits", |u| ulimits(u, w))?.unwrap_or_default();
    s.dns = list(&mut f, "dns", true)?;
    s.dns_search = list(&mut f, "dns_search", true)?;
    s.dns_opt = list(&mut f, "dns_opt", false)?;
    s.extra_hosts = opt(&mut f, "extra_hosts", extra_hosts)?.unwrap_or_default();
    s.stop_signal = opt(&mut f, "stop_signal", de::string)?;
    s.stop_grace_period = opt(&mut f, "stop_grace_period", duration)?;
    s.pull_policy = opt(&mut f, "pull_policy", pull_policy)?;
    s.platform = opt(&mut f, "platform", de::string)?;
    if let Some(x) = f.get("secrets") {
        s.secrets = file_refs(x, w)?;
        refs.secrets = item_positions(x, s.secrets.iter().map(|r| r.source.clone()));
    }
    if let Some(x) = f.get("configs") {
        s.configs = file_refs(x, w)?;
        refs.configs = item_positions(x, s.configs.iter().map(|r| r.source.clone()));
    }
    if let Some(b) = &s.build {
        refs.secrets.extend(b.secrets.iter().map(|r| {
            (
                r.source.clone(),
                refs.build.clone().unwrap_or(n.pos.clone()),
            )
        }));
    }
    s.devices = opt(&mut f, "devices", devices)?.unwrap_or_default();
    s.shm_size = opt(&mut f, "shm_size", bytes)?;
    s.ipc = opt(&mut f, "ipc", de::string)?;
    s.pid = opt(&mut f, "pid", de::string)?;
    s.logging = opt(&mut f, "logging", |l| logging(l, w))?;
    s.attach = opt(&mut f, "attach", de::boolean)?;
    // Read by the loader before this parse.
    f.get("extends");
    f.finish(&what, w);
    Ok((s, refs))
}

/// Each name with the position of its list item (the list's, for a list that is not one).
fn item_positions(list: &Node, names: impl Iterator<Item = String>) -> Vec<(String, Pos)> {
    let items = list.as_seq().map(Vec::as_slice).unwrap_or_default();
    names
        .enumerate()
        .map(|(i, name)| {
            (
                name,
                items.get(i).map_or(list.pos.clone(), |n| n.pos.clone()),
            )
        })
        .collect()
}

/// env_file entries: (path, required, node).
fn env_files(n: &Node) -> Result<Vec<(String, bool, Node)>> {
    let items: Vec<&Node> = match n.as_seq() {
        Some(s) => s.iter().collect(),
        None => vec![n],
    };
    let mut out = Vec::new();
    for i in items {
        if i.as_map().is_some() {
            let path = match i.get("path") {
                Some(p) => de::string(p)?,
                None => return err(i, "an env_file entry needs path"),
            };
            let required = i
                .get("required")
                .map(de::boolean)
                .transpose()?
                .unwrap_or(true);
            out.push((path, required, i.clone()));
        } else {
            out.push((de::string(i)?, true, i.clone()));
        }
    }
    Ok(out)
}

impl Service {
    /// How many containers `up` makes: `scale`, else `deploy.replicas`, else 1.
    pub fn replicas(&self) -> u32 {
        self.scale
            .or_else(|| self.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn parse_svc(text: &str, env: &[(&str, &str)]) -> Result<(Service, Refs, Warnings)> {
        let n = crate::node::parse(&Arc::from("c.yaml"), text).unwrap();
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| env.get(k).cloned();
        let read = |_: &Node, path: &str, _: bool| -> Result<Option<IndexMap<String, String>>> {
            Ok(Some(IndexMap::from([
                ("FROM_FILE".to_string(), path.to_string()),
                ("A".to_string(), "file".to_string()),
            ])))
        };
        let mut w = Warnings::default();
        let mut cx = Ctx {
            lookup: &lookup,
            read_env_file: &read,
            warnings: &mut w,
        };
        let (s, r) = parse("web", n.get("web").unwrap(), &mut cx)?;
        Ok((s, r, w))
    }

    #[test]
    fn environment_from_files_list_and_shell() {
        let (s, _, w) = parse_svc(
            "web:\n  image: x\n  env_file: [/e.env]\n  environment: [A=list, SHELL_ONLY, NOWHERE]\n",
            &[("SHELL_ONLY", "sh")],
        )
        .unwrap();
        assert_eq!(s.environment["FROM_FILE"].as_deref(), Some("/e.env"));
        assert_eq!(s.environment["A"].as_deref(), Some("list"));
        assert_eq!(s.environment["SHELL_ONLY"].as_deref(), Some("sh"));
        assert_eq!(s.environment["NOWHERE"], None);
        assert!(w.0.is_empty());
    }

    #[test]
    fn networks_default_and_modes() {
        let (s, r, _) = parse_svc("web:\n  image: x\n", &[]).unwrap();
        assert_eq!(s.networks.keys().collect::<Vec<_>>(), ["default"]);
        assert!(r.networks.contains_key("default"));
        let (s, r, _) = parse_svc("web:\n  image: x\n  network_mode: host\n", &[]).unwrap();
        assert!(s.networks.is_empty() && r.networks.is_empty());
        assert!(parse_svc(
            "web:\n  image: x\n  network_mode: host\n  networks: [a]\n",
            &[]
        )
        .is_err());
    }

    #[test]
    fn sizes_limits_and_flags() {
        let (s, r, w) = parse_svc(
            "web:\n  image: x\n  mem_limit: 512m\n  memswap_limit: -1\n  shm_size: 64m\n  cpus: 1.5\n  cpu_shares: 512\n  \
             pids_limit: 100\n  tty: true\n  stdin_open: true\n  init: true\n  privileged: true\n  read_only: true\n  \
             sysctls: [net.core.somaxconn=1024]\n  cap_add: [NET_ADMIN]\n  dns: 8.8.8.8\n  volumes: [\"data:/d\"]\n  \
             scale: 2\n  logging: {driver: json-file, options: {max-size: 10m}}\n  attach: false\n  container_name: c\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            (s.mem_limit, s.memswap_limit, s.shm_size),
            (Some(512 << 20), Some(-1), Some(64 << 20))
        );
        assert_eq!(
            (s.cpus, s.cpu_shares, s.pids_limit),
            (Some(1.5), Some(512), Some(100))
        );
        assert!(s.tty && s.stdin_open && s.privileged && s.read_only && s.init == Some(true));
        assert_eq!(s.sysctls["net.core.somaxconn"], "1024");
        assert_eq!(s.dns, ["8.8.8.8"]);
        assert_eq!(r.volumes[0].0, "data");
        assert_eq!(r.container_name.as_ref().unwrap().line, 21);
        assert_eq!(s.replicas(), 2);
        assert_eq!(s.logging.unwrap().options["max-size"], "10m");
        assert_eq!(s.attach, Some(false));
        assert!(w.0.is_empty(), "{:?}", w.0);
    }
}
