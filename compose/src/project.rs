//! The project: its services and its top-level networks, volumes, secrets and configs, with
//! the names they have on the host (`<project>_<key>`, or their own for external ones).

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use crate::de::{self, err, Fields};
use crate::error::{Result, Warning, Warnings};
use crate::node::Node;
use crate::service::Service;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Project {
    pub name: String,
    /// The project directory (relative paths were resolved against it).
    #[serde(skip)]
    pub working_dir: PathBuf,
    /// The compose files read, in order (`-` for stdin), absolute.
    #[serde(skip)]
    pub config_files: Vec<String>,
    pub services: IndexMap<String, Service>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Volume>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, FileObject>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub configs: IndexMap<String, FileObject>,
    /// Services defined but not enabled by the active profiles.
    #[serde(skip)]
    pub disabled: IndexMap<String, Service>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IpamPool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub aux_addresses: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ipam {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    /// The name on the host: `<project>_<key>`, its `name:`, or for an external network its
    /// `name:` or key.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// The name on the host: `<project>_<key>`, its `name:`, or for an external volume its
    /// `name:` or key.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

/// Where a secret's or config's content comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An absolute path.
    File(String),
    /// The name of a variable of the environment.
    Environment(String),
    /// Inline content (configs only).
    Content(String),
    /// Made outside the project.
    External,
}

/// A top-level secret or config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileObject {
    pub name: String,
    #[serde(flatten)]
    pub source: Source,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

/// `external: true`, or the legacy `external: {name: …}` (a warning, as compose gives).
fn external(
    f: &mut Fields,
    kind: &str,
    key: &str,
    w: &mut Warnings,
) -> Result<(bool, Option<String>)> {
    match f.get("external") {
        None => Ok((false, None)),
        Some(e) if e.as_map().is_some() => {
            let mut ef = Fields::new(e, "external")?;
            let name = ef.get("name").map(de::string).transpose()?;
            ef.finish("external", w);
            w.push(Warning::at(
                &e.key_pos,
                format!("{kind}s.{key}: external.name is deprecated. Please set name and external: true"),
            ));
            Ok((true, name))
        }
        Some(e) => Ok((de::boolean(e)?, None)),
    }
}

/// `name:`, or the legacy `external.name`; both is an error, as in compose.
fn own_name(f: &mut Fields, ext_name: Option<String>, n: &Node) -> Result<Option<String>> {
    let name = f.get("name").map(de::string).transpose()?;
    match (name, ext_name) {
        (Some(_), Some(_)) => err(n, "external.name and name conflict; only use name"),
        (a, b) => Ok(a.or(b)),
    }
}

fn host_name(project: &str, key: &str, external: bool, name: Option<String>) -> String {
    match name {
        Some(n) => n,
        None if external => key.to_string(),
        None => format!("{project}_{key}"),
    }
}

pub fn network(project: &str, key: &str, n: &Node, w: &mut Warnings) -> Result<Network> {
    let what = format!("network {key:?}");
    if n.is_null() {
        return Ok(Network {
            name: host_name(project, key, false, None),
            ..Default::default()
        });
    }
    let mut f = Fields::new(n, &what)?;
    let (ext, ext_name) = external(&mut f, "network", key, w)?;
    let name = own_name(&mut f, ext_name, n)?;
    let ipam = match f.get("ipam") {
        Some(i) => {
            let mut fi = Fields::new(i, "ipam")?;
            let mut config = Vec::new();
            if let Some(c) = fi.get("config") {
                for pool in c
                    .as_seq()
                    .ok_or(())
                    .or_else(|_| err(c, "ipam config must be a list"))?
                {
                    let mut fp = Fields::new(pool, "an ipam pool")?;
                    config.push(IpamPool {
                        subnet: fp.get("subnet").map(de::string).transpose()?,
                        gateway: fp.get("gateway").map(de::string).transpose()?,
                        ip_range: fp.get("ip_range").map(de::string).transpose()?,
                        aux_addresses: fp
                            .get("aux_addresses")
                            .map(de::string_map)
                            .transpose()?
                            .unwrap_or_default(),
                    });
                    fp.finish("an ipam pool", w);
                }
            }
            let ipam = Ipam {
                driver: fi.get("driver").map(de::string).transpose()?,
                config,
            };
            fi.finish("ipam", w);
            Some(ipam)
        }
        None => None,
    };
    let net = Network {
        name: host_name(project, key, ext, name),
        driver: f.get("driver").map(de::string).transpose()?,
        driver_opts: f
            .get("driver_opts")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
        external: ext,
        internal: f
            .get("internal")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
        attachable: f
            .get("attachable")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
        enable_ipv6: f
            .get("enable_ipv6")
            .map(de::boolean)
            .transpose()?
            .unwrap_or(false),
        ipam,
        labels: f
            .get("labels")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
    };
    f.finish(&what, w);
    Ok(net)
}

pub fn volume(project: &str, key: &str, n: &Node, w: &mut Warnings) -> Result<Volume> {
    let what = format!("volume {key:?}");
    if n.is_null() {
        return Ok(Volume {
            name: host_name(project, key, false, None),
            ..Default::default()
        });
    }
    let mut f = Fields::new(n, &what)?;
    let (ext, ext_name) = external(&mut f, "volume", key, w)?;
    let name = own_name(&mut f, ext_name, n)?;
    let v = Volume {
        name: host_name(project, key, ext, name),
        driver: f.get("driver").map(de::string).transpose()?,
        driver_opts: f
            .get("driver_opts")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
        external: ext,
        labels: f
            .get("labels")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
    };
    f.finish(&what, w);
    Ok(v)
}

/// A top-level secret (`config` false) or config.
pub fn file_object(
    project: &str,
    key: &str,
    n: &Node,
    config: bool,
    w: &mut Warnings,
) -> Result<FileObject> {
    let kind = if config { "config" } else { "secret" };
    let what = format!("{kind} {key:?}");
    let mut f = Fields::new(n, &what)?;
    let (ext, ext_name) = external(&mut f, kind, key, w)?;
    let name = own_name(&mut f, ext_name, n)?;
    let file = f.get("file").map(de::string).transpose()?;
    let env = f.get("environment").map(de::string).transpose()?;
    let content = if config {
        f.get("content").map(de::string).transpose()?
    } else {
        None
    };
    let source = match (ext, file, env, content) {
        (true, None, None, None) => Source::External,
        (false, Some(p), None, None) => Source::File(p),
        (false, None, Some(e), None) => Source::Environment(e),
        (false, None, None, Some(c)) => Source::Content(c),
        (false, None, None, None) => {
            return err(
                n,
                format!(
                    "{what} needs one of file, environment{}, external",
                    if config { ", content" } else { "" }
                ),
            )
        }
        _ => {
            return err(
                n,
                format!("{what}: file, environment, content and external exclude each other"),
            )
        }
    };
    let o = FileObject {
        name: host_name(project, key, ext, name),
        source,
        labels: f
            .get("labels")
            .map(de::string_map)
            .transpose()?
            .unwrap_or_default(),
    };
    f.finish(&what, w);
    Ok(o)
}

impl Project {
    /// The keys of the networks the enabled services join, in the file's order (those to create
    /// or, for external ones, to find).
    pub fn used_networks(&self) -> Vec<&str> {
        self.networks
            .keys()
            .filter(|k| self.services.values().any(|s| s.networks.contains_key(*k)))
            .map(String::as_str)
            .collect()
    }

    /// The keys of the top-level volumes the enabled services mount, in the file's order.
    pub fn used_volumes(&self) -> Vec<&str> {
        self.volumes
            .keys()
            .filter(|k| {
                self.services.values().any(|s| {
                    s.volumes.iter().any(|v| {
                        v.kind == crate::mounts::MountType::Volume
                            && v.source.as_deref() == Some(k.as_str())
                    })
                })
            })
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn n(text: &str) -> Node {
        crate::node::parse(&Arc::from("c.yaml"), text).unwrap()
    }

    #[test]
    fn used_networks_and_volumes() {
        let mut p = Project::default();
        for k in ["a", "b"] {
            p.networks.insert(k.into(), Network::default());
            p.volumes.insert(k.into(), Volume::default());
        }
        let mut s = Service::default();
        s.networks.insert("b".into(), Default::default());
        s.volumes = vec![
            crate::mounts::parse_short("a:/data").unwrap(),
            crate::mounts::parse_short("/b:/b").unwrap(),
        ];
        p.services.insert("s".into(), s);
        assert_eq!(p.used_networks(), ["b"]);
        assert_eq!(p.used_volumes(), ["a"]);
    }

    #[test]
    fn network_names() {
        let mut w = Warnings::default();
        let t = n("a:\nb: {external: true}\nc: {external: true, name: real}\nd: {name: custom}\ne: {external: {name: legacy}}\n");
        let name =
            |k: &str, w: &mut Warnings| network("proj", k, t.get(k).unwrap(), w).unwrap().name;
        assert_eq!(name("a", &mut w), "proj_a");
        assert_eq!(name("b", &mut w), "b");
        assert_eq!(name("c", &mut w), "real");
        assert_eq!(name("d", &mut w), "custom");
        assert!(w.0.is_empty());
        assert_eq!(name("e", &mut w), "legacy");
        assert_eq!(w.0.len(), 1);
        let bad = n("x: {external: {name: a}, name: b}\n");
        assert!(network("proj", "x", bad.get("x").unwrap(), &mut w).is_err());
    }

    #[test]
    fn network_options() {
        let mut w = Warnings::default();
        let t = n("x:\n  driver: bridge\n  internal: true\n  attachable: true\n  labels: [a=b]\n  driver_opts: {mtu: 1400}\n  \
                   ipam:\n    config:\n      - {subnet: 10.5.0.0/16, gateway: 10.5.0.1, ip_range: 10.5.1.0/24}\n");
        let net = network("p", "x", t.get("x").unwrap(), &mut w).unwrap();
        assert!(net.internal && net.attachable);
        assert_eq!(net.labels["a"], "b");
        assert_eq!(net.driver_opts["mtu"], "1400");
        assert_eq!(
            net.ipam.unwrap().config[0].ip_range.as_deref(),
            Some("10.5.1.0/24")
        );
        assert!(w.0.is_empty());
    }

    #[test]
    fn volumes_secrets_configs() {
        let mut w = Warnings::default();
        let t = n("v: {external: true}\nf: {file: /run/x}\ne: {environment: TOKEN}\nc: {content: hello}\nnone: {}\n");
        assert_eq!(
            volume("p", "v", t.get("v").unwrap(), &mut w).unwrap().name,
            "v"
        );
        let s = file_object("p", "f", t.get("f").unwrap(), false, &mut w).unwrap();
        assert_eq!(
            (s.name.as_str(), &s.source),
            ("p_f", &Source::File("/run/x".into()))
        );
        assert_eq!(
            file_object("p", "e", t.get("e").unwrap(), false, &mut w)
                .unwrap()
                .source,
            Source::Environment("TOKEN".into())
        );
        assert_eq!(
            file_object("p", "c", t.get("c").unwrap(), true, &mut w)
                .unwrap()
                .source,
            Source::Content("hello".into())
        );
        // content is for configs only: for a secret it is unknown (a warning) and the secret has no source.
        assert!(file_object("p", "c", t.get("c").unwrap(), false, &mut w).is_err());
        assert!(file_object("p", "none", t.get("none").unwrap(), true, &mut w).is_err());
    }
}
