//! `kube generate`: [`WorkloadInput`]s filled from what runs here — a container, a pod's
//! containers, or a compose project's services — for [`crate::generate()`].

use std::collections::BTreeMap;

use rbox_runtime::model::mount::MountKind;
use rbox_runtime::ops::pod as rpod;
use rbox_runtime::{Container, ContainerConfig};

use super::{Engine, EngineError, Result};
use crate::generate::{ContainerInput, MountInput, MountSource, PortInput, WorkloadInput};
use crate::types::{Protocol, RestartPolicy};

const PROJECT: &str = "com.docker.compose.project";
const SERVICE: &str = "com.docker.compose.service";

impl Engine {
    /// A container as Kubernetes says it: what differs from its image.
    fn container_input(&self, c: &ContainerConfig) -> ContainerInput {
        let ic = self
            .images
            .resolve(&c.image)
            .ok()
            .and_then(|i| self.images.image_config(i.id()).ok())
            .map(|i| i.run());
        let (image_ep, image_cmd, image_env, image_wd) = match &ic {
            Some(ic) => (
                ic.entrypoint.cloned_or_default(),
                ic.cmd.cloned_or_default(),
                ic.env.cloned_or_default(),
                ic.working_dir.get().cloned().unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let p = &c.config;
        let (command, args) = if p.entrypoint != image_ep {
            (p.entrypoint.clone(), p.cmd.clone())
        } else if p.cmd != image_cmd {
            (Vec::new(), p.cmd.clone())
        } else {
            (Vec::new(), Vec::new())
        };
        let env = p
            .env
            .iter()
            .filter(|e| !image_env.contains(e))
            .filter(|e| !e.starts_with("HOSTNAME="))
            .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        let ports = c
            .host
            .port_bindings
            .iter()
            .map(|m| PortInput {
                container_port: m.container_port,
                host_port: (m.host_port != 0).then_some(m.host_port),
                protocol: if m.protocol == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
            })
            .collect();
        let mounts = c
            .host
            .mounts
            .iter()
            .map(|m| MountInput {
                target: m.destination.clone(),
                read_only: m.read_only,
                source: match m.kind {
                    MountKind::Bind => MountSource::Bind {
                        path: m.source.clone(),
                        kind: None,
                    },
                    MountKind::Volume => MountSource::Volume {
                        name: m.source.clone(),
                    },
                    MountKind::Tmpfs => MountSource::Tmpfs {
                        size_bytes: m
                            .options
                            .iter()
                            .find_map(|o| o.strip_prefix("size="))
                            .and_then(|s| rbox_runtime::create::parse_bytes(s, "size").ok())
                            .map(|b| b as u64),
                    },
                },
            })
            .collect();
        let name = p
            .labels
            .get(super::pods::CONTAINER)
            .or_else(|| p.labels.get(SERVICE))
            .cloned()
            .unwrap_or_else(|| c.name.clone());
        ContainerInput {
            name,
            image: c.image.clone(),
            command,
            args,
            env,
            ports,
            mounts,
            cpu_millis: c.host.nano_cpus.map(|n| (n / 1_000_000) as u64),
            memory_bytes: c.host.memory.map(|m| m as u64),
            working_dir: (p.working_dir != image_wd && !p.working_dir.is_empty())
                .then(|| p.working_dir.clone()),
            user: (!p.user.is_empty()).then(|| p.user.clone()),
            tty: p.tty,
            stdin: p.open_stdin,
        }
    }

    fn restart_of(c: &ContainerConfig) -> RestartPolicy {
        match c.host.restart_policy.name.as_str() {
            "on-failure" => RestartPolicy::OnFailure,
            "no" | "" => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }

    /// Workloads for containers or pods named (a pod: one workload of its containers);
    /// `replicas` makes each a Deployment.
    pub fn generate_inputs(
        &self,
        names: &[String],
        replicas: Option<u32>,
    ) -> Result<Vec<WorkloadInput>> {
        let mut out = Vec::new();
        for n in names {
            if let Ok(p) = rpod::find(&self.containers, n) {
                let members = rpod::members(&self.containers, &p.id)?;
                let labels = p
                    .labels
                    .iter()
                    .filter(|(k, _)| !k.starts_with("io.rbox."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut w = WorkloadInput {
                    name: p.name.clone(),
                    replicas,
                    labels,
                    restart_policy: members
                        .first()
                        .map(|c| Self::restart_of(&c.config))
                        .unwrap_or_default(),
                    hostname: (p.hostname != p.name).then(|| p.hostname.clone()),
                    containers: members
                        .iter()
                        .map(|c| self.container_input(&c.config))
                        .collect(),
                };
                if let Some(first) = w.containers.first_mut() {
                    first
                        .ports
                        .extend(p.port_bindings.iter().map(|m| PortInput {
                            container_port: m.container_port,
                            host_port: (m.host_port != 0).then_some(m.host_port),
                            protocol: if m.protocol == "udp" {
                                Protocol::Udp
                            } else {
                                Protocol::Tcp
                            },
                        }));
                }
                out.push(w);
                continue;
            }
            let id = self
                .containers
                .resolve(n)
                .map_err(|_| EngineError::Failed(format!("no such container or pod: {n}")))?;
            let c = self.containers.read_config(&id)?;
            out.push(WorkloadInput {
                name: c.name.clone(),
                replicas,
                labels: BTreeMap::new(),
                restart_policy: Self::restart_of(&c),
                hostname: None,
                containers: vec![self.container_input(&c)],
            });
        }
        Ok(out)
    }

    /// Workloads for a compose project: each service a Deployment of its replicas.
    pub fn generate_compose(&self, project: &str) -> Result<Vec<WorkloadInput>> {
        let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
        for c in self.containers.list()? {
            let l = &c.config.config.labels;
            if l.get(PROJECT).map(String::as_str) == Some(project) {
                if let Some(s) = l.get(SERVICE) {
                    by_service.entry(s.clone()).or_default().push(c);
                }
            }
        }
        if by_service.is_empty() {
            return Err(EngineError::Failed(format!(
                "no containers of compose project {project}"
            )));
        }
        Ok(by_service
            .into_iter()
            .map(|(service, cs)| {
                let first = &cs[0].config;
                WorkloadInput {
                    name: service,
                    replicas: Some(cs.len() as u32),
                    labels: BTreeMap::new(),
                    restart_policy: RestartPolicy::Always,
                    hostname: None,
                    containers: vec![self.container_input(first)],
                }
            })
            .collect())
    }
}
