//! Spliced blobs: a blob kept as ranges of other blobs, in order, rather than as a file of
//! its own.
//!
//! A layer built over the one its step made last is mostly that layer's bytes: the store
//! keeps it as a recipe, `blobs/spliced/<hex>.json` (its size and its parts: blob, offset,
//! length), whose parts are whole blobs only: the earlier layer's (or, spliced itself, its
//! parts) and a blob of the new layer's own bytes. Nothing of the earlier layer is copied.
//! [`BlobView`] reads such a blob where it lies; whatever needs the blob as a file (a push,
//! a save, a snapshot made from it, `system check`'s hash) gets it by [`Store::blob_file`] or
//! [`Store::open_blob`], which write it whole once (verified against its digest) and drop
//! the recipe. Collection keeps a recipe's parts while the recipe is wanted.

use std::fs::{self, File};
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::store::Store;

/// A spliced blob: its size and parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipe {
    /// Bytes of the blob.
    pub size: u64,
    /// Its bytes, in order: ranges of whole blobs.
    pub parts: Vec<Part>,
}

/// A range of a whole blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The blob (`sha256:…`).
    pub blob: String,
    /// Where in it the range starts.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

impl Recipe {
    /// The whole blobs it is made of.
    pub fn blobs(&self) -> Vec<Digest> {
        let mut out: Vec<Digest> = self
            .parts
            .iter()
            .filter_map(|p| p.blob.parse().ok())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A stored blob open for reading at any offset, whole or spliced.
pub struct BlobView {
    digest: Digest,
    len: u64,
    /// Whole: the file. Spliced: each part's start in the blob, the part, and its blob's file.
    files: Vec<(u64, Part, File)>,
    whole: bool,
}

impl BlobView {
    /// Bytes of the blob.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads `buf.len()` bytes at `offset`, all of them or an error.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        if offset + buf.len() as u64 > self.len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (mut at, mut done) = (offset, 0usize);
        while done < buf.len() {
            let (start, part, file) = self.part_at(at);
            let inside = at - start;
            let n = ((part.len - inside) as usize).min(buf.len() - done);
            file.read_exact_at(&mut buf[done..done + n], part.offset + inside)?;
            done += n;
            at += n as u64;
        }
        Ok(())
    }

    /// `len` bytes from `offset`, as ranges of whole blobs: the blob, and where in it.
    pub fn ranges(&self, offset: u64, len: u64) -> Vec<(Digest, u64, u64)> {
        if self.whole {
            return vec![(self.digest.clone(), offset, len)];
        }
        let (mut at, end, mut out) = (offset, offset + len, Vec::new());
        while at < end {
            let (start, part, _) = self.part_at(at);
            let inside = at - start;
            let n = (part.len - inside).min(end - at);
            if let Ok(d) = part.blob.parse() {
                out.push((d, part.offset + inside, n));
            }
            at += n;
        }
        out
    }

    /// The part holding byte `at` (which the blob has).
    fn part_at(&self, at: u64) -> &(u64, Part, File) {
        let i = self.files.partition_point(|(start, ..)| *start <= at);
        &self.files[i.saturating_sub(1)]
    }
}

impl Store {
    fn spliced_dir(&self) -> PathBuf {
        self.images_dir().join("blobs").join("spliced")
    }

    /// Where blob `d`'s recipe is kept, if it is spliced.
    pub(crate) fn recipe_path(&self, d: &Digest) -> PathBuf {
        self.spliced_dir().join(format!("{}.json", d.hex()))
    }

    /// The recipe of blob `d`, if it is spliced (and not also whole).
    pub fn recipe(&self, d: &Digest) -> Option<Recipe> {
        let bytes = fs::read(self.recipe_path(d)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The digests of the spliced blobs.
    pub(crate) fn spliced(&self) -> Result<Vec<Digest>> {
        let dir = self.spliced_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                Digest::from_hex(name.strip_suffix(".json")?).ok()
            })
            .collect())
    }

    /// Records blob `d` as `recipe` (its parts committed already).
    pub(crate) fn write_recipe(&self, d: &Digest, recipe: &Recipe) -> Result<()> {
        let dir = self.spliced_dir();
        fs::create_dir_all(&dir).at(&dir)?;
        crate::store::write_atomic(
            &self.recipe_path(d),
            &serde_json::to_vec(recipe).expect("a recipe serializes"),
        )?;
        crate::store::sync_dir(&dir)
    }

