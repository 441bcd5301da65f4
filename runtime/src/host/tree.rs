//! Copying a tree between two open directories, entry by entry, following no entry:
//! regular files (hard links kept as links), directories, symlinks (as symlinks), fifos
//! and device nodes, with their modes, times and the chosen ownership.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid};
use rustix::io::Errno;

/// What can go wrong copying a tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// A directory and a non-directory never replace each other (as Docker's extraction).
    #[error("cannot overwrite {existing} {destination} with {copied} {source_path}")]
    Overwrite {
        /// `directory` or `non-directory`: what is there.
        existing: &'static str,
        /// Where.
        destination: String,
        /// `directory` or `non-directory`: what is copied.
        copied: &'static str,
        /// What is copied.
        source_path: String,
    },
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Who owns what a copy creates.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// The source's uid and gid.
    Source,
    /// This uid and gid.
    Fixed(u32, u32),
}

/// An entry named in an open directory, and how to show it.
pub struct At<'a> {
    dir: &'a OwnedFd,
    name: &'a OsStr,
    shown: &'a str,
}

impl<'a> At<'a> {
    pub fn new(dir: &'a OwnedFd, name: &'a OsStr, shown: &'a str) -> At<'a> {
        At { dir, name, shown }
    }
}

/// Copies entries between open directories, following no entry.
pub struct Copier {
    owner: Owner,
    /// Bytes of regular file content copied so far.
    pub bytes: u64,
    /// The directory the destination paths in `links` start from.
    top: OwnedFd,
    /// Files with several links, by (device, inode), and where their first copy went:
    /// the others become links to it, as in docker's tar, not copies.
    links: HashMap<(u64, u64), Vec<OsString>>,
}

impl Copier {
    /// A copier whose destination paths start at `top`.
    pub fn new(owner: Owner, top: OwnedFd) -> Copier {
        Copier {
            owner,
            bytes: 0,
            top,
            links: HashMap::new(),
        }
    }

    fn ids(&self, st: &Stat) -> (Option<Uid>, Option<Gid>) {
        let (u, g) = match self.owner {
            Owner::Source => (st.st_uid, st.st_gid),
            Owner::Fixed(u, g) => (u, g),
        };
        (Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))
    }

