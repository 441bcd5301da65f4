//! Applying a layer tar to a snapshot directory, safely.
//!
//! Every entry is created relative to an open directory fd, and every path component is
//! opened with `O_NOFOLLOW`: extraction never follows a link, so nothing an archive says can
//! reach outside the snapshot. An entry's name (and a hard link's target) is taken relative to
//! the snapshot root, as docker and containerd take it: `/etc/passwd`, `./etc/passwd` and
//! `etc/passwd` are one file, `/` is the root (umoci and other tools write such names).
//! Entries that name a place outside it (`..`, a path through a symlink, a hard link to
//! outside, a relative symlink climbing above the root) are refused with the entry's name. OCI whiteouts become overlayfs whiteouts: `.wh.X`
//! a 0/0 character device `X`, `.wh..wh..opq` the `trusted.overlay.opaque` xattr on its
//! directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use crate::digest::{Digest, HashingReader};
use crate::error::{Error, IoContext, Result};
use crate::limits::{shown, Guard, Limits};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What applying a layer found out about it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The sha256 of the uncompressed tar stream: the layer's diff ID.
    pub diff_id: Digest,
    /// Bytes of regular file content in the layer.
    pub content_size: u64,
}

/// Unpacks the uncompressed tar stream `tar_stream` into the existing, empty directory `dest`,
/// within the default [`Limits`] (or those the environment sets).
pub fn apply(tar_stream: impl Read, dest: &Path) -> Result<Applied> {
    apply_with_limits(tar_stream, dest, Limits::default())
}

/// Unpacks `tar_stream` into `dest`, refusing it as soon as it goes over `limits`.
pub fn apply_with_limits(tar_stream: impl Read, dest: &Path, limits: Limits) -> Result<Applied> {
    // The digest is of the stream as it came, inside the guard: not of the end the guard
    // gives an archive that stops at its last data (see limits.rs).
    let guard = Guard::new(HashingReader::new(tar_stream), limits);
    let refusal = guard.refusal();
    apply_guarded(guard, dest).map_err(|e| match refusal.get() {
        Some(why) => Error::LayerLimit(why),
        None => e,
    })
}

