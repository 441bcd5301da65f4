//! Layers from upper directories, read relative to open directory fds.
//!
//! A RUN step's upper directory, a COPY's, and a running container's for `rbox commit`
//! become a layer tar here, as image/src/diff.rs writes it (overlay whiteouts back to
//! `.wh.` entries, opaque directories, sorted entries, numeric owners, times clamped to
//! SOURCE_DATE_EPOCH), but every entry is opened relative to its directory's fd with
//! `O_NOFOLLOW`: a container that swaps a directory for a symlink to the host while it is
//! read has the link stored as a link (or the entry left out), never the host's files.
//!
//! A layer made over the one the same step made last (a COPY whose files mostly did not
//! change, linked from that layer's snapshot: [`Base`]) is written through a [`Splice`]:
//! as long as its tar is byte for byte the earlier one's, nothing is written or hashed, and
//! the content of a linked file is not even read; from the first byte that differs on, the
//! blob starts with the earlier blob's bytes (a range of it: the blob is kept spliced, see
//! `rbox_image::spliced`; hashed from the last checkpoint before) and goes on with the
//! tar's own. At the next entry the earlier tar also has (found by path among its entries,
//! read from their headers once), the two are in step again: what is the same from there on
//! goes in as a range of the earlier blob at the next difference, the end, or every
//! [`PASS`] bytes. So a changed, added or removed file costs itself (and, removed, the
//! entry after it), not the rest.
//!
//! A file's content goes into the blob by the kernel's copy (`copy_file_range`), not
//! through the process, and is hashed as read back from the blob: several times faster
//! than writing it, and the digest is of the bytes stored even if the file changes.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rbox_image::diff::Diff;
use rbox_image::digest::Checkpoint;
use rbox_image::snapshot::SnapshotInfo;
use rbox_image::spliced::BlobView;
use rbox_image::store::BlobWriter;
use rbox_image::store::{sync_dir, write_atomic};
use rbox_image::{Digest, Store};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

fn io_err(path: &Path, e: Errno) -> rbox_image::Error {
    rbox_image::Error::io(path, io::Error::from(e))
}

