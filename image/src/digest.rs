//! Content digests (`sha256:<hex>`) and hashing readers and writers.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// A sha256 content digest, the only algorithm the store writes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// The digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(h: Sha256) -> Self {
        Digest {
            hex: hex::encode(h.finalize()),
        }
    }

    /// The 64 hex digits without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as `docker images` shows an id.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    /// Builds a digest from 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, Error> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Digest {
                hex: hex.to_owned(),
            })
        } else {
            Err(Error::InvalidDigest(hex.to_owned()))
        }
    }

    /// The chain ID of a layer on top of the layers whose chain ID is `self`
    /// (OCI image spec: `ChainID(L0|...|Ln) = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))`).
    pub fn chain(&self, diff_id: &Digest) -> Digest {
        Digest::of(format!("{self} {diff_id}").as_bytes())
    }

    /// The chain IDs of a stack of diff IDs, bottom first.
    pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
        let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
        for d in diff_ids {
            let next = match out.last() {
                None => d.clone(),
                Some(prev) => prev.chain(d),
            };
            out.push(next);
        }
        out
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.strip_prefix("sha256:") {
            Some(hex) => Digest::from_hex(hex).map_err(|_| Error::InvalidDigest(s.to_owned())),
            None => Err(Error::InvalidDigest(s.to_owned())),
        }
    }
}

impl TryFrom<&oci_spec::image::Digest> for Digest {
    type Error = Error;
    fn try_from(d: &oci_spec::image::Digest) -> Result<Self, Error> {
        d.to_string().parse()
    }
}

impl From<&Digest> for oci_spec::image::Digest {
    fn from(d: &Digest) -> Self {
        d.to_string()
            .parse()
            .expect("a sha256 digest is a valid OCI digest")
    }
}

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the stream, then returns its digest and length.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest::from_hasher(self.hasher), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of what was written, the byte count, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (Digest::from_hasher(self.hasher), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 whose state can be kept at a 64-byte boundary ([`Checkpoint`]) and taken up
/// again there: a layer made again after a change is hashed from the last checkpoint before
/// its first changed byte, the bytes before it being the same. The rounds are `sha2`'s.
#[derive(Clone)]
pub struct Sha256Stream {
    state: [u32; 8],
    /// Bytes hashed into `state` (a multiple of 64).
    done: u64,
    buf: [u8; 64],
    fill: usize,
}

/// The state of a [`Sha256Stream`] after the first `offset` bytes of a stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub offset: u64,
    /// The eight state words, big-endian, in hex.
    pub state: String,
}

const SHA256_H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl Default for Sha256Stream {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256Stream {
    pub fn new() -> Self {
        Sha256Stream {
            state: SHA256_H0,
            done: 0,
            buf: [0; 64],
            fill: 0,
        }
    }

    /// Bytes given so far.
    pub fn len(&self) -> u64 {
        self.done + self.fill as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn compress(&mut self, blocks: &[u8]) {
        use sha2::digest::generic_array::GenericArray;
        for block in blocks.chunks_exact(64) {
            sha2::compress256(
                &mut self.state,
                std::slice::from_ref(GenericArray::from_slice(block)),
            );
        }
        self.done += blocks.len() as u64;
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if self.fill > 0 {
            let n = data.len().min(64 - self.fill);
            self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill < 64 {
                return;
            }
            let block = self.buf;
            self.compress(&block);
            self.fill = 0;
        }
        let whole = data.len() / 64 * 64;
        self.compress(&data[..whole]);
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.fill = rest.len();
    }

    /// The state here, if here is a 64-byte boundary.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        (self.fill == 0).then(|| Checkpoint {
            offset: self.done,
            state: self.state.iter().map(|w| format!("{w:08x}")).collect(),
        })
    }

    /// The stream as it was at `c`; `None` if `c` is malformed.
    pub fn resume(c: &Checkpoint) -> Option<Self> {
        if !c.offset.is_multiple_of(64) || c.state.len() != 64 || !c.state.is_ascii() {
            return None;
        }
        let mut state = [0u32; 8];
        for (i, w) in state.iter_mut().enumerate() {
            *w = u32::from_str_radix(&c.state[i * 8..i * 8 + 8], 16).ok()?;
        }
        Some(Sha256Stream {
            state,
            done: c.offset,
            buf: [0; 64],
            fill: 0,
        })
    }

    pub fn finish(mut self) -> Digest {
        let bits = self.len() * 8;
        let mut tail = [0u8; 128];
        tail[..self.fill].copy_from_slice(&self.buf[..self.fill]);
        tail[self.fill] = 0x80;
        let n = if self.fill < 56 { 64 } else { 128 };
        tail[n - 8..n].copy_from_slice(&bits.to_be_bytes());
        self.compress(&tail[..n]);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        Digest {
            hex: hex::encode(out),
        }
    }
}

