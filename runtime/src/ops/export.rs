//! `export`: a container's whole filesystem (its image's layers and its changes, as the
//! container sees them), handed to a writer while it is reachable.

use std::path::Path;

use crate::ops::rootfs_access::RootfsAccess;
use crate::store::containers::Containers;

/// Runs `write` on container `id`'s merged root filesystem (mounted for the while if the
/// container is stopped) and gives back what it returns.
pub fn export<T>(
    containers: &Containers,
    id: &str,
    write: impl FnOnce(&Path) -> T,
) -> crate::Result<T> {
    let access = RootfsAccess::open(containers, id)?;
    let out = write(access.path());
    access.close();
    Ok(out)
}
