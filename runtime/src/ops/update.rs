//! `update`: a container's limits and restart policy changed, effective at once for a
//! running one (its cgroup rewritten through the OCI runtime's cgroup manager), and kept
//! for its next runs.

use crate::error::{Error, Result};
use crate::model::container::RestartPolicy;
use crate::model::options::{
    check_pids_limit, parse_cpus, parse_cpuset, parse_memory, parse_memory_swap,
};
use crate::store::containers::Containers;

/// The changes `update` makes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// `--memory`.
    pub memory: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--pids-limit` (-1: none).
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: Option<String>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<String>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
}

impl UpdateOptions {
    /// Whether it changes anything.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.memory_swap.is_none()
            && self.cpus.is_none()
            && self.cpu_shares.is_none()
            && self.pids_limit.is_none()
            && self.restart.is_none()
            && self.memory_reservation.is_none()
            && self.cpuset_cpus.is_none()
    }
}

/// Updates container `name`. Nothing changes unless everything can: a limit the kernel
/// refuses (memory below what the container uses) leaves the container as it was.
pub fn update(containers: &Containers, name: &str, o: &UpdateOptions) -> Result<()> {
    if o.is_empty() {
        return Err(Error::InvalidOption {
            flag: "update".into(),
            reason: "nothing to update: give at least one of --memory, --memory-swap, --memory-reservation, --cpus, --cpuset-cpus, --cpu-shares, --pids-limit, --restart".into(),
        });
    }
    let id = containers.resolve(name)?;
    let c = crate::ops::lifecycle::reconcile(containers, &id)?;
    let _lock = containers.lock(&id)?;
    let mut config = containers.read_config(&id)?;
    let h = &mut config.host;
    if let Some(m) = &o.memory {
        h.memory = Some(parse_memory(m)?);
    }
    if let Some(s) = &o.memory_swap {
        h.memory_swap = Some(parse_memory_swap(s, h.memory)?);
    } else if o.memory.is_some() && h.memory_swap.is_some_and(|s| s != -1 && Some(s) < h.memory) {
        return Err(Error::InvalidOption {
            flag: "--memory".into(),
            reason: "memory limit should be smaller than the memory-swap limit already set: update --memory-swap too".into(),
        });
    }
    if let Some(r) = &o.memory_reservation {
        h.memory_reservation = Some(parse_memory(r)?);
    }
    let changed = o.memory.is_some() || o.memory_reservation.is_some();
    if let (Some(m), Some(r), true) = (h.memory, h.memory_reservation, changed) {
        if m < r {
            return Err(Error::InvalidOption {
                flag: "--memory-reservation".into(),
                reason: "Minimum memory limit can not be less than memory reservation limit".into(),
            });
        }
    }
    if let Some(c) = &o.cpuset_cpus {
        h.cpuset_cpus = Some(parse_cpuset(c)?);
    }
    if let Some(cpus) = &o.cpus {
        h.nano_cpus = Some(parse_cpus(cpus)?);
    }
    if let Some(s) = o.cpu_shares {
        h.cpu_shares = (s > 0).then_some(s);
    }
    if let Some(p) = o.pids_limit {
        check_pids_limit(p)?;
        h.pids_limit = (p > 0).then_some(p);
    }
    if let Some(r) = &o.restart {
        let policy = RestartPolicy::parse(r).map_err(|reason| Error::InvalidOption {
            flag: "--restart".into(),
            reason,
        })?;
        if h.auto_remove && policy.name != "no" {
            return Err(Error::InvalidOption {
                flag: "--restart".into(),
                reason: "restart policies can't be set on a container started with --rm".into(),
            });
        }
        h.restart_policy = policy;
    }
    if c.state.is_running() {
        if let Err(e) = apply(&id, &config.host, o.pids_limit == Some(-1)) {
            // What was written before the refusal is put back.
            let _ = apply(&id, &c.config.host, false);
            return Err(Error::Conflict(format!(
                "cannot update container {}: {e}",
                c.config.name
            )));
        }
    }
    containers.write_config(&config)
}

/// Writes the limits of `host` into the running container `id`'s cgroup.
fn apply(
    id: &str,
    host: &crate::model::container::HostConfig,
    unlimited_pids: bool,
) -> std::result::Result<(), String> {
    use libcgroups::common::{create_cgroup_manager, CgroupConfig, CgroupManager, ControllerOpt};
    let mut limits = crate::oci::spec::limits(host);
    if unlimited_pids {
        limits["pids"] = serde_json::json!({"limit": -1});
    }
    let resources: oci_spec::runtime::LinuxResources =
        serde_json::from_value(limits).map_err(|e| e.to_string())?;
    let manager = create_cgroup_manager(CgroupConfig {
        cgroup_path: format!("/rbox/{id}").into(),
        systemd_cgroup: false,
        container_name: id.to_owned(),
    })
    .map_err(|e| e.to_string())?;
    manager
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: false,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| match errno(&e) {
            Some(nix::libc::EBUSY) => {
                "the memory limit is below what the container uses now".into()
            }
            _ => e.to_string(),
        })
}

/// The errno of the I/O error at the bottom of `e`'s sources, if there is one.
fn errno(e: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        cur = x.source();
    }
    None
}
