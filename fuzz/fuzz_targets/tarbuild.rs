//! Tar archives made of raw entries, as a hostile archive would hold them: any path, any
//! link target, any type, with a valid checksum so the fuzzer gets past the header.

use libfuzzer_sys::arbitrary::{self, Arbitrary};

/// The entry types a layer may hold, plus whatever byte the input names.
#[derive(Arbitrary, Debug)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    Fifo,
    CharDevice,
    Pax,
    GnuLongName,
    Other(u8),
}

/// One entry: `path`, `link` target, `data`, mode, owner, mtime.
#[derive(Arbitrary, Debug)]
pub struct Entry {
    pub kind: Kind,
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    pub mode: u16,
    pub uid: u8,
    pub mtime: u32,
    /// A size field that lies about the data (`Some`), as a truncated archive does.
    pub size_lie: Option<u16>,
}

/// A whole archive, optionally cut short.
#[derive(Arbitrary, Debug)]
pub struct Archive {
    pub entries: Vec<Entry>,
    pub truncate_to: Option<u16>,
}

fn copy_field(field: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
}

impl Archive {
    /// The archive's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.entries.iter().take(64) {
            let mut h = tar::Header::new_gnu();
            let ty = match &e.kind {
                Kind::File => tar::EntryType::Regular,
                Kind::Dir => tar::EntryType::Directory,
                Kind::Symlink => tar::EntryType::Symlink,
                Kind::HardLink => tar::EntryType::Link,
                Kind::Fifo => tar::EntryType::Fifo,
                Kind::CharDevice => tar::EntryType::Char,
                Kind::Pax => tar::EntryType::XHeader,
                Kind::GnuLongName => tar::EntryType::GNULongName,
                Kind::Other(b) => tar::EntryType::new(*b),
            };
            {
                let old = h.as_old_mut();
                copy_field(&mut old.name, &e.path);
                copy_field(&mut old.linkname, &e.link);
            }
            h.set_entry_type(ty);
            let data: &[u8] = if ty.is_dir() || ty.is_symlink() || ty == tar::EntryType::Link {
                &[]
            } else {
                &e.data
            };
            h.set_size(e.size_lie.map(u64::from).unwrap_or(data.len() as u64));
            h.set_mode(u32::from(e.mode) & 0o7777);
            h.set_uid(u64::from(e.uid));
            h.set_gid(u64::from(e.uid));
            h.set_mtime(u64::from(e.mtime));
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            let pad = (512 - data.len() % 512) % 512;
            out.extend(std::iter::repeat_n(0u8, pad));
        }
        out.extend(std::iter::repeat_n(0u8, 1024));
        if let Some(n) = self.truncate_to {
            out.truncate(n as usize);
        }
        out
    }
}
