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
    /// Collecting a PAX extended header's records (records so far, bytes of records left,
    /// bytes of padding after them).
    Pax(Vec<u8>, u64, u64),
    /// Past the archive's end (its first all-zero block): the parser reads no header
    /// from here on, so the rest is only counted.
    End,
}

/// The longest piece of an archive's input (an entry's name, a link target) put in an error
/// message: a GNU long name can be a megabyte.
pub const MAX_SHOWN: usize = 256;

/// `s` cut to [`MAX_SHOWN`] characters (and marked as cut), for error messages.
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}… ({} bytes in all)", &s[..i], s.len()),
    }
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
///
/// It follows the framing exactly as the `tar` crate's `Archive::entries` reads it (GNU long
/// names and links and PAX headers describe the next entry, a PAX `size` overrides the
/// next entry's header, GNU sparse extension blocks follow their header), and reads every
/// numeric field with the crate's own parser; a field the parser can't read, or one another
/// reader could read differently (base-256 bits the parser ignores, text other than octal
/// digits padded with spaces and NULs), is refused, so the guard and the parser never
/// disagree on where an entry ends.
pub struct Guard<R> {
    inner: R,
    limits: Limits,
    state: State,
    read: u64,
    entries: u64,
    declared: u64,
    extensions: u64,
    /// The records of a PAX header waiting for the entry it describes.
    pax: Option<Vec<u8>>,
    /// A GNU long name or long link is waiting for the entry it describes.
    long_name: bool,
    long_link: bool,
    /// The data (with padding) that follows a sparse entry's extension blocks.
    sparse_data: u64,
    /// The padding at the end of the entry data being passed (for a plain entry's data).
    padding: u64,
    /// Zeros still to give after an archive that stopped at the end of an entry's data.
    ending: u64,
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
            pax: None,
            long_name: false,
            long_link: false,
            sparse_data: 0,
            padding: 0,
            ending: 0,
            refused: Refusal::default(),
        }
    }

    /// The stream guarded.
    pub fn into_inner(self) -> R {
        self.inner
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
                State::End => return Ok(()),
                State::Data(left) => {
                    let n = (*left).min(buf.len() as u64);
                    *left -= n;
                    buf = &buf[n as usize..];
                    if *left == 0 {
                        self.padding = 0;
                        self.state = State::Header(Vec::with_capacity(BLOCK as usize));
                    }
                }
                State::Pax(records, left, padding) => {
                    let n = (*left).min(buf.len() as u64);
                    records.extend_from_slice(&buf[..n as usize]);
                    *left -= n;
                    buf = &buf[n as usize..];
                    if *left == 0 {
                        let records = std::mem::take(records);
                        let padding = *padding;
                        check_pax(&records).map_err(|why| self.refuse(why))?;
                        self.pax = Some(records);
                        self.state = if padding == 0 {
                            State::Header(Vec::with_capacity(BLOCK as usize))
                        } else {
                            State::Data(padding)
                        };
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
            // The parser stops at the first zero block (it doesn't ignore zeros).
            return Ok(State::End);
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(self.refuse(format!(
                "the layer has over {} entries (the limit, RBOX_LAYER_MAX_ENTRIES)",
                self.limits.max_entries
            )));
        }
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(block);
        let name = shown(&String::from_utf8_lossy(&h.path_bytes()));
        let sum = block[..148]
            .iter()
            .chain(&block[156..])
            .fold(0u32, |a, b| a + u32::from(*b))
            + 8 * 32;
        if h.cksum().ok() != Some(sum) {
            return Err(self.refuse(format!(
                "tar entry {name:?}: the header's checksum is wrong or unreadable"
            )));
        }
        let kind = h.entry_type();
        let extension_header = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        let header_size = read_numeric(&block[124..136])
            .map_err(|why| self.refuse(format!("tar entry {name:?}: size field {why}")))?;
        let mut size = header_size;
        // A PAX header's size applies to the next entry that isn't itself a metadata header.
        if !extension_header {
            if let Some(s) = self.pax.as_deref().and_then(pax_size) {
                size = s;
            }
        }
        if extension_header && size > MAX_METADATA_ENTRY {
            return Err(self.refuse(format!(
                "tar entry {name:?}: a metadata header of {size} bytes (over {MAX_METADATA_ENTRY})"
            )));
        }
        let Some(padded) = size.checked_next_multiple_of(BLOCK) else {
            return Err(self.refuse(format!("tar entry {name:?}: a size of {size} bytes")));
        };
        // What the parser takes as describing the next entry: GNU long names and links and
        // PAX headers of a recognized (ustar or GNU) header.
        let recognized = h.as_gnu().is_some() || h.as_ustar().is_some();
        if recognized && (kind.is_gnu_longname() || kind.is_gnu_longlink()) {
            let seen = if kind.is_gnu_longname() {
                &mut self.long_name
            } else {
                &mut self.long_link
            };
            if std::mem::replace(seen, true) {
                return Err(self.refuse(format!(
                    "tar entry {name:?}: two GNU long names or links for one entry"
                )));
            }
            return Ok(data(padded));
        }
        if recognized && kind.is_pax_local_extensions() {
            if self.pax.is_some() {
                return Err(
                    self.refuse(format!("tar entry {name:?}: two PAX headers for one entry"))
                );
            }
            if size == 0 {
                self.pax = Some(Vec::new());
                return Ok(data(0));
            }
            return Ok(State::Pax(
                Vec::with_capacity(size as usize),
                size,
                padded - size,
            ));
        }
        // An entry: what was waiting for it is its own now.
        self.pax = None;
        self.long_name = false;
        self.long_link = false;
        // A GNU sparse file declares its real size apart from the data stored.
        let mut real = size;
        let mut extended = false;
        if kind.is_gnu_sparse() {
            let Some(gnu) = h.as_gnu() else {
                return Err(self.refuse(format!(
                    "tar entry {name:?}: a sparse entry without a GNU header"
                )));
            };
            let r = read_numeric(&block[483..495]).map_err(|why| {
                self.refuse(format!("tar entry {name:?}: sparse real size field {why}"))
            })?;
            real = r.max(size);
            extended = gnu.is_extended();
        }
        self.declared = self.declared.saturating_add(real);
        if self.declared > self.limits.max_bytes {
            return Err(self.refuse(format!(
                "tar entry {name:?} declares {real} bytes: the layer is over the limit of {} bytes \
                 (RBOX_LAYER_MAX_SIZE)",
                self.limits.max_bytes
            )));
        }
        if extended {
            self.extensions = 0;
            self.sparse_data = padded;
            return Ok(State::Extension(Vec::with_capacity(BLOCK as usize)));
        }
        self.padding = padded - size;
        Ok(data(padded))
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
        // As the parser reads it: extended only when the flag is exactly 1.
        if block[504] == 1 {
            return Ok(State::Extension(Vec::with_capacity(BLOCK as usize)));
        }
        Ok(data(std::mem::take(&mut self.sparse_data)))
    }
}