/// Opens directory `name` in `dir`, not following a link.
fn open_dir(dir: impl AsFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The names in the open directory `dir`, sorted.
pub(crate) fn list(dir: &OwnedFd) -> Result<Vec<OsString>, Errno> {
    Ok(list_typed(dir)?.into_iter().map(|(n, _)| n).collect())
}

/// The names in the open directory `dir`, sorted, with the type the directory gives each
/// (`Unknown` where the file system gives none).
fn list_typed(dir: &OwnedFd) -> Result<Vec<(OsString, FileType)>, Errno> {
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(dir)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push((OsStr::from_bytes(n).to_os_string(), e.file_type()));
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

fn header_for(st: &Stat, epoch: Option<u64>) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    let mtime = st.st_mtime.max(0) as u64;
    h.set_mtime(epoch.map_or(mtime, |e| mtime.min(e)));
    h
}

fn xattr(fd: &OwnedFd, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::fgetxattr(fd, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Extended attributes worth keeping (file capabilities and the like; never overlay's), as
/// pax records.
fn kept_xattrs(fd: &OwnedFd) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::flistxattr(fd, &mut names) else {
        return Vec::new();
    };
    let mut exts: Vec<(String, Vec<u8>)> = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(v) = xattr(fd, &name) {
            exts.push((format!("SCHILY.xattr.{name}"), v));
        }
    }
    exts
}

/// The pax header of the extended attributes worth keeping, if any.
fn append_xattrs<W: Write>(b: &mut tar::Builder<W>, fd: &OwnedFd) -> io::Result<()> {
    let exts = kept_xattrs(fd);
    if !exts.is_empty() {
        b.append_pax_extensions(exts.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    Ok(())
}

/// Where a walk writes its tar.
trait Sink: Write {
    /// An entry of `path` comes next (before any extension header of its own).
    fn entry(&mut self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    /// Before the entry of regular file `path`, the very file (a link to it) of the layer
    /// this one is made over: true if the sink is in step with that layer and its next
    /// entry there is `path`'s with no pax header (so no extended attributes, the file's
    /// own).
    fn bare_entry_next(&mut self, _path: &Path) -> bool {
        false
    }

    /// Before the content of a regular file that is the very file (a link to it) of the
    /// layer this one is made over: true if the sink holds those `len` bytes (padding
    /// included) already, so that they need not be read.
    fn holds(&mut self, _len: u64) -> bool {
        false
    }

    /// A regular file's content: exactly `size` bytes, whatever the file does meanwhile
    /// (zeros for what it lacks).
    fn content(&mut self, file: File, size: u64) -> io::Result<()> {
        copy_content(file, size, self)
    }
}

/// Writes exactly `size` bytes of `file` to `out`, zeros for what it lacks.
fn copy_content<W: Write + ?Sized>(file: File, size: u64, out: &mut W) -> io::Result<()> {
    io::copy(
        &mut io::Read::take(io::Read::chain(file, io::repeat(0)), size),
        out,
    )?;
    Ok(())
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn entry(&mut self, path: &Path) -> io::Result<()> {
        (**self).entry(path)
    }
    fn bare_entry_next(&mut self, path: &Path) -> bool {
        (**self).bare_entry_next(path)
    }
    fn holds(&mut self, len: u64) -> bool {
        (**self).holds(len)
    }
    fn content(&mut self, file: File, size: u64) -> io::Result<()> {
        (**self).content(file, size)
    }
}

/// A blob's writer is a sink whose files' contents the kernel copies.
impl Sink for BlobWriter {
    fn content(&mut self, file: File, size: u64) -> io::Result<()> {
        self.append_file(file, size)
    }
}

/// A sink that holds nothing: everything is written to it.
struct Plain<W>(W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Sink for Plain<W> {}

/// The layer a new one is made over: the last layer of the same step (its snapshot lent the
/// new one its unchanged files).
pub struct Base {
    /// Its blob (uncompressed: its diff ID).
    pub blob: Digest,
    /// Its blob's hash checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// The files of the new layer that are links to that layer's own, by path in the layer.
    pub same: HashSet<PathBuf>,
}

/// The sink of a layer made over a [`Base`]; see the module's words.
struct Splice<'a> {
    blob: &'a mut BlobWriter,
    base: &'a Base,
    /// The base's blob.
    base_file: BlobView,
    state: Spliced,
    /// Whether the blob has begun (then the base's bytes go in by [`BlobWriter::append_blob`]).
    begun: bool,
    /// Where in the base the entry being written began, the last time the two were in step.
    last_entry: u64,
    /// Where each of the base's entries from the first difference on begins, by path: found
    /// at the first difference.
    index: Option<HashMap<PathBuf, u64>>,
    /// Bytes of the tar's own written (not the base's).
    written: u64,
    /// The base's bytes last read, and where they are from.
    window: Vec<u8>,
    window_at: u64,
}

/// The base's bytes read at once, at least.
const WINDOW: u64 = 64 << 10;

/// Bytes the same as the base's that are put in the blob at once, at most, past the first
/// difference.
const PASS: u64 = 8 << 20;

/// Where a [`Splice`] stands.
#[derive(Clone, Copy)]
enum Spliced {
    /// The tar's bytes since some point are the base's from `from` to `at`: nothing of
    /// them is written yet.
    Same { from: u64, at: u64 },
    /// The tar's last bytes are its own, written to the blob.
    Own,
}

impl<'a> Splice<'a> {
    fn new(blob: &'a mut BlobWriter, base: &'a Base, base_file: BlobView) -> Self {
        Splice {
            blob,
            base,
            base_file,
            state: Spliced::Same { from: 0, at: 0 },
            begun: false,
            last_entry: 0,
            index: None,
            written: 0,
            window: Vec::new(),
            window_at: 0,
        }
    }

    /// The base's `len` bytes at `at` (which the base has).
    fn base_bytes(&mut self, at: u64, len: usize) -> io::Result<&[u8]> {
        let end = at + len as u64;
        if at < self.window_at || end > self.window_at + self.window.len() as u64 {
            let n = (len as u64).max(WINDOW).min(self.base_file.len() - at);
            self.window.resize(n as usize, 0);
            self.base_file.read_exact_at(&mut self.window, at)?;
            self.window_at = at;
        }
        let from = (at - self.window_at) as usize;
        Ok(&self.window[from..from + len])
    }

    /// Puts the base's bytes that were the same so far in the blob (at the start, by
    /// [`BlobWriter::start_with`]); the two stay in step.
    fn put_same(&mut self) -> io::Result<()> {
        if let Spliced::Same { from, at } = self.state {
            if !self.begun {
                self.blob
                    .start_with(&self.base.blob, at, &self.base.checkpoints)
                    .map_err(io::Error::other)?;
            } else if at > from {
                self.blob
                    .append_blob(&self.base.blob, from, at - from)
                    .map_err(io::Error::other)?;
            }
            self.begun = true;
            self.state = Spliced::Same { from: at, at };
        }
        Ok(())
    }

    /// From here on the bytes are the tar's own: the base's bytes that were the same are
    /// put in the blob first.
    fn own(&mut self) -> io::Result<()> {
        self.put_same()?;
        self.state = Spliced::Own;
        Ok(())
    }
}

/// Where each entry of the tar in `file` from `from` on (an entry's start, its extension
/// headers included) begins, by path; as far as it reads as a tar.
fn entry_offsets(file: &BlobView, from: u64) -> HashMap<PathBuf, u64> {
    let mut out = HashMap::new();
    let (mut at, mut start) = (from, from);
    // A long name, from a GNU extension or a pax header, for the entry it precedes.
    let mut long: Option<Vec<u8>> = None;
    let mut block = [0u8; 512];
    while file.read_exact_at(&mut block, at).is_ok() && block.iter().any(|&b| b != 0) {
        let h = tar::Header::from_byte_slice(&block);
        let Ok(size) = h.entry_size() else { break };
        let data = at + 512;
        at = data + size.div_ceil(512) * 512;
        let ext = || -> Option<Vec<u8>> {
            let mut v = vec![0u8; usize::try_from(size).ok().filter(|&n| n <= 1 << 20)?];
            file.read_exact_at(&mut v, data).ok()?;
            Some(v)
        };
        match h.entry_type() {
            tar::EntryType::GNULongName => match ext() {
                Some(mut v) => {
                    while v.last() == Some(&0) {
                        v.pop();
                    }
                    long = Some(v);
                }
                None => break,
            },
            tar::EntryType::XHeader => {
                let Some(v) = ext() else { break };
                let path = tar::PaxExtensions::new(&v)
                    .flatten()
                    .find(|e| e.key_bytes() == b"path")
                    .map(|e| e.value_bytes().to_vec());
                if path.is_some() {
                    long = path;
                }
            }
            tar::EntryType::GNULongLink | tar::EntryType::XGlobalHeader => {}
            _ => {
                let path = long.take().unwrap_or_else(|| h.path_bytes().into_owned());
                let path = Path::new(OsStr::from_bytes(&path)).components().collect();
                out.entry(path).or_insert(start);
                start = at;
            }
        }
    }
    out
}

impl Write for Splice<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Spliced::Same { from, at } = self.state {
            let end = at + buf.len() as u64;
            if end <= self.base_file.len() && self.base_bytes(at, buf.len())? == buf {
                self.state = Spliced::Same { from, at: end };
                return Ok(buf.len());
            }
            self.own()?;
        }
        let n = self.blob.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.blob.flush()
    }
}

impl Sink for Splice<'_> {
    fn entry(&mut self, path: &Path) -> io::Result<()> {
        match self.state {
            Spliced::Same { from, at } => {
                self.last_entry = at;
                // Past the first difference, what is the same goes in as it grows, so that
                // its hash is made while the walk goes on (the ranges join up again).
                if self.begun && at - from >= PASS {
                    self.put_same()?;
                }
            }
            // The base's entry of the same path, if it has one, is where the two may be the
            // same again (after a file whose content changed, one added or one removed).
            Spliced::Own => {
                let (file, from) = (&self.base_file, self.last_entry);
                let index = self.index.get_or_insert_with(|| entry_offsets(file, from));
                if let Some(&at) = index.get(path) {
                    self.state = Spliced::Same { from: at, at };
                }
            }
        }
        Ok(())
    }
    fn bare_entry_next(&mut self, path: &Path) -> bool {
        let Spliced::Same { at, .. } = self.state else {
            return false;
        };
        let want = path.as_os_str().as_bytes();
        let mut next = || -> io::Result<bool> {
            if at + 1024 > self.base_file.len() {
                return Ok(false);
            }
            let block = self.base_bytes(at, 512)?;
            let h = tar::Header::from_byte_slice(block);
            Ok(match h.entry_type() {
                // A long name: its data, then the entry's own header.
                tar::EntryType::GNULongName => {
                    let n = want.len() as u64 + 1;
                    h.entry_size()? == n && {
                        let name = self.base_bytes(at + 512, n as usize)?;
                        name[..n as usize - 1] == *want && name[n as usize - 1] == 0
                    }
                }
                tar::EntryType::Regular => h.path_bytes().as_ref() == want,
                _ => false,
            })
        };
        next().unwrap_or(false)
    }
    fn holds(&mut self, len: u64) -> bool {
        match self.state {
            Spliced::Same { from, at } if at + len <= self.base_file.len() => {
                self.state = Spliced::Same { from, at: at + len };
                true
            }
            _ => false,
        }
    }
    fn content(&mut self, file: File, size: u64) -> io::Result<()> {
        match self.state {
            // The base's bytes so far: compared as they come.
            Spliced::Same { .. } => copy_content(file, size, self),
            Spliced::Own => {
                self.written += size;
                self.blob.append_file(file, size)
            }
        }
    }
}

/// What a walk carries along.
struct Walk<'a> {
    top: &'a Path,
    links: HashMap<(u64, u64), PathBuf>,
    content: u64,
    epoch: Option<u64>,
    skip: &'a dyn Fn(&Path) -> bool,
    /// Files that are the base layer's own (see [`Sink::holds`]).
    same: &'a dyn Fn(&Path) -> bool,
}

/// Writes the tar of the upper directory `dir` to `out`, leaving out the entries (and what
/// is under them) whose relative path `skip` names; returns the bytes of file content. The
/// directory may change while it is read (a running container's): an entry gone or changed
/// into another type before it is opened is left out, and a file's content is cut or padded
/// to the size it had when it was opened.
pub fn write_layer(
    dir: &Path,
    out: impl Write,
    epoch: Option<u64>,
    skip: &dyn Fn(&Path) -> bool,
) -> rbox_image::Result<u64> {
    write_tar(dir, &mut Plain(out), epoch, skip, &|_| false)
}

/// [`write_layer`] to a [`Sink`], `same` naming the files it may hold already.
fn write_tar<S: Sink>(
    dir: &Path,
    out: &mut S,
    epoch: Option<u64>,
    skip: &dyn Fn(&Path) -> bool,
    same: &dyn Fn(&Path) -> bool,
) -> rbox_image::Result<u64> {
    let top = rustix::fs::open(
        dir,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(dir, e))?;
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut w = Walk {
        top: dir,
        links: HashMap::new(),
        content: 0,
        epoch,
        skip,
        same,
    };
    walk(&top, Path::new(""), &mut b, &mut w)?;
    b.into_inner()?.flush()?;
    Ok(w.content)
}

fn walk<W: Sink>(
    dir: &OwnedFd,
    rel: &Path,
    b: &mut tar::Builder<W>,
    w: &mut Walk,
) -> rbox_image::Result<()> {
    let shown = |p: &Path| w.top.join(p);
    let names = list_typed(dir).map_err(|e| io_err(&shown(rel), e))?;
    for (name, listed) in names {
        let relp = rel.join(&name);
        if (w.skip)(&relp) {
            continue;
        }
        // A directory or a regular file (as listed) is looked at once opened; anything
        // else where it is.
        let st = match listed {
            FileType::RegularFile | FileType::Directory => None,
            _ => match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => Some(st),
                // Removed since the directory was listed (a running container's upper).
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(io_err(&shown(&relp), e)),
            },
        };
        let ft = st
            .as_ref()
            .map_or(listed, |st| FileType::from_raw_mode(st.st_mode));
        match (ft, st) {
            (FileType::CharacterDevice, Some(st)) if st.st_rdev == 0 => {
                // An overlay whiteout: the OCI form is an empty file named .wh.NAME.
                let mut h = header_for(&st, w.epoch);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                let mut wh = OsString::from(".wh.");
                wh.push(&name);
                let whp = rel.join(wh);
                b.get_mut().entry(&whp)?;
                b.append_data(&mut h, whp, io::empty())?;
            }
            (FileType::Directory, _) => {
                let sub = match open_dir(dir, &name) {
                    Ok(fd) => fd,
                    // Gone, or swapped for a link or a file since it was looked at: left
                    // out rather than followed.
                    Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
                    Err(e) => return Err(io_err(&shown(&relp), e)),
                };
                let st = rustix::fs::fstat(&sub).map_err(|e| io_err(&shown(&relp), e))?;
                let mut h = header_for(&st, w.epoch);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.get_mut().entry(&relp)?;
                append_xattrs(b, &sub)?;
                b.append_data(&mut h, &relp, io::empty())?;
                if xattr(&sub, OPAQUE_XATTR).as_deref() == Some(b"y") {
                    let mut o = header_for(&st, w.epoch);
                    o.set_entry_type(tar::EntryType::Regular);
                    o.set_size(0);
                    let opq = relp.join(".wh..wh..opq");
                    b.get_mut().entry(&opq)?;
                    b.append_data(&mut o, opq, io::empty())?;
                }
                walk(&sub, &relp, b, w)?;
            }
            (FileType::Symlink, Some(st)) => {
                let target = match rustix::fs::readlinkat(dir, &name, Vec::new()) {
                    Ok(t) => t,
                    Err(Errno::NOENT | Errno::INVAL) => continue,
                    Err(e) => return Err(io_err(&shown(&relp), e)),
                };
                let mut h = header_for(&st, w.epoch);
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.get_mut().entry(&relp)?;
                b.append_link(&mut h, &relp, OsStr::from_bytes(target.as_bytes()))?;
            }
            (FileType::RegularFile, _) => {
                // Non-blocking: a file swapped for a fifo must not hold the walk.
                let open = || {
                    rustix::fs::openat(
                        dir,
                        &name,
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                };
                // The base layer's very file, while in step with it and its entry there
                // has no extended attributes, is looked at where it is: its content and
                // attributes are that entry's, and it need not be opened.
                let same = (w.same)(&relp);
                let bare = same && b.get_mut().bare_entry_next(&relp);
                let (fd, st) = if bare {
                    match rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => (None, st),
                        Err(Errno::NOENT) => continue,
                        Err(e) => return Err(io_err(&shown(&relp), e)),
                    }
                } else {
                    let fd = match open() {
                        Ok(fd) => fd,
                        Err(Errno::NOENT | Errno::LOOP | Errno::NXIO) => continue,
                        Err(e) => return Err(io_err(&shown(&relp), e)),
                    };
                    let st = rustix::fs::fstat(&fd).map_err(|e| io_err(&shown(&relp), e))?;
                    (Some(fd), st)
                };
                if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                    continue;
                }
                let mut h = header_for(&st, w.epoch);
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = w.links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        h.set_size(0);
                        b.get_mut().entry(&relp)?;
                        b.append_link(&mut h, &relp, first)?;
                        continue;
                    }
                    w.links.insert(key, relp.clone());
                }
                let size = st.st_size as u64;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(size);
                b.get_mut().entry(&relp)?;
                if let Some(fd) = &fd {
                    append_xattrs(b, fd)?;
                }
                // The header, then the content and its padding.
                b.append_data(&mut h, &relp, io::empty())?;
                let padded = size.div_ceil(512) * 512;
                if !(same && b.get_mut().holds(padded)) {
                    let fd = match fd {
                        Some(fd) => fd,
                        // Out of step after all (the file is not as the base layer's entry
                        // says): it has no attributes to keep, or the layer would be wrong.
                        None => {
                            let fd = open().map_err(|e| io_err(&shown(&relp), e))?;
                            if !kept_xattrs(&fd).is_empty() {
                                return Err(rbox_image::Error::io(
                                    shown(&relp),
                                    io::Error::other(
                                        "changed since the layer it is linked from was made",
                                    ),
                                ));
                            }
                            fd
                        }
                    };
                    let out = b.get_mut();
                    out.content(File::from(fd), size)?;
                    out.write_all(&[0u8; 512][..(padded - size) as usize])?;
                }
                w.content += size;
            }
            (FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice, Some(st)) => {
                let mut h = header_for(&st, w.epoch);
                h.set_entry_type(match ft {
                    FileType::Fifo => tar::EntryType::Fifo,
                    FileType::CharacterDevice => tar::EntryType::Char,
                    _ => tar::EntryType::Block,
                });
                h.set_size(0);
                h.set_device_major(rustix::fs::major(st.st_rdev))?;
                h.set_device_minor(rustix::fs::minor(st.st_rdev))?;
                b.get_mut().entry(&relp)?;
                b.append_data(&mut h, &relp, io::empty())?;
            }
            // Sockets have no place in a layer.
            _ => {}
        }
    }
    Ok(())
}

