//! What a container is on disk: its configuration (fixed at create) and its state (written
//! by its monitor as it runs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a container was asked to run, fixed when it is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// 64 hex digits.
    pub id: String,
    /// Its unique name (without docker's leading `/`).
    pub name: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// The image id (config digest).
    pub image_id: String,
    /// The image's manifest digest.
    pub manifest: String,
    /// Snapshot chain IDs, bottom layer first.
    pub layers: Vec<String>,
    /// What runs inside.
    pub config: ProcessConfig,
    /// How the host runs it.
    pub host: HostConfig,
}

/// The process side, in docker's `Config` terms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessConfig {
    /// The container's hostname.
    pub hostname: String,
    /// `user`, `uid`, `user:group` or `uid:gid`; empty for root.
    pub user: String,
    /// `KEY=value` pairs.
    pub env: Vec<String>,
    /// The command (after the entrypoint).
    pub cmd: Vec<String>,
    /// The entrypoint.
    pub entrypoint: Vec<String>,
    /// The working directory; empty for `/`.
    pub working_dir: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The signal `stop` sends first.
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL.
    pub stop_timeout: Option<u32>,
    /// A terminal (`-t`).
    pub tty: bool,
    /// Keep standard input open (`-i`).
    pub open_stdin: bool,
    /// The health check its monitor runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::model::health::HealthConfig>,
    /// The ports it exposes (`80/tcp`): the image's and `--expose`'s, as docker keeps them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// The host side, in docker's `HostConfig` terms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `bridge` (the default network), `none`, `host`, a network's name, or
    /// `container:<id>` (see `model::namespaces::NetworkMode`).
    pub network_mode: String,
    /// `--ipc`: `private`, `shareable`, `host` or `container:<id>`.
    #[serde(default)]
    pub ipc_mode: String,
    /// `--pid`: empty (its own), `host` or `container:<id>`.
    #[serde(default)]
    pub pid_mode: String,
    /// `--uts`: empty (its own) or `host`.
    #[serde(default)]
    pub uts_mode: String,
    /// The container's addresses on its networks (first: the default route).
    #[serde(default)]
    pub networks: Vec<rbox_network::Endpoint>,
    /// Published ports (`-p`, `-P`); host port 0 for one chosen at each start.
    #[serde(default)]
    pub port_bindings: Vec<rbox_network::PortMapping>,
    /// `-P`: every exposed port published.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit in units of 10⁻⁹ CPUs.
    pub nano_cpus: Option<i64>,
    /// `--memory-swap`: memory and swap together in bytes; -1 for unlimited swap.
    #[serde(default)]
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: the soft limit in bytes.
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    /// `--cpuset-cpus`: the CPUs it may run on (`0-2,4`).
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    /// `--cpu-shares`.
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// Process count limit.
    pub pids_limit: Option<i64>,
    /// When to restart.
    pub restart_policy: RestartPolicy,
    /// Remove the container when it exits (`--rm`).
    pub auto_remove: bool,
    /// Capabilities added to the default set.
    pub cap_add: Vec<String>,
    /// Capabilities dropped from the default set.
    pub cap_drop: Vec<String>,
    /// Lift the security defaults.
    pub privileged: bool,
    /// A read-only root filesystem.
    pub readonly_rootfs: bool,
    /// Run an init process as PID 1.
    pub init: bool,
    /// `host:ip` entries for /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// `--dns`: the resolvers of its resolv.conf (the host's when empty).
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--ulimit`.
    #[serde(default)]
    pub ulimits: Vec<crate::model::host_options::Ulimit>,
    /// `--sysctl`.
    #[serde(default)]
    pub sysctls: crate::model::host_options::Sysctls,
    /// `--device`.
    #[serde(default)]
    pub devices: Vec<crate::model::host_options::DeviceMapping>,
    /// `--shm-size` in bytes (64 MiB when unset).
    #[serde(default)]
    pub shm_size: Option<i64>,
    /// `--group-add`: groups by name (from the image's /etc/group) or number.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--security-opt`, as given.
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// What `--security-opt` asked for.
    #[serde(default)]
    pub security: crate::model::host_options::SecurityOptions,
    /// `--cgroupns`: `private` (the default) or `host`.
    #[serde(default)]
    pub cgroupns_mode: String,
    /// `--oom-score-adj`.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// Bind mounts, volumes and tmpfs mounts, parents first.
    #[serde(default)]
    pub mounts: Vec<crate::model::mount::Mount>,
    /// The log driver and its options (`--log-opt`), with the limits in force.
    #[serde(default)]
    pub log_config: crate::model::log_config::LogConfig,
}