/// A writer that hashes, counts and forwards everything written through it like
/// [`HashingWriter`], but once more than one chunk has come, does the hashing and the
/// writing on a thread of its own: a big blob (a layer) is hashed while its next bytes are
/// made, instead of after. A small blob of bytes never starts the thread. At every
/// [`CHUNK`] boundary of the stream it keeps the hash's [`Checkpoint`]. A file's content can
/// be appended whole ([`append_file`](Self::append_file)): the inner writer takes it from
/// the file (for a file, by the kernel's copy) and the thread hashes it as read back. A
/// range of a file that does not change, a stored blob ([`append_stored`](Self::append_stored)),
/// is appended on a thread of its own (copied by the kernel, or taken as a range of that
/// blob) while the same bytes are hashed as read from that file, from a resumed hash's
/// end ([`resume`](Self::resume)).
pub struct PipelinedHashingWriter<W: AppendFrom + Send + 'static> {
    chunk: Vec<u8>,
    count: u64,
    state: Pipeline<W>,
}

/// The writer under a [`PipelinedHashingWriter`]: a file's content can also be appended
/// to it by the kernel, without passing through the process, and read back to be hashed.
pub trait AppendFrom: Write {
    /// Appends the first `len` bytes of `src` (fewer if it is shorter now); returns how
    /// many it appended.
    fn append_from(&mut self, src: &File, len: u64) -> io::Result<u64>;
    /// Reads back what was written at `offset`, `buf.len()` bytes of it.
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Appends `len` bytes of `src` from `offset` on: a file that does not change, the
    /// stored blob `blob` if named (which a writer may take as that range of it, rather
    /// than copy it). An error if `src` is shorter.
    fn append_stored(
        &mut self,
        src: &File,
        _blob: Option<&Digest>,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        copy_stored(self, src, offset, len)
    }
}

/// [`AppendFrom::append_stored`] by copying: `len` bytes of `src` from `offset` on,
/// appended to `w`; an error if `src` is shorter.
pub fn copy_stored<W: AppendFrom + ?Sized>(
    w: &mut W,
    src: &File,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    io::Seek::seek(&mut &*src, io::SeekFrom::Start(offset))?;
    if w.append_from(src, len)? < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a stored blob is shorter than recorded",
        ));
    }
    Ok(())
}

impl AppendFrom for Vec<u8> {
    fn append_from(&mut self, src: &File, len: u64) -> io::Result<u64> {
        io::copy(&mut src.take(len), self)
    }
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let at = usize::try_from(offset).map_err(io::Error::other)?;
        let part = self
            .get(at..at + buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(part);
        Ok(())
    }
}

/// What the hashing has: the inner writer, the hash, its checkpoints.
type Hashed<W> = (W, Sha256Stream, Vec<Checkpoint>);

/// What goes to the thread: bytes, or a file whose first bytes (so many) come next, or a
/// range of a file that does not change.
enum Piece {
    Bytes(Vec<u8>),
    File(File, u64),
    Stored(Stored),
    /// Before anything: the hash of the stream's first bytes (which stored ranges bring)
    /// and its checkpoints so far.
    Resume(Sha256Stream, Vec<Checkpoint>),
}

