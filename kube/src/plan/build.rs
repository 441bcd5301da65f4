//! One workload's plan from its object: replicas, names, labels, and the resolved pod.

use std::collections::BTreeMap;

use super::*;
use crate::error::{Problem, Warning};
use crate::naming;
use crate::object::{Object, Resource};
use crate::types::*;

pub(super) struct Cx<'a> {
    pub o: &'a Object,
    pub problems: &'a mut Vec<Problem>,
    pub warnings: &'a mut Vec<Warning>,
    pub sources: &'a env::Sources,
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

    pub fn workload(&mut self, r: &Resource) -> Option<Workload> {
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
        // fieldRefs read the pod's labels, those added included.
        let pod_meta = ObjectMeta {
            labels: labels.clone(),
            ..template.metadata.clone()
        };
        let pod = self.pod(&pod_meta, &template.spec, labels, &ns, at);
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
        // A host port published twice is found over the whole plan (plan()).
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
