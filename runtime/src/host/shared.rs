//! Namespaces joined from another container at each start: the paths of its first
//! process's namespaces, and the /etc files of the container whose network is joined.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;
use crate::model::namespaces::{Kind, NamespaceMode, NetworkMode};
use crate::store::containers::Containers;
use crate::store::process;

/// The running first process of container `id`, which `config` joins.
fn owner_pid(containers: &Containers, config: &ContainerConfig, id: &str) -> Result<i32> {
    let state = containers.read_state(id).ok();
    let name = containers
        .read_config(id)
        .map(|c| c.name)
        .unwrap_or_else(|_| id.chars().take(12).collect());
    match state {
        Some(s) if s.is_running() && process::alive(s.pid, s.pid_start) => Ok(s.pid),
        Some(_) => Err(Error::Conflict(format!(
            "container {}: cannot join the namespaces of container {name}: it is not running",
            config.name
        ))),
        None => Err(Error::Conflict(format!(
            "container {}: the container whose namespaces it joins is gone",
            config.name
        ))),
    }
}

/// The namespaces `config` joins, as (OCI type, path), for this start.
pub fn joined(
    containers: &Containers,
    config: &ContainerConfig,
) -> Result<Vec<(&'static str, PathBuf)>> {
    let h = &config.host;
    let mut out = Vec::new();
    if let NetworkMode::Container(id) = NetworkMode::parse(&h.network_mode) {
        let pid = owner_pid(containers, config, &id)?;
        out.push(("network", PathBuf::from(format!("/proc/{pid}/ns/net"))));
    }
    if let NetworkMode::Pod(id) = NetworkMode::parse(&h.network_mode) {
        out.extend(crate::host::pod::joined(containers, &id)?);
    }
    for (kind, mode, ns) in [
        (Kind::Ipc, &h.ipc_mode, "ipc"),
        (Kind::Pid, &h.pid_mode, "pid"),
    ] {
        if let Ok(NamespaceMode::Container(id)) = NamespaceMode::parse(kind, mode) {
            let pid = owner_pid(containers, config, &id)?;
            out.push((kind.oci(), PathBuf::from(format!("/proc/{pid}/ns/{ns}"))));
        }
    }
    Ok(out)
}

/// A container in another's network gets that one's /etc/hosts and resolv.conf (its name
/// and address, its resolvers), written into `dir`.
pub fn copy_owner_files(
    containers: &Containers,
    config: &ContainerConfig,
    dir: &Path,
) -> Result<()> {
    let id = match NetworkMode::parse(&config.host.network_mode) {
        NetworkMode::Container(id) => id,
        NetworkMode::Pod(pod) => {
            return crate::host::pod::write_files(containers, config, &pod, dir)
        }
        _ => return Ok(()),
    };
    let from = containers.run_path(&id);
    for name in ["hosts", "resolv.conf"] {
        let src = from.join(name);
        let dst = dir.join(name);
        std::fs::copy(&src, &dst).map_err(|e| Error::io(src, e))?;
    }
    Ok(())
}
