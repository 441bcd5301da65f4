//! Limits on what one layer may unpack, so a hostile archive can't fill the disk or the
//! memory: a decompression bomb, a header declaring an absurd size, a metadata entry (PAX
//! header, GNU long name) too large to hold in memory, a GNU sparse header with endless
//! extension blocks, or an endless run of entries.
//!
//! [`Guard`] reads the uncompressed tar stream before the tar parser does and follows its
//! framing itself: each header is checked before the parser reads anything it declares.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// Bytes in a tar block.
const BLOCK: u64 = 512;
/// The largest metadata entry (PAX extended header, GNU long name or link) the parser may
/// hold in memory.
pub const MAX_METADATA_ENTRY: u64 = 1024 * 1024;
/// The most GNU sparse extension blocks one entry may have (21 holes each).
pub const MAX_SPARSE_EXTENSIONS: u64 = 4096;

/// What one layer may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the uncompressed tar stream, and of the files it declares
    /// (`RBOX_LAYER_MAX_SIZE`, default 64 GiB).
    pub max_bytes: u64,
    /// Entries (`RBOX_LAYER_MAX_ENTRIES`, default 10 million).
    pub max_entries: u64,
}

/// The default of [`Limits::max_bytes`].
pub const DEFAULT_MAX_BYTES: u64 = 64 << 30;
/// The default of [`Limits::max_entries`].
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;

impl Default for Limits {
    /// The defaults, or what `RBOX_LAYER_MAX_SIZE` and `RBOX_LAYER_MAX_ENTRIES` say
    /// (a number, with an optional `k`, `m`, `g` or `t` suffix for sizes).
    fn default() -> Limits {
        let from_env = |var: &str, default: u64| {
            std::env::var(var)
                .ok()
                .and_then(|v| parse_size(&v))
                .unwrap_or(default)
        };
        Limits {
            max_bytes: from_env("RBOX_LAYER_MAX_SIZE", DEFAULT_MAX_BYTES),
            max_entries: from_env("RBOX_LAYER_MAX_ENTRIES", DEFAULT_MAX_ENTRIES),
        }
    }
}

/// `123`, `64k`, `512M`, `64g`, `1t` (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        (i, 't' | 'T') => (&s[..i], 40),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

/// Where the guard is in the tar framing.
#[derive(Debug)]
enum State {
    /// Collecting a header block (bytes so far).
    Header(Vec<u8>),
    /// Passing a GNU sparse extension block (bytes so far).
    Extension(Vec<u8>),
    /// Passing an entry's data and padding (bytes left).
    Data(u64),
    /// Collecting a PAX extended header's records (records so far, bytes left with padding).
    Pax(Vec<u8>, u64),
}

/// Why a guarded stream was refused, readable after the reader has been handed on.
#[derive(Debug, Clone, Default)]
pub struct Refusal(Rc<RefCell<Option<String>>>);

impl Refusal {
    /// The reason, once the stream was refused.
    pub fn get(&self) -> Option<String> {
        self.0.borrow().clone()
    }
}

/// A reader that enforces [`Limits`] on a tar stream, recording why it stopped.
pub struct Guard<R> {
    inner: R,
    limits: Limits,
    state: State,
    read: u64,
    entries: u64,
    declared: u64,
    extensions: u64,
    /// The size a PAX header gave the next entry.
    pax_size: Option<u64>,
    /// The data (with padding) that follows a sparse entry's extension blocks.
    sparse_data: u64,
    refused: Refusal,
}

impl<R: Read> Guard<R> {
    /// Guards `inner` with `limits`.
    pub fn new(inner: R, limits: Limits) -> Guard<R> {
        Guard {
            inner,
            limits,
            state: State::Header(Vec::with_capacity(BLOCK as usize)),
            read: 0,
            entries: 0,
            declared: 0,
            extensions: 0,
            pax_size: None,
            sparse_data: 0,
            refused: Refusal::default(),
        }
    }

    /// A handle on why the stream was refused.
    pub fn refusal(&self) -> Refusal {
        self.refused.clone()
    }

    fn refuse(&self, why: String) -> io::Error {
        *self.refused.0.borrow_mut() = Some(why.clone());
        io::Error::other(why)
    }