    /// Copies every entry of the directory `s` into the directory `d.dir` (whose path
    /// from the top is `rel`).
    pub fn contents(
        &mut self,
        s: &OwnedFd,
        sshow: &str,
        d: &At<'_>,
        rel: &[OsString],
    ) -> Result<(), TreeError> {
        let mut names = Vec::new();
        let dir = rustix::fs::Dir::read_from(s).map_err(|e| io_error(sshow, e))?;
        for ent in dir {
            let ent = ent.map_err(|e| io_error(sshow, e))?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_owned());
            }
        }
        names.sort();
        for n in names {
            let sp = format!("{}/{}", sshow.trim_end_matches('/'), lossy(&n));
            let dp = format!("{}/{}", d.shown.trim_end_matches('/'), lossy(&n));
            self.entry(&At::new(s, &n, &sp), &At::new(d.dir, &n, &dp), rel)?;
        }
        Ok(())
    }

    /// Copies the entry `s` to the entry `d`, whose directory's path from the top is
    /// `rel`.
    pub fn entry(&mut self, s: &At<'_>, d: &At<'_>, rel: &[OsString]) -> Result<(), TreeError> {
        let (sp, sn, sshow) = (s.dir, s.name, s.shown);
        let (dp, dn, dshow) = (d.dir, d.name, d.shown);
        let st = rustix::fs::statat(sp, sn, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_error(sshow, e))?;
        let ft = kind(&st);
        let existing = match rustix::fs::statat(dp, dn, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(e) => Some(kind(&e)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(io_error(dshow, e)),
        };
        let at = |e: Errno| io_error(dshow, e);
        // As docker's extraction: a directory and a non-directory never replace each other.
        let dir_there = existing == Some(FileType::Directory);
        if existing.is_some() && dir_there != (ft == FileType::Directory) {
            let what = |dir: bool| if dir { "directory" } else { "non-directory" };
            return Err(TreeError::Overwrite {
                existing: what(dir_there),
                destination: dshow.to_owned(),
                copied: what(!dir_there),
                source_path: sshow.to_owned(),
            });
        }
        if ft == FileType::Directory {
            if !dir_there {
                rustix::fs::mkdirat(dp, dn, Mode::from_raw_mode(0o700)).map_err(at)?;
            }
            let sd = open_dir(sp, sn).map_err(|e| io_error(sshow, e))?;
            let dd = open_dir(dp, dn).map_err(at)?;
            let child: Vec<OsString> = rel.iter().cloned().chain([dn.to_owned()]).collect();
            self.contents(&sd, sshow, &At::new(&dd, dn, dshow), &child)?;
            // Last: creating the children moved its times.
            return self.finish(&dd, &st).map_err(at);
        }
        if existing.is_some() {
            rustix::fs::unlinkat(dp, dn, AtFlags::empty()).map_err(at)?;
        }
        match ft {
            FileType::RegularFile => {
                let key = (st.st_dev as u64, st.st_ino as u64);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        // Else (the first copy is gone or elsewhere) a copy of its own.
                        if self.link_to(first, dp, dn).is_ok() {
                            return Ok(());
                        }
                    }
                }
                let s = rustix::fs::openat(
                    sp,
                    sn,
                    OFlags::RDONLY
                        | OFlags::NOFOLLOW
                        | OFlags::NONBLOCK
                        | OFlags::NOCTTY
                        | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_error(sshow, e))?;
                // It may have been swapped since the stat: copy what was opened, if a file.
                let st = rustix::fs::fstat(&s).map_err(|e| io_error(sshow, e))?;
                if kind(&st) != FileType::RegularFile {
                    return Err(io_error(sshow, Errno::INVAL));
                }
                let d = rustix::fs::openat(
                    dp,
                    dn,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(at)?;
                let (mut r, mut w) = (File::from(s), File::from(d));
                self.bytes += io::copy(&mut r, &mut w).map_err(|e| TreeError::Io {
                    path: dshow.to_owned(),
                    source: e,
                })?;
                self.finish(&w, &st).map_err(at)?;
                if st.st_nlink > 1 {
                    let path = rel.iter().cloned().chain([dn.to_owned()]).collect();
                    self.links.entry(key).or_insert(path);
                }
                Ok(())
            }
            FileType::Symlink => {
                let target =
                    rustix::fs::readlinkat(sp, sn, Vec::new()).map_err(|e| io_error(sshow, e))?;
                rustix::fs::symlinkat(target.as_c_str(), dp, dn).map_err(at)?;
                self.finish_at(dp, dn, &st).map_err(at)
            }
            FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
                let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
                rustix::fs::mknodat(dp, dn, ft, mode, st.st_rdev).map_err(at)?;
                self.finish_at(dp, dn, &st).map_err(at)?;
                // mknod's mode went through the umask. chmod follows links, so it is done
                // on the node itself through its O_PATH fd.
                let node = rustix::fs::openat(
                    dp,
                    dn,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(at)?;
                if rustix::fs::fstat(&node).is_ok_and(|n| kind(&n) == ft) {
                    let magic = format!("/proc/self/fd/{}", node.as_raw_fd());
                    rustix::fs::chmod(magic.as_str(), mode).map_err(at)?;
                }
                Ok(())
            }
            // Sockets are not copied (tar, and so docker, skips them too).
            _ => Ok(()),
        }
    }

    /// Hard-links `dn` in `dp` to the copy at `first` (from the top), reached without
    /// following any link.
    fn link_to(&self, first: &[OsString], dp: &OwnedFd, dn: &OsStr) -> Result<(), Errno> {
        let Some((name, dirs)) = first.split_last() else {
            return Err(Errno::INVAL);
        };
        let mut dir = self.top.try_clone().map_err(|_| Errno::BADF)?;
        for c in dirs {
            dir = open_dir(&dir, c)?;
        }
        rustix::fs::linkat(&dir, name, dp, dn, AtFlags::empty())
    }

    /// Ownership, then mode (chown clears set-id bits), then times, on an open entry.
    fn finish(&self, fd: impl AsFd, st: &Stat) -> Result<(), Errno> {
        let fd = fd.as_fd();
        let (u, g) = self.ids(st);
        rustix::fs::fchown(fd, u, g)?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))?;
        rustix::fs::futimens(fd, &times(st))
    }

    /// Ownership and times of a link or node, by name and without following it.
    fn finish_at(&self, dp: &OwnedFd, dn: &OsStr, st: &Stat) -> Result<(), Errno> {
        let (u, g) = self.ids(st);
        rustix::fs::chownat(dp, dn, u, g, AtFlags::SYMLINK_NOFOLLOW)?;
        rustix::fs::utimensat(dp, dn, &times(st), AtFlags::SYMLINK_NOFOLLOW)
    }
}

pub fn kind(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

fn times(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

/// Opens the directory `name` of `parent`, refusing a symlink in its place.
pub fn open_dir(parent: &OwnedFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

pub fn lossy(n: &OsStr) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(n.as_bytes())
}

pub fn io_error(path: impl Into<String>, e: Errno) -> TreeError {
    TreeError::Io {
        path: path.into(),
        source: e.into(),
    }
}
/// Copies everything in the directory `src` into the directory `dst`, keeping ownership,
/// modes, times and links, following no entry (a new volume filled with the image's
/// content at its mount point). Returns the bytes of file content copied.
pub fn copy_dir_contents(src: &OwnedFd, dst: &OwnedFd, shown: &str) -> Result<u64, TreeError> {
    let top = dst.try_clone().map_err(|e| {
        io_error(
            shown,
            rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO),
        )
    })?;
    let mut copier = Copier::new(Owner::Source, top);
    copier.contents(
        src,
        shown,
        &At::new(dst, std::ffi::OsStr::new("."), shown),
        &[],
    )?;
    Ok(copier.bytes)
}