/// Stores the layer of `dir` (uncompressed: its digest is its diff ID), leaving out what
/// `skip` names, over `base` if given; returns the layer, its chain ID on top of `parent`,
/// and its blob's hash checkpoints.
fn store_layer(
    store: &Store,
    dir: &Path,
    parent: Option<&Digest>,
    epoch: Option<u64>,
    skip: &dyn Fn(&Path) -> bool,
    base: Option<&Base>,
) -> rbox_image::Result<(Diff, Digest, Vec<Checkpoint>)> {
    // The blob writer hashes what it is given: uncompressed, that digest is the diff ID.
    // Over a base, the blob is kept spliced: the base's ranges are not copied.
    let base_blob = base.and_then(|b| Some((b, store.blob_view(&b.blob).ok()?)));
    let mut blob = match base_blob {
        Some(_) => store.spliced_writer()?,
        None => store.blob_writer()?,
    };
    let content_size = match base_blob {
        Some((b, view)) => {
            let mut s = Splice::new(&mut blob, b, view);
            let n = write_tar(dir, &mut s, epoch, skip, &|p| b.same.contains(p))?;
            // What is the same as the base at the end goes in.
            s.own()?;
            n
        }
        None => write_tar(dir, &mut blob, epoch, skip, &|_| false)?,
    };
    let (digest, size, checkpoints) = blob.commit_indexed(None)?;
    let chain_id = match parent {
        Some(p) => p.chain(&digest),
        None => digest.clone(),
    };
    Ok((
        Diff {
            digest,
            size,
            content_size,
        },
        chain_id,
        checkpoints,
    ))
}