fn apply_guarded<R: Read>(mut guard: Guard<HashingReader<R>>, dest: &Path) -> Result<Applied> {
    let root: OwnedFd = File::open(dest).at(dest)?.into();
    let mut archive = tar::Archive::new(&mut guard);
    let mut dir_times: Vec<(Vec<Vec<u8>>, i64)> = Vec::new();
    let mut content_size = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| Error::BadArchive(shown(&e.to_string())))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::BadArchive(shown(&e.to_string())))?;
        // Shown cut short in errors: a GNU long name can be a megabyte.
        let name = shown(&String::from_utf8_lossy(&entry.path_bytes()));
        let unsafe_entry = |reason: &str| Error::UnsafeEntry {
            entry: name.clone(),
            reason: reason.to_owned(),
        };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let path = entry.path_bytes().into_owned();
        let comps = layer_components(&path).map_err(unsafe_entry)?;
        let meta = Meta::of(&mut entry).map_err(|e| Error::BadArchive(format!("{name}: {e}")))?;

        let Some((last, parents)) = comps.split_last() else {
            // The archive's own root ("./"): it describes the snapshot root.
            meta.apply_fd(&root).at(dest)?;
            dir_times.push((Vec::new(), meta.mtime));
            continue;
        };
        let parent = open_dir_path(&root, parents, true).map_err(|e| e.into_error(&name))?;

        if *last == OPAQUE_MARKER {
            // An empty regular file, nothing else: the marker only names its directory.
            if !kind.is_file() || entry.size() != 0 {
                return Err(unsafe_entry(
                    "an opaque whiteout marker must be an empty regular file",
                ));
            }
            rustix::fs::fsetxattr(&parent, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                .map_err(|e| Error::io(dest.join(&name), e.into()))?;
            continue;
        }
        if let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX) {
            whiteout_target(hidden).map_err(unsafe_entry)?;
            clear(&parent, hidden).map_err(|e| Error::io(dest.join(&name), e.into()))?;
            rustix::fs::mknodat(
                &parent,
                OsStr::from_bytes(hidden),
                FileType::CharacterDevice,
                Mode::empty(),
                0,
            )
            .map_err(|e| Error::io(dest.join(&name), e.into()))?;
            continue;
        }

        let last = OsStr::from_bytes(last);
        let at = |e: Errno| Error::io(dest.join(&name), e.into());
        if kind.is_dir() {
            match rustix::fs::statat(&parent, last, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                Ok(_) => {
                    clear(&parent, last.as_bytes()).map_err(at)?;
                    rustix::fs::mkdirat(&parent, last, Mode::from_raw_mode(0o700)).map_err(at)?;
                }
                Err(Errno::NOENT) => {
                    rustix::fs::mkdirat(&parent, last, Mode::from_raw_mode(0o700)).map_err(at)?
                }
                Err(e) => return Err(at(e)),
            }
            let fd = rustix::fs::openat(
                &parent,
                last,
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(at)?;
            meta.apply_fd(&fd).at(dest.join(&name))?;
            dir_times.push((comps.iter().map(|c| c.to_vec()).collect(), meta.mtime));
            continue;
        }
        clear(&parent, last.as_bytes()).map_err(at)?;
        if kind.is_file() || kind == tar::EntryType::Continuous {
            let fd = rustix::fs::openat(
                &parent,
                last,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(at)?;
            let mut file = File::from(fd);
            content_size += io::copy(&mut entry, &mut file).at(dest.join(&name))?;
            meta.apply_fd(&file).at(dest.join(&name))?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| unsafe_entry("symlink without a target"))?
                .into_owned();
            if symlink_escapes(parents.len(), &target) {
                return Err(unsafe_entry(&format!(
                    "symlink target {:?} points outside the layer",
                    shown(&String::from_utf8_lossy(&target))
                )));
            }
            rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, last).map_err(at)?;
            meta.apply_nofollow(&parent, last).map_err(at)?;
        } else if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| unsafe_entry("hard link without a target"))?
                .into_owned();
            let tcomps = layer_components(&target).map_err(|r| {
                unsafe_entry(&format!(
                    "hard link target {:?}: {r}",
                    shown(&String::from_utf8_lossy(&target))
                ))
            })?;
            let Some((tlast, tparents)) = tcomps.split_last() else {
                return Err(unsafe_entry("hard link to the layer root"));
            };
            let tparent = open_dir_path(&root, tparents, false).map_err(|e| e.into_error(&name))?;
            // A hard link to a symlink is that symlink at another depth: a relative target
            // that stayed inside where it was may climb out from here.
            if let Ok(link) = rustix::fs::readlinkat(&tparent, OsStr::from_bytes(tlast), Vec::new())
            {
                if symlink_escapes(parents.len(), link.as_bytes()) {
                    return Err(unsafe_entry(&format!(
                        "hard link to a symlink whose target {:?} points outside the layer from here",
                        shown(&link.to_string_lossy())
                    )));
                }
            }
            rustix::fs::linkat(
                &tparent,
                OsStr::from_bytes(tlast),
                &parent,
                last,
                AtFlags::empty(),
            )
            .map_err(at)?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            let ft = if kind.is_character_special() {
                FileType::CharacterDevice
            } else if kind.is_block_special() {
                FileType::BlockDevice
            } else {
                FileType::Fifo
            };
            let dev = rustix::fs::makedev(
                entry.header().device_major().ok().flatten().unwrap_or(0),
                entry.header().device_minor().ok().flatten().unwrap_or(0),
            );
            match rustix::fs::mknodat(&parent, last, ft, Mode::from_raw_mode(meta.mode), dev) {
                Ok(()) => meta.apply_nofollow(&parent, last).map_err(at)?,
                // Device nodes only where the kernel allows them (not in a user namespace).
                Err(Errno::PERM) => {
                    tracing::warn!(entry = %name, "device node not permitted here; skipped")
                }
                Err(e) => return Err(at(e)),
            }
        } else {
            tracing::debug!(entry = %name, ?kind, "tar entry type ignored");
        }
    }
    // Directory times last: creating their children moved them.
    for (comps, mtime) in dir_times.iter().rev() {
        let t = Timespec {
            tv_sec: *mtime,
            tv_nsec: 0,
        };
        let times = Timestamps {
            last_access: t,
            last_modification: t,
        };
        let res = match comps.split_last() {
            None => rustix::fs::futimens(&root, &times),
            Some((last, parents)) => match open_dir_path(&root, &as_slices(parents), false) {
                Ok(p) => rustix::fs::utimensat(
                    &p,
                    OsStr::from_bytes(last),
                    &times,
                    AtFlags::SYMLINK_NOFOLLOW,
                ),
                Err(_) => continue, // removed by a later entry
            },
        };
        match res {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(Error::io(dest, e.into())),
        }
    }
    // The rest of the stream (after the end blocks) is hashed too, under the guard's limit.
    io::copy(&mut guard, &mut io::sink()).at(dest)?;
    let (diff_id, _) = guard.into_inner().finish().at(dest)?;
    Ok(Applied {
        diff_id,
        content_size,
    })
}

