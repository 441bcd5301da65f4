//! pause and unpause: every process of a container frozen, and thawed, by the cgroup
//! freezer (cgroup v1's freezer hierarchy or v2's `cgroup.freeze`, through the OCI
//! runtime's cgroup manager). A paused container is still running (`State.Paused`); a
//! signal that `stop`, `kill` or `rm -f` sends it is delivered by thawing it, as Docker
//! does.

use crate::error::{Error, Result};
use crate::store::containers::Containers;
use crate::supervise::monitor::runtime_error;

fn oci_container(containers: &Containers, id: &str) -> Result<libcontainer::container::Container> {
    libcontainer::container::Container::load(containers.run_dir().join(id)).map_err(runtime_error)
}

fn frozen(c: &libcontainer::container::Container) -> bool {
    c.status() == libcontainer::container::ContainerStatus::Paused
}

/// Freezes a running container.
pub fn pause(containers: &Containers, id: &str) -> Result<()> {
    let c = containers.load(id)?;
    if !c.state.is_running() || c.state.pid == 0 {
        return Err(Error::Conflict(format!(
            "container {} is not running",
            c.config.name
        )));
    }
    let mut oci = oci_container(containers, id)?;
    let _ = oci.refresh_status();
    if c.state.paused || frozen(&oci) {
        containers.update_state(id, |s| s.paused = true)?;
        return Err(Error::Conflict(format!(
            "container {} is already paused",
            c.config.name
        )));
    }
    oci.pause().map_err(runtime_error)?;
    containers.update_state(id, |s| s.paused = true)?;
    crate::store::events::container(containers.root(), &c.config, "pause", &[]);
    Ok(())
}

/// Thaws a paused container.
pub fn unpause(containers: &Containers, id: &str) -> Result<()> {
    let c = containers.load(id)?;
    if !c.state.is_running() || !thaw(containers, id)? {
        return Err(Error::Conflict(format!(
            "container {} is not paused",
            c.config.name
        )));
    }
    crate::store::events::container(containers.root(), &c.config, "unpause", &[]);
    Ok(())
}

/// Thaws container `id` if its cgroup is frozen (whatever its state file says); returns
/// whether it was. (The state is written under the container's lock, which the caller
/// must not hold.)
pub(crate) fn thaw(containers: &Containers, id: &str) -> Result<bool> {
    let Ok(mut oci) = oci_container(containers, id) else {
        return Ok(false);
    };
    let _ = oci.refresh_status();
    let was = frozen(&oci);
    if was {
        oci.resume().map_err(runtime_error)?;
    }
    if was || containers.read_state(id)?.paused {
        containers.update_state(id, |s| s.paused = false)?;
    }
    Ok(was)
}
