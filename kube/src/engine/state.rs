//! What `kube play` keeps under the data root (`<root>/kube/`): each workload and Service
//! as last played, the input it came from, and each Deployment's revisions.

use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Serialize};

use crate::plan::{ServicePlan, Workload, WorkloadKind};
use crate::rollout::History;

/// The kube records of one data root.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

fn read<T: DeserializeOwned>(p: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn write<T: Serialize>(p: &Path, v: &T) -> std::io::Result<()> {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v).expect("serializes"))?;
    std::fs::rename(tmp, p)
}

/// A NodePort Service's ports as published: on every host address, each spread over the
/// Service's pods.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodePorts {
    pub network: String,
    pub ports: Vec<NodePort>,
}

/// One port of a NodePort Service: the host's port and the pods' addresses and ports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodePort {
    pub protocol: String,
    pub host_port: u16,
    pub targets: Vec<(std::net::Ipv4Addr, u16)>,
}

/// `Deployment/web` as a file name.
pub fn key(kind: WorkloadKind, name: &str) -> String {
    format!("{kind:?}_{name}")
}

impl State {
    /// The records under `root`.
    pub fn open(root: &Path) -> State {
        State {
            dir: root.join("kube"),
        }
    }

    /// Where a pod's ConfigMap and Secret files are written.
    pub fn pod_files(&self, pod: &str) -> PathBuf {
        self.dir.join("files").join(pod)
    }

    fn workload_path(&self, kind: WorkloadKind, name: &str) -> PathBuf {
        self.dir
            .join("workloads")
            .join(format!("{}.json", key(kind, name)))
    }

    /// Records a workload as played, with the input it came from (for `rollout undo`).
    pub fn save_workload(&self, w: &Workload, source: &str) -> std::io::Result<()> {
        write(&self.workload_path(w.kind, &w.name), w)?;
        let src = self.workload_path(w.kind, &w.name).with_extension("yaml");
        std::fs::write(src, source)
    }

    /// A workload as last played, and its input.
    pub fn workload(&self, kind: WorkloadKind, name: &str) -> Option<(Workload, String)> {
        let p = self.workload_path(kind, name);
        let w = read(&p)?;
        let src = std::fs::read_to_string(p.with_extension("yaml")).unwrap_or_default();
        Some((w, src))
    }

    /// Every workload recorded.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut v: Vec<Workload> = list(&self.dir.join("workloads"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| read(p))
            .collect();
        v.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
        v
    }

    /// Forgets a workload (and a Deployment's revisions).
    pub fn remove_workload(&self, kind: WorkloadKind, name: &str) {
        let p = self.workload_path(kind, name);
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(p.with_extension("yaml"));
        if kind == WorkloadKind::Deployment {
            let _ = std::fs::remove_file(self.history_path(name));
        }
    }

    /// Records a Service.
    pub fn save_service(&self, s: &ServicePlan) -> std::io::Result<()> {
        write(
            &self.dir.join("services").join(format!("{}.json", s.name)),
            s,
        )
    }

    /// Every Service recorded.
    pub fn services(&self) -> Vec<ServicePlan> {
        list(&self.dir.join("services"))
            .iter()
            .filter_map(|p| read(p))
            .collect()
    }

    /// Forgets a Service.
    pub fn remove_service(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join("services").join(format!("{name}.json")));
    }

    /// Records whether `kube play` made the default kube network (and may remove it).
    pub fn network_made(&self, made: bool) {
        let p = self.dir.join("network-made");
        if made {
            let _ = std::fs::create_dir_all(&self.dir).and_then(|_| std::fs::write(&p, b""));
        } else {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Whether `kube play` made the default kube network.
    pub fn made_network(&self) -> bool {
        self.dir.join("network-made").exists()
    }

    fn node_ports_path(&self, service: &str) -> PathBuf {
        self.dir.join("nodeports").join(format!("{service}.json"))
    }

    /// Where a NodePort Service's ports lead now.
    pub fn node_ports(&self, service: &str) -> Option<NodePorts> {
        read(&self.node_ports_path(service))
    }

    /// Every NodePort Service's ports, by Service.
    pub fn all_node_ports(&self) -> Vec<(String, NodePorts)> {
        list(&self.dir.join("nodeports"))
            .iter()
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), read(p)?)))
            .collect()
    }

    /// Records (or with `None`, forgets) where a Service's node ports lead.
    pub fn save_node_ports(&self, service: &str, n: Option<&NodePorts>) -> std::io::Result<()> {
        match n {
            Some(n) => write(&self.node_ports_path(service), n),
            None => match std::fs::remove_file(self.node_ports_path(service)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }

    fn history_path(&self, deployment: &str) -> PathBuf {
        self.dir.join("rollout").join(format!("{deployment}.json"))
    }

    /// A Deployment's revisions (none yet: an empty history).
    pub fn history(&self, deployment: &str) -> History {
        read(&self.history_path(deployment)).unwrap_or_else(|| History::new(deployment))
    }

    /// Whether a Deployment has revisions recorded.
    pub fn has_history(&self, deployment: &str) -> bool {
        self.history_path(deployment).exists()
    }

    /// Writes a Deployment's revisions.
    pub fn save_history(&self, h: &History) -> std::io::Result<()> {
        write(&self.history_path(&h.deployment), h)
    }
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
