//! Garbage collection: removes blobs and snapshots that no tagged or dangling image, and
//! nothing the caller names as in use, refers to; and clears leftovers of interrupted work
//! and the trash.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{IoContext, Result};
use crate::store::Store;

/// What a collection removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Blobs removed.
    pub blobs: usize,
    /// Snapshots removed.
    pub snapshots: usize,
    /// Bytes of blobs removed.
    pub bytes: u64,
}

impl Store {
    /// Removes every blob and snapshot not reachable from index.json, except the images
    /// (manifest digests) in `keep`. Waits for content being added to finish first.
    pub fn gc(&self, keep: &[Digest]) -> Result<GcReport> {
        let _gc = self.lock_gc()?;
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut snapshots: HashSet<Digest> = HashSet::new();
        let manifests = self
            .entries()?
            .into_iter()
            .map(|e| e.manifest)
            .chain(keep.iter().cloned());
        for m in manifests {
            blobs.insert(m.clone());
            let Ok(image) = self.image(&m) else { continue };
            blobs.insert(image.config_digest.clone());
            blobs.extend(image.layer_digests().unwrap_or_default());
            snapshots.extend(image.chain_ids().unwrap_or_default());
        }
        // A spliced blob kept keeps its parts; one not kept, or whole too, goes.
        let spliced = self.spliced()?;
        for d in &spliced {
            if blobs.contains(d) && !self.blob_path(d).is_file() {
                blobs.extend(self.recipe(d).map(|r| r.blobs()).unwrap_or_default());
            }
        }
        let mut report = GcReport::default();
        for d in &spliced {
            if !blobs.contains(d) || self.blob_path(d).is_file() {
                self.remove_recipe(d)?;
                report.blobs += 1;
            }
        }
        let dir = self.images_dir().join("blobs").join("sha256");
        for e in fs::read_dir(&dir).at(&dir)? {
            let e = e.at(&dir)?;
            let keep = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
                .is_some_and(|d| blobs.contains(&d));
            if !keep {
                report.bytes += e.metadata().map_or(0, |m| m.len());
                fs::remove_file(e.path()).at(e.path())?;
                report.blobs += 1;
            }
        }
        for s in self.snapshots()? {
            if !snapshots.contains(&s) {
                self.remove_snapshot(&s)?;
                report.snapshots += 1;
            }
        }
        // Nobody is adding content while we hold the gc lock: whatever is in tmp/ was left
        // by an interrupted process, mounts included (a build's root, killed mid-step).
        let tmp = self.tmp_dir();
        for m in mounts_under(&tmp).iter().rev() {
            rustix::mount::unmount(m, rustix::mount::UnmountFlags::DETACH)
                .map_err(|e| crate::Error::io(m, e.into()))?;
        }
        for e in fs::read_dir(&tmp).at(&tmp)? {
            let p = e.at(&tmp)?.path();
            let res = if p.is_dir() && !p.is_symlink() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            res.at(&p)?;
        }
        self.empty_trash()?;
        Ok(report)
    }
}

/// Mount points below `dir`, in the order they were mounted.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(&dir) && *p != dir)
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let digit = |k: usize| u32::from(b[i + k] - b'0');
            out.push((digit(1) * 64 + digit(2) * 8 + digit(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(super::unescape("/a\\040b/c\\134d"), "/a b/c\\d");
        assert_eq!(super::unescape("/plain\\9"), "/plain\\9");
    }
}
