//! `kube get`: pods, deployments, replicasets and services as kubectl shows them (its
//! columns, `-l`, `-o wide|yaml|json`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Engine, EngineError, KubePod, Result};
use crate::plan::{ServiceKind, Workload, WorkloadKind};

/// What `kube get` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Pods,
    Deployments,
    ReplicaSets,
    Services,
}

impl What {
    /// kubectl's names and short names.
    pub fn parse(s: &str) -> Option<What> {
        Some(match s {
            "pods" | "pod" | "po" => What::Pods,
            "deployments" | "deployment" | "deploy" => What::Deployments,
            "replicasets" | "replicaset" | "rs" => What::ReplicaSets,
            "services" | "service" | "svc" => What::Services,
            _ => return None,
        })
    }
}

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Wide,
    Yaml,
    Json,
}

impl Output {
    pub fn parse(s: &str) -> Option<Output> {
        Some(match s {
            "wide" => Output::Wide,
            "yaml" => Output::Yaml,
            "json" => Output::Json,
            _ => return None,
        })
    }
}

/// One term of a `-l` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Is(String, String),
    IsNot(String, String),
    Has(String),
    HasNot(String),
}

/// A `-l` selector: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated, all to hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector(Vec<Term>);

impl Selector {
    pub fn parse(s: &str) -> std::result::Result<Selector, String> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let t = if let Some((k, v)) = part.split_once("!=") {
                Term::IsNot(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Term::Is(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Term::HasNot(k.trim().into())
            } else if part.contains(' ') || part.contains('(') {
                return Err(format!("unable to parse the selector {part:?}"));
            } else {
                Term::Has(part.into())
            };
            terms.push(t);
        }
        Ok(Selector(terms))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|t| match t {
            Term::Is(k, v) => labels.get(k) == Some(v),
            Term::IsNot(k, v) => labels.get(k) != Some(v),
            Term::Has(k) => labels.contains_key(k),
            Term::HasNot(k) => !labels.contains_key(k),
        })
    }
}

