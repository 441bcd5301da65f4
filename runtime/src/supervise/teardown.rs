//! The one teardown of a run: what a run leaves on the host, undone in one order wherever
//! a run ends — by its monitor after each exit, by `rm -f`, by a `--rm` container's
//! cleanup, by the reconcile of a monitor that died, and by prune's sweep of removals a
//! kill interrupted.

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use rbox_network::PortMapping;

use crate::error::Result;
use crate::host::{cgroup, net, rootfs};
use crate::model::container::{ContainerConfig, State};
use crate::store::containers::{dead_monitor_state, Containers};
use crate::store::process;

/// Undoes a run of `config`'s container whose directory is `dir` (its own, or the
/// `.removing-<id>` it was renamed to): the published ports and network endpoints, the
/// OCI runtime's state and cgroups, the rootfs mount, the runtime files. Every step is
/// taken even when one fails; the unmount's error is returned.
pub fn run(
    containers: &Containers,
    config: &ContainerConfig,
    published: &[PortMapping],
    dir: &Path,
) -> Result<()> {
    net::detach(containers, config, published);
    delete_libcontainer_state(&containers.run_dir(), &config.id);
    let unmounted = rootfs::unmount(&dir.join("rootfs"));
    containers.remove_runtime_files(&config.id);
    unmounted
}

/// Finishes the removal of a container renamed to `trash`: its run undone, its files and
/// (as Docker's `--rm`) its anonymous volumes removed.
pub fn removed(
    containers: &Containers,
    config: &ContainerConfig,
    published: &[PortMapping],
    trash: &Path,
) {
    let _ = run(containers, config, published, trash);
    let _ = fs::remove_dir_all(trash);
    let _ = containers.remove_anonymous_volumes(config);
}

/// Deletes libcontainer's state of container `id` (and with it its cgroups), if any.
pub fn delete_libcontainer_state(run_dir: &Path, id: &str) {
    cgroup::remove_named(id);
    let state_dir = run_dir.join(id);
    if !state_dir.exists() {
        // Its state lost (the runtime directory emptied, the monitor killed): its empty
        // cgroups are removed here, as libcontainer would have.
        cgroup::remove_empty(id);
        return;
    }
    match libcontainer::container::Container::load(state_dir.clone()) {
        Ok(mut c) => {
            if let Err(e) = c.delete(true) {
                tracing::warn!(error = %e, "deleting container state");
            }
        }
        Err(e) => tracing::warn!(error = %e, "loading container state"),
    }
    let _ = fs::remove_dir_all(&state_dir);
}

/// Corrects the state of a container whose monitor died unseen (the caller holds the
/// container's lock): its process died with the monitor (parent-death signal), so it is
/// recorded as killed, and what the run left is cleaned up.
pub fn dead_monitor(
    containers: &Containers,
    config: &ContainerConfig,
    state: &mut State,
) -> Result<()> {
    if process::alive(state.pid, state.pid_start) {
        // Still on its way out; give it a moment.
        if let Some(h) = process::ProcessHandle::open(state.pid, state.pid_start) {
            let _ = h.signal(Signal::SIGKILL as i32);
            h.wait_timeout(Some(Duration::from_secs(2)));
        }
    }
    let _ = run(
        containers,
        config,
        &state.ports,
        &containers.dir(&config.id),
    );
    dead_monitor_state(state);
    containers.write_state(&config.id, state)?;
    if config.host.auto_remove {
        containers.remove_files(&config.id)?;
        net::release(containers, config);
    }
    Ok(())
}
