//! Services: the workloads they select, their ports resolved against the pods' ports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Workload;
use crate::error::{Problem, Warning};
use crate::object::{Object, Resource};
use crate::types::{selects, Protocol, ServiceType};
use crate::IntOrString;

/// A Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlan {
    pub name: String,
    pub namespace: String,
    pub kind: ServiceKind,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePortPlan>,
    /// The names of the workloads whose pods it selects, in input order.
    pub workloads: Vec<String>,
}

/// How a Service is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceKind {
    /// Its name resolves, on the pods' network, to the selected pods (headless: there is no
    /// virtual address in any case here).
    ClusterIp { headless: bool },
    /// As ClusterIp, and each port published on the host at its node port (a LoadBalancer
    /// is read as this). `node_port` None: the engine picks one in 30000–32767.
    NodePort,
    /// Its name resolves as the external host's.
    ExternalName(String),
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePortPlan {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
    pub node_port: Option<u16>,
    /// The targetPort as written (the port itself when unset).
    pub target_port: IntOrString,
    /// Where it leads in each selected workload: a named targetPort resolves per workload.
    pub targets: Vec<ServiceTarget>,
}

/// A Service port's container port in one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTarget {
    pub workload: String,
    pub container_port: u16,
}

pub(crate) fn plan(
    objects: &[Object],
    workloads: &[Workload],
    taken: &mut Vec<(super::HostPort, String)>,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Warning>,
) -> Vec<ServicePlan> {
    let mut out = Vec::new();
    for o in objects {
        let Resource::Service(s) = &o.resource else {
            continue;
        };
        let ns = s.metadata.namespace().to_string();
        let ty = s.spec.type_.unwrap_or_default();
        let kind = match ty {
            ServiceType::ClusterIP => ServiceKind::ClusterIp {
                headless: s.spec.cluster_ip.as_deref() == Some("None"),
            },
            ServiceType::NodePort => ServiceKind::NodePort,
            ServiceType::LoadBalancer => {
                warnings.push(Warning {
                    file: o.file.clone(),
                    line: o.line_of("spec.type"),
                    message: format!(
                        "{}: a LoadBalancer Service is published as a NodePort one here",
                        o.id()
                    ),
                });
                ServiceKind::NodePort
            }
            ServiceType::ExternalName => {
                ServiceKind::ExternalName(s.spec.external_name.clone().unwrap_or_default())
            }
        };
        let selected: Vec<&Workload> = workloads
            .iter()
            .filter(|w| w.namespace == ns && selects(&s.spec.selector, &w.pod.labels))
            .collect();
        let mut ports = Vec::new();
        for (i, p) in s.spec.ports.iter().enumerate() {
            let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
            let targets: Vec<ServiceTarget> = selected
                .iter()
                .filter_map(|w| {
                    target
                        .port(|n| w.pod.named_port(n))
                        .map(|container_port| ServiceTarget {
                            workload: w.name.clone(),
                            container_port,
                        })
                })
                .collect();
            if let IntOrString::String(n) = &target {
                if !selected.is_empty() && targets.is_empty() {
                    problems.push(Problem {
                        file: o.file.clone(),
                        line: o.line_of(&format!("spec.ports[{i}].targetPort")),
                        object: o.id(),
                        field: format!("spec.ports[{i}].targetPort"),
                        message: format!("no container port named {n:?} in the selected pods"),
                    });
                }
            }
            if let Some(n) = p.node_port {
                let port = super::HostPort {
                    port: n as u16,
                    protocol: p.protocol.unwrap_or_default(),
                    ip: None,
                };
                if let Some((_, other)) = taken.iter().find(|(t, _)| t.clashes(&port)) {
                    problems.push(Problem {
                        file: o.file.clone(),
                        line: o.line_of(&format!("spec.ports[{i}].nodePort")),
                        object: o.id(),
                        field: format!("spec.ports[{i}].nodePort"),
                        message: format!("node port {n} is published by {other} too"),
                    });
                }
                taken.push((port, o.id()));
            }
            ports.push(ServicePortPlan {
                name: p.name.clone(),
                port: p.port as u16,
                protocol: p.protocol.unwrap_or_default(),
                node_port: p.node_port.map(|n| n as u16),
                target_port: target,
                targets,
            });
        }
        if selected.is_empty() && !s.spec.selector.is_empty() {
            warnings.push(Warning {
                file: o.file.clone(),
                line: o.line_of("spec.selector"),
                message: format!("{}: the selector selects no pod of the input", o.id()),
            });
        }
        out.push(ServicePlan {
            name: s.metadata.name.clone(),
            namespace: ns,
            kind,
            selector: s.spec.selector.clone(),
            ports,
            workloads: selected.iter().map(|w| w.name.clone()).collect(),
        });
    }
    out
}