    /// Forgets blob `d`'s recipe (its parts are collected when nothing else wants them).
    pub(crate) fn remove_recipe(&self, d: &Digest) -> Result<()> {
        let p = self.recipe_path(d);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(&p, e)),
            _ => Ok(()),
        }
    }

    /// Opens blob `d` for reading at any offset, where it lies.
    pub fn blob_view(&self, d: &Digest) -> Result<BlobView> {
        let path = self.blob_path(d);
        match File::open(&path) {
            Ok(f) => {
                let len = f.metadata().at(&path)?.len();
                let part = Part {
                    blob: d.to_string(),
                    offset: 0,
                    len,
                };
                return Ok(BlobView {
                    digest: d.clone(),
                    len,
                    files: vec![(0, part, f)],
                    whole: true,
                });
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
            Err(_) => {}
        }
        let recipe = self
            .recipe(d)
            .ok_or_else(|| Error::MissingBlob(d.to_string()))?;
        let mut files = Vec::new();
        let mut at = 0;
        for part in recipe.parts {
            let blob: Digest = part.blob.parse().map_err(|_| {
                Error::io(
                    self.recipe_path(d),
                    io::Error::other("a part names no blob"),
                )
            })?;
            let p = self.blob_path(&blob);
            let f = File::open(&p).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::MissingBlob(blob.to_string()),
                _ => Error::io(&p, e),
            })?;
            if part.len > 0 {
                let start = at;
                at += part.len;
                files.push((start, part, f));
            }
        }
        if at != recipe.size {
            return Err(Error::io(
                self.recipe_path(d),
                io::Error::other("its parts are not its size"),
            ));
        }
        Ok(BlobView {
            digest: d.clone(),
            len: recipe.size,
            files,
            whole: false,
        })
    }

    /// The path of blob `d` as a file of its own: a spliced blob is written whole first
    /// (verified against its digest) and its recipe dropped.
    pub fn blob_file(&self, d: &Digest) -> Result<PathBuf> {
        let path = self.blob_path(d);
        if path.is_file() || self.recipe(d).is_none() {
            return Ok(path);
        }
        let view = self.blob_view(d)?;
        let mut w = self.blob_writer()?;
        for (blob, offset, len) in view.ranges(0, view.len()) {
            w.append_whole(&blob, offset, len)?;
        }
        w.commit(Some(d))?;
        self.remove_recipe(d)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_spliced_blob_reads_as_its_parts_and_is_made_whole_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
        let a_d = store.ingest_bytes(&a).unwrap();
        // The new blob: a's middle, some bytes of its own, a's start.
        let mut w = store.spliced_writer().unwrap();
        w.append_blob(&a_d, 1000, 150_000).unwrap();
        w.write_all(b"own bytes").unwrap();
        w.append_blob(&a_d, 0, 500).unwrap();
        let mut want = a[1000..151_000].to_vec();
        want.extend_from_slice(b"own bytes");
        want.extend_from_slice(&a[..500]);
        let (d, n, _) = w.commit_indexed(None).unwrap();
        assert_eq!((d.clone(), n), (Digest::of(&want), want.len() as u64));
        // Kept as a recipe, not a copy; read where it lies.
        assert!(!store.blob_path(&d).exists());
        assert!(store.has_blob(&d));
        let recipe = store.recipe(&d).unwrap();
        assert_eq!(recipe.parts.len(), 3);
        let view = store.blob_view(&d).unwrap();
        let mut got = vec![0u8; want.len()];
        view.read_exact_at(&mut got, 0).unwrap();
        assert!(got == want);
        let mut mid = vec![0u8; 20];
        view.read_exact_at(&mut mid, 149_995).unwrap();
        assert_eq!(mid, want[149_995..150_015]);
        assert!(view.read_exact_at(&mut mid, want.len() as u64 - 5).is_err());
        // A blob spliced over it takes its parts, never itself.
        let mut w = store.spliced_writer().unwrap();
        w.append_blob(&d, 149_000, 1009).unwrap();
        let (d2, ..) = w.commit_indexed(None).unwrap();
        assert_eq!(d2, Digest::of(&want[149_000..150_009]));
        assert!(!store.recipe(&d2).unwrap().blobs().contains(&d));
        // Collection keeps the parts of what is kept: here nothing is.
        store.gc(&[]).unwrap();
        assert!(!store.has_blob(&d) && !store.has_blob(&a_d));
        // Made whole on demand.
        let a_d = store.ingest_bytes(&a).unwrap();
        let mut w = store.spliced_writer().unwrap();
        w.append_blob(&a_d, 7, 70_000).unwrap();
        let (d3, ..) = w.commit_indexed(None).unwrap();
        let path = store.blob_file(&d3).unwrap();
        assert_eq!(fs::read(path).unwrap(), a[7..70_007]);
        assert!(store.recipe(&d3).is_none());
    }
}
