//! The smaller typed parts of a service: dependencies, networks, restart policy, network
//! mode, pull policy, ulimits, secrets/configs references, logging, devices, extra hosts; the
//! durations, sizes and command words they are written with.

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Serialize, Serializer};

use crate::de::{self, err, Fields};
use crate::error::{Result, Warnings};
use crate::node::{Node, Value};
use crate::units;

pub fn ser_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&units::format_duration(*d)),
        None => s.serialize_none(),
    }
}

pub fn duration(n: &Node) -> Result<Duration> {
    units::parse_duration(&de::string(n)?).or_else(|m| err(n, m))
}

pub fn bytes(n: &Node) -> Result<u64> {
    units::parse_bytes(&de::string(n)?).or_else(|m| err(n, m))
}

/// A command or entrypoint: a list as it is, a string split into words as a shell would.
pub fn words(n: &Node) -> Result<Vec<String>> {
    match &n.value {
        Value::Seq(_) => de::strings(n, false),
        _ => {
            let s = de::string(n)?;
            shlex::split(&s)
                .ok_or(())
                .or_else(|_| err(n, format!("{s:?}: an unclosed quote")))
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub condition: Condition,
    /// Restart the dependent when this dependency is restarted or recreated.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
    /// A missing (or disabled) dependency is an error when required, a warning otherwise.
    pub required: bool,
}

pub fn depends_on(n: &Node, w: &mut Warnings) -> Result<IndexMap<String, (Dependency, Node)>> {
    let mut out = IndexMap::new();
    match &n.value {
        Value::Seq(items) => {
            for i in items {
                let dep = Dependency {
                    condition: Condition::ServiceStarted,
                    restart: false,
                    required: true,
                };
                out.insert(de::string(i)?, (dep, i.clone()));
            }
        }
        Value::Map(m) => {
            for (name, v) in m {
                let mut f = Fields::new(v, "a dependency")?;
                let condition = match f.get("condition") {
                    Some(c) => match de::one_of(
                        c,
                        &[
                            "service_started",
                            "service_healthy",
                            "service_completed_successfully",
                        ],
                    )? {
                        "service_healthy" => Condition::ServiceHealthy,
                        "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                        _ => Condition::ServiceStarted,
                    },
                    None => Condition::ServiceStarted,
                };
                let dep = Dependency {
                    condition,
                    restart: f
                        .get("restart")
                        .map(de::boolean)
                        .transpose()?
                        .unwrap_or(false),
                    required: f
                        .get("required")
                        .map(de::boolean)
                        .transpose()?
                        .unwrap_or(true),
                };
                f.finish(&format!("depends_on {name:?}"), w);
                let mut at = v.clone();
                at.pos = v.key_pos.clone();
                out.insert(name.clone(), (dep, at));
            }
        }
        _ => {
            return err(
                n,
                format!(
                    "depends_on must be a list or a mapping, not {}",
                    n.describe()
                ),
            )
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

pub fn service_networks(
    n: &Node,
    w: &mut Warnings,
) -> Result<IndexMap<String, (ServiceNetwork, Node)>> {
    let mut out = IndexMap::new();
    match &n.value {
        Value::Seq(items) => {
            for i in items {
                out.insert(de::string(i)?, (ServiceNetwork::default(), i.clone()));
            }
        }
        Value::Map(m) => {
            for (name, v) in m {
                let mut at = v.clone();
                at.pos = v.key_pos.clone();
                if v.is_null() {
                    out.insert(name.clone(), (ServiceNetwork::default(), at));
                    continue;
                }
                let mut f = Fields::new(v, "a service's network")?;
                let sn = ServiceNetwork {
                    aliases: f
                        .get("aliases")
                        .map(|a| de::strings(a, false))
                        .transpose()?
                        .unwrap_or_default(),
                    ipv4_address: f.get("ipv4_address").map(de::string).transpose()?,
                    ipv6_address: f.get("ipv6_address").map(de::string).transpose()?,
                    priority: f.get("priority").map(de::int).transpose()?,
                    mac_address: f.get("mac_address").map(de::string).transpose()?,
                };
                f.finish(&format!("network {name:?}"), w);
                out.insert(name.clone(), (sn, at));
            }
        }
        _ => {
            return err(
                n,
                format!("networks must be a list or a mapping, not {}", n.describe()),
            )
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    OnFailure(Option<u32>),
    UnlessStopped,
}

impl Serialize for Restart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Restart::No => s.serialize_str("no"),
            Restart::Always => s.serialize_str("always"),
            Restart::OnFailure(None) => s.serialize_str("on-failure"),
            Restart::OnFailure(Some(n)) => s.serialize_str(&format!("on-failure:{n}")),
            Restart::UnlessStopped => s.serialize_str("unless-stopped"),
        }
    }
}

pub fn restart(n: &Node) -> Result<Restart> {
    let s = de::string(n)?;
    Ok(match s.as_str() {
        "no" | "false" => Restart::No,
        "always" => Restart::Always,
        "unless-stopped" => Restart::UnlessStopped,
        "on-failure" => Restart::OnFailure(None),
        _ => match s.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(n)) => Restart::OnFailure(Some(n)),
            _ => {
                return err(
                    n,
                    format!(
                        "restart {s:?} is not one of no, always, on-failure[:N], unless-stopped"
                    ),
                )
            }
        },
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    Host,
    None,
    Bridge,
    Service(String),
    Container(String),
}

impl Serialize for NetworkMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NetworkMode::Host => s.serialize_str("host"),
            NetworkMode::None => s.serialize_str("none"),
            NetworkMode::Bridge => s.serialize_str("bridge"),
            NetworkMode::Service(x) => s.serialize_str(&format!("service:{x}")),
            NetworkMode::Container(x) => s.serialize_str(&format!("container:{x}")),
        }
    }
}

pub fn network_mode(n: &Node) -> Result<NetworkMode> {
    let s = de::string(n)?;
    Ok(match s.as_str() {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        "bridge" | "default" => NetworkMode::Bridge,
        _ => match s.split_once(':') {
            Some(("service", x)) if !x.is_empty() => NetworkMode::Service(x.into()),
            Some(("container", x)) if !x.is_empty() => NetworkMode::Container(x.into()),
            _ => {
                return err(
                    n,
                    format!(
                    "network_mode {s:?} is not host, none, bridge, service:NAME or container:NAME"
                ),
                )
            }
        },
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    Always,
    Never,
    Missing,
    Build,
}

pub fn pull_policy(n: &Node) -> Result<PullPolicy> {
    Ok(
        match de::one_of(
            n,
            &["always", "never", "missing", "if_not_present", "build"],
        )? {
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            _ => PullPolicy::Missing,
        },
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

pub fn ulimits(n: &Node, w: &mut Warnings) -> Result<IndexMap<String, Ulimit>> {
    let mut f = Fields::new(n, "ulimits")?;
    let mut out = IndexMap::new();
    let names: Vec<&String> = f
        .node
        .as_map()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for name in names {
        let Some(v) = f.get(name) else { continue };
        let u = if v.as_map().is_some() {
            let mut uf = Fields::new(v, "a ulimit")?;
            let soft = uf.get("soft").map(de::int).transpose()?;
            let hard = uf.get("hard").map(de::int).transpose()?;
            uf.finish(&format!("ulimit {name:?}"), w);
            match (soft, hard) {
                (Some(soft), Some(hard)) if soft <= hard => Ulimit { soft, hard },
                (Some(_), Some(_)) => {
                    return err(v, "a ulimit's soft limit is above its hard limit")
                }
                _ => return err(v, "a ulimit needs soft and hard"),
            }
        } else {
            let l = de::int(v)?;
            Ulimit { soft: l, hard: l }
        };
        out.insert(name.clone(), u);
    }
    f.finish("ulimits", w);
    Ok(out)
}

/// A service's use of a secret or config: `NAME`, or source/target/uid/gid/mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRef {
    pub source: String,
    /// None: `/run/secrets/SOURCE` for a secret, `/SOURCE` for a config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

pub fn file_refs(n: &Node, w: &mut Warnings) -> Result<Vec<FileRef>> {
    let Value::Seq(items) = &n.value else {
        return err(n, format!("expected a list, not {}", n.describe()));
    };
    let mut out = Vec::new();
    for i in items {
        if i.as_map().is_none() {
            out.push(FileRef {
                source: de::string(i)?,
                target: None,
                uid: None,
                gid: None,
                mode: None,
            });
            continue;
        }
        let mut f = Fields::new(i, "a secret or config")?;
        let Some(source) = f.get("source").map(de::string).transpose()? else {
            return err(i, "source is missing");
        };
        out.push(FileRef {
            source,
            target: f.get("target").map(de::string).transpose()?,
            uid: f.get("uid").map(de::string).transpose()?,
            gid: f.get("gid").map(de::string).transpose()?,
            mode: f.get("mode").map(crate::mounts::octal).transpose()?,
        });
        f.finish("a secret or config", w);
    }
    Ok(out)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Logging {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, String>,
}

pub fn logging(n: &Node, w: &mut Warnings) -> Result<Logging> {
    let mut f = Fields::new(n, "logging")?;
    let l = Logging {
        driver: f.get("driver").map(de::string).transpose()?,
        options: f
            .get("options")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
    };
    f.finish("logging", w);
    Ok(l)
}

/// `HOST[:CONTAINER[:PERMISSIONS]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub source: String,
    pub target: String,
    pub permissions: String,
}

pub fn devices(n: &Node) -> Result<Vec<Device>> {
    let Value::Seq(items) = &n.value else {
        return err(n, format!("devices must be a list, not {}", n.describe()));
    };
    let mut out = Vec::new();
    for i in items {
        let s = de::string(i)?;
        let p: Vec<&str> = s.split(':').collect();
        let (src, tgt, perm) = match p.as_slice() {
            [a] => (*a, *a, "rwm"),
            [a, b] => (*a, *b, "rwm"),
            [a, b, c] => (*a, *b, *c),
            _ => return err(i, format!("{s:?} is not HOST[:CONTAINER[:PERMISSIONS]]")),
        };
        out.push(Device {
            source: src.into(),
            target: tgt.into(),
            permissions: perm.into(),
        });
    }
    Ok(out)
}

/// `host:ip` / `host=ip` entries, or a mapping (an IPv6 address after `:` keeps its colons).
pub fn extra_hosts(n: &Node) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                if v.is_null() {
                    return err(v, format!("{k:?} is not HOST:IP or HOST=IP"));
                }
                for ip in de::strings(v, true)? {
                    out.push((k.clone(), ip.trim_matches(['[', ']']).to_string()));
                }
            }
        }
        Value::Seq(items) => {
            for i in items {
                let s = de::string(i)?;
                let at = s.find('=').or_else(|| s.find(':'));
                match at {
                    Some(at) => out.push((
                        s[..at].to_string(),
                        s[at + 1..].trim_matches(['[', ']']).to_string(),
                    )),
                    None => return err(i, format!("{s:?} is not HOST:IP or HOST=IP")),
                }
            }
        }
        _ => {
            return err(
                n,
                format!(
                    "extra_hosts must be a list or a mapping, not {}",
                    n.describe()
                ),
            )
        }
    }
    Ok(out)
}

impl FileRef {
    /// Where the file appears in the container: its target, else `/run/secrets/SOURCE` for a
    /// secret and `/SOURCE` for a config; a relative target of a secret is under
    /// `/run/secrets`.
    pub fn mount_path(&self, secret: bool) -> String {
        match &self.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) if secret => format!("/run/secrets/{t}"),
            Some(t) => format!("/{t}"),
            None if secret => format!("/run/secrets/{}", self.source),
            None => format!("/{}", self.source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn node(text: &str) -> Node {
        crate::node::parse(&Arc::from("c.yaml"), text).unwrap()
    }

    fn v(text: &str) -> Node {
        node(text).get("v").unwrap().clone()
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            words(&v("v: echo \"a b\" 'c d' e\\ f")).unwrap(),
            ["echo", "a b", "c d", "e f"]
        );
        assert_eq!(
            words(&v("v: [sh, -c, \"echo $$X\"]")).unwrap(),
            ["sh", "-c", "echo $$X"]
        );
        assert!(words(&v("v: echo \"open")).is_err());
    }

    #[test]
    fn restart_and_network_mode() {
        assert_eq!(restart(&v("v: \"no\"")).unwrap(), Restart::No);
        assert_eq!(
            restart(&v("v: unless-stopped")).unwrap(),
            Restart::UnlessStopped
        );
        assert_eq!(
            restart(&v("v: on-failure")).unwrap(),
            Restart::OnFailure(None)
        );
        assert_eq!(
            restart(&v("v: on-failure:5")).unwrap(),
            Restart::OnFailure(Some(5))
        );
        assert!(restart(&v("v: on-failure:x")).is_err());
        assert_eq!(network_mode(&v("v: host")).unwrap(), NetworkMode::Host);
        assert_eq!(network_mode(&v("v: none")).unwrap(), NetworkMode::None);
        assert_eq!(
            network_mode(&v("v: container:abc")).unwrap(),
            NetworkMode::Container("abc".into())
        );
        assert!(network_mode(&v("v: \"service:\"")).is_err());
        assert_eq!(
            pull_policy(&v("v: if_not_present")).unwrap(),
            PullPolicy::Missing
        );
        assert!(pull_policy(&v("v: sometimes")).is_err());
    }

    #[test]
    fn depends_on_forms() {
        let mut w = Warnings::default();
        let d = depends_on(&v("v: [db, cache]"), &mut w).unwrap();
        assert_eq!(d.keys().collect::<Vec<_>>(), ["db", "cache"]);
        assert!(d["db"].0.required);
        let d = depends_on(
            &v("v:\n  db: {condition: service_completed_successfully, required: false, restart: true}\n"),
            &mut w,
        )
        .unwrap();
        let dep = &d["db"].0;
        assert_eq!(
            (dep.condition, dep.required, dep.restart),
            (Condition::ServiceCompletedSuccessfully, false, true)
        );
        assert_eq!(d["db"].1.pos.line, 2);
    }

    #[test]
    fn networks_ulimits_hosts_devices_refs() {
        let mut w = Warnings::default();
        let n = service_networks(
            &v("v:\n  front:\n    aliases: [a]\n    priority: 10\n  back:\n"),
            &mut w,
        )
        .unwrap();
        assert_eq!(n["front"].0.priority, Some(10));
        assert_eq!(n["back"].0, ServiceNetwork::default());
        let u = ulimits(&v("v: {nofile: {soft: 10, hard: 5}}"), &mut w);
        assert!(u.is_err());
        let h = extra_hosts(&v("v: {db: 10.0.0.1, v6: \"::1\"}")).unwrap();
        assert_eq!(
            h,
            [
                ("db".into(), "10.0.0.1".into()),
                ("v6".into(), "::1".into())
            ]
        );
        let h = extra_hosts(&v("v: [\"v6:[::1]\"]")).unwrap();
        assert_eq!(h, [("v6".into(), "::1".into())]);
        let d = devices(&v("v: [/dev/fuse, \"/dev/sda:/dev/xvda:r\"]")).unwrap();
        assert_eq!(
            (d[0].target.as_str(), d[1].permissions.as_str()),
            ("/dev/fuse", "r")
        );
        let r = file_refs(
            &v("v: [token, {source: cfg, target: /etc/app.conf, mode: 0440}]"),
            &mut w,
        )
        .unwrap();
        assert_eq!(r[0].mount_path(true), "/run/secrets/token");
        assert_eq!(r[1].mount_path(false), "/etc/app.conf");
        assert_eq!(r[1].mode, Some(0o440));
        assert!(w.0.is_empty());
    }
}
