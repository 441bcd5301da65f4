//! `update`: new limits for a container's cgroup, from OCI LinuxResources JSON
//! (`--resources FILE|-`, as containerd sends them) and runc's per-field flags.

use std::io::Read;
use std::path::Path;

use libcgroups::common::{CgroupManager, ControllerOpt};
use libcontainer::container::ContainerStatus;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use crate::cli::UpdateArgs;
use crate::container::{load, manager};
use crate::{fail, Failure, Result};

/// A size as runc's flags take it: bytes, or with a k, m, g or t suffix (-1: no limit).
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n >= 0)
        .ok_or_else(|| Failure(format!("invalid size {s:?}")))
}

fn set(obj: &mut Map<String, Value>, group: &str, key: &str, v: Value) {
    let g = obj
        .entry(group)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = g {
        m.insert(key.into(), v);
    }
}

/// The resources the arguments describe.
pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    if a.kernel_memory.is_some() {
        return fail("--kernel-memory is not supported: kernels no longer limit it");
    }
    let mut v: Value = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(src).map_err(|e| Failure(format!("{src}: {e}")))?;
            }
            serde_json::from_str(&text).map_err(|e| {
                let at = crate::spec_check::path_at(&text, e.line(), e.column());
                Failure(format!("resources: {at}: {e}"))
            })?
        }
    };
    let Value::Object(obj) = &mut v else {
        return fail("resources: not a JSON object");
    };
    if let Some(m) = &a.memory {
        set(obj, "memory", "limit", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set(obj, "memory", "reservation", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        set(obj, "memory", "swap", parse_size(m)?.into());
    }
    if let Some(n) = a.cpu_shares {
        set(obj, "cpu", "shares", n.into());
    }
    if let Some(n) = a.cpu_quota {
        set(obj, "cpu", "quota", n.into());
    }
    if let Some(n) = a.cpu_period {
        set(obj, "cpu", "period", n.into());
    }
    if let Some(n) = a.cpu_rt_period {
        set(obj, "cpu", "realtimePeriod", n.into());
    }
    if let Some(n) = a.cpu_rt_runtime {
        set(obj, "cpu", "realtimeRuntime", n.into());
    }
    if let Some(s) = &a.cpuset_cpus {
        set(obj, "cpu", "cpus", s.clone().into());
    }
    if let Some(s) = &a.cpuset_mems {
        set(obj, "cpu", "mems", s.clone().into());
    }
    if let Some(n) = a.pids_limit {
        set(obj, "pids", "limit", n.into());
    }
    if let Some(n) = a.blkio_weight {
        set(obj, "blockIO", "weight", n.into());
    }
    let text = v.to_string();
    serde_json::from_str(&text).map_err(|e| {
        Failure(format!(
            "resources: {}: {e}",
            crate::spec_check::path_at(&text, e.line(), e.column())
        ))
    })
}

pub fn update(root: &Path, a: &UpdateArgs) -> Result<()> {
    let r = resources(a)?;
    let c = load(root, &a.id)?;
    if c.status() == ContainerStatus::Stopped {
        return fail("container not running");
    }
    let m = manager(&c)?;
    m.apply(&ControllerOpt {
        resources: &r,
        disable_oom_killer: false,
        oom_score_adj: None,
        freezer_state: None,
    })
    .map_err(|e| Failure(format!("updating the container's cgroup: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_runc_reads_them() {
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
    }
}