/// kubectl's AGE: `5s`, `3m`, `2h`, `4d`.
fn age(created: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(created) else {
        return "<unknown>".into();
    };
    let s = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Columns two spaces apart or more, as kubectl aligns them (three spaces).
fn table(rows: &[Vec<String>]) -> String {
    let n = rows.first().map_or(0, Vec::len);
    let mut w = vec![0usize; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 < n {
                line.push_str(&format!("{c:<width$}   ", width = w[i]));
            } else {
                line.push_str(c);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn pod_json(p: &KubePod) -> Value {
    let (ready, all) = p.ready();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": p.name(),
            "namespace": p.pod.labels.get(super::pods::NAMESPACE).cloned().unwrap_or_else(|| "default".into()),
            "labels": p.labels(),
            "creationTimestamp": p.pod.created,
        },
        "spec": {
            "containers": p.members.iter().map(|c| json!({
                "name": c.config.config.labels.get(super::pods::CONTAINER).cloned().unwrap_or_default(),
                "image": c.config.image,
            })).collect::<Vec<_>>(),
        },
        "status": {
            "phase": match p.status() {
                "Completed" => "Succeeded",
                "Error" => "Failed",
                "Pending" => "Pending",
                _ => "Running",
            },
            "podIP": p.pod.ip().map(|i| i.to_string()),
            "containerStatuses": p.members.iter().map(|c| json!({
                "name": c.config.config.labels.get(super::pods::CONTAINER).cloned().unwrap_or_default(),
                "ready": super::pods::container_ready(c),
                "started": super::pods::container_started(c),
                "restartCount": c.state.restart_count,
            })).collect::<Vec<_>>(),
        },
        "readyContainers": format!("{ready}/{all}"),
    })
}

fn list_doc(items: Vec<Value>, out: Output) -> Result<String> {
    let doc = json!({"apiVersion": "v1", "kind": "List", "items": items});
    Ok(match out {
        Output::Json => serde_json::to_string_pretty(&doc).expect("serializes") + "\n",
        _ => serde_yaml_ng::to_string(&doc).map_err(|e| EngineError::Failed(e.to_string()))?,
    })
}

impl Engine {
    /// `kube get WHAT [-l SELECTOR] [-o OUTPUT]`.
    pub fn get(&self, what: What, sel: &Selector, out: Output) -> Result<String> {
        let pods = self.kube_pods()?;
        let workloads = self.state.workloads();
        let pods_of = |w: &Workload, hash: Option<&str>| -> Vec<&KubePod> {
            let owner = format!("{:?}/{}", w.kind, w.name);
            pods.iter()
                .filter(|p| p.owner() == owner && hash.is_none_or(|h| p.hash() == h))
                .collect()
        };
        let ready_pods = |ps: &[&KubePod]| {
            ps.iter()
                .filter(|p| {
                    let (r, a) = p.ready();
                    r == a && a > 0
                })
                .count()
        };
        match what {
            What::Pods => {
                let chosen: Vec<&KubePod> =
                    pods.iter().filter(|p| sel.matches(&p.labels())).collect();
                if matches!(out, Output::Json | Output::Yaml) {
                    return list_doc(chosen.iter().map(|p| pod_json(p)).collect(), out);
                }
                let mut head = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
                if out == Output::Wide {
                    head.extend(["IP", "NODE"]);
                }
                let mut rows = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
                let node = nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default();
                for p in chosen {
                    let (r, a) = p.ready();
                    let mut row = vec![
                        p.name().to_owned(),
                        format!("{r}/{a}"),
                        p.status().to_owned(),
                        p.restarts().to_string(),
                        age(&p.pod.created),
                    ];
                    if out == Output::Wide {
                        row.push(p.pod.ip().map(|i| i.to_string()).unwrap_or("<none>".into()));
                        row.push(node.clone());
                    }
                    rows.push(row);
                }
                Ok(if rows.len() == 1 {
                    String::new()
                } else {
                    table(&rows)
                })
            }
            What::Deployments | What::ReplicaSets => {
                let mut rows: Vec<Vec<String>> = Vec::new();
                let mut items = Vec::new();
                for w in &workloads {
                    if !sel.matches(&w.labels) {
                        continue;
                    }
                    let created = pods_of(w, None)
                        .first()
                        .map(|p| p.pod.created.clone())
                        .unwrap_or_default();
                    match (what, w.kind) {
                        (What::Deployments, WorkloadKind::Deployment) => {
                            let all = pods_of(w, None);
                            let new = pods_of(w, Some(&w.template_hash));
                            let ready = ready_pods(&all);
                            rows.push(vec![
                                w.name.clone(),
                                format!("{ready}/{}", w.replicas),
                                new.len().to_string(),
                                ready.to_string(),
                                age(&created),
                            ]);
                            items.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": w.name, "labels": w.labels},
                                "spec": {"replicas": w.replicas},
                                "status": {"replicas": all.len(), "readyReplicas": ready, "updatedReplicas": new.len()}}));
                        }
                        (
                            What::ReplicaSets,
                            WorkloadKind::ReplicaSet | WorkloadKind::Deployment,
                        ) => {
                            let (name, hash) = match &w.rollout {
                                Some(r) => (r.replica_set.clone(), Some(w.template_hash.as_str())),
                                None => (w.name.clone(), None),
                            };
                            let ps = pods_of(w, hash);
                            let ready = ready_pods(&ps);
                            rows.push(vec![
                                name.clone(),
                                w.replicas.to_string(),
                                ps.len().to_string(),
                                ready.to_string(),
                                age(&created),
                            ]);
                            items.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "metadata": {"name": name, "labels": w.labels},
                                "spec": {"replicas": w.replicas},
                                "status": {"replicas": ps.len(), "readyReplicas": ready}}));
                        }
                        _ => {}
                    }
                }
                if matches!(out, Output::Json | Output::Yaml) {
                    return list_doc(items, out);
                }
                if rows.is_empty() {
                    return Ok(String::new());
                }
                let head: &[&str] = if what == What::Deployments {
                    &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
                } else {
                    &["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
                };
                rows.insert(0, head.iter().map(|s| s.to_string()).collect());
                Ok(table(&rows))
            }
            What::Services => {
                let mut head = vec!["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"];
                if out == Output::Wide {
                    head.push("SELECTOR");
                }
                let mut rows = vec![head.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
                let mut items = Vec::new();
                for s in self.state.services() {
                    let (kind, external) = match &s.kind {
                        ServiceKind::ClusterIp { .. } => ("ClusterIP", "<none>".to_string()),
                        ServiceKind::NodePort => ("NodePort", "<none>".to_string()),
                        ServiceKind::ExternalName(h) => ("ExternalName", h.clone()),
                    };
                    let ports = s
                        .ports
                        .iter()
                        .map(|p| match p.node_port {
                            Some(n) => {
                                format!("{}:{n}/{}", p.port, p.protocol.as_lower().to_uppercase())
                            }
                            None => format!("{}/{}", p.port, p.protocol.as_lower().to_uppercase()),
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    let selector = s
                        .selector
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    items.push(json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": s.name, "namespace": s.namespace},
                        "spec": {"type": kind, "selector": s.selector}}));
                    let mut row = vec![
                        s.name.clone(),
                        kind.into(),
                        "None".into(),
                        external,
                        if ports.is_empty() {
                            "<none>".into()
                        } else {
                            ports
                        },
                    ];
                    if out == Output::Wide {
                        row.push(selector);
                    }
                    rows.push(row);
                }
                if matches!(out, Output::Json | Output::Yaml) {
                    return list_doc(items, out);
                }
                Ok(if rows.len() == 1 {
                    String::new()
                } else {
                    table(&rows)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_read_as_kubectls() {
        let l: BTreeMap<String, String> =
            [("app".into(), "web".into()), ("tier".into(), "fe".into())].into();
        assert!(Selector::parse("app=web").unwrap().matches(&l));
        assert!(Selector::parse("app==web,tier").unwrap().matches(&l));
        assert!(!Selector::parse("app!=web").unwrap().matches(&l));
        assert!(Selector::parse("!db").unwrap().matches(&l));
        assert!(!Selector::parse("db").unwrap().matches(&l));
        assert!(Selector::parse("").unwrap().matches(&l));
        assert!(Selector::parse("app in (web)").is_err());
    }
}
