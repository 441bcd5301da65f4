//! Layers from directories: an overlay upper directory (or a fresh one) becomes an OCI
//! layer tar, its overlay whiteouts turned back into OCI ones, and the directory itself
//! becomes the layer's snapshot without being unpacked again.
//!
//! Layer tars are deterministic: entries sorted, owners numeric, no user or group names,
//! times clamped to SOURCE_DATE_EPOCH when it is set.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, IoContext, Result};
use crate::snapshot::SnapshotInfo;
use crate::store::{sync_dir, write_atomic, Store};

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What writing a layer produced.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The layer blob's digest (the tar is stored uncompressed: it is also the diff ID).
    pub digest: Digest,
    /// The blob's size.
    pub size: u64,
    /// Bytes of regular file content.
    pub content_size: u64,
}

/// Writes the tar of `dir` (an upper directory) to `out`: whiteout devices become
/// `.wh.NAME`, opaque directories get `.wh..wh..opq`, overlay's own xattrs are dropped.
pub fn write_layer(dir: &Path, out: impl Write, epoch: Option<u64>) -> Result<u64> {
    write_layer_except(dir, out, epoch, &|_| false)
}

/// As [`write_layer`], leaving out the entries (and what is under them) whose path relative
/// to `dir` `skip` names. The directory may change while it is read (the upper directory of
/// a running container): an entry gone before it is read is left out, and a file's content
/// is cut or padded to the size it had when its header was written.
pub fn write_layer_except(
    dir: &Path,
    out: impl Write,
    epoch: Option<u64>,
    skip: &dyn Fn(&Path) -> bool,
) -> Result<u64> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut content = 0u64;
    let mut w = Walk {
        links: &mut links,
        content: &mut content,
        epoch,
        skip,
    };
    walk(dir, Path::new(""), &mut b, &mut w)?;
    b.into_inner()?.flush()?;
    Ok(content)
}

/// What a walk carries along.
struct Walk<'a> {
    links: &'a mut HashMap<(u64, u64), PathBuf>,
    content: &'a mut u64,
    epoch: Option<u64>,
    skip: &'a dyn Fn(&Path) -> bool,
}

fn header_for(meta: &fs::Metadata, epoch: Option<u64>) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid() as u64);
    h.set_gid(meta.gid() as u64);
    let mtime = meta.mtime().max(0) as u64;
    h.set_mtime(epoch.map_or(mtime, |e| mtime.min(e)));
    h
}

fn walk<W: Write>(root: &Path, rel: &Path, b: &mut tar::Builder<W>, w: &mut Walk) -> Result<()> {
    let epoch = w.epoch;
    let dir = root.join(rel);
    let listing = match fs::read_dir(&dir) {
        // Removed since its entry was written (a running container's upper).
        Err(e) if e.kind() == io::ErrorKind::NotFound && !rel.as_os_str().is_empty() => {
            return Ok(())
        }
        r => r.at(&dir)?,
    };
    let mut names: Vec<_> = listing
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .at(&dir)?;
    names.sort();
    for name in names {
        let path = root.join(rel).join(&name);
        let relp = rel.join(&name);
        if (w.skip)(&relp) {
            continue;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed since the directory was listed (a running container's upper).
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            // An overlay whiteout: the OCI form is an empty file named .wh.NAME.
            let mut h = header_for(&meta, epoch);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            let mut wh = std::ffi::OsString::from(".wh.");
            wh.push(&name);
            b.append_data(&mut h, rel.join(wh), io::empty())?;
            continue;
        }
        let mut h = header_for(&meta, epoch);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            append_xattrs(b, &path)?;
            b.append_data(&mut h, &relp, io::empty())?;
            if xattr_value(&path, OPAQUE_XATTR).as_deref() == Some(b"y") {
                let mut o = header_for(&meta, epoch);
                o.set_entry_type(tar::EntryType::Regular);
                o.set_size(0);
                b.append_data(&mut o, relp.join(".wh..wh..opq"), io::empty())?;
            }
            walk(root, &relp, b, w)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).at(&path)?;
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &relp, &target)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = w.links.get(&(meta.dev(), meta.ino())) {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &relp, first)?;
                    continue;
                }
                w.links.insert((meta.dev(), meta.ino()), relp.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            let f = match fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            append_xattrs(b, &path)?;
            // Exactly the size in the header, whatever the file does meanwhile.
            let data = io::Read::take(io::Read::chain(f, io::repeat(0)), meta.len());
            b.append_data(&mut h, &relp, data)?;
            *w.content += meta.len();
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_fifo() {
                tar::EntryType::Fifo
            } else if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            h.set_size(0);
            let rdev = meta.rdev();
            h.set_device_major(rustix::fs::major(rdev))?;
            h.set_device_minor(rustix::fs::minor(rdev))?;
            b.append_data(&mut h, &relp, io::empty())?;
        }
        // Sockets have no place in a layer.
    }
    Ok(())
}

