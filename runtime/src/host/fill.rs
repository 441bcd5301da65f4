//! Filling a new volume with what the image has at its mount point, as Docker does: at
//! create (from the image's layers) and at the first start (from the mounted rootfs).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::model::mount::MountKind;
use crate::store::containers::Containers;

/// Fills each empty volume of a container with what its image has at the mount point
/// (rootfs mounted at `rootfs_dir`), keeping ownership, modes and links; the volume's root
/// takes the mount point's owner and mode.
pub fn fill_empty_volumes(
    containers: &Containers,
    config: &crate::model::container::ContainerConfig,
    rootfs_dir: &Path,
) -> Result<()> {
    use crate::host::rootfs;
    for m in &config.host.mounts {
        if m.kind != MountKind::Volume || m.options.iter().any(|o| o == "nocopy") {
            continue;
        }
        let data = containers.volume_data(&m.source);
        if fs::read_dir(&data).at(&data)?.next().is_some() {
            continue;
        }
        let root = rootfs::open_root(rootfs_dir)?;
        let Ok(src) = rootfs::open_in_root(
            &root,
            Path::new(&m.destination),
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        ) else {
            continue;
        };
        let dst = rootfs::open_root(&data)?;
        crate::host::tree::copy_dir_contents(&src, &dst, &m.destination)
            .map_err(|e| Error::Runtime(format!("filling volume {}: {e}", m.source)))?;
        if let Ok(st) = rustix::fs::fstat(&src) {
            let _ = rustix::fs::fchown(
                &dst,
                Some(rustix::fs::Uid::from_raw(st.st_uid)),
                Some(rustix::fs::Gid::from_raw(st.st_gid)),
            );
            let _ = rustix::fs::fchmod(&dst, rustix::fs::Mode::from_raw_mode(st.st_mode & 0o7777));
        }
    }
    Ok(())
}

/// Fills a new container's empty volumes at create time (as Docker does: a data-volume
/// container that is never started still lends filled volumes), through a short-lived
/// mount of its rootfs.
pub fn fill_at_create(
    images: &rbox_image::Store,
    containers: &Containers,
    config: &crate::model::container::ContainerConfig,
) -> Result<()> {
    if !config
        .host
        .mounts
        .iter()
        .any(|m| m.kind == MountKind::Volume)
    {
        return Ok(());
    }
    let dir = containers.dir(&config.id);
    let lowers: Vec<PathBuf> = config
        .layers
        .iter()
        .map(|l| l.parse().map(|d| images.snapshot_fs(&d)))
        .collect::<rbox_image::Result<_>>()?;
    if lowers.is_empty() {
        return Ok(());
    }
    let _lock = containers.lock(&config.id)?;
    let target = dir.join("rootfs");
    crate::host::rootfs::mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &target)?;
    let filled = fill_empty_volumes(containers, config, &target);
    crate::host::rootfs::unmount(&target)?;
    filled
}
