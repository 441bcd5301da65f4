//! Network namespaces kept by a path, as `ip netns` and CNI keep them: a bind mount of the
//! namespace on a file under /run/netns.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Where rbox's network namespaces are: `ip netns` lists them.
pub const NETNS_DIR: &str = "/run/netns";

/// The path of a container's network namespace.
pub fn path_for(container_id: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(format!(
        "rbox-{}",
        &container_id[..container_id.len().min(16)]
    ))
}

/// Makes a new network namespace at `path` and runs `inside` in it (on this thread), then
/// comes back to the caller's namespace. On error nothing is left at `path`.
pub fn create<T>(path: &Path, inside: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    std::fs::create_dir_all(NETNS_DIR)?;
    share_dir()?;
    let home = File::open("/proc/thread-self/ns/net")?;
    File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let result = (|| {
        unshare(CloneFlags::CLONE_NEWNET)?;
        let made = (|| {
            mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )?;
            inside()
        })();
        // Whatever happened, this thread goes home.
        setns(home.as_fd(), CloneFlags::CLONE_NEWNET)?;
        made
    })();
    if result.is_err() {
        let _ = remove(path);
    }
    result
}

/// Makes NETNS_DIR a shared mount point of its own, as `ip netns add` does: a namespace's
/// mount then reaches every mount namespace, and no tool that later binds the directory
/// over itself (one that finds it a plain directory) can hide the mounts made before.
fn share_dir() -> io::Result<()> {
    let shared = || {
        mount(
            None::<&str>,
            NETNS_DIR,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it onto itself, then share it.
        Err(nix::errno::Errno::EINVAL) => {
            mount(
                Some(NETNS_DIR),
                NETNS_DIR,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
            Ok(shared()?)
        }
        Err(e) => Err(io::Error::new(
            io::Error::from(e).kind(),
            format!("making {NETNS_DIR} a shared mount: {e}"),
        )),
    }
}

/// Runs `f` inside the namespace at `path`, then comes back.
pub fn enter<T>(path: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(path)?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET)?;
    let r = f();
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET)?;
    r
}

/// Unmounts and removes a namespace's file; one that isn't there is not an error. The
/// namespace itself goes when nothing holds it any more.
pub fn remove(path: &Path) -> io::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_made_at_a_path_entered_and_removed() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: making network namespaces needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ns");
        // On a thread of its own: the namespace calls change the calling thread only.
        let p = path.clone();
        std::thread::spawn(move || {
            let home = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
            let inode = create(&p, || std::fs::read_link("/proc/thread-self/ns/net")).unwrap();
            assert_ne!(inode, home, "the namespace made is a new one");
            // The directory is a shared mount point of its own, so nothing bound over it
            // later hides what is mounted in it.
            let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            let line = info
                .lines()
                .rfind(|l| l.split(' ').nth(4) == Some(NETNS_DIR))
                .unwrap_or_else(|| panic!("{NETNS_DIR} is not a mount point:\n{info}"));
            assert!(line.contains(" shared:"), "{line}");
            assert_eq!(
                std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
                home
            );
            let seen = enter(&p, || std::fs::read_link("/proc/thread-self/ns/net")).unwrap();
            assert_eq!(seen, inode);
            // Only loopback there, down.
            let links = enter(&p, || {
                let mut nl = crate::netlink::Netlink::open()?;
                Ok((nl.link_index("lo")?, nl.link_index("eth0")?))
            })
            .unwrap();
            assert!(links.0.is_some() && links.1.is_none());
            remove(&p).unwrap();
            assert!(!p.exists());
            // Removing what isn't there is not an error.
            remove(&p).unwrap();
        })
        .join()
        .unwrap();
        // A failure inside leaves nothing at the path.
        let p = path.clone();
        std::thread::spawn(move || {
            let r: io::Result<()> = create(&p, || Err(io::Error::other("no")));
            assert!(r.is_err() && !p.exists());
        })
        .join()
        .unwrap();
    }
}
