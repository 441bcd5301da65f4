//! `kube generate`: Kubernetes YAML from what runs here, described neutrally by the engine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::names::{is_label_value, is_qualified_name, to_dns1035_label, to_dns1123_label};
use crate::types::*;
use crate::Quantity;

/// A pod (or a Deployment of it) as it runs: the engine fills it from its containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInput {
    /// Sanitized to a DNS-1123 name.
    pub name: String,
    /// None: a Pod; Some(n): a Deployment of n replicas.
    pub replicas: Option<u32>,
    pub labels: BTreeMap<String, String>,
    pub restart_policy: RestartPolicy,
    pub hostname: Option<String>,
    pub containers: Vec<ContainerInput>,
}

/// One running container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerInput {
    pub name: String,
    pub image: String,
    /// The entrypoint when it is not the image's (empty: the image's).
    pub command: Vec<String>,
    /// The arguments when they are not the image's CMD (empty: the image's).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub ports: Vec<PortInput>,
    pub mounts: Vec<MountInput>,
    pub cpu_millis: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub working_dir: Option<String>,
    /// `uid[:gid]`; a user name cannot be said in Kubernetes and is left out with a warning.
    pub user: Option<String>,
    pub tty: bool,
    pub stdin: bool,
}

/// A container port, published on the host or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInput {
    pub container_port: u16,
    pub host_port: Option<u16>,
    pub protocol: Protocol,
}

/// A mount of a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInput {
    pub target: String,
    pub source: MountSource,
    pub read_only: bool,
}

/// What a mount is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSource {
    /// A host path: a hostPath volume (`kind` its type, when known: Directory, File...).
    Bind {
        path: String,
        kind: Option<HostPathType>,
    },
    /// A named volume: a PersistentVolumeClaim of its name.
    Volume { name: String },
    /// A tmpfs: an emptyDir of medium Memory.
    Tmpfs { size_bytes: Option<u64> },
}

/// The YAML, and what could not be said in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    pub yaml: String,
    pub warnings: Vec<String>,
}

/// The size a claim asks for when the volume's own is unknown.
pub const DEFAULT_CLAIM_SIZE: &str = "1Gi";
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

