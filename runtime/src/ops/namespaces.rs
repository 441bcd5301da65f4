//! The namespaces a new container shares with another (`--network container:X`, `--ipc
//! container:X`, `--pid container:X`) or with the host, resolved and checked at create as
//! Docker checks them; and who has joined a container's namespaces (its removal waits for
//! them).

use crate::error::{Error, Result};
use crate::model::container::{ContainerConfig, Status};
use crate::model::namespaces::{Kind, NamespaceMode, NetworkMode};
use crate::model::options::RunOptions;
use crate::store::containers::Containers;

/// The modes of a new container, as stored.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    /// `--network`, with a joined container's full id.
    pub network: String,
    /// `--ipc`.
    pub ipc: String,
    /// `--pid`.
    pub pid: String,
    /// `--uts`.
    pub uts: String,
    /// The hostname it gets from the container whose network it joins.
    pub hostname: Option<String>,
}

fn conflict(flag: &str, reason: &str) -> Error {
    Error::InvalidOption {
        flag: flag.into(),
        reason: reason.into(),
    }
}

/// Container `name`, which a new one joins through `flag`: it must be running.
fn running_owner(containers: &Containers, name: &str, flag: &str) -> Result<ContainerConfig> {
    let id = containers
        .resolve(name)
        .map_err(|_| conflict(flag, &format!("no such container: {name}")))?;
    // A pure read: a container whose monitor is gone reads as exited.
    let c = containers.load(&id)?;
    if c.state.status != Status::Running {
        return Err(conflict(
            flag,
            &format!("cannot join container {name}: it is not running"),
        ));
    }
    Ok(c.config)
}

/// Resolves and checks the namespace modes of `o` (`network` is its network mode).
pub fn resolve(containers: &Containers, o: &RunOptions, network: &str) -> Result<Shared> {
    let mut shared = Shared {
        network: network.to_owned(),
        ..Default::default()
    };
    if let NetworkMode::Container(name) = NetworkMode::parse(network) {
        if !o.publish.is_empty() || o.publish_all {
            return Err(conflict(
                "--publish",
                "conflicting options: port publishing and the container type network mode (ports belong to the container whose network it joins)",
            ));
        }
        if o.hostname.is_some() {
            return Err(conflict(
                "--hostname",
                "conflicting options: hostname and the container type network mode",
            ));
        }
        if !o.add_hosts.is_empty() {
            return Err(conflict(
                "--add-host",
                "conflicting options: custom host-to-IP mapping and the container type network mode",
            ));
        }
        let owner = running_owner(containers, &name, "--network")?;
        shared.network = format!("container:{}", owner.id);
        shared.hostname = Some(owner.config.hostname.clone());
    }
    for (kind, given) in [
        (Kind::Ipc, &o.ipc),
        (Kind::Pid, &o.pid),
        (Kind::Uts, &o.uts),
    ] {
        let mode = NamespaceMode::parse(kind, given.as_deref().unwrap_or(""))?;
        let mode = match mode {
            NamespaceMode::Container(name) => {
                let owner = running_owner(containers, &name, kind.flag())?;
                if kind == Kind::Ipc
                    && NamespaceMode::parse(Kind::Ipc, &owner.host.ipc_mode).ok()
                        != Some(NamespaceMode::Shareable)
                {
                    return Err(conflict(
                        "--ipc",
                        &format!("container {name} has a non-shareable IPC namespace (create it with --ipc shareable)"),
                    ));
                }
                NamespaceMode::Container(owner.id)
            }
            m => m,
        };
        if kind == Kind::Uts && mode == NamespaceMode::Host && o.hostname.is_some() {
            return Err(conflict(
                "--hostname",
                "conflicting options: hostname and the UTS mode host",
            ));
        }
        let stored = mode.stored(kind);
        match kind {
            Kind::Ipc => shared.ipc = stored,
            Kind::Pid => shared.pid = stored,
            Kind::Uts => shared.uts = stored,
        }
    }
    Ok(shared)
}

/// The containers of `containers` that joined a namespace of container `id` (any of
/// network, IPC, PID) and run: their names.
pub fn running_joiners(containers: &Containers, id: &str) -> Result<Vec<String>> {
    let joined = format!("container:{id}");
    Ok(containers
        .list()?
        .into_iter()
        .filter(|c| c.config.id != id && c.state.is_running())
        .filter(|c| {
            let h = &c.config.host;
            [&h.network_mode, &h.ipc_mode, &h.pid_mode]
                .iter()
                .any(|m| **m == joined)
        })
        .map(|c| c.config.name)
        .collect())
}
