//! A container under `--root`: found by its id (checked), its status refreshed; its cgroup
//! manager; libcontainer's errors as runc's messages; the re-exec from a read-only binary
//! that comes before entering a container.

use std::path::Path;

use libcontainer::container::Container;

use crate::{fail, Failure, Result};

/// Maps a libcontainer error to runc's message.
pub fn lc(e: libcontainer::error::LibcontainerError) -> Failure {
    Failure(e.to_string())
}

/// Re-executes this process from a read-only view of its own binary, before anything
/// enters a container (CVE-2019-5736); a no-op when already running so.
pub fn ensure_sealed() -> Result<()> {
    if rbox_runtime::sealed::running_protected() {
        return Ok(());
    }
    let e = rbox_runtime::sealed::reexec_sealed();
    fail(format!("running from a read-only copy of the runtime: {e}"))
}

/// An id runc takes: letters, digits and `_+-.`, not `.` or `..`.
pub fn checked_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        fail(format!("invalid container id format: {id}"))
    }
}

/// The container `id` under `root`, its status refreshed.
pub fn load(root: &Path, id: &str) -> Result<Container> {
    checked_id(id)?;
    let dir = root.join(id);
    if !dir.join("state.json").exists() {
        return fail("container does not exist");
    }
    Container::load(dir).map_err(lc)
}

/// The cgroup manager of a container.
pub fn manager(c: &Container) -> Result<libcgroups::common::AnyCgroupManager> {
    let config = c.spec().map_err(lc)?;
    libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
        cgroup_path: config.cgroup_path,
        systemd_cgroup: c.systemd(),
        container_name: c.id().to_owned(),
    })
    .map_err(|e| Failure(format!("the container's cgroup: {e}")))
}
