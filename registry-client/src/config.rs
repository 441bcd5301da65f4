//! Registries that may be spoken to without TLS verification, as podman's
//! `registries.conf` `insecure = true`: `<root>/registries.json`, or the file
//! `$RBOX_REGISTRIES_CONF` names.
//!
//! ```json
//! {
//!   "registries": [
//!     { "location": "registry.lan:5000", "insecure": true },
//!     { "location": "*.build.internal", "insecure": true }
//!   ]
//! }
//! ```
//!
//! `location` is a registry as references name it (`host[:port]`), or `*.domain` for every
//! host under a domain, on any port. An insecure registry is tried over HTTPS without
//! certificate checks, then over plain HTTP.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The environment variable that names the file instead of `<root>/registries.json`.
pub const ENV: &str = "RBOX_REGISTRIES_CONF";

/// One registry's settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryConf {
    /// `host[:port]`, or `*.domain`.
    pub location: String,
    /// Plain HTTP and unverified TLS are allowed.
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfFile {
    #[serde(default)]
    registries: Vec<RegistryConf>,
}

/// The registries configuration (empty when there is no file).
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    /// Each registry listed, in the file's order.
    pub registries: Vec<RegistryConf>,
}

/// Where the configuration is read from: `$RBOX_REGISTRIES_CONF` if set, else
/// `<root>/registries.json`.
pub fn default_path(root: &Path) -> (PathBuf, bool) {
    match std::env::var_os(ENV) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), true),
        _ => (root.join("registries.json"), false),
    }
}

impl RegistriesConf {
    /// Reads the configuration for a data root (see [`default_path`]). A missing
    /// `<root>/registries.json` is an empty configuration; a file the environment names
    /// must exist.
    pub fn for_root(root: &Path) -> Result<RegistriesConf> {
        let (path, named) = default_path(root);
        match Self::load(&path) {
            Ok(None) if named => Err(Error::Config {
                path,
                message: format!("no such file (named by ${ENV})"),
            }),
            Ok(c) => Ok(c.unwrap_or_default()),
            Err(e) => Err(e),
        }
    }

    /// Reads `path`; `None` if it doesn't exist.
    pub fn load(path: &Path) -> Result<Option<RegistriesConf>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Config {
                    path: path.to_owned(),
                    message: e.to_string(),
                })
            }
        };
        Self::parse(&bytes)
            .map(Some)
            .map_err(|message| Error::Config {
                path: path.to_owned(),
                message,
            })
    }

    /// Reads the JSON text of a configuration.
    pub fn parse(bytes: &[u8]) -> Result<RegistriesConf, String> {
        let f: ConfFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        for r in &f.registries {
            let host = r.location.strip_prefix("*.").unwrap_or(&r.location);
            if host.is_empty() || r.location.contains('/') || host.contains('*') {
                return Err(format!(
                    "location {:?}: expected host[:port] or *.domain",
                    r.location
                ));
            }
        }
        Ok(RegistriesConf {
            registries: f.registries,
        })
    }

    /// The settings for `registry` (`host[:port]`): an exact entry first, else the
    /// longest matching `*.domain`.
    pub fn find(&self, registry: &str) -> Option<&RegistryConf> {
        if let Some(r) = self.registries.iter().find(|r| r.location == registry) {
            return Some(r);
        }
        let host = host_of(registry);
        self.registries
            .iter()
            .filter(|r| {
                r.location
                    .strip_prefix('*')
                    .is_some_and(|suffix| host.ends_with(suffix))
            })
            .max_by_key(|r| r.location.len())
    }

    /// Whether `registry` is listed as insecure.
    pub fn insecure(&self, registry: &str) -> bool {
        self.find(registry).is_some_and(|r| r.insecure)
    }
}

/// The host of `host[:port]` (an IPv6 address keeps its brackets).
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        match registry.find(']') {
            Some(i) => &registry[..=i],
            None => registry,
        }
    } else {
        registry.split(':').next().unwrap_or(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_locations_and_domains_match() {
        let c = RegistriesConf::parse(
            br#"{"registries":[
                {"location":"registry.lan:5000","insecure":true},
                {"location":"secure.lan:5000"},
                {"location":"*.build.internal","insecure":true},
                {"location":"*.ci.build.internal","insecure":false},
                {"location":"[::ffff:127.0.0.1]:5000","insecure":true}]}"#,
        )
        .unwrap();
        assert!(c.insecure("registry.lan:5000"));
        assert!(
            !c.insecure("registry.lan"),
            "another port is another registry"
        );
        assert!(!c.insecure("registry.lan:5001"));
        assert!(!c.insecure("secure.lan:5000"));
        assert!(c.insecure("a.build.internal"));
        assert!(c.insecure("a.build.internal:443"));
        assert!(!c.insecure("build.internal"));
        assert!(!c.insecure("x.ci.build.internal"), "the longer domain wins");
        assert!(c.insecure("[::ffff:127.0.0.1]:5000"));
        assert!(!c.insecure("docker.io"));
    }

    #[test]
    fn mistakes_are_reported() {
        for bad in [
            &br#"{"registries":[{"location":"a:1","insecure":"yes"}]}"#[..],
            br#"{"registries":[{"location":"a:1","insecur":true}]}"#,
            br#"{"registry":[]}"#,
            br#"{"registries":[{"location":"a:1/ns","insecure":true}]}"#,
            br#"{"registries":[{"location":"","insecure":true}]}"#,
            b"[",
        ] {
            assert!(
                RegistriesConf::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(RegistriesConf::parse(b"{}").unwrap().registries.is_empty());
    }

    #[test]
    fn a_missing_file_is_empty_and_a_bad_one_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("registries.json");
        assert!(RegistriesConf::load(&p).unwrap().is_none());
        std::fs::write(&p, "{").unwrap();
        let e = RegistriesConf::load(&p).unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()), "{e}");
    }
}