/// The state after a header followed by `padded` bytes of data.
fn data(padded: u64) -> State {
    if padded == 0 {
        State::Header(Vec::with_capacity(BLOCK as usize))
    } else {
        State::Data(padded)
    }
}

/// Refuses PAX records the parser would read differently from other readers: a malformed
/// record (the parser then ignores every `size` after it, Go's archive/tar refuses the
/// archive), more than one `size`, a `size` that isn't a number.
fn check_pax(records: &[u8]) -> Result<(), String> {
    let mut sizes = 0;
    for ext in tar::PaxExtensions::new(records) {
        let ext = ext.map_err(|_| "a malformed PAX extended header record".to_owned())?;
        if ext.key_bytes() == b"size" {
            sizes += 1;
            let v = ext.value_bytes();
            if sizes > 1 {
                return Err("a PAX extended header with more than one size".into());
            }
            if v.is_empty()
                || !v.iter().all(u8::is_ascii_digit)
                || std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_none()
            {
                return Err(format!(
                    "a PAX extended header size {:?} that isn't a number",
                    shown(&String::from_utf8_lossy(v))
                ));
            }
        }
    }
    Ok(())
}

/// The `size` record of PAX extended header records, as the tar parser finds it: the first
/// `size` record, none if a malformed record comes before it. ([`check_pax`] refused every
/// header where this differs from reading all records.)
fn pax_size(records: &[u8]) -> Option<u64> {
    for ext in tar::PaxExtensions::new(records) {
        let ext = ext.ok()?;
        if ext.key() != Ok("size") {
            continue;
        }
        return ext.value().ok()?.parse::<u64>().ok();
    }
    None
}