fn unique(name: String, taken: &mut Vec<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        let suffix = format!("-{n}");
        let mut base = name.clone();
        base.truncate(63 - suffix.len());
        candidate = format!("{}{suffix}", base.trim_end_matches('-'));
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// Pods or Deployments, their Services (NodePort when a port is published on the host,
/// else ClusterIP) and PersistentVolumeClaims for named volumes, as multi-document YAML.
pub fn generate(workloads: &[WorkloadInput]) -> Generated {
    let mut warnings = Vec::new();
    let mut claims: Vec<String> = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    let mut services: Vec<String> = Vec::new();
    let mut names = Vec::new();
    for w in workloads {
        if w.containers.is_empty() {
            warnings.push(format!("{}: no container; left out", w.name));
            continue;
        }
        let name = unique(to_dns1123_label(&w.name), &mut names);
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &w.labels {
            if is_qualified_name(k) && is_label_value(v) {
                labels.insert(k.clone(), v.clone());
            } else {
                warnings.push(format!(
                    "{name}: label {k}={v} is not a Kubernetes label; left out"
                ));
            }
        }
        if let Some(app) = labels
            .insert("app".into(), name.clone())
            .filter(|a| *a != name)
        {
            warnings.push(format!(
                "{name}: label app={app} is replaced by app={name}, which its Services select"
            ));
        }
        let (spec, pod_ports) = pod_spec(w, &name, &mut claims, &mut warnings);
        let doc = match w.replicas {
            None => to_yaml(&Pod {
                api_version: "v1".into(),
                kind: "Pod".into(),
                metadata: ObjectMeta {
                    name: name.clone(),
                    labels: labels.clone(),
                    ..Default::default()
                },
                spec,
            }),
            Some(replicas) => {
                let mut spec = spec;
                if spec
                    .restart_policy
                    .is_some_and(|p| p != RestartPolicy::Always)
                {
                    warnings.push(format!("{name}: a Deployment's pods restart Always; the restart policy is left out"));
                    spec.restart_policy = None;
                }
                let selector = BTreeMap::from([("app".to_string(), name.clone())]);
                to_yaml(&Deployment {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    metadata: ObjectMeta {
                        name: name.clone(),
                        labels: labels.clone(),
                        ..Default::default()
                    },
                    spec: DeploymentSpec {
                        replicas: Some(replicas as i32),
                        selector: LabelSelector {
                            match_labels: selector,
                            ..Default::default()
                        },
                        template: PodTemplateSpec {
                            metadata: ObjectMeta {
                                labels: labels.clone(),
                                ..Default::default()
                            },
                            spec,
                        },
                        ..Default::default()
                    },
                })
            }
        };
        docs.push(doc);
        if !pod_ports.is_empty() {
            services.push(service(
                &name,
                &pod_ports,
                w.replicas.unwrap_or(1),
                &mut warnings,
            ));
        }
    }
    let claim_docs = claims.iter().map(|c| {
        to_yaml(&PersistentVolumeClaim {
            api_version: "v1".into(),
            kind: "PersistentVolumeClaim".into(),
            metadata: ObjectMeta::named(c),
            spec: PersistentVolumeClaimSpec {
                access_modes: vec!["ReadWriteOnce".into()],
                resources: Some(VolumeResourceRequirements {
                    requests: BTreeMap::from([(
                        "storage".to_string(),
                        Quantity::from(DEFAULT_CLAIM_SIZE),
                    )]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        })
    });
    let all: Vec<String> = claim_docs.chain(docs).chain(services).collect();
    Generated {
        yaml: all.iter().map(|d| format!("---\n{d}")).collect(),
        warnings,
    }
}

use crate::emit::to_yaml;

fn pod_spec(
    w: &WorkloadInput,
    name: &str,
    claims: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> (PodSpec, Vec<PortInput>) {
    let mut volumes: Vec<Volume> = Vec::new();
    let mut volume_names = Vec::new();
    let mut sources: Vec<(MountSource, String)> = Vec::new();
    let mut containers = Vec::new();
    let mut container_names = Vec::new();
    let mut ports = Vec::new();
    for c in &w.containers {
        let mut mounts = Vec::new();
        for m in &c.mounts {
            let source_key = match &m.source {
                MountSource::Tmpfs { .. } => None,
                s => Some(s.clone()),
            };
            let existing = source_key
                .as_ref()
                .and_then(|k| sources.iter().find(|(s, _)| s == k))
                .map(|(_, n)| n.clone());
            let volume = match existing {
                Some(v) => v,
                None => {
                    let (base, volume) = match &m.source {
                        MountSource::Bind { path, kind } => (
                            format!("host{}", path.replace('/', "-")),
                            Volume {
                                host_path: Some(HostPathVolumeSource {
                                    path: path.clone(),
                                    type_: *kind,
                                }),
                                ..Default::default()
                            },
                        ),
                        MountSource::Volume { name: v } => {
                            let claim = to_dns1123_label(v);
                            if !claims.contains(&claim) {
                                claims.push(claim.clone());
                            }
                            (
                                claim.clone(),
                                Volume {
                                    persistent_volume_claim: Some(
                                        PersistentVolumeClaimVolumeSource {
                                            claim_name: claim,
                                            read_only: None,
                                        },
                                    ),
                                    ..Default::default()
                                },
                            )
                        }
                        MountSource::Tmpfs { size_bytes } => (
                            "tmpfs".to_string(),
                            Volume {
                                empty_dir: Some(EmptyDirVolumeSource {
                                    medium: Some(StorageMedium::Memory),
                                    size_limit: size_bytes.map(Quantity::from_bytes),
                                }),
                                ..Default::default()
                            },
                        ),
                    };
                    let vname = unique(to_dns1123_label(&base), &mut volume_names);
                    volumes.push(Volume {
                        name: vname.clone(),
                        ..volume
                    });
                    if let Some(k) = source_key {
                        sources.push((k, vname.clone()));
                    }
                    vname
                }
            };
            mounts.push(VolumeMount {
                name: volume,
                mount_path: m.target.clone(),
                read_only: m.read_only.then_some(true),
                sub_path: None,
            });
        }
        let (run_as_user, run_as_group) = match c.user.as_deref().filter(|u| !u.is_empty()) {
            None => (None, None),
            Some(u) => {
                let (user, group) = u.split_once(':').map_or((u, None), |(a, b)| (a, Some(b)));
                match (user.parse::<i64>(), group.map(str::parse::<i64>)) {
                    (Ok(uid), None) => (Some(uid), None),
                    (Ok(uid), Some(Ok(gid))) => (Some(uid), Some(gid)),
                    _ => {
                        warnings.push(format!("{name}: user {u:?} is not numeric: Kubernetes takes only uid[:gid]; left out"));
                        (None, None)
                    }
                }
            }
        };
        let mut limits = BTreeMap::new();
        if let Some(m) = c.cpu_millis {
            limits.insert("cpu".to_string(), Quantity::from_millicores(m));
        }
        if let Some(b) = c.memory_bytes {
            limits.insert("memory".to_string(), Quantity::from_bytes(b));
        }
        ports.extend(c.ports.iter().cloned());
        containers.push(Container {
            name: unique(to_dns1123_label(&c.name), &mut container_names),
            image: Some(c.image.clone()),
            command: c.command.clone(),
            args: c.args.clone(),
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            env: c
                .env
                .iter()
                .map(|(k, v)| EnvVar {
                    name: k.clone(),
                    value: Some(v.clone()),
                    value_from: None,
                })
                .collect(),
            ports: c
                .ports
                .iter()
                .map(|p| ContainerPort {
                    container_port: p.container_port as i32,
                    // A port in the NodePort range is the Service's node port; another stays
                    // a hostPort of a single pod, so that every mapping survives a play-back.
                    host_port: p
                        .host_port
                        .filter(|h| !NODE_PORTS.contains(h) && w.replicas.unwrap_or(1) <= 1)
                        .map(i32::from),
                    protocol: (p.protocol != Protocol::Tcp).then_some(p.protocol),
                    ..Default::default()
                })
                .collect(),
            volume_mounts: mounts,
            resources: (!limits.is_empty()).then(|| ResourceRequirements {
                limits,
                ..Default::default()
            }),
            security_context: run_as_user.map(|_| SecurityContext {
                run_as_user,
                run_as_group,
                ..Default::default()
            }),
            tty: c.tty.then_some(true),
            stdin: c.stdin.then_some(true),
            ..Default::default()
        });
    }
    let spec = PodSpec {
        containers,
        volumes,
        restart_policy: (w.restart_policy != RestartPolicy::Always).then_some(w.restart_policy),
        hostname: w.hostname.as_deref().map(to_dns1123_label),
        ..Default::default()
    };
    (spec, ports)
}

fn service(name: &str, ports: &[PortInput], replicas: u32, warnings: &mut Vec<String>) -> String {
    let published = ports.iter().any(|p| p.host_port.is_some());
    let mut seen = Vec::new();
    let mut service_ports = Vec::new();
    for p in ports {
        if seen.contains(&(p.container_port, p.protocol)) {
            continue;
        }
        seen.push((p.container_port, p.protocol));
        let node_port = p.host_port.and_then(|h| {
            if NODE_PORTS.contains(&h) {
                Some(h as i32)
            } else {
                if replicas > 1 {
                    warnings.push(format!(
                        "{name}: host port {h} is outside Kubernetes' NodePort range (30000-32767) and {replicas} replicas cannot share it: the cluster picks the node port"
                    ));
                }
                None
            }
        });
        service_ports.push(ServicePort {
            name: Some(format!("{}-{}", p.container_port, p.protocol.as_lower())),
            port: p.container_port as i32,
            target_port: Some(crate::IntOrString::Int(p.container_port as i32)),
            node_port,
            protocol: Some(p.protocol),
        });
    }
    to_yaml(&Service {
        api_version: "v1".into(),
        kind: "Service".into(),
        metadata: ObjectMeta {
            name: to_dns1035_label(name),
            labels: BTreeMap::from([("app".to_string(), name.to_string())]),
            ..Default::default()
        },
        spec: ServiceSpec {
            type_: Some(if published {
                ServiceType::NodePort
            } else {
                ServiceType::ClusterIP
            }),
            selector: BTreeMap::from([("app".to_string(), name.to_string())]),
            ports: service_ports,
            ..Default::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Vec<WorkloadInput> {
        vec![
            WorkloadInput {
                name: "simple_echo".into(),
                replicas: None,
                labels: BTreeMap::from([
                    ("tier".into(), "web".into()),
                    ("bad key".into(), "x".into()),
                ]),
                containers: vec![
                    ContainerInput {
                        name: "nginx".into(),
                        image: "busybox:latest".into(),
                        env: vec![("BACKEND_HOST".into(), "localhost:8080".into())],
                        ports: vec![PortInput {
                            container_port: 80,
                            host_port: Some(8080),
                            protocol: Protocol::Tcp,
                        }],
                        mounts: vec![
                            MountInput {
                                target: "/var/www".into(),
                                source: MountSource::Bind {
                                    path: "/srv/www".into(),
                                    kind: Some(HostPathType::Directory),
                                },
                                read_only: true,
                            },
                            MountInput {
                                target: "/tmp".into(),
                                source: MountSource::Tmpfs {
                                    size_bytes: Some(64 << 20),
                                },
                                read_only: false,
                            },
                        ],
                        memory_bytes: Some(128 << 20),
                        cpu_millis: Some(500),
                        user: Some("1000:1000".into()),
                        ..Default::default()
                    },
                    ContainerInput {
                        name: "echo".into(),
                        image: "busybox:latest".into(),
                        command: vec!["sh".into(), "-c".into()],
                        args: vec!["nc -lk -p 8080 -e echo hi".into()],
                        ports: vec![PortInput {
                            container_port: 8080,
                            host_port: Some(30080),
                            protocol: Protocol::Tcp,
                        }],
                        mounts: vec![MountInput {
                            target: "/var/lib/mysql".into(),
                            source: MountSource::Volume {
                                name: "mysql_data".into(),
                            },
                            read_only: false,
                        }],
                        user: Some("www-data".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            WorkloadInput {
                name: "API".into(),
                replicas: Some(3),
                restart_policy: RestartPolicy::OnFailure,
                containers: vec![ContainerInput {
                    name: "api".into(),
                    image: "registry:5000/example/echo:latest".into(),
                    ports: vec![PortInput {
                        container_port: 8080,
                        host_port: None,
                        protocol: Protocol::Tcp,
                    }],
                    mounts: vec![MountInput {
                        target: "/data".into(),
                        source: MountSource::Volume {
                            name: "mysql_data".into(),
                        },
                        read_only: false,
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ]
    }

    #[test]
    fn generates_what_plays_back() {
        let mut input = sample();
        input[0].labels.insert("app".into(), "echo".into());
        input.push(WorkloadInput {
            name: "empty".into(),
            ..Default::default()
        });
        let g = generate(&input);
        assert_eq!(
            g.warnings,
            [
                "simple-echo: label bad key=x is not a Kubernetes label; left out",
                "simple-echo: label app=echo is replaced by app=simple-echo, which its Services select",
                "simple-echo: user \"www-data\" is not numeric: Kubernetes takes only uid[:gid]; left out",
                "api: a Deployment's pods restart Always; the restart policy is left out",
                "empty: no container; left out",
            ]
        );
        let parsed = crate::parse("generated.yaml", &g.yaml).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let ids: Vec<String> = parsed.objects.iter().map(|o| o.id()).collect();
        assert_eq!(
            ids,
            [
                "PersistentVolumeClaim/mysql-data",
                "Pod/simple-echo",
                "Deployment/api",
                "Service/simple-echo",
                "Service/api"
            ]
        );
        let plan = crate::plan(&parsed.objects).unwrap();
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        let pod = &plan.workloads[0].pod;
        assert_eq!(
            pod.containers[0].resources.memory_limit_bytes,
            Some(128 << 20)
        );
        assert_eq!(pod.containers[0].security.run_as_group, Some(1000));
        assert_eq!(
            pod.containers[1].argv(&[], &[], &[]),
            ["sh", "-c", "nc -lk -p 8080 -e echo hi"]
        );
        assert_eq!(plan.workloads[1].replicas, 3);
        let s = &plan.services[0];
        assert_eq!(
            (&s.kind, s.ports[1].node_port),
            (&crate::plan::ServiceKind::NodePort, Some(30080))
        );
        assert_eq!(
            plan.services[1].kind,
            crate::plan::ServiceKind::ClusterIp { headless: false }
        );
        assert_eq!(
            pod.published_ports()
                .map(|p| p.host_port)
                .collect::<Vec<_>>(),
            [Some(8080)]
        );
        assert!(
            g.yaml
                .contains("hostPath:\n      path: /srv/www\n      type: Directory\n"),
            "{}",
            g.yaml
        );
    }
}