/// Refuses a whiteout `.wh.<hidden>` that hides no entry of its directory: `.wh.` (no
/// name), `.wh..` and `.wh...` (the directory itself and its parent: a whiteout removes what
/// it names, so these would remove the snapshot's own directory or what is above it), and
/// `.wh..wh.*` other than the opaque marker (aufs metadata, which overlay has no meaning for).
pub(crate) fn whiteout_target(hidden: &[u8]) -> std::result::Result<(), &'static str> {
    match hidden {
        b"" => Err("a whiteout without a name"),
        b"." | b".." => Err("a whiteout of '.' or '..' (it would remove a directory above)"),
        h if h.starts_with(WHITEOUT_PREFIX) => {
            Err("a '.wh..wh.' name other than the opaque marker '.wh..wh..opq'")
        }
        _ => Ok(()),
    }
}

fn as_slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

/// Splits a layer entry's name (or a hard link's target) into its components, relative to
/// the layer's root whether it starts with `/`, `./` or neither; refuses `..`.
pub(crate) fn layer_components(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    let start = raw.iter().position(|b| *b != b'/').unwrap_or(raw.len());
    clean_components(&raw[start..])
}

/// Splits an archive path into its components, refusing absolute paths and `..`.
pub(crate) fn clean_components(raw: &[u8]) -> std::result::Result<Vec<&[u8]>, &'static str> {
    if raw.starts_with(b"/") {
        return Err("absolute path");
    }
    if raw.contains(&0) {
        return Err("NUL byte in path");
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("path contains '..'"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Whether a relative symlink target, placed `depth` directories below the root, climbs
/// above the root. Absolute targets resolve inside the container's root and are allowed.
pub(crate) fn symlink_escapes(depth: usize, target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let mut depth = depth as isize;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// Why a directory path could not be opened.
pub(crate) enum WalkError {
    /// A component is a symlink.
    Symlink(String),
    /// A component is not a directory.
    NotDir(String),
    /// A component is missing (and was not to be created).
    Missing(String),
    /// Anything else.
    Io(String, Errno),
}

impl WalkError {
    fn into_error(self, entry: &str) -> Error {
        let unsafe_entry = |reason: String| Error::UnsafeEntry {
            entry: entry.to_owned(),
            reason,
        };
        match self {
            WalkError::Symlink(p) => {
                unsafe_entry(format!("path goes through the symlink {:?}", shown(&p)))
            }
            WalkError::NotDir(p) => unsafe_entry(format!("{:?} is not a directory", shown(&p))),
            WalkError::Missing(p) => {
                unsafe_entry(format!("{:?} does not exist in the layer", shown(&p)))
            }
            WalkError::Io(p, e) => Error::io(shown(&p), e.into()),
        }
    }
}

/// Opens the directory `comps` below `root` without following any symlink, creating
/// missing directories (mode 0755) if `create`.
pub(crate) fn open_dir_path(
    root: &OwnedFd,
    comps: &[&[u8]],
    create: bool,
) -> std::result::Result<OwnedFd, WalkError> {
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let mut cur = rustix::fs::openat(root, ".", flags, Mode::empty())
        .map_err(|e| WalkError::Io(".".into(), e))?;
    for (i, c) in comps.iter().enumerate() {
        let name = OsStr::from_bytes(c);
        let shown = || {
            comps[..=i]
                .iter()
                .map(|c| String::from_utf8_lossy(c))
                .collect::<Vec<_>>()
                .join("/")
        };
        let next = match rustix::fs::openat(&cur, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(WalkError::Io(shown(), e)),
                }
                rustix::fs::openat(&cur, name, flags, Mode::empty())
                    .map_err(|e| WalkError::Io(shown(), e))?
            }
            Err(Errno::NOENT) => return Err(WalkError::Missing(shown())),
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                return Err(
                    match rustix::fs::statat(&cur, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                            WalkError::Symlink(shown())
                        }
                        _ => WalkError::NotDir(shown()),
                    },
                )
            }
            Err(e) => return Err(WalkError::Io(shown(), e)),
        };
        cur = next;
    }
    Ok(cur)
}

