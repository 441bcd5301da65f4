//! Pods on disk: `<root>/pods/<id>/pod.json` for each, its name reserved in
//! `<root>/pods/names/<name>`; what a pod holds while its namespaces are pinned is in the
//! runtime directory (`<runtime>/pods/<id>/`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::containers::Containers;

/// A pod: the namespaces its containers share, and its place on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodConfig {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub hostname: String,
    /// The namespaces shared: some of `net`, `ipc`, `uts`.
    pub share: Vec<String>,
    /// `--network`: a network's name, or `none`.
    pub network: String,
    /// Its addresses (on `network`), taken at create.
    pub networks: Vec<rbox_network::Endpoint>,
    /// `-p`.
    pub port_bindings: Vec<rbox_network::PortMapping>,
    /// `--add-host` (NAME:IP).
    pub extra_hosts: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// More names it answers to on its network's resolver (besides its name and hostname).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl PodConfig {
    /// Whether the pod shares namespace `ns` (`net`, `ipc`, `uts`).
    pub fn shares(&self, ns: &str) -> bool {
        self.share.iter().any(|s| s == ns)
    }

    /// Its address on its first network.
    pub fn ip(&self) -> Option<std::net::Ipv4Addr> {
        self.networks.first().map(|e| e.ip_address)
    }
}

/// A held per-pod lock.
#[derive(Debug)]
pub struct PodLock {
    _file: File,
}

/// The pods of a data root.
#[derive(Debug, Clone)]
pub struct Pods {
    dir: PathBuf,
    runtime: PathBuf,
}

fn io_at(p: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

impl Pods {
    /// The pods next to `containers`.
    pub fn open(containers: &Containers) -> Result<Pods> {
        let dir = containers.root().join("pods");
        let names = dir.join("names");
        fs::create_dir_all(&names).map_err(io_at(&names))?;
        Ok(Pods {
            dir,
            runtime: containers.runtime_dir().join("pods"),
        })
    }

    /// `pods/<id>`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Whether pod `id` is recorded.
    pub fn exists(&self, id: &str) -> bool {
        self.dir(id).join("pod.json").exists()
    }

    /// Where the pinned namespaces of pod `id` are (on the runtime tmpfs).
    pub fn run_path(&self, id: &str) -> PathBuf {
        self.runtime.join(id)
    }

    fn lock_file(p: &Path) -> Result<PodLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(p)
            .map_err(io_at(p))?;
        rustix::fs::flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| Error::io(p, e.into()))?;
        Ok(PodLock { _file: file })
    }

    /// Takes pod `id`'s lock (held while its namespaces are pinned or unpinned).
    pub fn lock(&self, id: &str) -> Result<PodLock> {
        if !self.exists(id) {
            return Err(Error::Conflict(format!("no such pod: {id}")));
        }
        Self::lock_file(&self.dir(id).join("lock"))
    }

    /// Records a new pod; its name must be free.
    pub fn create(&self, pod: &PodConfig) -> Result<()> {
        crate::store::containers::validate_name(&pod.name)?;
        let _all = Self::lock_file(&self.dir.join("names.lock"))?;
        let name = self.dir.join("names").join(&pod.name);
        if name.exists() {
            return Err(Error::Conflict(format!(
                "the pod name {:?} is already in use",
                pod.name
            )));
        }
        let dir = self.dir(&pod.id);
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        self.write(pod)?;
        fs::write(&name, &pod.id).map_err(io_at(&name))?;
        Ok(())
    }

    /// Writes a pod's configuration.
    pub fn write(&self, pod: &PodConfig) -> Result<()> {
        let p = self.dir(&pod.id).join("pod.json");
        crate::store::containers::write_json(&p, pod)
    }

    /// Reads pod `id`.
    pub fn load(&self, id: &str) -> Result<PodConfig> {
        let p = self.dir(id).join("pod.json");
        let b = fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Conflict(format!("no such pod: {id}")),
            _ => Error::io(&p, e),
        })?;
        serde_json::from_slice(&b)
            .map_err(|e| Error::io(&p, io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Every pod, oldest first.
    pub fn list(&self) -> Result<Vec<PodConfig>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if id == "names" || !self.exists(&id) {
                continue;
            }
            if let Ok(p) = self.load(&id) {
                out.push(p);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// A pod's id from its name, its id or a unique prefix of its id.
    pub fn resolve(&self, name: &str) -> Result<String> {
        let by_name = self.dir.join("names").join(name);
        if let Ok(id) = fs::read_to_string(&by_name) {
            if self.exists(&id) {
                return Ok(id);
            }
        }
        if name.len() >= 3 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            let found: Vec<String> = self
                .list()?
                .into_iter()
                .filter(|p| p.id.starts_with(name))
                .map(|p| p.id)
                .collect();
            match found.len() {
                1 => return Ok(found[0].clone()),
                0 => {}
                _ => {
                    return Err(Error::Conflict(format!(
                        "more than one pod has an id starting with {name}"
                    )))
                }
            }
        }
        Err(Error::Conflict(format!("no such pod: {name}")))
    }

    /// Forgets pod `id` and frees its name.
    pub fn remove(&self, pod: &PodConfig) -> Result<()> {
        let _all = Self::lock_file(&self.dir.join("names.lock"))?;
        let name = self.dir.join("names").join(&pod.name);
        if fs::read_to_string(&name).is_ok_and(|id| id == pod.id) {
            let _ = fs::remove_file(&name);
        }
        let dir = self.dir(&pod.id);
        fs::remove_dir_all(&dir).or_else(|e| match e.kind() {
            io::ErrorKind::NotFound => Ok(()),
            _ => Err(Error::io(&dir, e)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(id: &str, name: &str) -> PodConfig {
        PodConfig {
            id: id.into(),
            name: name.into(),
            created: crate::now(),
            labels: Default::default(),
            hostname: name.into(),
            share: vec!["net".into(), "ipc".into(), "uts".into()],
            network: "none".into(),
            networks: vec![],
            port_bindings: vec![],
            extra_hosts: vec![],
            dns: vec![],
            aliases: vec![],
        }
    }

    #[test]
    fn pods_are_recorded_found_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let pods = Pods::open(&containers).unwrap();
        let a = pod("abcdef0123", "web");
        pods.create(&a).unwrap();
        assert!(
            pods.create(&pod("fff", "web")).is_err(),
            "a name is taken once"
        );
        assert_eq!(pods.resolve("web").unwrap(), "abcdef0123");
        assert_eq!(pods.resolve("abcd").unwrap(), "abcdef0123");
        assert!(pods.resolve("db").is_err());
        assert_eq!(pods.list().unwrap(), vec![a.clone()]);
        assert!(pods.load("abcdef0123").unwrap().shares("ipc"));
        pods.remove(&a).unwrap();
        assert!(pods.list().unwrap().is_empty());
        assert!(pods.resolve("web").is_err());
    }
}