/// `len` bytes of `src` from `offset` on, a file that does not change (the stored blob
/// `blob`, if named), at stream position `at`: appended on a thread of its own while the
/// same bytes, read from `src`, are hashed (those a resumed hash has already, not).
struct Stored {
    src: File,
    blob: Option<Digest>,
    offset: u64,
    len: u64,
    at: u64,
}

enum Pipeline<W: AppendFrom + Send + 'static> {
    /// Not started: the inner writer and the hash are here.
    Inline(Hashed<W>),
    /// Started: pieces go to the thread, which sends the emptied chunks back.
    Threaded {
        full: std::sync::mpsc::SyncSender<Piece>,
        empty: std::sync::mpsc::Receiver<Vec<u8>>,
        thread: std::thread::JoinHandle<io::Result<Hashed<W>>>,
    },
    /// The thread failed or was joined.
    Done,
}

/// Hashes `bytes`, which end at or before the stream's next [`CHUNK`] boundary, keeping a
/// checkpoint when they end on it.
fn hash_piece(hasher: &mut Sha256Stream, checkpoints: &mut Vec<Checkpoint>, bytes: &[u8]) {
    hasher.update(bytes);
    if !bytes.is_empty() && hasher.len().is_multiple_of(CHUNK as u64) {
        checkpoints.extend(hasher.checkpoint());
    }
}

/// On the thread: appends a file's first `len` bytes (zeros for what it lacks), then
/// hashes what the writer holds there, so the digest is of the bytes stored whatever the
/// file did meanwhile.
fn append_file<W: AppendFrom>(
    (inner, hasher, checkpoints): &mut Hashed<W>,
    src: &File,
    len: u64,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let got = inner.append_from(src, len)?;
    io::copy(&mut io::repeat(0).take(len - got.min(len)), inner)?;
    let end = hasher.len() + len;
    hash_until(hasher, checkpoints, buf, end, |b, at| {
        inner.read_back(b, at)
    })
}

/// Hashes the stream from where the hash is to `end`, a chunk at most at a time (so that
/// checkpoints fall on chunk boundaries), each part read by `read` (into a buffer, at its
/// position in the stream).
fn hash_until(
    hasher: &mut Sha256Stream,
    checkpoints: &mut Vec<Checkpoint>,
    buf: &mut Vec<u8>,
    end: u64,
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<()>,
) -> io::Result<()> {
    buf.resize(CHUNK, 0);
    while hasher.len() < end {
        let at = hasher.len();
        let n = (end - at).min(CHUNK as u64 - at % CHUNK as u64) as usize;
        read(&mut buf[..n], at)?;
        hash_piece(hasher, checkpoints, &buf[..n]);
    }
    Ok(())
}

/// On the thread: a [`Stored`] range, appended on a thread of its own while it is hashed
/// here.
fn append_stored<W: AppendFrom + Send>(
    (inner, hasher, checkpoints): &mut Hashed<W>,
    piece: Stored,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let Stored {
        src,
        blob,
        offset,
        len,
        at,
    } = piece;
    std::thread::scope(|scope| {
        let appender = scope.spawn(|| inner.append_stored(&src, blob.as_ref(), offset, len));
        // The stream is at `at` here, or past it with a resumed hash.
        let read = hash_until(hasher, checkpoints, buf, at + len, |b, pos| {
            std::os::unix::fs::FileExt::read_exact_at(&src, b, offset + (pos - at))
        });
        let appended = appender
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the blob's copy panicked")));
        read.and(appended)
    })
}

/// The size of a chunk handed to the hashing thread, and the distance between checkpoints.
pub const CHUNK: usize = 1 << 20;

/// Pieces on their way to the hashing thread, at most.
const PIECES: usize = 16;