    /// Follows the framing over `buf`, which was just read.
    fn track(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match &mut self.state {
                State::Data(left) => {
                    let n = (*left).min(buf.len() as u64);
                    *left -= n;
                    buf = &buf[n as usize..];
                    if *left == 0 {
                        self.state = State::Header(Vec::with_capacity(BLOCK as usize));
                    }
                }
                State::Pax(records, left) => {
                    let n = (*left).min(buf.len() as u64);
                    records.extend_from_slice(&buf[..n as usize]);
                    *left -= n;
                    buf = &buf[n as usize..];
                    if *left == 0 {
                        self.pax_size = pax_size(records);
                        self.state = State::Header(Vec::with_capacity(BLOCK as usize));
                    }
                }
                State::Header(h) | State::Extension(h) => {
                    let n = (BLOCK as usize - h.len()).min(buf.len());
                    h.extend_from_slice(&buf[..n]);
                    buf = &buf[n..];
                    if h.len() == BLOCK as usize {
                        let block = std::mem::take(h);
                        let header = matches!(self.state, State::Header(_));
                        self.state = if header {
                            self.header(&block)?
                        } else {
                            self.extension(&block)?
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks a header block; returns what follows it.
    fn header(&mut self, block: &[u8]) -> io::Result<State> {
        if block.iter().all(|b| *b == 0) {
            return Ok(State::Header(Vec::with_capacity(BLOCK as usize)));
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.refuse(format!(
                "the layer has over {} entries (the limit, RBOX_LAYER_MAX_ENTRIES)",
                self.limits.max_entries
            )));
        }
        let kind = block[156];
        // An unreadable size field is left to the parser to report.
        let mut size = octal_or_binary(&block[124..136]).unwrap_or(0);
        if !matches!(kind, b'x' | b'g' | b'L' | b'K') {
            if let Some(s) = self.pax_size.take() {
                size = s;
            }
        }
        let name = String::from_utf8_lossy(&block[..100])
            .trim_end_matches('\0')
            .to_owned();
        if matches!(kind, b'x' | b'g' | b'L' | b'K') && size > MAX_METADATA_ENTRY {
            return Err(self.refuse(format!(
                "tar entry {name:?}: a metadata header of {size} bytes (over {MAX_METADATA_ENTRY})"
            )));
        }
        // A GNU sparse file declares its real size apart from the data stored.
        let real = if kind == b'S' {
            octal_or_binary(&block[483..495]).unwrap_or(0).max(size)
        } else {
            size
        };
        self.declared = self.declared.saturating_add(real);
        if self.declared > self.limits.max_bytes {
            return Err(self.refuse(format!(
                "tar entry {name:?} declares {real} bytes: the layer is over the limit of {} bytes \
                 (RBOX_LAYER_MAX_SIZE)",
                self.limits.max_bytes
            )));
        }
        let padded = size.div_ceil(BLOCK) * BLOCK;
        if kind == b'x' && size > 0 {
            return Ok(State::Pax(Vec::with_capacity(size as usize), padded));
        }
        let data = State::Data(padded);
        if kind == b'S' && block[482] != 0 {
            self.extensions = 0;
            self.sparse_data = padded;
            return Ok(State::Extension(Vec::with_capacity(BLOCK as usize)));
        }
        Ok(if size == 0 {
            State::Header(Vec::with_capacity(BLOCK as usize))
        } else {
            data
        })
    }

    /// Checks a GNU sparse extension block; the last one is followed by the entry's data,
    /// whose size is in the header already counted.
    fn extension(&mut self, block: &[u8]) -> io::Result<State> {
        self.extensions += 1;
        if self.extensions > MAX_SPARSE_EXTENSIONS {
            return Err(self.refuse(format!(
                "a sparse tar entry has over {MAX_SPARSE_EXTENSIONS} extension blocks"
            )));
        }
        if block[504] != 0 {
            return Ok(State::Extension(Vec::with_capacity(BLOCK as usize)));
        }
        Ok(match std::mem::take(&mut self.sparse_data) {
            0 => State::Header(Vec::with_capacity(BLOCK as usize)),
            n => State::Data(n),
        })
    }
}

/// The `size` record of PAX extended header records (`LEN key=value\n`...).
fn pax_size(records: &[u8]) -> Option<u64> {
    let mut rest = records;
    let mut size = None;
    while !rest.is_empty() && rest[0] != 0 {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return size;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
        }
        rest = &rest[len..];
    }
    size
}

/// A tar numeric field: octal text, or base-256 when the high bit of the first byte is set.
fn octal_or_binary(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = 0;
        for (i, b) in field.iter().enumerate() {
            let b = if i == 0 { b & 0x7f } else { *b };
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = self.refused.get() {
            return Err(io::Error::other(why));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limits.max_bytes {
            return Err(self.refuse(format!(
                "the uncompressed layer is over the limit of {} bytes (RBOX_LAYER_MAX_SIZE)",
                self.limits.max_bytes
            )));
        }
        self.track(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::layer::apply_with_limits;

    fn small() -> Limits {
        Limits {
            max_bytes: 1 << 20,
            max_entries: 100,
        }
    }

    fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    fn refused(stream: impl Read, limits: Limits) -> String {
        let dir = tempfile::tempdir().unwrap();
        match apply_with_limits(stream, dir.path(), limits) {
            Err(Error::LayerLimit(why)) => why,
            other => panic!("not refused by a limit: {other:?}"),
        }
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999t"), None);
    }

    #[test]
    fn an_ordinary_archive_passes_whole() {
        // Long names (GNU and PAX), a PAX size, links and directories: the guard follows
        // the framing to the end.
        let mut b = tar::Builder::new(Vec::new());
        let long = format!("d/{}/{}", "n".repeat(150), "m".repeat(150));
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
        b.append_pax_extensions([("size", &b"7"[..]), ("path", b"p/pax")])
            .unwrap();
        let mut h = header("ignored", tar::EntryType::Regular, 7);
        h.set_cksum();
        b.append(&h, &b"seven!!"[..]).unwrap();
        for i in 0..50 {
            let mut h = tar::Header::new_ustar();
            h.set_size(600);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("f{i}"), &[b'x'; 600][..])
                .unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        apply_with_limits(&bytes[..], dir.path(), small()).unwrap();
        assert_eq!(std::fs::read(dir.path().join(&long)).unwrap(), b"hello");
        assert_eq!(std::fs::read(dir.path().join("p/pax")).unwrap(), b"seven!!");
        assert_eq!(std::fs::read(dir.path().join("f49")).unwrap().len(), 600);
    }

    #[test]
    fn a_header_declaring_a_terabyte_is_refused_before_its_data() {
        // Endless zeros after the header: only a refusal at the header ends this.
        let h = header("huge", tar::EntryType::Regular, 1 << 40);
        let why = refused(h.as_bytes().chain(io::repeat(0)), Limits::default());
        assert!(
            why.contains("\"huge\"") && why.contains("RBOX_LAYER_MAX_SIZE"),
            "{why}"
        );
        // Through a PAX size as well.
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("size", &b"1099511627776"[..])])
            .unwrap();
        let mut bytes = b.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024);
        bytes.extend_from_slice(header("paxhuge", tar::EntryType::Regular, 0).as_bytes());
        let why = refused(&bytes[..], Limits::default());
        assert!(why.contains("paxhuge"), "{why}");
    }

    #[test]
    fn a_huge_metadata_entry_is_refused_before_it_is_held_in_memory() {
        for kind in [tar::EntryType::XHeader, tar::EntryType::GNULongName] {
            let h = header("meta", kind, 8 << 30);
            let why = refused(h.as_bytes().chain(io::repeat(b'9')), Limits::default());
            assert!(why.contains("metadata header"), "{why}");
        }
    }

    #[test]
    fn endless_sparse_extensions_are_refused() {
        let mut h = header("sparse", tar::EntryType::GNUSparse, 0);
        h.as_gnu_mut().unwrap().isextended = [1];
        h.set_cksum();
        let mut ext = [0u8; 512];
        ext[504] = 1;
        let many = ext.repeat(5000);
        let why = refused(h.as_bytes().chain(&many[..]), Limits::default());
        assert!(why.contains("extension blocks"), "{why}");
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_size_limit() {
        // 64 MiB of zeros in 64 KiB of gzip, against a 1 MiB limit: refused, and at most
        // the limit was written.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        {
            let mut b = tar::Builder::new(&mut gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(64 << 20);
            h.set_mode(0o644);
            b.append_data(&mut h, "bomb", io::repeat(0).take(64 << 20))
                .unwrap();
            b.finish().unwrap();
        }
        let gz = gz.finish().unwrap();
        assert!(gz.len() < 1 << 20);
        let stream = flate2::read::GzDecoder::new(&gz[..]);
        let dir = tempfile::tempdir().unwrap();
        let err = apply_with_limits(stream, dir.path(), small()).unwrap_err();
        assert!(
            err.to_string().contains("over the limit of 1048576"),
            "{err}"
        );
        assert!(!dir.path().join("bomb").exists());
    }

    #[test]
    fn too_many_entries_are_refused() {
        let mut b = tar::Builder::new(Vec::new());
        for i in 0..101 {
            let mut h = tar::Header::new_ustar();
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("e{i}"), &b""[..]).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let why = refused(&bytes[..], small());
        assert!(why.contains("over 100 entries"), "{why}");
    }
}
