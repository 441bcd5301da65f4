//! Entries found inside a tree (the context, or a stage's or image's root) one component
//! at a time relative to open directory fds, never leaving it.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

/// An entry found inside a tree (the context, or a stage's or image's root): the open
/// directory holding it, its name there (`.` for the root itself), its path from the root
/// as resolved (links followed inside the root), and its status, not following it.
pub(super) struct Found {
    pub(super) dir: OwnedFd,
    pub(super) name: OsString,
    pub(super) rel: PathBuf,
    pub(super) stat: Stat,
}

impl Found {
    pub(super) fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.st_mode)
    }

    /// The entry opened with `flags`, never following it if it is a link.
    pub(super) fn open(&self, flags: OFlags) -> Result<OwnedFd, Errno> {
        rustix::fs::openat(
            &self.dir,
            &self.name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
}

/// Why an entry could not be found inside its tree.
pub(super) enum FindError {
    /// A symlink of the build context leads out of it.
    Out,
    Errno(Errno),
}

impl From<Errno> for FindError {
    fn from(e: Errno) -> FindError {
        FindError::Errno(e)
    }
}

/// Finds `path` (relative, without `.` or `..`) inside the tree open at `root`, one
/// component at a time relative to open directory fds, never leaving the tree: a symlink
/// on the way (and the last component's, when `follow_last`) is followed as if `root`
/// were `/`, which is how the kernel's `RESOLVE_IN_ROOT` resolves it, while the path it
/// leads to is kept for `.dockerignore`. With `strict` (the build context), a link that is
/// absolute or climbs above the root is refused rather than resolved inside it.
pub(super) fn find(
    root: &OwnedFd,
    path: &Path,
    follow_last: bool,
    strict: bool,
) -> Result<Found, FindError> {
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let mut stack: Vec<(OsString, OwnedFd)> = Vec::new();
    let mut links = 0;
    let names = |stack: &[(OsString, OwnedFd)]| -> PathBuf {
        stack.iter().map(|(n, _)| n.as_os_str()).collect()
    };
    while let Some(c) = todo.pop() {
        if c == ".." {
            if stack.pop().is_none() && strict {
                return Err(FindError::Out);
            }
            continue;
        }
        let cur = stack.last().map(|(_, f)| f).unwrap_or(root);
        let st = rustix::fs::statat(cur, &c, AtFlags::SYMLINK_NOFOLLOW)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        let last = todo.is_empty();
        if ft == FileType::Symlink && (!last || follow_last) {
            links += 1;
            if links > 40 {
                return Err(Errno::LOOP.into());
            }
            let target = rustix::fs::readlinkat(cur, &c, Vec::new())?;
            let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                if strict {
                    return Err(FindError::Out);
                }
                stack.clear();
            }
            push_components(&mut todo, &target);
            continue;
        }
        if last {
            let mut rel = names(&stack);
            rel.push(&c);
            return Ok(Found {
                dir: cur.try_clone().map_err(|_| Errno::MFILE)?,
                name: c,
                rel,
                stat: st,
            });
        }
        if ft != FileType::Directory {
            return Err(Errno::NOTDIR.into());
        }
        let fd = rustix::fs::openat(
            cur,
            &c,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        stack.push((c, fd));
    }
    // The path ends at a directory reached by `..` (or is the root itself).
    let (name, rel) = match stack.pop() {
        None => (OsString::from("."), PathBuf::new()),
        Some((n, _)) => {
            let mut rel = names(&stack);
            rel.push(&n);
            (n, rel)
        }
    };
    let dir = stack.last().map(|(_, f)| f).unwrap_or(root);
    Ok(Found {
        stat: rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?,
        dir: dir.try_clone().map_err(|_| Errno::MFILE)?,
        name,
        rel,
    })
}

/// Pushes the components of `path` on `todo` so that popping gives them in order.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::Normal(n) => todo.push(n.to_os_string()),
            Component::ParentDir => todo.push("..".into()),
            _ => {}
        }
    }
}
