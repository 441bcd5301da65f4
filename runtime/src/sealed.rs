//! Running rbox from a sealed in-memory copy of itself, so that nothing inside a container
//! can overwrite the rbox binary through `/proc/PID/exe` (CVE-2019-5736): every process
//! that enters a container's namespaces runs from such a copy.

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

/// The path that executes `fd` (valid in this process until exec).
pub fn exec_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd))
}

/// Replaces this process with the same command run from a sealed copy of rbox; returns
/// only on failure.
pub fn reexec_sealed() -> io::Error {
    use std::os::unix::process::CommandExt;
    let fd = match sealed_copy() {
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
