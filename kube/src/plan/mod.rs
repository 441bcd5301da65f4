//! What the engine runs for a set of manifests: workloads with their replicas and a resolved
//! pod, Services with the workloads they select, claims to make. Pure: nothing is looked up
//! outside the objects given.

mod build;
mod container;
mod env;
mod probe;
mod service;
mod volumes;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use container::*;
pub use env::FieldPath;
pub use probe::{HealthCheck, ProbeTest};
pub use service::{ServiceKind, ServicePlan, ServicePortPlan, ServiceTarget};
pub use volumes::{
    host_path_check, FileToWrite, FoundAt, HostPathAction, MountPlan, VolumePlan, VolumeSource,
};

use crate::error::{Error, Problem, Warning};
use crate::naming;
use crate::object::{Object, Resource};
use crate::types::*;

/// Everything to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Pods, Deployments, ReplicaSets, DaemonSets and Jobs, in the order of the input.
    pub workloads: Vec<Workload>,
    pub services: Vec<ServicePlan>,
    /// PersistentVolumeClaims: named volumes to make when absent.
    pub claims: Vec<ClaimPlan>,
    /// What the plan reads past (resources other than cpu and memory, LoadBalancer
    /// Services, claims not in the input).
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

/// A port the plan publishes on the host: a container's hostPort or a Service's nodePort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPortUse {
    pub port: u16,
    pub protocol: Protocol,
    /// None: every address.
    pub host_ip: Option<String>,
    /// `Pod/web`, `Service/web`.
    pub owner: String,
}

impl Plan {
    /// Every host port the plan publishes (node ports the engine is to pick are not in it),
    /// so the engine can refuse a taken one before it makes anything.
    pub fn host_ports(&self) -> Vec<HostPortUse> {
        let pods = self.workloads.iter().flat_map(|w| {
            w.pod.published_ports().map(move |p| HostPortUse {
                port: p.host_port.unwrap_or(0),
                protocol: p.protocol,
                host_ip: p.host_ip.clone(),
                owner: format!("{:?}/{}", w.kind, w.name),
            })
        });
        let services = self.services.iter().flat_map(|s| {
            s.ports.iter().filter_map(move |p| {
                Some(HostPortUse {
                    port: p.node_port?,
                    protocol: p.protocol,
                    host_ip: None,
                    owner: format!("Service/{}", s.name),
                })
            })
        });
        pods.chain(services).collect()
    }
}

/// The controller a workload stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    ReplicaSet,
    DaemonSet,
    Job,
}

/// One object that makes pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
    /// The object's own labels and annotations (a Deployment's, not its pods').
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Pods to keep running: a Pod and a DaemonSet 1, a Job its parallelism (at most its
    /// completions).
    pub replicas: u32,
    /// The hash of the pod template as written ([`naming::template_hash`]).
    pub template_hash: String,
    /// How its pods are named.
    pub pod_names: PodNaming,
    pub pod: PodPlan,
    /// A Deployment's rollout settings.
    pub rollout: Option<RolloutPlan>,
    /// A Job's completion settings.
    pub job: Option<JobPlan>,
    /// Where it was written.
    pub file: String,
    pub line: usize,
}

/// A pod's name: fixed (a Pod), or made per pod under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodNaming {
    Fixed(String),
    /// `<prefix>-<5 letters>`: the ReplicaSet's `<deployment>-<hash>`, the ReplicaSet's,
    /// DaemonSet's or Job's own name.
    Generated(String),
}

impl PodNaming {
    /// A name for a new pod.
    pub fn next(&self) -> String {
        match self {
            PodNaming::Fixed(n) => n.clone(),
            PodNaming::Generated(prefix) => naming::pod_name(prefix),
        }
    }
}

/// A Deployment's rollout settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutPlan {
    /// The ReplicaSet this template makes: `<deployment>-<hash>`.
    pub replica_set: String,
    pub strategy: Strategy,
    pub revision_history_limit: u32,
    /// The `kubernetes.io/change-cause` annotation, for the revision.
    pub change_cause: Option<String>,
    /// The template, for the revision history.
    pub template: PodTemplateSpec,
}