/// Stores the layer of directory `dir` (a build step's upper directory), over `base` if
/// given, and makes `dir` itself the snapshot on top of `parent`: moved, not copied.
/// Returns the layer and the new chain ID.
pub fn commit_dir(
    store: &Store,
    dir: &Path,
    parent: Option<&Digest>,
    epoch: Option<u64>,
    base: Option<&Base>,
) -> rbox_image::Result<(Diff, Digest)> {
    let _content = store.lock_content()?;
    let (diff, chain_id, checkpoints) = store_layer(store, dir, parent, epoch, &|_| false, base)?;
    let dest = store.snapshot_dir(&chain_id);
    if dest.join("info.json").exists() {
        // The same layer is already a snapshot (an earlier build made it).
        store.discard(dir, diff.content_size)?;
        return Ok((diff, chain_id));
    }
    let work = store.tmp_path("snapshot");
    fs::create_dir_all(&work).map_err(|e| rbox_image::Error::io(&work, e))?;
    fs::rename(dir, work.join("fs")).map_err(|e| rbox_image::Error::io(dir, e))?;
    let info = SnapshotInfo {
        chain_id: chain_id.to_string(),
        diff_id: diff.digest.to_string(),
        size: diff.content_size,
        checkpoints,
    };
    write_atomic(
        &work.join("info.json"),
        &serde_json::to_vec(&info).expect("snapshot info serializes"),
    )?;
    match fs::rename(&work, &dest) {
        Ok(()) => sync_dir(&store.snapshots_dir())?,
        Err(_) if dest.join("info.json").exists() => store.discard(&work, diff.content_size)?,
        Err(e) => return Err(rbox_image::Error::io(dest, e)),
    }
    Ok((diff, chain_id))
}

