//! Running rbox from a copy of itself that can't be written, so that nothing inside a
//! container can overwrite the rbox binary through `/proc/PID/exe` (CVE-2019-5736): every
//! process that enters a container's namespaces runs from such a copy.
//!
//! The copy is the binary seen through a read-only overlayfs mount that is never attached
//! to any mount tree (as runc does): no bytes are copied, the page cache is shared with the binary on
//! disk, and the process's executable lives on a read-only mount no one can remount. Where
//! that can't be done, a sealed memfd copy of the binary is the fallback.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};

/// The seals that make a memfd immutable.
const SEALS: SealFlags = SealFlags::SEAL
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::WRITE);

/// A sealed, close-on-exec memfd holding a copy of the running executable.
pub fn sealed_copy() -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("rbox", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    let mut src = File::open("/proc/self/exe")?;
    let mut dst = File::from(fd);
    io::copy(&mut src, &mut dst)?;
    rustix::fs::fcntl_add_seals(&dst, SEALS)?;
    Ok(dst.into())
}

/// Whether the running executable is such a sealed copy.
pub fn running_sealed() -> bool {
    File::open("/proc/self/exe")
        .ok()
        .and_then(|f| rustix::fs::fcntl_get_seals(f.as_fd()).ok())
        .is_some_and(|s| s.contains(SealFlags::WRITE))
}

/// Whether the running executable can't be written: a sealed memfd or a file on a
/// read-only mount.
pub fn running_protected() -> bool {
    running_sealed()
        || File::open("/proc/self/exe")
            .ok()
            .and_then(|f| rustix::fs::fstatvfs(&f).ok())
            .is_some_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// An fd of the running executable that can't be written: through a detached read-only
/// overlay if possible, else a sealed memfd copy.
pub fn protected_exe() -> io::Result<OwnedFd> {
    match read_only_view() {
        Ok(fd) => Ok(fd),
        Err(e) => {
            tracing::debug!(error = %e, "no read-only view of the binary; copying it");
            sealed_copy()
        }
    }
}

/// An empty directory, the second layer of the read-only overlay (overlayfs needs two lower
/// layers without an upper one). Made once and kept; in /run, which only root writes.
const EMPTY_LAYER: &str = "/run/.rbox-empty-layer";

/// Opens the running executable through a read-only overlayfs mount of its directory that
/// is never attached anywhere (`fsopen`/`fsmount`): the fd stays valid, nothing can be
/// written through it, and a kill at any instant leaves no mount behind.
fn read_only_view() -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
        MountAttrFlags,
    };
    let exe = std::fs::read_link("/proc/self/exe")?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Err(io::Error::other("the executable has no directory"));
    };
    if !exe.is_absolute() || !exe.exists() {
        return Err(io::Error::other("the executable is not a file on disk"));
    }
    let empty = std::path::Path::new(EMPTY_LAYER);
    if empty.starts_with(dir) {
        return Err(io::Error::other(
            "the executable's directory holds the empty layer",
        ));
    }
    match std::fs::create_dir(empty) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let esc = |p: &std::path::Path| {
        p.to_string_lossy()
            .replace('\\', "\\\\")
            .replace(':', "\\:")
            .replace(',', "\\,")
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    // Two lower layers (the binary's directory over an empty one) and no upper one: a
    // read-only overlay.
    fsconfig_set_string(&fs, "lowerdir", format!("{}:{}", esc(dir), esc(empty)))?;
    fsconfig_create(&fs)?;
    let mnt = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV,
    )?;
    Ok(rustix::fs::openat(
        &mnt,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The path that executes `fd` (valid in this process until exec).
pub fn exec_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd))
}

/// Replaces this process with the same command run from a sealed copy of rbox; returns
/// only on failure.
pub fn reexec_sealed() -> io::Error {
    use std::os::unix::process::CommandExt;
    let fd = match protected_exe() {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "rbox".into());
    std::process::Command::new(exec_path(&fd))
        .arg0(arg0)
        .args(args)
        .exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_sealed_against_writes() {
        let fd = sealed_copy().unwrap();
        let seals = rustix::fs::fcntl_get_seals(&fd).unwrap();
        assert!(seals.contains(SealFlags::WRITE));
        let mut f = File::from(fd);
        assert!(io::Write::write(&mut f, b"x").is_err());
        assert!(!running_sealed());
    }
}