/// A tar numeric field (size, sparse real size) read exactly as the tar crate reads it, or
/// why it is refused: unreadable to the parser, or read differently by other readers.
///
/// The parser takes octal text up to the first NUL, trimmed of any whitespace (so
/// `"\t14000000000"` is 12 GiB to it), and of a base-256 field only the last 8 bytes. This
/// accepts octal digits with leading spaces and trailing spaces or NULs (what tar writers
/// produce), and base-256 whose ignored bytes are zero, and checks that the parser reads the
/// same value.
pub(crate) fn read_numeric(field: &[u8]) -> Result<u64, String> {
    let mut h = tar::Header::new_old();
    let at = 124;
    h.as_mut_bytes()[at..at + field.len()].copy_from_slice(field);
    // The parser reads only 12-byte fields here; both callers pass 12 bytes.
    let parsed = h
        .entry_size()
        .map_err(|_| "is unreadable to the tar parser".to_owned())?;
    let strict = if field[0] & 0x80 != 0 {
        // Base-256: the parser ignores the first len - 8 bytes (the marker byte's low bits
        // included); another reader would not.
        (field[0] == 0x80 && field[1..field.len() - 8].iter().all(|b| *b == 0)).then(|| {
            field[field.len() - 8..]
                .iter()
                .fold(0u64, |v, b| (v << 8) | u64::from(*b))
        })
    } else {
        let start = field.iter().position(|b| *b != b' ').unwrap_or(field.len());
        let digits = field[start..]
            .iter()
            .position(|b| !(b'0'..=b'7').contains(b))
            .map_or(field.len(), |n| start + n);
        let tail_ok = field[digits..].iter().all(|b| *b == b' ' || *b == 0);
        if digits == start || !tail_ok {
            None
        } else {
            std::str::from_utf8(&field[start..digits])
                .ok()
                .and_then(|s| u64::from_str_radix(s, 8).ok())
        }
    };
    match strict {
        Some(v) if v == parsed => Ok(v),
        _ => Err(format!(
            "{:?} is ambiguous (tar readers disagree on it)",
            shown(&String::from_utf8_lossy(field))
        )),
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = self.refused.get() {
            return Err(io::Error::other(why));
        }
        if self.ending > 0 {
            let n = (self.ending.min(buf.len() as u64)) as usize;
            buf[..n].fill(0);
            self.ending -= n as u64;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            // An archive that stops right after an entry's data, without its padding and
            // the end-of-archive blocks (as umoci 0.4's `insert` writes one): ended there,
            // as Go's archive/tar (docker's and containerd's reader) reads it.
            if let State::Data(left) = self.state {
                if left <= self.padding {
                    self.state = State::End;
                    self.ending = left + 2 * BLOCK;
                    return self.read(buf);
                }
            }
        }
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
    fn an_archive_ending_at_its_last_datas_end_is_read_as_go_reads_it() {
        // As umoci 0.4's `insert` writes one: no padding after the last data, no end blocks.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header("a", tar::EntryType::Regular, 6);
        h.set_cksum();
        b.append(&h, &b"hello\n"[..]).unwrap();
        let mut h = header("b", tar::EntryType::Regular, 512);
        h.set_cksum();
        b.append(&h, &[b'b'; 512][..]).unwrap();
        let mut h = header("c", tar::EntryType::Regular, 3);
        h.set_cksum();
        b.append(&h, &b"end"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let cut = 512 + 512 + 512 + 512 + 512 + 3;
        let dir = tempfile::tempdir().unwrap();
        apply_with_limits(&bytes[..cut], dir.path(), small()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("c")).unwrap(), b"end");
        // Ending at a header's place (b's data fills its blocks), too.
        let dir = tempfile::tempdir().unwrap();
        apply_with_limits(&bytes[..512 * 4], dir.path(), small()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap().len(), 512);
        // Cut inside data: still an error.
        let dir = tempfile::tempdir().unwrap();
        assert!(apply_with_limits(&bytes[..cut - 1], dir.path(), small()).is_err());
        assert!(apply_with_limits(&bytes[..512 * 3 + 100], dir.path(), small()).is_err());
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
        h.as_gnu_mut().unwrap().set_real_size(0);
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

    /// A GNU long-name header whose size field is `field`, its name data, and a file.
    fn long_name_with_size(field: &[u8; 12], name_len: usize) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_mode(0o644);
        h.as_old_mut().size = *field;
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'n', name_len));
        bytes
    }

    #[test]
    fn numeric_fields_are_read_as_the_parser_reads_them_or_refused() {
        assert_eq!(read_numeric(b"00000000012\0"), Ok(10));
        assert_eq!(read_numeric(b"00000000012 "), Ok(10));
        assert_eq!(read_numeric(b"     12 \0\0\0\0"), Ok(10));
        assert_eq!(read_numeric(b"777777777777"), Ok(0o777777777777));
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 5;
        assert_eq!(read_numeric(&b256), Ok(5));
        // The parser reads these as 12 GiB (or not at all); another reader as 0 or
        // something else: refused.
        for field in [
            &b"\t14000000000"[..],
            b"\n1400000000\0",
            b"+1400000000\0",
            b"12\0garbage\0\0",
            b"\0\0\0\0\0\0\0\0\0\0\0\0",
            b"            ",
            b"0000000008\0\0",
        ] {
            assert!(read_numeric(field).is_err(), "{field:?}");
        }
        // Base-256 bits the parser ignores.
        for (i, v) in [(0, 0x81), (1, 1), (3, 0xff)] {
            let mut f = b256;
            f[i] = v;
            assert!(read_numeric(&f).is_err(), "{f:?}");
        }
        let mut neg = [0xffu8; 12];
        neg[11] = 0;
        assert!(read_numeric(&neg).is_err());
    }

    #[test]
    fn a_long_name_the_parser_reads_as_huge_is_refused_at_its_header() {
        // "\t14000000000": 0 to a reader trimming only spaces and NULs, 12 GiB to the tar
        // crate, which would hold all of it in memory. Endless name bytes after it: only a
        // refusal at the header ends this.
        let bytes = long_name_with_size(b"\t14000000000", 0);
        let why = refused((&bytes[..]).chain(io::repeat(b'n')), Limits::default());
        assert!(
            why.contains("size field") && why.contains("ambiguous"),
            "{why}"
        );
        assert!(why.len() < 400, "{why}");
        // A base-256 size with bits only some readers see.
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[2] = 1;
        f[11] = 1;
        let bytes = long_name_with_size(&f, 0);
        let why = refused((&bytes[..]).chain(io::repeat(b'n')), Limits::default());
        assert!(why.contains("ambiguous"), "{why}");
        // A long name of 1 MiB + 1, written plainly: over the metadata limit.
        let mut f = [0u8; 12];
        f.copy_from_slice(format!("{:011o}\0", MAX_METADATA_ENTRY + 1).as_bytes());
        let bytes = long_name_with_size(&f, 0);
        let why = refused((&bytes[..]).chain(io::repeat(b'n')), Limits::default());
        assert!(why.contains("metadata header of 1048577"), "{why}");
    }

    #[test]
    fn pax_headers_readers_disagree_on_are_refused() {
        let pax = |records: &[u8]| {
            let mut h = header("pax", tar::EntryType::XHeader, records.len() as u64);
            h.set_cksum();
            let mut b = tar::Builder::new(Vec::new());
            b.append(&h, records).unwrap();
            let f = header("f", tar::EntryType::Regular, 0);
            b.append(&f, &b""[..]).unwrap();
            b.into_inner().unwrap()
        };
        // Two sizes (the parser takes the first), a malformed record before a size (the
        // parser then ignores the size), a size that isn't a number.
        for (records, why) in [
            (&b"9 size=0\n14 size=99999\n"[..], "more than one size"),
            (b"5 x=y\n15 size=123456\n", "malformed"),
            (b"11 size=+1\n", "isn't a number"),
        ] {
            let got = refused(&pax(records)[..], Limits::default());
            assert!(got.contains(why), "{records:?}: {got}");
        }
    }

    #[test]
    fn a_pax_size_does_not_reach_past_a_global_header() {
        // x (size=1536), g, then a file of size 0 followed by three blocks that are
        // headers to the parser: the parser gives the PAX size to the g entry's place and
        // not to the file, so the guard must too and see the huge header that follows.
        let mut b = tar::Builder::new(Vec::new());
        let rec = b"12 size=512\n";
        let mut h = header("pax", tar::EntryType::XHeader, rec.len() as u64);
        h.set_cksum();
        b.append(&h, &rec[..]).unwrap();
        let g = header("global", tar::EntryType::XGlobalHeader, 0);
        b.append(&g, &b""[..]).unwrap();
        let f = header("f", tar::EntryType::Regular, 0);
        b.append(&f, &b""[..]).unwrap();
        let mut bytes = b.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024);
        bytes.extend_from_slice(header("huge", tar::EntryType::Regular, 1 << 40).as_bytes());
        let why = refused((&bytes[..]).chain(io::repeat(0)), Limits::default());
        assert!(why.contains("\"huge\""), "{why}");
    }

    #[test]
    fn names_in_refusals_are_cut_short() {
        let long = "x".repeat(10_000);
        let s = shown(&long);
        assert!(s.len() < MAX_SHOWN + 40, "{}", s.len());
        assert!(s.contains("10000 bytes"));
        assert_eq!(shown("short"), "short");
        assert_eq!(
            shown(&"é".repeat(300))
                .chars()
                .filter(|c| *c == 'é')
                .count(),
            256
        );
    }
}
