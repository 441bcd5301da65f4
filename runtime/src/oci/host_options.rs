//! What the run options past the basics add to a container's runtime spec: resource
//! limits (`--ulimit`), sysctls, host devices, the size of /dev/shm, no_new_privs, the OOM
//! score, the host's cgroup namespace. Nothing changes for a container that sets none.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;

/// Adds `c`'s options to `spec`.
pub fn apply(c: &ContainerConfig, spec: &mut Value) -> Result<()> {
    let h = &c.host;
    if !h.ulimits.is_empty() {
        spec["process"]["rlimits"] = json!(h
            .ulimits
            .iter()
            .map(|u| {
                let v = |n: i64| if n < 0 { u64::MAX } else { n as u64 };
                json!({"type": u.oci_name(), "soft": v(u.soft), "hard": v(u.hard)})
            })
            .collect::<Vec<_>>());
    }
    if h.security.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if let Some(adj) = h.oom_score_adj {
        spec["process"]["oomScoreAdj"] = json!(adj);
    }
    if !h.sysctls.is_empty() {
        spec["linux"]["sysctl"] = json!(h.sysctls);
    }
    if let Some(size) = h.shm_size {
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| !o.as_str().is_some_and(|s| s.starts_with("size=")));
                    opts.push(json!(format!("size={size}")));
                }
            }
        }
    }
    if h.cgroupns_mode == "host" {
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "cgroup");
        }
    }
    for d in &h.devices {
        let meta = std::fs::metadata(&d.path_on_host).map_err(|e| Error::InvalidOption {
            flag: "--device".into(),
            reason: format!("{}: {e}", d.path_on_host),
        })?;
        let kind = if meta.file_type().is_block_device() {
            "b"
        } else {
            "c"
        };
        let rdev = meta.rdev();
        let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
        let devices = spec["linux"]
            .as_object_mut()
            .expect("linux is an object")
            .entry("devices")
            .or_insert_with(|| json!([]));
        if let Some(list) = devices.as_array_mut() {
            list.push(json!({
                "path": d.path_in_container, "type": kind, "major": major, "minor": minor,
                "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid(),
            }));
        }
        if let Some(allow) = spec["linux"]["resources"]["devices"].as_array_mut() {
            allow.push(json!({
                "allow": true, "type": kind, "major": major, "minor": minor,
                "access": d.cgroup_permissions,
            }));
        }
    }
    Ok(())
}
