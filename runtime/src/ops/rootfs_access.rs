//! A container's root filesystem made reachable from the host (for `cp`, `diff`, `export`):
//! a running container's own mount, or a stopped one's overlay mounted for the while.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::host::rootfs;
use crate::store::containers::{ContainerLock, Containers};
use crate::store::process;

/// A container's root filesystem made reachable from the host: a running container's own
/// mount, or for a stopped one the same overlay its monitor would mount, held under the
/// container's lock (so it can't start meanwhile) and unmounted when done.
#[derive(Debug)]
pub struct RootfsAccess {
    path: PathBuf,
    mounted_here: bool,
    // Released after the unmount in `drop` (fields drop after it).
    _lock: Option<ContainerLock>,
}

impl RootfsAccess {
    /// Makes container `id`'s root filesystem reachable at its `rootfs` directory.
    pub fn open(containers: &Containers, id: &str) -> crate::Result<RootfsAccess> {
        // Corrects the state of a container whose monitor died (which takes the lock).
        let c = crate::ops::lifecycle::reconcile(containers, id)?;
        let lock = containers.lock(id)?;
        let state = containers.read_state(id)?;
        let path = containers.dir(id).join("rootfs");
        let monitor = process::alive(state.monitor_pid, state.monitor_start);
        let mounted = rootfs::is_mounted(&path);
        if mounted && monitor {
            // Running: its monitor owns the mount. The lock isn't kept, so stop and the
            // monitor's own state changes don't wait for the copy.
            return Ok(RootfsAccess {
                path,
                mounted_here: false,
                _lock: None,
            });
        }
        if monitor {
            // Between runs (restarting) or about to mount: mounting now would race it.
            return Err(Error::Conflict(format!(
                "container {} is starting or restarting: try again",
                c.config.name
            )));
        }
        if !mounted {
            let images = rbox_image::Store::open(containers.root())?;
            let lowers: Vec<PathBuf> = c
                .config
                .layers
                .iter()
                .map(|l| l.parse().map(|d| images.snapshot_fs(&d)))
                .collect::<rbox_image::Result<_>>()?;
            let dir = containers.dir(id);
            rootfs::mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &path)?;
        }
        // A mount without a monitor that was not ours is a leftover of a crash: taken
        // over, and unmounted as ours.
        Ok(RootfsAccess {
            path,
            mounted_here: true,
            _lock: Some(lock),
        })
    }

    /// Where the root filesystem is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unmounts it if it was mounted for this access (as dropping does).
    pub fn close(self) {}
}

impl Drop for RootfsAccess {
    fn drop(&mut self) {
        if self.mounted_here {
            if let Err(e) = rootfs::unmount(&self.path) {
                tracing::warn!(error = %e, "unmounting a stopped container's rootfs");
            }
        }
    }
}