impl<W: AppendFrom + Send + 'static> PipelinedHashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        PipelinedHashingWriter {
            chunk: Vec::with_capacity(CHUNK),
            count: 0,
            state: Pipeline::Inline((inner, Sha256Stream::new(), Vec::new())),
        }
    }

    /// Before anything is written: the hash of the stream's first bytes, which stored
    /// ranges ([`append_stored`](Self::append_stored)) bring next, and its checkpoints so
    /// far; those bytes are not read again for the hash.
    pub fn resume(&mut self, hash: Sha256Stream, checkpoints: Vec<Checkpoint>) -> io::Result<()> {
        if self.count != 0 {
            return Err(io::Error::other("the blob has begun"));
        }
        self.send(Piece::Resume(hash, checkpoints))
    }

    /// Appends `len` bytes of `src` from `offset` on, a file that does not change (the
    /// stored blob `blob`, if named): appended by the inner writer (by the kernel's copy,
    /// or as a range of `blob`) while the same bytes, read from `src`, are hashed.
    pub fn append_stored(
        &mut self,
        src: File,
        blob: Option<Digest>,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        self.send_chunk_part()?;
        let at = self.count;
        self.count += len;
        self.send(Piece::Stored(Stored {
            src,
            blob,
            offset,
            len,
            at,
        }))
    }

    /// A part of a chunk (a tar header, say) before a piece of another kind: sent as a
    /// copy, the chunk kept.
    fn send_chunk_part(&mut self) -> io::Result<()> {
        if !self.chunk.is_empty() {
            let part = self.chunk.clone();
            self.chunk.clear();
            self.send(Piece::Bytes(part))?;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends the first `len` bytes of `src` (zeros for any it lacks when they are
    /// copied), put there by the kernel where it can: on the thread, after what was
    /// written before.
    pub fn append_file(&mut self, src: File, len: u64) -> io::Result<()> {
        self.send_chunk_part()?;
        self.send(Piece::File(src, len))?;
        self.count += len;
        Ok(())
    }

    /// Hands the chunk on: to the thread (started at the first full chunk).
    fn pass_chunk(&mut self) -> io::Result<()> {
        let next = match &self.state {
            Pipeline::Threaded { empty, .. } => empty.try_recv().ok(),
            _ => None,
        };
        let next = next.unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let chunk = std::mem::replace(&mut self.chunk, next);
        self.send(Piece::Bytes(chunk))
    }

    /// Sends a piece to the thread, started at the first.
    fn send(&mut self, piece: Piece) -> io::Result<()> {
        if let Pipeline::Inline(..) = self.state {
            let Pipeline::Inline(mut hashed) = std::mem::replace(&mut self.state, Pipeline::Done)
            else {
                unreachable!("matched above")
            };
            // Room for a few full chunks, or many files and the headers between them.
            let (full, rx) = std::sync::mpsc::sync_channel::<Piece>(PIECES);
            let (tx, empty) = std::sync::mpsc::channel::<Vec<u8>>();
            let thread = std::thread::Builder::new()
                .name("blob-hash".into())
                .spawn(move || {
                    let mut buf = Vec::new();
                    for piece in rx {
                        match piece {
                            Piece::Bytes(mut chunk) => {
                                hashed.0.write_all(&chunk)?;
                                hash_piece(&mut hashed.1, &mut hashed.2, &chunk);
                                if chunk.capacity() >= CHUNK {
                                    chunk.clear();
                                    let _ = tx.send(chunk);
                                }
                            }
                            Piece::File(src, len) => append_file(&mut hashed, &src, len, &mut buf)?,
                            Piece::Stored(piece) => append_stored(&mut hashed, piece, &mut buf)?,
                            Piece::Resume(h, kept) => (hashed.1, hashed.2) = (h, kept),
                        }
                    }
                    Ok(hashed)
                })?;
            self.state = Pipeline::Threaded {
                full,
                empty,
                thread,
            };
        }
        let Pipeline::Threaded { full, .. } = &self.state else {
            return Err(io::Error::other("the blob's writer failed before"));
        };
        if full.send(piece).is_err() {
            // The thread stopped on an error: joining it gives the error.
            return self.join().map(|_| ());
        }
        Ok(())
    }

    /// Waits for the thread (if started) and returns what it hashed.
    fn join(&mut self) -> io::Result<Hashed<W>> {
        match std::mem::replace(&mut self.state, Pipeline::Done) {
            Pipeline::Inline(h) => Ok(h),
            Pipeline::Threaded { full, thread, .. } => {
                drop(full);
                thread
                    .join()
                    .map_err(|_| io::Error::other("the blob's hashing thread panicked"))?
            }
            Pipeline::Done => Err(io::Error::other("the blob's writer failed before")),
        }
    }

    /// Writes what is left, then returns the digest of everything written, the byte count,
    /// the inner writer, and the checkpoints.
    pub fn finish(mut self) -> io::Result<(Digest, u64, W, Vec<Checkpoint>)> {
        let (mut inner, mut hasher, checkpoints) = self.join()?;
        inner.write_all(&self.chunk)?;
        hasher.update(&self.chunk);
        inner.flush()?;
        Ok((hasher.finish(), self.count, inner, checkpoints))
    }
}

impl<W: AppendFrom + Send + 'static> Write for PipelinedHashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Chunks end at multiples of CHUNK in the stream, wherever it started.
        let room = CHUNK - (self.count % CHUNK as u64) as usize;
        let n = buf.len().min(room);
        self.chunk.extend_from_slice(&buf[..n]);
        self.count += n as u64;
        if n == room {
            self.pass_chunk()?;
        }
        Ok(n)
    }

    /// Bytes still in a chunk stay there until [`finish`](Self::finish): flushing means
    /// nothing to a blob before it is committed.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_the_well_known_one() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_digests() {
        for bad in [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:../../../../etc/passwd0000000000000000000000000000000000000000",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn chain_ids_follow_the_oci_formula() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let ids = Digest::chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn files_appended_between_bytes_are_stored_and_hashed_as_if_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, len: usize| {
            let p = dir.path().join(name);
            let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            std::fs::write(&p, &bytes).unwrap();
            (File::open(&p).unwrap(), bytes)
        };
        let mut w = PipelinedHashingWriter::new(Vec::new());
        let mut expected = Vec::new();
        for (i, len) in [0, 700, CHUNK + 3, 2 * CHUNK, 10].into_iter().enumerate() {
            let head = vec![i as u8; 512];
            w.write_all(&head).unwrap();
            expected.extend_from_slice(&head);
            let (f, bytes) = file(&format!("f{i}"), len);
            w.append_file(f, len as u64).unwrap();
            expected.extend_from_slice(&bytes);
        }
        // A file shorter now than the length asked for: zeros make up the rest.
        let (f, bytes) = file("short", 100);
        w.append_file(f, 300).unwrap();
        expected.extend_from_slice(&bytes);
        expected.extend_from_slice(&[0; 200]);
        w.write_all(b"end").unwrap();
        expected.extend_from_slice(b"end");
        let (d, n, out, checkpoints) = w.finish().unwrap();
        assert_eq!((d, n), (Digest::of(&expected), expected.len() as u64));
        assert!(out == expected, "the bytes stored differ");
        // Checkpoints at chunk boundaries only, each one good.
        assert_eq!(checkpoints.len(), expected.len() / CHUNK);
        for c in &checkpoints {
            assert_eq!(c.offset % CHUNK as u64, 0);
            let mut h = Sha256Stream::resume(c).unwrap();
            h.update(&expected[c.offset as usize..]);
            assert_eq!(h.finish(), Digest::of(&expected));
        }
    }

    #[test]
    fn a_pipelined_writer_gives_what_a_plain_one_gives() {
        // Sizes around the chunk's: none, less than one, exactly one, several and a bit.
        for size in [0, 5, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = PipelinedHashingWriter::new(Vec::new());
            // Written in odd pieces, so chunks fill across writes.
            for piece in bytes.chunks(100_003) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(w.count(), size as u64);
            let (d, n, out, checkpoints) = w.finish().unwrap();
            assert_eq!((d, n), (Digest::of(&bytes), size as u64), "size {size}");
            assert!(out == bytes, "size {size}: the bytes written differ");
            assert_eq!(checkpoints.len(), size / CHUNK, "size {size}");
            // Taken up at any checkpoint, the rest gives the same digest.
            for c in &checkpoints {
                let mut h = Sha256Stream::resume(c).unwrap();
                h.update(&bytes[c.offset as usize..]);
                assert_eq!(
                    h.finish(),
                    Digest::of(&bytes),
                    "size {size} from {}",
                    c.offset
                );
            }
        }
    }

    #[test]
    fn a_stream_begun_with_a_stored_files_bytes_keeps_its_checkpoints() {
        let bytes: Vec<u8> = (0..5 * CHUNK + 7).map(|i| (i % 253) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let stored = dir.path().join("stored");
        let mut w = PipelinedHashingWriter::new(Vec::new());
        w.write_all(&bytes).unwrap();
        let (_, _, old, old_checkpoints) = w.finish().unwrap();
        std::fs::write(&stored, &old).unwrap();
        // The first 2.5 chunks from the stored file, hashed from its checkpoint at 2; then
        // bytes, then the stored file's last chunks again (bytes of a file that does not
        // change, copied while hashed), then bytes.
        let start = 2 * CHUNK + CHUNK / 2;
        let from = Sha256Stream::resume(&old_checkpoints[1]).unwrap();
        let kept = old_checkpoints[..2].to_vec();
        let mut w = PipelinedHashingWriter::new(Vec::new());
        w.resume(from, kept).unwrap();
        w.append_stored(File::open(&stored).unwrap(), None, 0, start as u64)
            .unwrap();
        assert!(w.resume(Sha256Stream::new(), Vec::new()).is_err());
        w.write_all(&bytes[start..3 * CHUNK + 9]).unwrap();
        w.append_stored(
            File::open(&stored).unwrap(),
            None,
            3 * CHUNK as u64 + 9,
            CHUNK as u64,
        )
        .unwrap();
        w.write_all(&bytes[4 * CHUNK + 9..]).unwrap();
        let (d, n, out, checkpoints) = w.finish().unwrap();
        assert_eq!((d, n), (Digest::of(&bytes), bytes.len() as u64));
        assert!(out == bytes);
        assert_eq!(checkpoints, old_checkpoints);
        // A stored file shorter than its range is an error.
        let mut w = PipelinedHashingWriter::new(Vec::new());
        w.append_stored(
            File::open(&stored).unwrap(),
            None,
            0,
            bytes.len() as u64 + 1,
        )
        .unwrap();
        assert!(w.finish().is_err());
    }

    #[test]
    fn the_stream_is_sha256() {
        for size in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 100_000] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 13 % 256) as u8).collect();
            // Fed in uneven pieces.
            let mut h = Sha256Stream::new();
            for piece in bytes.chunks(37) {
                h.update(piece);
            }
            assert_eq!(h.len(), size as u64);
            assert_eq!(h.finish(), Digest::of(&bytes), "size {size}");
        }
        let bad = Checkpoint {
            offset: 3,
            state: "0".repeat(64),
        };
        assert!(Sha256Stream::resume(&bad).is_none());
    }

    #[test]
    fn a_pipelined_writer_reports_its_inner_writers_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl AppendFrom for Full {
            fn append_from(&mut self, _: &File, _: u64) -> io::Result<u64> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn read_back(&mut self, _: &mut [u8], _: u64) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = PipelinedHashingWriter::new(Full);
        let big = vec![1u8; 4 * CHUNK];
        let early = w.write_all(&big);
        let late = w.finish().map(|_| ());
        let e = early.and(late).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    }

    #[test]
    fn hashing_reader_counts_and_hashes() {
        let r = HashingReader::new(&b"hello"[..]);
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, 5);
        assert_eq!(d, Digest::of(b"hello"));
    }
}