/// Removes whatever is at `name` in `parent` (a whole tree for a directory), if anything.
pub(crate) fn clear(parent: &OwnedFd, name: &[u8]) -> std::result::Result<(), Errno> {
    // Only an entry of `parent`: never the directory itself, its parent, or a path.
    if matches!(name, b"" | b"." | b"..") || name.contains(&b'/') {
        return Err(Errno::INVAL);
    }
    let name = OsStr::from_bytes(name);
    match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            remove_tree_at(parent, name)
        }
        Ok(_) => rustix::fs::unlinkat(parent, name, AtFlags::empty()),
    }
}

/// Removes the directory `name` in `parent` and everything below it, following no link.
pub(crate) fn remove_tree_at(parent: &OwnedFd, name: &OsStr) -> std::result::Result<(), Errno> {
    let dir = rustix::fs::openat(
        parent,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for ent in rustix::fs::Dir::read_from(&dir)? {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        names.push((n.to_vec(), ent.file_type() == FileType::Directory));
    }
    for (n, is_dir) in names {
        if is_dir {
            remove_tree_at(&dir, OsStr::from_bytes(&n))?;
        } else {
            rustix::fs::unlinkat(&dir, OsStr::from_bytes(&n), AtFlags::empty())?;
        }
    }
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

/// Ownership, mode, time and xattrs of an entry.
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    fn of<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    // An archive must not plant overlayfs's own attributes (opaque dirs,
                    // redirects): those come only from whiteouts.
                    if !name.starts_with("trusted.overlay.") {
                        xattrs.push((name.to_owned(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        let h = entry.header();
        Ok(Meta {
            // Empty numeric fields read as 0, as Go's archive/tar (and so Docker) reads them.
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mode: h.mode()? & 0o7777,
            mtime: h.mtime().unwrap_or(0) as i64,
            xattrs,
        })
    }

    fn times(&self) -> Timestamps {
        let t = Timespec {
            tv_sec: self.mtime,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: t,
            last_modification: t,
        }
    }

    /// Applies everything to an open file or directory (chown before chmod: chown clears
    /// set-id bits).
    fn apply_fd(&self, fd: impl AsFd) -> io::Result<()> {
        let fd = fd.as_fd();
        rustix::fs::fchown(
            fd,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
        )?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(self.mode))?;
        for (k, v) in &self.xattrs {
            match rustix::fs::fsetxattr(fd, k.as_str(), v, XattrFlags::empty()) {
                Ok(()) => {}
                Err(Errno::NOTSUP) | Err(Errno::PERM) => {
                    tracing::warn!(xattr = %k, "extended attribute not supported here; skipped")
                }
                Err(e) => return Err(e.into()),
            }
        }
        rustix::fs::futimens(fd, &self.times())?;
        Ok(())
    }

    /// Applies ownership and time to a link or node by name (its mode is set at creation).
    fn apply_nofollow(&self, parent: &OwnedFd, name: &OsStr) -> std::result::Result<(), Errno> {
        rustix::fs::chownat(
            parent,
            name,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        rustix::fs::utimensat(parent, name, &self.times(), AtFlags::SYMLINK_NOFOLLOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    /// A tar entry with a raw name and link name, as a hostile archive would have them
    /// (the tar crate's builder refuses to write `..`).
    fn raw(
        tar: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        path: &str,
        link: &str,
        data: &[u8],
    ) {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(1_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        tar.append(&h, data).unwrap();
    }

    fn layer(entries: &[(tar::EntryType, &str, &str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (k, p, l, d) in entries {
            raw(&mut tar, *k, p, l, d);
        }
        tar.into_inner().unwrap()
    }

    use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};

    fn apply_to_temp(bytes: &[u8]) -> (tempfile::TempDir, Result<Applied>) {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("snap");
        std::fs::create_dir(&dest).unwrap();
        let r = apply(bytes, &dest);
        (outer, r)
    }

    /// Everything in `outer` other than the snapshot `snap`.
    fn outside(outer: &Path) -> Vec<String> {
        std::fs::read_dir(outer)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "snap")
            .collect()
    }

    #[test]
    fn regular_trees_are_applied_with_their_metadata() {
        let bytes = layer(&[
            (D, "./", "", b""),
            (D, "./etc/", "", b""),
            (F, "./etc/hostname", "", b"box\n"),
            (S, "./etc/alias", "hostname", b""),
            (S, "./etc/abs", "/etc/hostname", b""),
            (H, "./etc/hard", "./etc/hostname", b""),
            (F, "deep/er/file", "", b"x"),
        ]);
        let (outer, r) = apply_to_temp(&bytes);
        let a = r.unwrap();
        let snap = outer.path().join("snap");
        assert_eq!(std::fs::read(snap.join("etc/hostname")).unwrap(), b"box\n");
        assert_eq!(
            std::fs::read_link(snap.join("etc/alias")).unwrap(),
            Path::new("hostname")
        );
        assert_eq!(
            std::fs::read_link(snap.join("etc/abs")).unwrap(),
            Path::new("/etc/hostname")
        );
        let m = std::fs::metadata(snap.join("etc/hard")).unwrap();
        assert_eq!(m.nlink(), 2);
        assert_eq!(m.permissions().mode() & 0o7777, 0o644);
        assert_eq!(m.mtime(), 1_000_000);
        assert_eq!(
            std::fs::metadata(snap.join("etc")).unwrap().mtime(),
            1_000_000
        );
        assert_eq!(std::fs::read(snap.join("deep/er/file")).unwrap(), b"x");
        assert_eq!(a.content_size, 5);
        assert_eq!(a.diff_id, Digest::of(&bytes));
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let bytes = layer(&[
            (D, "dir/", "", b""),
            (F, "dir/.wh..wh..opq", "", b""),
            (F, "etc/.wh.passwd", "", b""),
        ]);
        let (outer, r) = apply_to_temp(&bytes);
        r.unwrap();
        let snap = outer.path().join("snap");
        let wh = std::fs::symlink_metadata(snap.join("etc/passwd")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(wh.rdev(), 0);
        assert!(!snap.join("etc/.wh.passwd").exists());
        let opaque = rustix::fs::getxattr(snap.join("dir"), OVERLAY_OPAQUE_XATTR, &mut [0u8; 4]);
        assert_eq!(opaque.unwrap(), 1);
        assert!(!snap.join("dir/.wh..wh..opq").exists());
    }

    fn refused(entries: &[(tar::EntryType, &str, &str, &[u8])], entry: &str, why: &str) {
        let (outer, r) = apply_to_temp(&layer(entries));
        match r {
            Err(Error::UnsafeEntry { entry: e, reason }) => {
                assert_eq!(e, entry);
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("{entry}: expected a refusal, got {other:?}"),
        }
        assert!(
            outside(outer.path()).is_empty(),
            "{:?}",
            outside(outer.path())
        );
    }

    #[test]
    fn dot_dot_entries_are_refused() {
        refused(&[(F, "../evil", "", b"x")], "../evil", "..");
        refused(&[(F, "a/../../evil", "", b"x")], "a/../../evil", "..");
    }

    #[test]
    fn absolute_entries_are_taken_relative_to_the_root() {
        let tar = layer(&[
            (D, "/", "", b""),
            (D, "/etc/", "", b""),
            (F, "/etc/passwd", "", b"root:x:0:0::/root:/bin/sh\n"),
            (F, "./etc/group", "", b"root:x:0:\n"),
            (H, "/etc/passwd-", "/etc/passwd", b""),
        ]);
        let (outer, r) = apply_to_temp(&tar);
        r.unwrap();
        let snap = outer.path().join("snap");
        let passwd = std::fs::read(snap.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with(b"root:"));
        assert!(snap.join("etc/group").is_file());
        assert_eq!(std::fs::read(snap.join("etc/passwd-")).unwrap(), passwd);
        assert_eq!(outside(outer.path()), Vec::<String>::new());
        refused(&[(F, "/../evil", "", b"x")], "/../evil", "..");
        refused(
            &[(S, "/link", "/tmp", b""), (F, "/link/evil", "", b"x")],
            "/link/evil",
            "symlink",
        );
    }

    #[test]
    fn symlinks_climbing_out_are_refused() {
        refused(&[(S, "link", "../../etc", b"")], "link", "outside");
    }

    #[test]
    fn paths_through_symlinks_are_refused() {
        refused(
            &[(S, "link", "/tmp", b""), (F, "link/evil", "", b"x")],
            "link/evil",
            "symlink",
        );
        refused(
            &[(S, "up", ".", b""), (F, "up/up/evil", "", b"x")],
            "up/up/evil",
            "symlink",
        );
    }

    #[test]
    fn hard_links_out_of_the_layer_are_refused() {
        refused(&[(H, "hard", "../../etc/passwd", b"")], "hard", "..");
        refused(&[(H, "hard", "/../etc/passwd", b"")], "hard", "..");
        refused(
            &[(S, "link", "/etc", b""), (H, "hard", "link/passwd", b"")],
            "hard",
            "symlink",
        );
    }

    #[test]
    fn a_hard_link_cannot_move_a_symlink_to_where_it_climbs_out() {
        refused(
            &[
                (D, "a/", "", b""),
                (S, "a/up", "..", b""),
                (H, "top", "a/up", b""),
            ],
            "top",
            "outside",
        );
        // At the same depth or deeper it stays inside, and is kept.
        let (outer, r) = apply_to_temp(&layer(&[
            (D, "a/", "", b""),
            (D, "b/", "", b""),
            (S, "a/up", "..", b""),
            (H, "b/up", "a/up", b""),
        ]));
        r.unwrap();
        assert_eq!(
            std::fs::read_link(outer.path().join("snap/b/up")).unwrap(),
            Path::new("..")
        );
    }

    #[test]
    fn an_archive_cannot_plant_overlay_attributes() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        tar.append_pax_extensions([("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..])])
            .unwrap();
        tar.append_data(&mut h, "dir", &b""[..]).unwrap();
        let (outer, r) = apply_to_temp(&tar.into_inner().unwrap());
        r.unwrap();
        let got = rustix::fs::getxattr(
            outer.path().join("snap/dir"),
            OVERLAY_OPAQUE_XATTR,
            &mut [0u8; 4],
        );
        assert!(got.is_err(), "opaque xattr was planted");
    }

    #[test]
    fn a_later_entry_replaces_an_earlier_one() {
        let bytes = layer(&[
            (F, "a", "", b"old"),
            (F, "a", "", b"new"),
            (D, "b/", "", b""),
            (F, "b/x", "", b""),
            (S, "b", "a", b""),
        ]);
        let (outer, r) = apply_to_temp(&bytes);
        r.unwrap();
        let snap = outer.path().join("snap");
        assert_eq!(std::fs::read(snap.join("a")).unwrap(), b"new");
        assert!(std::fs::symlink_metadata(snap.join("b"))
            .unwrap()
            .is_symlink());
    }

    #[test]
    fn components_refuse_escapes() {
        assert_eq!(clean_components(b"./a/b/").unwrap(), vec![&b"a"[..], b"b"]);
        assert!(clean_components(b"./").unwrap().is_empty());
        assert!(clean_components(b"/etc/passwd").is_err());
        assert!(clean_components(b"a/../../b").is_err());
        assert!(clean_components(b"..").is_err());
        assert_eq!(
            layer_components(b"/etc/passwd").unwrap(),
            vec![&b"etc"[..], b"passwd"]
        );
        assert_eq!(
            layer_components(b"./etc/passwd").unwrap(),
            layer_components(b"etc/passwd").unwrap()
        );
        assert!(layer_components(b"/").unwrap().is_empty());
        assert!(layer_components(b"//").unwrap().is_empty());
        assert!(layer_components(b"/../etc").is_err());
        assert!(layer_components(b"/a/../../b").is_err());
    }

    #[test]
    fn symlink_targets_climbing_above_the_root_escape() {
        assert!(!symlink_escapes(0, b"/etc/passwd"));
        assert!(!symlink_escapes(0, b"busybox"));
        assert!(!symlink_escapes(1, b"../bin/busybox"));
        assert!(symlink_escapes(0, b"../etc"));
        assert!(symlink_escapes(1, b"../../etc"));
        assert!(!symlink_escapes(2, b"a/../../../x"));
        assert!(symlink_escapes(2, b"a/../../../../x"));
    }

    #[test]
    fn whiteouts_of_dot_and_dot_dot_are_refused_and_remove_nothing() {
        for name in [
            "a/.wh..",
            "a/.wh...",
            ".wh...",
            ".wh..",
            ".wh.",
            "a/.wh..wh.plnk",
        ] {
            let outer = tempfile::tempdir().unwrap();
            let dest = outer.path().join("snap");
            std::fs::create_dir(&dest).unwrap();
            std::fs::write(outer.path().join("sibling"), b"keep").unwrap();
            let bytes = layer(&[
                (D, "a/", "", b""),
                (F, "a/keep", "", b"x"),
                (F, name, "", b""),
            ]);
            match apply(&bytes[..], &dest) {
                Err(Error::UnsafeEntry { entry, reason }) => {
                    assert_eq!(entry, name);
                    assert!(
                        reason.contains("whiteout") || reason.contains(".wh."),
                        "{reason}"
                    );
                }
                other => panic!("{name}: expected a refusal, got {other:?}"),
            }
            assert_eq!(
                std::fs::read(outer.path().join("sibling")).unwrap(),
                b"keep"
            );
            assert_eq!(std::fs::read(dest.join("a/keep")).unwrap(), b"x", "{name}");
        }
    }

    #[test]
    fn an_opaque_marker_with_content_or_as_a_directory_is_refused() {
        refused(
            &[(D, "d/", "", b""), (F, "d/.wh..wh..opq", "", b"data")],
            "d/.wh..wh..opq",
            "empty regular file",
        );
        refused(
            &[(D, "d/", "", b""), (D, "d/.wh..wh..opq/", "", b"")],
            "d/.wh..wh..opq/",
            "empty regular file",
        );
        refused(
            &[(F, "x", "", b""), (S, "d/.wh..wh..opq", "x", b"")],
            "d/.wh..wh..opq",
            "empty regular file",
        );
    }

    #[test]
    fn clear_never_removes_the_directory_or_its_parent() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outer.path().join("a/b")).unwrap();
        let fd: OwnedFd = File::open(outer.path().join("a/b")).unwrap().into();
        for n in [&b"."[..], b"..", b"", b"x/y"] {
            assert_eq!(clear(&fd, n), Err(Errno::INVAL));
        }
        assert!(outer.path().join("a/b").is_dir());
    }
}
