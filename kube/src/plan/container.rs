//! A container as the engine runs it: its argv by Kubernetes' command/args rule, its env
//! with the pod's own fields filled in, `$(VAR)` references expanded as the kubelet does.

use serde::{Deserialize, Serialize};

use super::{HealthCheck, MountPlan};
use crate::types::{Protocol, PullPolicy};

/// One container of the plan, in the order of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    /// As written, or Kubernetes' default: Always for `:latest` or no tag, else IfNotPresent.
    pub pull_policy: PullPolicy,
    /// `command` as written (empty: the image's ENTRYPOINT). See [`ContainerPlan::argv`].
    pub command: Vec<String>,
    /// `args` as written (empty: the image's CMD, unless `command` is set).
    pub args: Vec<String>,
    pub working_dir: Option<String>,
    /// In order: envFrom sources first, then `env`, a later name replacing an earlier value.
    pub env: Vec<EnvEntry>,
    pub mounts: Vec<MountPlan>,
    pub ports: Vec<PortPlan>,
    pub resources: ResourcesPlan,
    pub liveness: Option<HealthCheck>,
    /// What READY counts.
    pub readiness: Option<HealthCheck>,
    pub startup: Option<HealthCheck>,
    pub security: SecurityPlan,
    pub stdin: bool,
    pub tty: bool,
}

/// An environment variable: a value, or a field of the pod known only when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvEntry {
    pub name: String,
    pub value: EnvValue,
}

/// An env value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnvValue {
    /// Known from the manifests (a value, a ConfigMap or Secret key, the namespace, a label).
    /// May hold `$(VAR)` references, expanded by [`ContainerPlan::env_for`].
    Literal(String),
    /// Filled by the engine: see [`PodField`].
    Pod(PodField),
}

/// The fields of a pod `fieldRef` reads that only the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodField {
    /// `metadata.name`: a replica's name is chosen when it is made.
    Name,
    /// `status.podIP`.
    Ip,
    /// `status.hostIP`.
    HostIp,
    /// `spec.nodeName`: this host's name.
    NodeName,
}

/// What the engine knows of a pod once it is made, to fill [`PodField`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub ip: String,
    pub host_ip: String,
    pub node_name: String,
}

/// A container port; `host_port` publishes it on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPlan {
    pub container_port: u16,
    pub protocol: Protocol,
    pub name: Option<String>,
    pub host_port: Option<u16>,
    pub host_ip: Option<String>,
}

/// Resources in numbers; a request left unset takes its limit, as Kubernetes defaults it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcesPlan {
    pub cpu_limit_millis: Option<u64>,
    pub cpu_request_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub memory_request_bytes: Option<u64>,
}

/// The container's securityContext over the pod's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityPlan {
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    /// Refuse to start when the user (from here or the image) is 0.
    pub run_as_non_root: bool,
    pub supplemental_groups: Vec<i64>,
    pub fs_group: Option<i64>,
    pub privileged: bool,
    pub read_only_root_filesystem: bool,
    /// None: the runtime's default (allowed unless no_new_privileges).
    pub allow_privilege_escalation: Option<bool>,
    pub capabilities_add: Vec<String>,
    pub capabilities_drop: Vec<String>,
}

impl ContainerPlan {
    /// The environment for one pod: pod fields filled in, then `$(VAR)` references to
    /// variables defined before expanded, in order.
    pub fn env_for(&self, pod: &PodFacts) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for e in &self.env {
            let value = match &e.value {
                EnvValue::Literal(v) => expand(v, &out),
                EnvValue::Pod(PodField::Name) => pod.name.clone(),
                EnvValue::Pod(PodField::Ip) => pod.ip.clone(),
                EnvValue::Pod(PodField::HostIp) => pod.host_ip.clone(),
                EnvValue::Pod(PodField::NodeName) => pod.node_name.clone(),
            };
            match out.iter_mut().find(|(n, _)| *n == e.name) {
                Some(slot) => slot.1 = value,
                None => out.push((e.name.clone(), value)),
            }
        }
        out
    }

    /// The process to run, by Kubernetes' rule: `command` replaces the image's ENTRYPOINT and
    /// drops its CMD; `args` replaces the CMD. `$(VAR)` in command and args is expanded from
    /// `env` (from [`ContainerPlan::env_for`]); the image's own strings are left as they are.
    pub fn argv(
        &self,
        entrypoint: &[String],
        cmd: &[String],
        env: &[(String, String)],
    ) -> Vec<String> {
        let ours = |v: &[String]| v.iter().map(|s| expand(s, env)).collect::<Vec<_>>();
        match (self.command.is_empty(), self.args.is_empty()) {
            (false, false) => [ours(&self.command), ours(&self.args)].concat(),
            (false, true) => ours(&self.command),
            (true, false) => [entrypoint.to_vec(), ours(&self.args)].concat(),
            (true, true) => [entrypoint, cmd].concat(),
        }
    }
}