/// docker's restart policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub name: String,
    /// For `on-failure`: how many restarts at most (0: no limit).
    pub maximum_retry_count: u32,
}

impl RestartPolicy {
    /// Parses `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(c)) => c
                .parse()
                .map_err(|_| format!("maximum retry count must be a number: {c:?}"))?,
            (_, Some(_)) => return Err(format!("{name} takes no retry count")),
            _ => 0,
        };
        match name {
            "" | "no" => Ok(RestartPolicy {
                name: "no".into(),
                maximum_retry_count: 0,
            }),
            "always" | "unless-stopped" | "on-failure" => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count,
            }),
            _ => Err(format!(
                "unknown policy {s:?}: use no, always, unless-stopped or on-failure[:N]"
            )),
        }
    }

    /// Whether a container that exited with `code` after `restarts` restarts is started
    /// again. A container its user stopped is not.
    pub fn should_restart(&self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or its start failed).
    #[default]
    Created,
    /// Its process runs.
    Running,
    /// Exited, about to start again under its restart policy.
    Restarting,
    /// Its process ended.
    Exited,
    /// Being removed.
    Removing,
    /// Its monitor died and what happened to it is unknown.
    Dead,
}

impl Status {
    /// docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }
}

/// A container's state, written by its monitor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// Where it is in its life.
    pub status: Status,
    /// The container's first process, as the host sees it; 0 when not running.
    pub pid: i32,
    /// That process's start time (clock ticks since boot), to tell it from a reused pid.
    pub pid_start: u64,
    /// The monitor process; 0 when none.
    pub monitor_pid: i32,
    /// The monitor's start time.
    pub monitor_start: u64,
    /// The last exit code.
    pub exit_code: i32,
    /// Whether the last exit was the kernel's OOM killer.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// When it last started.
    pub started_at: Option<String>,
    /// When it last exited.
    pub finished_at: Option<String>,
    /// How many times the restart policy started it again.
    pub restart_count: u32,
    /// Set by `stop` and `kill`: the restart policy doesn't apply.
    pub stopped_by_user: bool,
    /// Why the last start failed, if it did.
    pub error: String,
    /// The ports published by the current run, with their host ports.
    #[serde(default)]
    pub ports: Vec<rbox_network::PortMapping>,
    /// Frozen by `pause` (and still running).
    #[serde(default)]
    pub paused: bool,
    /// The health of the current (or last) run, for a container with a health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::model::health::Health>,
}

impl State {
    /// Docker's word for where it is: `paused` for a paused one, else its status's.
    pub fn status_word(&self) -> &'static str {
        if self.paused && self.status == Status::Running {
            "paused"
        } else {
            self.status.as_str()
        }
    }

    /// Whether a process of the container is (supposed to be) alive.
    pub fn is_running(&self) -> bool {
        matches!(self.status, Status::Running | Status::Restarting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_as_dockers() {
        assert_eq!(RestartPolicy::parse("no").unwrap().name, "no");
        let p = RestartPolicy::parse("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("always:2").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn restart_decisions_follow_the_policy() {
        let on_failure = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(on_failure.should_restart(1, 0, false));
        assert!(on_failure.should_restart(1, 1, false));
        assert!(!on_failure.should_restart(1, 2, false));
        assert!(!on_failure.should_restart(0, 0, false));
        let always = RestartPolicy::parse("always").unwrap();
        assert!(always.should_restart(0, 100, false));
        assert!(!always.should_restart(0, 0, true));
        assert!(!RestartPolicy::parse("no")
            .unwrap()
            .should_restart(1, 0, false));
    }
}