/// A Job's completion settings, with Kubernetes' defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPlan {
    /// Successful pods needed (1).
    pub completions: u32,
    /// Pods at once (1).
    pub parallelism: u32,
    /// Failed pods tolerated before the Job fails (6).
    pub backoff_limit: u32,
    pub active_deadline_seconds: Option<i64>,
}

/// A claim to make as a named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPlan {
    pub name: String,
    pub size_bytes: Option<u64>,
    pub access_modes: Vec<String>,
    pub storage_class: Option<String>,
}

/// A pod, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodPlan {
    /// The template's labels, plus those Kubernetes adds ([`crate::naming`]).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub hostname: Option<String>,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub share_process_namespace: bool,
    pub host_aliases: Vec<HostAlias>,
    pub dns: Option<PodDnsConfig>,
    pub restart_policy: RestartPolicy,
    /// terminationGracePeriodSeconds (30).
    pub termination_grace_seconds: u64,
    /// Run in order, each to completion, before the containers.
    pub init_containers: Vec<ContainerPlan>,
    pub containers: Vec<ContainerPlan>,
    pub volumes: Vec<VolumePlan>,
}

impl PodPlan {
    /// The host ports its containers publish.
    pub fn published_ports(&self) -> impl Iterator<Item = &PortPlan> {
        self.containers
            .iter()
            .flat_map(|c| &c.ports)
            .filter(|p| p.host_port.is_some())
    }

    /// The container port of a name, in any container.
    pub fn named_port(&self, name: &str) -> Option<u16> {
        self.containers
            .iter()
            .flat_map(|c| &c.ports)
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port)
    }
}

/// Validates the objects, then plans them. ConfigMaps, Secrets and claims are read from the
/// same input; a key missing from them is an error unless `optional: true`.
pub fn plan(objects: &[Object]) -> Result<Plan, Error> {
    crate::validate(objects)?;
    let sources = env::Sources::new(objects);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut workloads = Vec::new();
    let mut claims = Vec::new();
    for o in objects {
        let mut cx = build::Cx {
            o,
            problems: &mut problems,
            warnings: &mut warnings,
            sources: &sources,
        };
        match &o.resource {
            Resource::PersistentVolumeClaim(c) => claims.push(ClaimPlan {
                name: c.metadata.name.clone(),
                size_bytes: c
                    .spec
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.get("storage"))
                    .and_then(|q| q.bytes().ok()),
                access_modes: c.spec.access_modes.clone(),
                storage_class: c.spec.storage_class_name.clone(),
            }),
            r => {
                if let Some(w) = cx.workload(r) {
                    workloads.push(w);
                }
            }
        }
    }
    for w in &workloads {
        for v in &w.pod.volumes {
            if let VolumeSource::Claim { claim, .. } = &v.source {
                if !claims.iter().any(|c| &c.name == claim) {
                    warnings.push(Warning {
                        file: w.file.clone(),
                        line: w.line,
                        message: format!("PersistentVolumeClaim {claim} is not in the input: the named volume {claim} is used, made if absent"),
                    });
                }
            }
        }
    }
    let mut taken = Vec::new();
    for w in &workloads {
        for p in w.pod.published_ports() {
            let port = HostPort {
                port: p.host_port.unwrap_or(0),
                protocol: p.protocol,
                ip: p.host_ip.clone(),
            };
            let owner = format!("{:?}/{}", w.kind, w.name);
            if let Some((_, other)) = taken
                .iter()
                .find(|(t, _): &&(HostPort, String)| t.clashes(&port))
            {
                problems.push(Problem {
                    file: w.file.clone(),
                    line: w.line,
                    object: owner.clone(),
                    field: "hostPort".into(),
                    message: format!(
                        "host port {}/{} is published by {other} too",
                        port.port,
                        port.protocol.as_lower()
                    ),
                });
            }
            taken.push((port, owner));
        }
    }
    let services = service::plan(
        objects,
        &workloads,
        &mut taken,
        &mut problems,
        &mut warnings,
    );
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    Ok(Plan {
        workloads,
        services,
        claims,
        warnings,
    })
}

/// A port published on the host, to find two owners of one.
pub(crate) struct HostPort {
    pub port: u16,
    pub protocol: Protocol,
    pub ip: Option<String>,
}

impl HostPort {
    /// One port and protocol, on one address or on all.
    fn clashes(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }
}

#[cfg(test)]
mod tests;