fn xattr_value(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Extended attributes worth keeping (file capabilities and the like; never overlay's).
fn append_xattrs<W: Write>(b: &mut tar::Builder<W>, path: &Path) -> Result<()> {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names) else {
        return Ok(());
    };
    let mut exts: Vec<(String, Vec<u8>)> = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(v) = xattr_value(path, &name) {
            exts.push((format!("SCHILY.xattr.{name}"), v));
        }
    }
    if !exts.is_empty() {
        b.append_pax_extensions(exts.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    Ok(())
}

impl Store {
    /// Stores the layer of directory `dir` (uncompressed, so its digest is its diff ID)
    /// and makes `dir` itself the snapshot on top of `parent`: `dir` is moved, not copied.
    /// Returns the layer and the new chain ID.
    pub fn commit_dir(
        &self,
        dir: &Path,
        parent: Option<&Digest>,
        epoch: Option<u64>,
    ) -> Result<(Diff, Digest)> {
        let _content = self.lock_content()?;
        let mut blob = self.blob_writer()?;
        let mut hashing = HashingWriter::new(&mut blob);
        let content_size = write_layer(dir, &mut hashing, epoch)?;
        let (diff_id, _, _) = hashing.finish();
        let (digest, size) = blob.commit(Some(&diff_id))?;
        let chain_id = match parent {
            Some(p) => p.chain(&digest),
            None => digest.clone(),
        };
        let dest = self.snapshot_dir(&chain_id);
        if !dest.join("info.json").exists() {
            let work = self.tmp_path("snapshot");
            fs::create_dir_all(&work).at(&work)?;
            fs::rename(dir, work.join("fs")).at(dir)?;
            let info = SnapshotInfo {
                chain_id: chain_id.to_string(),
                diff_id: digest.to_string(),
                size: content_size,
            };
            write_atomic(
                &work.join("info.json"),
                &serde_json::to_vec(&info).expect("snapshot info serializes"),
            )?;
            match fs::rename(&work, &dest) {
                Ok(()) => sync_dir(&self.snapshots_dir())?,
                Err(_) if dest.join("info.json").exists() => {
                    let _ = fs::remove_dir_all(&work);
                }
                Err(e) => return Err(Error::io(dest, e)),
            }
        } else {
            // The same layer is already a snapshot (another build made it): `dir` was
            // handed over to be moved, and is not needed.
            fs::remove_dir_all(dir).at(dir)?;
        }
        Ok((
            Diff {
                digest,
                size,
                content_size,
            },
            chain_id,
        ))
    }
}

impl Store {
    /// Stores the layer of directory `dir` (uncompressed), leaving out what `skip` names,
    /// and unpacks the stored blob as the snapshot on top of `parent`: unlike
    /// [`Store::commit_dir`], `dir` stays as it is (a container's upper directory, which it
    /// keeps using). Returns the layer and the new chain ID.
    pub fn commit_layer_copy(
        &self,
        dir: &Path,
        parent: Option<&Digest>,
        epoch: Option<u64>,
        skip: &dyn Fn(&Path) -> bool,
    ) -> Result<(Diff, Digest)> {
        let _content = self.lock_content()?;
        let mut blob = self.blob_writer()?;
        let mut hashing = HashingWriter::new(&mut blob);
        let content_size = write_layer_except(dir, &mut hashing, epoch, skip)?;
        let (diff_id, _, _) = hashing.finish();
        let (digest, size) = blob.commit(Some(&diff_id))?;
        let chain_id = match parent {
            Some(p) => p.chain(&digest),
            None => digest.clone(),
        };
        if self.snapshot_info(&chain_id)?.is_none() {
            let unpacked = self.unpack_layer(
                self.open_blob(&digest)?,
                parent,
                Some(&digest),
                &digest.to_string(),
            )?;
            debug_assert_eq!(unpacked.chain_id, chain_id);
        }
        Ok((
            Diff {
                digest,
                size,
                content_size,
            },
            chain_id,
        ))
    }
}

/// The path as bytes (for sorting and hashing).
pub fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            OPAQUE_XATTR,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        std::os::unix::fs::symlink("new", up.join("etc/link")).unwrap();
        let mut tar = Vec::new();
        write_layer(&up, &mut tar, Some(0)).unwrap();
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
        crate::layer::apply(&tar[..], &back).unwrap();
        let again = {
            let mut t = Vec::new();
            write_layer(&back, &mut t, Some(0)).unwrap();
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
        let (diff, chain) = store.commit_layer_copy(&up, None, Some(0), &skip).unwrap();
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
            let (_, chain) = store.commit_dir(&up, None, Some(0)).unwrap();
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
}