/// The kubelet's expansion: `$(NAME)` of a defined variable becomes its value, `$$` a `$`,
/// anything else (an undefined name, an unclosed reference) stays as written.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match env.iter().rev().find(|(n, _)| n == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Kubernetes' default pull policy for an image reference.
pub fn default_pull_policy(image: &str) -> PullPolicy {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    if image.contains('@') {
        PullPolicy::IfNotPresent
    } else {
        match last.split_once(':') {
            None | Some((_, "latest")) => PullPolicy::Always,
            Some(_) => PullPolicy::IfNotPresent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn container(command: &[&str], args: &[&str]) -> ContainerPlan {
        ContainerPlan {
            name: "c".into(),
            image: "busybox".into(),
            pull_policy: PullPolicy::IfNotPresent,
            command: s(command),
            args: s(args),
            working_dir: None,
            env: vec![],
            mounts: vec![],
            ports: vec![],
            resources: Default::default(),
            liveness: None,
            readiness: None,
            startup: None,
            security: Default::default(),
            stdin: false,
            tty: false,
        }
    }

    #[test]
    fn command_and_args_rule() {
        let (ep, cmd) = (s(&["/entry"]), s(&["serve", "--port=80"]));
        assert_eq!(
            container(&[], &[]).argv(&ep, &cmd, &[]),
            s(&["/entry", "serve", "--port=80"])
        );
        assert_eq!(
            container(&["sh", "-c"], &[]).argv(&ep, &cmd, &[]),
            s(&["sh", "-c"])
        );
        assert_eq!(
            container(&[], &["x"]).argv(&ep, &cmd, &[]),
            s(&["/entry", "x"])
        );
        assert_eq!(
            container(&["a"], &["b"]).argv(&ep, &cmd, &[]),
            s(&["a", "b"])
        );
        let env = vec![("PORT".to_string(), "8080".to_string())];
        assert_eq!(
            container(&["nc", "-lp", "$(PORT)"], &["$(NOPE)", "$$(PORT)"]).argv(&ep, &cmd, &env),
            s(&["nc", "-lp", "8080", "$(NOPE)", "$(PORT)"])
        );
    }

    #[test]
    fn env_fills_pod_fields_and_expands_in_order() {
        let mut c = container(&[], &[]);
        let lit = |n: &str, v: &str| EnvEntry {
            name: n.into(),
            value: EnvValue::Literal(v.into()),
        };
        c.env = vec![
            EnvEntry {
                name: "IP".into(),
                value: EnvValue::Pod(PodField::Ip),
            },
            lit("URL", "http://$(IP):$(PORT)/"),
            lit("PORT", "80"),
            lit("PORT", "8080"),
        ];
        let facts = PodFacts {
            name: "p".into(),
            ip: "10.88.0.2".into(),
            ..Default::default()
        };
        assert_eq!(
            c.env_for(&facts),
            [
                ("IP".to_string(), "10.88.0.2".to_string()),
                ("URL".into(), "http://10.88.0.2:$(PORT)/".into()),
                ("PORT".into(), "8080".into())
            ]
        );
    }

    #[test]
    fn pull_policies() {
        assert_eq!(default_pull_policy("busybox"), PullPolicy::Always);
        assert_eq!(default_pull_policy("busybox:latest"), PullPolicy::Always);
        assert_eq!(
            default_pull_policy("registry:5000/example/echo:1.0"),
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            default_pull_policy("registry:5000/example/echo"),
            PullPolicy::Always
        );
        assert_eq!(
            default_pull_policy("busybox@sha256:abc"),
            PullPolicy::IfNotPresent
        );
    }
}
