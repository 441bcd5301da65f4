//! What the engine runs for a set of manifests: workloads with their replicas and a resolved
//! pod, Services with the workloads they select, claims to make. Pure: nothing is looked up
//! outside the objects given.

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
        let mut cx = Cx {
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

struct Cx<'a> {
    o: &'a Object,
    problems: &'a mut Vec<Problem>,
    warnings: &'a mut Vec<Warning>,
    sources: &'a env::Sources,
}

impl Cx<'_> {
    fn bad(&mut self, field: &str, message: String) {
        self.problems.push(Problem {
            file: self.o.file.clone(),
            line: self.o.line_of(field),
            object: self.o.id(),
            field: field.to_string(),
            message,
        });
    }

    fn warn(&mut self, field: &str, message: String) {
        self.warnings.push(Warning {
            file: self.o.file.clone(),
            line: self.o.line_of(field),
            message,
        });
    }

    fn workload(&mut self, r: &Resource) -> Option<Workload> {
        let meta = r.metadata();
        let name = meta.name.clone();
        let ns = meta.namespace().to_string();
        let pod_template;
        let template = match r {
            Resource::Pod(p) => {
                pod_template = PodTemplateSpec {
                    metadata: p.metadata.clone(),
                    spec: p.spec.clone(),
                };
                &pod_template
            }
            r => r.template()?,
        };
        let hash = naming::template_hash(template);
        let mut labels = template.metadata.labels.clone();
        let mut rollout = None;
        let mut job = None;
        let (kind, replicas, pod_names) = match r {
            Resource::Pod(_) => (WorkloadKind::Pod, 1, PodNaming::Fixed(name.clone())),
            Resource::Deployment(d) => {
                let rs = naming::replica_set_name(&name, &hash);
                labels.insert(naming::POD_TEMPLATE_HASH.into(), hash.clone());
                rollout = Some(RolloutPlan {
                    replica_set: rs.clone(),
                    strategy: d.spec.strategy(),
                    revision_history_limit: d.spec.revision_history_limit(),
                    change_cause: meta.annotations.get(crate::rollout::CHANGE_CAUSE).cloned(),
                    template: template.clone(),
                });
                (
                    WorkloadKind::Deployment,
                    d.spec.replicas(),
                    PodNaming::Generated(rs),
                )
            }
            Resource::ReplicaSet(s) => (
                WorkloadKind::ReplicaSet,
                s.spec.replicas(),
                PodNaming::Generated(name.clone()),
            ),
            Resource::DaemonSet(_) => {
                labels.insert(naming::CONTROLLER_REVISION_HASH.into(), hash.clone());
                (
                    WorkloadKind::DaemonSet,
                    1,
                    PodNaming::Generated(name.clone()),
                )
            }
            Resource::Job(j) => {
                for l in naming::JOB_NAME_LABELS {
                    labels.insert(l.into(), name.clone());
                }
                let n = |v: Option<i32>, d: u32| v.map_or(d, |v| v.max(0) as u32);
                let plan = JobPlan {
                    completions: n(j.spec.completions, 1),
                    parallelism: n(j.spec.parallelism, 1),
                    backoff_limit: n(j.spec.backoff_limit, 6),
                    active_deadline_seconds: j.spec.active_deadline_seconds,
                };
                let replicas = plan.parallelism.min(plan.completions);
                job = Some(plan);
                (
                    WorkloadKind::Job,
                    replicas,
                    PodNaming::Generated(name.clone()),
                )
            }
            _ => return None,
        };
        let (_, at) = r.pod_spec()?;
        let pod = self.pod(&template.metadata, &template.spec, labels, &ns, at);
        if replicas > 1 {
            for p in pod.published_ports() {
                self.bad(
                    &format!("{at}.containers"),
                    format!(
                        "{replicas} replicas cannot all publish host port {} on one host",
                        p.host_port.unwrap_or(0)
                    ),
                );
            }
        }
        Some(Workload {
            kind,
            name,
            namespace: ns,
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
            replicas,
            template_hash: hash,
            pod_names,
            pod,
            rollout,
            job,
            file: self.o.file.clone(),
            line: self.o.line,
        })
    }

    fn pod(
        &mut self,
        meta: &ObjectMeta,
        spec: &PodSpec,
        labels: BTreeMap<String, String>,
        ns: &str,
        at: &str,
    ) -> PodPlan {
        let mut volumes = Vec::new();
        for (i, v) in spec.volumes.iter().enumerate() {
            match volumes::resolve(v, ns, self.sources) {
                Ok(v) => volumes.push(v),
                Err(m) => self.bad(&format!("{at}.volumes[{i}]"), m),
            }
        }
        let containers = |list: &[Container], field: &str, cx: &mut Self| -> Vec<ContainerPlan> {
            list.iter()
                .enumerate()
                .map(|(i, c)| {
                    cx.container(c, spec, meta, ns, &volumes, &format!("{at}.{field}[{i}]"))
                })
                .collect()
        };
        let init_containers = containers(&spec.init_containers, "initContainers", self);
        let app = containers(&spec.containers, "containers", self);
        let mut seen = std::collections::BTreeSet::new();
        for p in app.iter().flat_map(|c| &c.ports) {
            if let Some(h) = p.host_port {
                if !seen.insert((h, p.protocol, p.host_ip.clone())) {
                    self.bad(
                        &format!("{at}.containers"),
                        format!("host port {h}/{} is published twice", p.protocol.as_lower()),
                    );
                }
            }
        }
        PodPlan {
            labels,
            annotations: meta.annotations.clone(),
            hostname: spec.hostname.clone(),
            host_network: spec.host_network.unwrap_or(false),
            host_pid: spec.host_pid.unwrap_or(false),
            host_ipc: spec.host_ipc.unwrap_or(false),
            share_process_namespace: spec.share_process_namespace.unwrap_or(false),
            host_aliases: spec.host_aliases.clone(),
            dns: spec.dns_config.clone(),
            restart_policy: spec.restart_policy(),
            termination_grace_seconds: spec
                .termination_grace_period_seconds
                .map_or(30, |s| s.max(0) as u64),
            init_containers,
            containers: app,
            volumes,
        }
    }

    fn container(
        &mut self,
        c: &Container,
        spec: &PodSpec,
        meta: &ObjectMeta,
        ns: &str,
        volumes: &[VolumePlan],
        at: &str,
    ) -> ContainerPlan {
        let mut env_problems = Vec::new();
        let env = env::resolve(c, meta, ns, self.sources, at, &mut env_problems);
        for (f, m) in env_problems {
            self.bad(&f, m);
        }
        let ports: Vec<PortPlan> = c
            .ports
            .iter()
            .map(|p| PortPlan {
                container_port: p.container_port as u16,
                protocol: p.protocol.unwrap_or_default(),
                name: p.name.clone(),
                host_port: p.host_port.map(|h| h as u16),
                host_ip: p.host_ip.clone(),
            })
            .collect();
        // A probe's named port is one of this container's, as the kubelet resolves it.
        let port = |p: &crate::IntOrString| {
            p.port(|n| {
                ports
                    .iter()
                    .find(|q| q.name.as_deref() == Some(n))
                    .map(|q| q.container_port)
            })
        };
        let check = |p: &Option<Probe>, name: &str, cx: &mut Self| {
            p.as_ref().and_then(|p| match probe::resolve(p, port) {
                Ok(_) if p.grpc.is_some() => {
                    let f = format!("{at}.{name}");
                    cx.warn(
                        &f,
                        format!("{f}: grpc probes are not supported; the probe is ignored"),
                    );
                    None
                }
                Ok(h) => Some(h),
                Err(m) => {
                    cx.bad(&format!("{at}.{name}"), m);
                    None
                }
            })
        };
        let liveness = check(&c.liveness_probe, "livenessProbe", self);
        let readiness = check(&c.readiness_probe, "readinessProbe", self);
        let startup = check(&c.startup_probe, "startupProbe", self);
        let mut resources = ResourcesPlan::default();
        if let Some(r) = &c.resources {
            for (kind, map) in [("limits", &r.limits), ("requests", &r.requests)] {
                for (name, q) in map {
                    let limit = kind == "limits";
                    match name.as_str() {
                        "cpu" => {
                            *if limit {
                                &mut resources.cpu_limit_millis
                            } else {
                                &mut resources.cpu_request_millis
                            } = q.millicores().ok()
                        }
                        "memory" => {
                            *if limit {
                                &mut resources.memory_limit_bytes
                            } else {
                                &mut resources.memory_request_bytes
                            } = q.bytes().ok()
                        }
                        _ => self.warn(
                            &format!("{at}.resources.{kind}.{name}"),
                            format!("{at}.resources.{kind}.{name} is not supported; ignored"),
                        ),
                    }
                }
            }
            resources.cpu_request_millis =
                resources.cpu_request_millis.or(resources.cpu_limit_millis);
            resources.memory_request_bytes = resources
                .memory_request_bytes
                .or(resources.memory_limit_bytes);
        }
        let pod_sc = spec.security_context.clone().unwrap_or_default();
        let sc = c.security_context.clone().unwrap_or_default();
        let caps = sc.capabilities.clone().unwrap_or_default();
        let image = c.image.clone().unwrap_or_default();
        ContainerPlan {
            name: c.name.clone(),
            pull_policy: c
                .image_pull_policy
                .unwrap_or_else(|| default_pull_policy(&image)),
            image,
            command: c.command.clone(),
            args: c.args.clone(),
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            env,
            mounts: c
                .volume_mounts
                .iter()
                .map(|m| volumes::mount(m, volumes))
                .collect(),
            ports,
            resources,
            liveness,
            readiness,
            startup,
            security: SecurityPlan {
                run_as_user: sc.run_as_user.or(pod_sc.run_as_user),
                run_as_group: sc.run_as_group.or(pod_sc.run_as_group),
                run_as_non_root: sc
                    .run_as_non_root
                    .or(pod_sc.run_as_non_root)
                    .unwrap_or(false),
                supplemental_groups: pod_sc.supplemental_groups.clone(),
                fs_group: pod_sc.fs_group,
                privileged: sc.privileged.unwrap_or(false),
                read_only_root_filesystem: sc.read_only_root_filesystem.unwrap_or(false),
                allow_privilege_escalation: sc.allow_privilege_escalation,
                capabilities_add: caps.add,
                capabilities_drop: caps.drop,
            },
            stdin: c.stdin.unwrap_or(false),
            tty: c.tty.unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests;