/// Stores the layer of directory `dir` (a container's upper directory, which it keeps
/// using), leaving out what `skip` names, and unpacks the stored blob as the snapshot on
/// top of `parent`. Returns the layer and the new chain ID.
pub fn commit_copy(
    store: &Store,
    dir: &Path,
    parent: Option<&Digest>,
    epoch: Option<u64>,
    skip: &dyn Fn(&Path) -> bool,
) -> rbox_image::Result<(Diff, Digest)> {
    let _content = store.lock_content()?;
    let (diff, chain_id, _) = store_layer(store, dir, parent, epoch, skip, None)?;
    if store.snapshot_info(&chain_id)?.is_none() {
        store.unpack_layer(
            store.open_blob(&diff.digest)?,
            parent,
            Some(&diff.digest),
            &diff.digest.to_string(),
        )?;
    }
    Ok((diff, chain_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<(String, String)> {
        let mut tar_bytes = Vec::new();
        write_layer(dir, &mut tar_bytes, None, &|_| false).unwrap();
        let mut a = tar::Archive::new(&tar_bytes[..]);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let p = e.path().unwrap().display().to_string();
                let what = match e.header().entry_type() {
                    tar::EntryType::Symlink => {
                        format!("-> {}", e.link_name().unwrap().unwrap().display())
                    }
                    tar::EntryType::Directory => "dir".into(),
                    _ => {
                        let mut s = String::new();
                        io::Read::read_to_string(&mut e, &mut s).unwrap();
                        s
                    }
                };
                (p, what)
            })
            .collect()
    }

    #[test]
    fn links_are_stored_as_links_and_never_walked() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("host");
        let upper = d.path().join("upper");
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("secret"), "host").unwrap();
        fs::create_dir_all(upper.join("dir")).unwrap();
        fs::write(upper.join("dir/f"), "inside").unwrap();
        std::os::unix::fs::symlink(&host, upper.join("leak")).unwrap();
        let e = entries(&upper);
        assert_eq!(
            e,
            vec![
                ("dir".into(), "dir".into()),
                ("dir/f".into(), "inside".into()),
                ("leak".into(), format!("-> {}", host.display())),
            ]
        );
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let host = d.path().join("host");
        let upper = d.path().join("upper");
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("secret"), "host").unwrap();
        fs::create_dir_all(upper.join("dir")).unwrap();
        let top = open_dir(rustix::fs::CWD, upper.as_os_str()).unwrap();
        // The swap happens between the listing and the opening of the directory.
        let st = rustix::fs::statat(&top, "dir", AtFlags::SYMLINK_NOFOLLOW).unwrap();
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::Directory);
        fs::remove_dir(upper.join("dir")).unwrap();
        std::os::unix::fs::symlink(&host, upper.join("dir")).unwrap();
        let e = open_dir(&top, OsStr::new("dir")).unwrap_err();
        assert!(e == Errno::NOTDIR || e == Errno::LOOP, "{e}");
        let e = entries(&upper);
        assert_eq!(e, vec![("dir".into(), format!("-> {}", host.display()))]);
    }

    #[test]
    fn whiteouts_and_opaque_dirs_round_trip_through_a_layer() {
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().join("up");
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/new"), "n").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            up.join("etc/gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .unwrap();
        fs::create_dir(up.join("opq")).unwrap();
        rustix::fs::setxattr(
            up.join("opq"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        std::os::unix::fs::symlink("new", up.join("etc/link")).unwrap();
        let mut tar = Vec::new();
        write_layer(&up, &mut tar, Some(0), &|_| false).unwrap();
        let mut names = Vec::new();
        for e in tar::Archive::new(&tar[..]).entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().mtime().unwrap(), 0);
            names.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            vec![
                "etc",
                "etc/.wh.gone",
                "etc/link",
                "etc/new",
                "opq",
                "opq/.wh..wh..opq"
            ]
        );
        // Applying it gives back the same tree.
        let back = dir.path().join("back");
        fs::create_dir(&back).unwrap();
        rbox_image::layer::apply(&tar[..], &back).unwrap();
        let again = {
            let mut t = Vec::new();
            write_layer(&back, &mut t, Some(0), &|_| false).unwrap();
            t
        };
        assert_eq!(
            Digest::of(&tar),
            Digest::of(&again),
            "layers are deterministic"
        );
    }

    #[test]
    fn a_copied_layer_leaves_its_directory_and_skips_what_it_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("root")).unwrap();
        let up = dir.path().join("up");
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/hostname"), "").unwrap();
        fs::write(up.join("new"), "n").unwrap();
        let skip = |p: &Path| p == Path::new("etc") || p.starts_with("etc/");
        let (diff, chain) = commit_copy(&store, &up, None, Some(0), &skip).unwrap();
        assert!(up.join("new").is_file(), "the directory stays");
        let snap = store.snapshot_fs(&chain);
        assert!(snap.join("new").is_file() && !snap.join("etc").exists());
        let tar = fs::read(store.blob_path(&diff.digest)).unwrap();
        let names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, vec!["new"]);
    }

    #[test]
    fn committing_a_layer_the_store_has_consumes_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("root")).unwrap();
        let mut chains = Vec::new();
        for name in ["one", "two"] {
            let up = store.tmp_path(name);
            fs::create_dir_all(&up).unwrap();
            fs::write(up.join("f"), "same").unwrap();
            let (_, chain) = commit_dir(&store, &up, None, Some(0), None).unwrap();
            assert!(!up.exists(), "{name} left in tmp/");
            chains.push(chain);
        }
        assert_eq!(chains[0], chains[1]);
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
        assert_eq!(
            fs::read(store.snapshot_fs(&chains[0]).join("f")).unwrap(),
            b"same"
        );
    }

    #[test]
    fn a_layer_made_over_another_is_the_layer_made_whole() {
        use sha2::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("root")).unwrap();
        let long = "n".repeat(120);
        let name = |i: usize| format!("d{}/{long}{i:03}", i / 50);
        let up = store.tmp_path("one");
        for i in 0..200 {
            let p = up.join(name(i));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            // Sizes across block boundaries, and more than a chunk in all.
            fs::write(&p, vec![i as u8; 1000 + i * 97]).unwrap();
        }
        fs::write(up.join("big"), vec![7u8; 3 << 20]).unwrap();
        // Past the changes, more than is put in the blob at once.
        for k in 0..3 {
            fs::write(up.join(format!("z{k}")), vec![k as u8; 5 << 20]).unwrap();
        }
        // Files with attributes to keep: one among the others, one after the file removed.
        for i in [60, 131] {
            let f = File::open(up.join(name(i))).unwrap();
            rustix::fs::fsetxattr(&f, "user.kept", b"yes", rustix::fs::XattrFlags::empty())
                .unwrap();
        }
        let (_, chain) = commit_dir(&store, &up, None, Some(0), None).unwrap();
        let info = store.snapshot_info(&chain).unwrap().unwrap();
        let old = store.snapshot_fs(&chain);
        // The next: most files linked from the snapshot; one changed in size, one in
        // content only, one gone, one new, and the first file changed.
        let up = store.tmp_path("two");
        let mut same = HashSet::new();
        for i in 0..200 {
            let rel = PathBuf::from(name(i));
            let p = up.join(&rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            match i {
                0 | 50 => fs::write(&p, b"other").unwrap(),
                120 => fs::write(&p, vec![9u8; 1000 + i * 97]).unwrap(),
                130 => {}
                _ => {
                    fs::hard_link(old.join(&rel), &p).unwrap();
                    same.insert(rel);
                }
            }
        }
        fs::write(up.join(format!("d2/{long}150b")), b"new").unwrap();
        for f in ["big", "z0", "z1", "z2"] {
            fs::hard_link(old.join(f), up.join(f)).unwrap();
            same.insert(PathBuf::from(f));
        }
        // The directories' times as the first's, as a COPY leaves them.
        for d in ["", "d0", "d1", "d2", "d3"] {
            let t = fs::metadata(old.join(d)).unwrap().modified().unwrap();
            File::open(up.join(d)).unwrap().set_modified(t).unwrap();
        }
        let mut whole = Vec::new();
        write_layer(&up, &mut whole, Some(0), &|_| false).unwrap();
        let base = Base {
            blob: info.diff_id.parse().unwrap(),
            checkpoints: info.checkpoints,
            same,
        };
        let mut blob = store.spliced_writer().unwrap();
        let view = store.blob_view(&base.blob).unwrap();
        let mut s = Splice::new(&mut blob, &base, view);
        write_tar(&up, &mut s, Some(0), &|_| false, &|p| base.same.contains(p)).unwrap();
        s.own().unwrap();
        // What changed is written (and the entry after the one gone), little more: the
        // rest is the base's, in step again after each difference.
        assert!(
            s.written < 64 << 10,
            "{} of {} bytes written",
            s.written,
            whole.len()
        );
        let (digest, ..) = blob.commit_indexed(None).unwrap();
        let hex = hex::encode(sha2::Sha256::digest(&whole));
        assert_eq!(digest.to_string(), format!("sha256:{hex}"));
        // Both files' attributes are in it.
        let key = b"SCHILY.xattr.user.kept";
        assert_eq!(whole.windows(key.len()).filter(|w| w == key).count(), 2);
        // Kept as ranges of the base and the new bytes, which read as the whole tar, and
        // written whole when asked for as a file.
        assert!(!store.blob_path(&digest).exists());
        // The base's ranges, between the new bytes, joined up where they meet.
        let parts = store.recipe(&digest).unwrap().parts;
        assert!(parts.len() <= 12, "{parts:?}");
        let view = store.blob_view(&digest).unwrap();
        let mut read = vec![0u8; whole.len()];
        view.read_exact_at(&mut read, 0).unwrap();
        assert!(read == whole);
        assert!(fs::read(store.blob_file(&digest).unwrap()).unwrap() == whole);
    }
}
