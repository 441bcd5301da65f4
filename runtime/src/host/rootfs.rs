//! A container's root filesystem: an overlay of its image's snapshots under its own upper
//! directory, and safe access to paths inside it (resolved as if the rootfs were `/`, so a
//! symlink in the image can never lead outside it).

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, IoContext, Result};

/// Whether `path` is a mount point (its device differs from its parent's, or it is listed
/// in the mount table).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let p = path.to_string_lossy();
    table
        .lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| unescape_mount(m) == p))
}

fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Mounts the overlay of `lowers` (bottom first) with `upper` and `work` at `target`.
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    if is_mounted(target) {
        return Ok(());
    }
    let lower: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| escape_overlay(&p.to_string_lossy()))
        .collect();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        escape_overlay(&upper.to_string_lossy()),
        escape_overlay(&work.to_string_lossy())
    );
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .at(target)
}

/// Overlay options separate with `,` and `:`; a path containing them is escaped.
fn escape_overlay(p: &str) -> String {
    p.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// Unmounts `target` if it is mounted (lazily if it is busy).
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mounted(target) {
        return Ok(());
    }
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => umount2(target, MntFlags::MNT_DETACH).at(target),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io(target, e.into())),
    }
}

/// Opens `root` as the anchor for in-root resolution.
pub fn open_root(root: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(root, e.into()))
}

/// Opens `path` inside `root` as if `root` were `/`: `..` and symlinks (absolute or
/// relative) are resolved without ever leaving it.
pub fn open_in_root(root: &OwnedFd, path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel.as_path()
    };
    let open = || {
        rustix::fs::openat2(
            root,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    };
    // EAGAIN: a rename or mount elsewhere on the host raced a `..` of the path, and the
    // kernel could not be sure it stayed inside; openat2(2) says to try again.
    let mut tries = 1;
    loop {
        match open() {
            Err(rustix::io::Errno::AGAIN) if tries < OPEN_TRIES => tries += 1,
            r => return r,
        }
    }
}

/// How many times `open_in_root` tries a path that keeps racing the host's renames and
/// mounts.
const OPEN_TRIES: u32 = 64;

/// `path` without its leading `/`.
pub fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

/// The largest file `read_in_root` reads (an image's /etc/passwd, /etc/group).
pub const MAX_ETC_FILE: u64 = 4 << 20;

/// Reads a small regular file inside the rootfs; `None` if it doesn't exist. The image
/// chooses what is there: it is opened without blocking (a FIFO or a device never wedges
/// rbox), and anything but a regular file of at most `MAX_ETC_FILE` bytes is refused.
pub fn read_in_root(root: &Path, path: &str) -> Result<Option<String>> {
    let fd = open_root(root)?;
    let shown = || root.join(relative(Path::new(path)));
    let refuse = |why: String| {
        Error::io(
            shown(),
            std::io::Error::new(std::io::ErrorKind::InvalidData, why),
        )
    };
    let f = match open_in_root(
        &fd,
        Path::new(path),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
    ) {
        Ok(f) => f,
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(Error::io(shown(), e.into())),
    };
    let st = rustix::fs::fstat(&f).map_err(|e| Error::io(shown(), e.into()))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(refuse(format!("{path} in the image is not a regular file")));
    }
    if st.st_size as u64 > MAX_ETC_FILE {
        return Err(refuse(format!(
            "{path} in the image is over {MAX_ETC_FILE} bytes"
        )));
    }
    let mut s = String::new();
    File::from(f)
        .take(MAX_ETC_FILE)
        .read_to_string(&mut s)
        .at(shown())?;
    Ok(Some(s))
}

/// Creates the directory `path` and its parents inside the rootfs (as `mkdir -p` would
/// in the container), owned by `uid:gid` where created. Symlinks on the way are followed
/// inside the rootfs, and a dangling one gets its target created, as Docker makes mount
/// points in scope.
pub fn mkdir_all_in_root(root: &Path, path: &Path, uid: u32, gid: u32) -> Result<()> {
    let fd = open_root(root)?;
    mkdir_all_at(
        root,
        &fd,
        &PathBuf::from("/").join(relative(path)),
        uid,
        gid,
        0,
    )
}

fn mkdir_all_at(
    root: &Path,
    fd: &OwnedFd,
    path: &Path,
    uid: u32,
    gid: u32,
    depth: u32,
) -> Result<()> {
    let shown = || root.join(relative(path));
    if open_in_root(fd, path, OFlags::DIRECTORY | OFlags::RDONLY).is_ok() {
        return Ok(());
    }
    if depth > 40 {
        return Err(Error::io(shown(), Errno::LOOP.into()));
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    mkdir_all_at(root, fd, parent, uid, gid, depth + 1)?;
    let pfd = open_in_root(fd, parent, OFlags::DIRECTORY | OFlags::RDONLY)
        .map_err(|e| Error::io(root.join(relative(parent)), e.into()))?;
    match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
        Ok(()) => {
            let _ = rustix::fs::chownat(
                &pfd,
                name,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            );
            Ok(())
        }
        Err(Errno::EXIST) => {
            // A dangling symlink: make what it points to, inside the root.
            let target = rustix::fs::readlinkat(&pfd, name, Vec::new())
                .map_err(|_| Error::io(shown(), Errno::NOTDIR.into()))?;
            let target = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
            let next = if target.is_absolute() {
                target.to_path_buf()
            } else {
                parent.join(target)
            };
            let next: PathBuf = normalize(&next);
            mkdir_all_at(root, fd, &next, uid, gid, depth + 1)
        }
        Err(e) => Err(Error::io(shown(), e.into())),
    }
}

/// `/a/b/../c` → `/a/c`, never above `/`.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Whether `name` contains no path separator and is not `.` or `..`.
pub fn is_plain_name(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
    !b.is_empty() && !b.contains(&b'/') && b != b"." && b != b".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_root_resolution_never_leaves_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        std::fs::write(dir.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink("/../../secret", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../etc/passwd", root.join("rel")).unwrap();
        assert_eq!(
            read_in_root(&root, "/etc/passwd").unwrap().unwrap(),
            "inside"
        );
        assert_eq!(read_in_root(&root, "/rel").unwrap().unwrap(), "inside");
        assert_eq!(read_in_root(&root, "/abs").unwrap(), None);
        assert_eq!(read_in_root(&root, "/../secret").unwrap(), None);
    }

    #[test]
    fn mkdir_all_follows_links_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("link")).unwrap();
        std::os::unix::fs::symlink("/../../outside", root.join("escape")).unwrap();
        mkdir_all_in_root(&root, Path::new("/link/a/b"), 0, 0).unwrap();
        assert!(root.join("real/a/b").is_dir());
        // A dangling link gets its target made, inside the root; nothing outside.
        mkdir_all_in_root(&root, Path::new("/escape/x"), 0, 0).unwrap();
        assert!(!dir.path().join("outside").exists());
        assert!(root.join("outside/x").is_dir());
    }

    #[test]
    fn a_fifo_or_a_device_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        nix::unistd::mkfifo(&root.join("etc/passwd"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_in_root(root, "/etc/passwd").unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        std::os::unix::fs::symlink("/dev/zero", root.join("etc/group")).unwrap();
        // The link resolves inside the root, where there is no /dev/zero.
        assert_eq!(read_in_root(root, "/etc/group").unwrap(), None);
    }
}
