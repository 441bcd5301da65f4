//! The content store: an OCI image layout at `<root>/images`, with blobs ingested by
//! streaming and committed only once their bytes match their digest.
//!
//! Layout of a data root:
//! ```text
//! images/            OCI image layout (oci-layout, index.json, blobs/sha256/…)
//! snapshots/<hex>/   unpacked layers by chain ID (fs/ and info.json)
//! tmp/               blobs and snapshots being written; never read from
//! trash/             directories waiting to be deleted (see `trash`)
//! locks/             flock files (index.lock, gc.lock)
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::FlockOperation;

use crate::digest::{AppendFrom, Checkpoint, Digest, PipelinedHashingWriter, Sha256Stream};
use crate::error::{Error, IoContext, Result};

/// The largest manifest, config or index the store reads whole.
pub const MAX_DOCUMENT_SIZE: u64 = 8 * 1024 * 1024;

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const EMPTY_INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

/// An image store rooted at a data directory (`--root`, `RBOX_ROOT`, `/var/lib/rbox`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held flock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Store {
    /// Opens the store at `root`, creating its directories on first use.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        private_root(&root)?;
        let store = Store { root };
        for d in [
            store.blobs_dir(),
            store.snapshots_dir(),
            store.tmp_dir(),
            store.locks_dir(),
        ] {
            fs::create_dir_all(&d).at(&d)?;
        }
        let layout = store.images_dir().join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, OCI_LAYOUT)?;
        }
        let index = store.index_path();
        if !index.exists() {
            let _l = store.lock_index()?;
            if !index.exists() {
                write_atomic(&index, EMPTY_INDEX)?;
            }
        }
        Ok(store)
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/images`, the OCI image layout.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    fn blobs_dir(&self) -> PathBuf {
        self.images_dir().join("blobs").join("sha256")
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.images_dir().join("index.json")
    }

    /// `<root>/snapshots`.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// `<root>/tmp`: work in progress, on the same filesystem as what it becomes.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// The path of a blob in the layout (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }

    /// Whether the store holds blob `d` (whole or spliced).
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file() || self.recipe_path(d).is_file()
    }

    /// Opens blob `d` for reading (a spliced one is made whole first).
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let path = self.blob_file(d)?;
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingBlob(d.to_string()),
            _ => Error::io(&path, e),
        })
    }

    /// Bytes of blob `d` (0 if the store lacks it).
    pub fn blob_size(&self, d: &Digest) -> u64 {
        match fs::metadata(self.blob_path(d)) {
            Ok(m) => m.len(),
            Err(_) => self.recipe(d).map_or(0, |r| r.size),
        }
    }

    /// The typed configuration of the image whose config blob is `d`.
    pub fn image_config(&self, d: &Digest) -> Result<crate::config::ImageConfig> {
        let bytes = self.read_document(d, "config")?;
        crate::config::ImageConfig::parse(&bytes).map_err(|source| Error::Json {
            what: format!("config {d}"),
            source,
        })
    }

    /// Reads a small blob (manifest, config, index) whole, refusing one over `MAX_DOCUMENT_SIZE`.
    pub fn read_document(&self, d: &Digest, what: &str) -> Result<Vec<u8>> {
        let f = self.open_blob(d)?;
        let size = f.metadata().at(self.blob_path(d))?.len();
        if size > MAX_DOCUMENT_SIZE {
            return Err(Error::TooLarge {
                what: format!("{what} {d}"),
                size,
                limit: MAX_DOCUMENT_SIZE,
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        f.take(MAX_DOCUMENT_SIZE + 1)
            .read_to_end(&mut buf)
            .at(self.blob_path(d))?;
        Ok(buf)
    }

    /// Starts writing a blob whose digest is known only at the end.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        self.new_blob_writer(false)
    }

    /// Starts writing a blob that is kept spliced (see [`crate::spliced`]) if ranges of
    /// stored blobs make it up: those ranges are recorded, not copied.
    pub fn spliced_writer(&self) -> Result<BlobWriter> {
        self.new_blob_writer(true)
    }

    fn new_blob_writer(&self, spliced: bool) -> Result<BlobWriter> {
        let path = self.tmp_path("blob");
        // Readable too: what the kernel copies in is read back to be hashed.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .at(&path)?;
        Ok(BlobWriter {
            store: self.clone(),
            writer: Some(PipelinedHashingWriter::new(WritebackFile::new(
                file, spliced,
            ))),
            path,
            committed: false,
        })
    }

    /// Streams `r` into the store. If `expected` is given and the bytes don't match it,
    /// nothing is stored.
    pub fn ingest(&self, mut r: impl Read, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut w = self.blob_writer()?;
        io::copy(&mut r, &mut w)?;
        w.commit(expected)
    }

    /// Stores a small in-memory blob.
    pub fn ingest_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        if !self.has_blob(&d) {
            self.ingest(bytes, Some(&d))?;
        }
        Ok(d)
    }

    /// A fresh, unused path under `tmp/`.
    pub fn tmp_path(&self, what: &str) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.tmp_dir()
            .join(format!("{what}-{}-{n}-{nanos:x}", std::process::id()))
    }

    /// Takes the lock that serializes changes to index.json.
    pub fn lock_index(&self) -> Result<Lock> {
        self.flock("index.lock", FlockOperation::LockExclusive)
    }

    /// Taken shared by anything that adds content, exclusive by garbage collection, so that
    /// collection never removes a blob that is about to be referenced.
    pub fn lock_content(&self) -> Result<Lock> {
        self.flock("gc.lock", FlockOperation::LockShared)
    }

    pub(crate) fn lock_gc(&self) -> Result<Lock> {
        self.flock("gc.lock", FlockOperation::LockExclusive)
    }

    fn flock(&self, name: &str, op: FlockOperation) -> Result<Lock> {
        let path = self.locks_dir().join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .at(&path)?;
        rustix::fs::flock(&file, op).map_err(|e| Error::io(&path, e.into()))?;
        Ok(Lock { _file: file })
    }
}

/// A blob being written to `tmp/`; it becomes part of the store only through `commit`,
/// and is removed if dropped uncommitted.
pub struct BlobWriter {
    store: Store,
    writer: Option<PipelinedHashingWriter<WritebackFile>>,
    path: PathBuf,
    committed: bool,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.count())
    }

    /// Verifies the content against `expected` (if any), syncs it, and renames it into the
    /// layout under its digest.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        self.commit_indexed(expected).map(|(d, n, _)| (d, n))
    }

    /// [`commit`](Self::commit), returning also the hash's checkpoints, one every
    /// [`CHUNK`] bytes, for a later [`start_with`](Self::start_with).
    pub fn commit_indexed(
        mut self,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64, Vec<Checkpoint>)> {
        let w = self.writer.take().expect("a blob is committed once");
        let (digest, size, mut file, checkpoints) = w.finish().at(&self.path)?;
        let parts = file.parts.take();
        let file = file.into_file().at(&self.path)?;
        if let Some(exp) = expected {
            if *exp != digest {
                return Err(Error::DigestMismatch {
                    expected: exp.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        let spliced = parts
            .as_ref()
            .is_some_and(|p| p.iter().any(|(_, s)| matches!(s, Span::Blob { .. })));
        if let (true, Some(parts)) = (spliced, parts) {
            self.commit_spliced(file, &digest, size, parts)?;
            return Ok((digest, size, checkpoints));
        }
        self.place(file, &digest)?;
        Ok((digest, size, checkpoints))
    }

    /// Syncs the blob's file and renames it into the layout as blob `digest`.
    fn place(&mut self, file: File, digest: &Digest) -> Result<()> {
        file.sync_all().at(&self.path)?;
        drop(file);
        let dest = self.store.blob_path(digest);
        fs::rename(&self.path, &dest).at(&dest)?;
        self.committed = true;
        sync_dir(dest.parent().expect("a blob has a parent directory"))
    }

    /// Before anything is written: makes the first `len` bytes of the stored blob `old`
    /// this blob's first bytes, and hashed from the last of `checkpoints` (`old`'s own) at
    /// or before `len`, so that they are read no further back than that; those checkpoints
    /// are this blob's too.
    pub fn start_with(&mut self, old: &Digest, len: u64, checkpoints: &[Checkpoint]) -> Result<()> {
        let from = checkpoints
            .iter()
            .rev()
            .find_map(|c| Sha256Stream::resume(c).filter(|_| c.offset <= len))
            .unwrap_or_default();
        let kept = checkpoints
            .iter()
            .filter(|c| c.offset <= from.len())
            .cloned()
            .collect();
        self.writer
            .as_mut()
            .expect("not committed")
            .resume(from, kept)
            .at(&self.path)?;
        self.append_blob(old, 0, len)
    }

    /// Appends `len` bytes of the stored blob `old` (whole or spliced) from `offset` on,
    /// hashed as read from where they lie, which never changes: a spliced writer records
    /// them as ranges, another copies them by the kernel.
    pub fn append_blob(&mut self, old: &Digest, offset: u64, len: u64) -> Result<()> {
        let view = self.store.blob_view(old)?;
        if view.len() < offset + len {
            return Err(Error::io(
                self.store.blob_path(old),
                io::Error::new(io::ErrorKind::UnexpectedEof, "shorter than recorded"),
            ));
        }
        for (blob, at, n) in view.ranges(offset, len) {
            self.append_whole(&blob, at, n)?;
        }
        Ok(())
    }

    /// [`append_blob`](Self::append_blob) of a whole blob.
    pub(crate) fn append_whole(&mut self, blob: &Digest, offset: u64, len: u64) -> Result<()> {
        let path = self.store.blob_path(blob);
        let src = File::open(&path).at(&path)?;
        self.writer
            .as_mut()
            .expect("not committed")
            .append_stored(src, Some(blob.clone()), offset, len)
            .at(&self.path)
    }

    /// Commits a spliced blob: its own bytes (`file`) as a blob of their own, then its
    /// recipe; unless the store has the blob already (the file is then removed when the
    /// writer is dropped uncommitted).
    fn commit_spliced(
        &mut self,
        file: File,
        digest: &Digest,
        size: u64,
        parts: Vec<(u64, Span)>,
    ) -> Result<()> {
        if self.store.has_blob(digest) {
            return Ok(());
        }
        let own = if parts.iter().any(|(_, s)| matches!(s, Span::Own { .. })) {
            let mut h = crate::digest::HashingReader::new(File::open(&self.path).at(&self.path)?);
            io::copy(&mut h, &mut io::sink()).at(&self.path)?;
            let own = h.finish().at(&self.path)?.0;
            self.place(file, &own)?;
            own.to_string()
        } else {
            String::new()
        };
        let parts = parts
            .into_iter()
            .map(|(_, span)| match span {
                Span::Own { at, len } => crate::spliced::Part {
                    blob: own.clone(),
                    offset: at,
                    len,
                },
                Span::Blob { blob, offset, len } => crate::spliced::Part {
                    blob: blob.to_string(),
                    offset,
                    len,
                },
            })
            .collect();
        self.store
            .write_recipe(digest, &crate::spliced::Recipe { size, parts })
    }
}

/// A blob's file that the kernel writes out as it goes: past every [`WRITEBACK`] bytes, a
/// thread of its own syncs what is written so far, so that the sync at commit waits only
/// for the last of it (and on ext4 the journal's wait for other new files starts early).
struct WritebackFile {
    file: File,
    /// Spliced (see [`crate::spliced`]): what the stream is made of so far, by its start in
    /// the stream; the file holds the stream's own bytes only.
    parts: Option<Vec<(u64, Span)>>,
    /// Bytes of the stream (in the file, or ranges of stored blobs).
    stream: u64,
    /// Bytes in the file.
    own: u64,
    since: u64,
    /// The syncing thread, once started; it ends with the first error.
    syncer: Option<(
        std::sync::mpsc::SyncSender<()>,
        std::thread::JoinHandle<io::Result<()>>,
    )>,
}

/// Bytes written between two syncs of a blob.
const WRITEBACK: u64 = 32 << 20;

impl WritebackFile {
    fn new(file: File, spliced: bool) -> Self {
        WritebackFile {
            file,
            parts: spliced.then(Vec::new),
            stream: 0,
            own: 0,
            since: 0,
            syncer: None,
        }
    }

    /// The stream's next `len` bytes are `span`.
    fn record(&mut self, span: Span, len: u64) {
        if let Span::Own { .. } = span {
            self.own += len;
        }
        if let Some(parts) = &mut self.parts {
            match (parts.last_mut(), &span) {
                (Some((_, Span::Own { len: l, .. })), Span::Own { .. }) => *l += len,
                (
                    Some((
                        _,
                        Span::Blob {
                            blob,
                            offset,
                            len: l,
                        },
                    )),
                    Span::Blob {
                        blob: b, offset: o, ..
                    },
                ) if blob == b && *offset + *l == *o => *l += len,
                _ => parts.push((self.stream, span)),
            }
        }
        self.stream += len;
    }

    /// Where in the file the stream's byte `at` (one of its own) is.
    fn own_offset(&self, at: u64) -> io::Result<u64> {
        let Some(parts) = &self.parts else {
            return Ok(at);
        };
        let i = parts.partition_point(|(start, _)| *start <= at);
        match parts.get(i.wrapping_sub(1)) {
            Some((start, Span::Own { at: own, len })) if at < start + len => Ok(own + at - start),
            _ => Err(io::Error::other("not a byte of the blob's own")),
        }
    }

    /// Has what is written so far synced, in the background.
    fn write_out(&mut self) {
        self.since = 0;
        if self.syncer.is_none() {
            let Ok(f) = self.file.try_clone() else {
                return;
            };
            let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
            let spawned = std::thread::Builder::new()
                .name("blob-sync".into())
                .spawn(move || {
                    for () in rx {
                        f.sync_data()?;
                    }
                    Ok(())
                });
            match spawned {
                Ok(h) => self.syncer = Some((tx, h)),
                Err(_) => return,
            }
        }
        if let Some((tx, _)) = &self.syncer {
            // A sync still to come covers these bytes too.
            let _ = tx.try_send(());
        }
    }

    /// The file, once the syncing thread is done; its error, if it had one (the same open
    /// file's later sync would not report it again).
    fn into_file(mut self) -> io::Result<File> {
        if let Some((tx, h)) = self.syncer.take() {
            drop(tx);
            h.join()
                .map_err(|_| io::Error::other("the blob's syncing thread panicked"))??;
        }
        Ok(self.file)
    }
}

impl WritebackFile {
    fn wrote(&mut self, n: u64) {
        self.since += n;
        if self.since >= WRITEBACK {
            self.write_out();
        }
    }
}

impl Write for WritebackFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let at = self.own;
        let n = self.file.write(buf)?;
        self.record(Span::Own { at, len: n as u64 }, n as u64);
        self.wrote(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl AppendFrom for WritebackFile {
    fn append_from(&mut self, src: &File, len: u64) -> io::Result<u64> {
        // std's copy goes by copy_file_range where the file systems can: the bytes are
        // copied within the kernel's page cache, several times faster here than a write.
        let at = self.own;
        let n = io::copy(&mut src.take(len), &mut self.file)?;
        self.record(Span::Own { at, len: n }, n);
        self.wrote(n);
        Ok(n)
    }
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let at = self.own_offset(offset)?;
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, at)
    }
    fn append_stored(
        &mut self,
        src: &File,
        blob: Option<&Digest>,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        match blob {
            // Spliced: the range itself, not a copy.
            Some(b) if self.parts.is_some() => {
                if src.metadata()?.len() < offset + len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "a stored blob is shorter than recorded",
                    ));
                }
                let span = Span::Blob {
                    blob: b.clone(),
                    offset,
                    len,
                };
                self.record(span, len);
                Ok(())
            }
            _ => crate::digest::copy_stored(self, src, offset, len),
        }
    }
}

/// What a part of a spliced blob's stream is.
enum Span {
    /// Its own bytes, at `at` in the file.
    Own { at: u64, len: u64 },
    /// A range of a stored blob.
    Blob { blob: Digest, offset: u64, len: u64 },
}

impl BlobWriter {
    /// Appends the first `len` bytes of `src` (zeros for any it lacks), copied by the
    /// kernel where it can, and hashed as they are stored.
    pub fn append_file(&mut self, src: File, len: u64) -> io::Result<()> {
        self.writer
            .as_mut()
            .expect("not committed")
            .append_file(src, len)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `path` so that a reader sees the old content or the new, never a mix:
/// a temp file beside it, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .expect("an atomic write names a file in a directory");
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = File::create(&tmp).at(&tmp)?;
    let res = f
        .write_all(bytes)
        .and_then(|_| f.sync_all())
        .and_then(|_| fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(dir)
}

/// Makes the data root `root` (mode 0700) or closes the one there to others: image layers
/// and writable layers below it hold setuid binaries, file capabilities and device nodes,
/// containers' configurations their `-e` secrets. A root another user owns is refused.
pub fn private_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
    {
        Ok(()) => {}
        Err(e) => return Err(Error::io(root, e)),
    }
    let m = fs::metadata(root).at(root)?;
    let me = rustix::process::geteuid().as_raw();
    if m.uid() != me {
        return Err(Error::io(
            root,
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the data root is owned by uid {}, not by this user ({me}): refused",
                    m.uid()
                ),
            ),
        ));
    }
    if m.mode() & 0o077 != 0 {
        // An empty directory made for rbox is simply closed; a store that was open says so.
        let in_use = fs::read_dir(root).at(root)?.next().is_some();
        if in_use {
            tracing::warn!(
                "{}: the data root was open to other users (mode {:o}): now 0700",
                root.display(),
                m.mode() & 0o7777
            );
        }
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).at(root)?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically for readers (temp file + rename) without
/// waiting for the disk: for state that is rewritten often and can be rebuilt, such as a
/// container's state (a crash may lose the last update, never leave a torn file).
/// The file is 0600: container configurations hold `-e` secrets.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a replaced file is in a directory");
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let res = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|_| fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// fsyncs a directory, making renames in it durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Bytes of regular file content under `dir`, following no link.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CHUNK;

    #[test]
    fn a_blob_started_with_another_ones_bytes_is_as_if_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old: Vec<u8> = (0..3 * CHUNK + 99).map(|i| (i % 241) as u8).collect();
        let mut w = store.blob_writer().unwrap();
        w.write_all(&old).unwrap();
        let (old_d, _, checkpoints) = w.commit_indexed(None).unwrap();
        assert_eq!(checkpoints.len(), 3);
        // The new blob: the old one's first 2.5 chunks, then something else.
        let keep = 2 * CHUNK + CHUNK / 2 + 3;
        let mut new = old[..keep].to_vec();
        new.extend_from_slice(b"changed");
        new.extend_from_slice(&old[keep..]);
        for given in [&checkpoints[..], &[]] {
            let mut w = store.blob_writer().unwrap();
            w.start_with(&old_d, keep as u64, given).unwrap();
            assert_eq!(w.count(), keep as u64);
            w.write_all(&new[keep..]).unwrap();
            let (d, n, later) = w.commit_indexed(None).unwrap();
            assert_eq!((d.clone(), n), (Digest::of(&new), new.len() as u64));
            assert_eq!(fs::read(store.blob_path(&d)).unwrap(), new);
            // The old blob's checkpoints before the change are the new one's too.
            let at: Vec<u64> = later.iter().map(|c| c.offset).collect();
            assert_eq!(at, [1, 2, 3].map(|k| k * CHUNK as u64));
            assert_eq!(later[..2], checkpoints[..2]);
        }
        // Only before anything is written.
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"x").unwrap();
        assert!(w.start_with(&old_d, 10, &checkpoints).is_err());
    }

    #[test]
    fn a_blob_written_out_as_it_goes_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Past two writeback marks, in pieces that cross them.
        let piece: Vec<u8> = (0..999_999).map(|i| (i % 251) as u8).collect();
        let mut all = Vec::new();
        let mut w = store.blob_writer().unwrap();
        while all.len() < 2 * WRITEBACK as usize + 12345 {
            w.write_all(&piece).unwrap();
            all.extend_from_slice(&piece);
        }
        let (d, n) = w.commit(None).unwrap();
        assert_eq!((d.clone(), n), (Digest::of(&all), all.len() as u64));
        assert!(fs::read(store.blob_path(&d)).unwrap() == all);
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let wrong = Digest::of(b"something else");
        let err = store.ingest(&b"hello"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(!store.has_blob(&wrong));
        assert!(!store.has_blob(&Digest::of(b"hello")));
        assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
        assert_eq!(fs::read_dir(store.blobs_dir()).unwrap().count(), 0);
    }

    #[test]
    fn a_blob_is_stored_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (d, n) = store.ingest(&b"hello"[..], None).unwrap();
        assert_eq!(n, 5);
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(fs::read(store.blob_path(&d)).unwrap(), b"hello");
    }

    #[test]
    fn oversized_documents_are_refused_before_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big = vec![b' '; MAX_DOCUMENT_SIZE as usize + 1];
        let d = store.ingest_bytes(&big).unwrap();
        assert!(matches!(
            store.read_document(&d, "manifest"),
            Err(Error::TooLarge { .. })
        ));
    }
}
