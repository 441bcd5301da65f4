//! Checking the store: every blob's content against its name, every index.json entry
//! down to its layers, every snapshot's record; and, on request, dropping what is broken so
//! that the store holds only whole, verified images.

use std::fs;
use std::io;

use crate::digest::{Digest, HashingReader};
use crate::error::{IoContext, Result};
use crate::store::Store;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file under `blobs/sha256` whose name is not the sha256 of its content.
    CorruptBlob {
        /// Its file name.
        name: String,
    },
    /// An index.json entry whose manifest, config or a layer is missing, corrupt or
    /// unreadable.
    BrokenImage {
        /// Its tag, or its manifest digest when untagged.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot directory without a valid record of the layer it holds.
    BadSnapshot {
        /// Its directory name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::CorruptBlob { name } => {
                write!(f, "blob {name}: its content does not match its name")
            }
            Problem::BrokenImage { name, reason } => write!(f, "image {name}: {reason}"),
            Problem::BadSnapshot { name, reason } => write!(f, "snapshot {name}: {reason}"),
        }
    }
}

/// What a check found (and, with repair, removed).
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Blobs verified.
    pub blobs: usize,
    /// index.json entries checked.
    pub images: usize,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Everything found wrong, in the order found.
    pub problems: Vec<Problem>,
}

impl Store {
    /// Verifies every blob's digest, every index.json entry (manifest, config and layers
    /// present and whole), and every snapshot's record. With `repair`, corrupt blobs,
    /// broken entries and bad snapshots are removed; a collection afterwards reclaims what
    /// they alone used. Waits for content being added to finish first.
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let _gc = self.lock_gc()?;
        let mut report = CheckReport::default();
        let dir = self.images_dir().join("blobs").join("sha256");
        let mut corrupt = Vec::new();
        for e in fs::read_dir(&dir).at(&dir)? {
            let e = e.at(&dir)?;
            let name = e.file_name().to_string_lossy().into_owned();
            report.blobs += 1;
            let whole = match Digest::from_hex(&name) {
                Ok(d) => {
                    let f = fs::File::open(e.path()).at(e.path())?;
                    let mut h = HashingReader::new(f);
                    io::copy(&mut h, &mut io::sink()).at(e.path())?;
                    h.finish().at(e.path())?.0 == d
                }
                Err(_) => false,
            };
            if !whole {
                corrupt.push(name.clone());
                report.problems.push(Problem::CorruptBlob { name });
            }
        }
        // Spliced blobs: their parts there, and their bytes their digest.
        let mut corrupt_spliced = Vec::new();
        for d in self.spliced()? {
            report.blobs += 1;
            let whole = self.blob_view(&d).is_ok_and(|view| {
                let mut h = crate::digest::Sha256Stream::new();
                let mut buf = vec![0u8; 1 << 20];
                let mut at = 0;
                while at < view.len() {
                    let n = (view.len() - at).min(buf.len() as u64) as usize;
                    if view.read_exact_at(&mut buf[..n], at).is_err() {
                        return false;
                    }
                    h.update(&buf[..n]);
                    at += n as u64;
                }
                h.finish() == d
            });
            if !whole {
                corrupt.push(d.hex().to_owned());
                corrupt_spliced.push(d.clone());
                report.problems.push(Problem::CorruptBlob {
                    name: format!("spliced/{}", d.hex()),
                });
            }
        }
        if repair {
            for name in &corrupt {
                let p = dir.join(name);
                if p.is_file() {
                    fs::remove_file(&p).at(&p)?;
                }
            }
            for d in &corrupt_spliced {
                self.remove_recipe(d)?;
            }
        }
        let is_whole = |d: &Digest| self.has_blob(d) && !corrupt.iter().any(|c| c == d.hex());

        let mut broken = Vec::new();
        for entry in self.entries()? {
            report.images += 1;
            let name = match &entry.reference {
                Some(r) => r.to_string(),
                None => entry.manifest.to_string(),
            };
            let reason = if !is_whole(&entry.manifest) {
                Some(format!("manifest {} is missing or corrupt", entry.manifest))
            } else {
                match self.image(&entry.manifest) {
                    Err(e) => Some(e.to_string()),
                    Ok(image) => {
                        let mut blobs = vec![image.config_digest.clone()];
                        blobs.extend(image.layer_digests().unwrap_or_default());
                        let diff_ids = image.diff_ids().map(|d| d.len()).unwrap_or(usize::MAX);
                        if let Some(b) = blobs.iter().find(|b| !is_whole(b)) {
                            Some(format!("blob {b} is missing or corrupt"))
                        } else if diff_ids != blobs.len() - 1 {
                            Some("its config's diff IDs don't match its layers".to_owned())
                        } else {
                            None
                        }
                    }
                }
            };
            if let Some(reason) = reason {
                broken.push(entry.manifest.clone());
                report.problems.push(Problem::BrokenImage { name, reason });
            }
        }
        if repair && !broken.is_empty() {
            self.modify_index(|manifests| {
                manifests.retain(|d| {
                    Digest::try_from(d.digest()).map_or(true, |m| !broken.contains(&m))
                });
                Ok(())
            })?;
        }

        let sdir = self.snapshots_dir();
        for e in fs::read_dir(&sdir).at(&sdir)? {
            let e = e.at(&sdir)?;
            let name = e.file_name().to_string_lossy().into_owned();
            report.snapshots += 1;
            let reason = match Digest::from_hex(&name) {
                Err(_) => Some("not named by a chain ID".to_owned()),
                Ok(chain) => match self.snapshot_info(&chain) {
                    Err(e) => Some(e.to_string()),
                    Ok(None) => Some("no info.json: unpacking never finished".to_owned()),
                    Ok(Some(info)) if info.chain_id != chain.to_string() => {
                        Some(format!("info.json names {}", info.chain_id))
                    }
                    Ok(Some(_)) if !self.snapshot_fs(&chain).is_dir() => {
                        Some("no fs/ directory".to_owned())
                    }
                    Ok(Some(_)) => None,
                },
            };
            if let Some(reason) = reason {
                if repair {
                    let trash = self.tmp_path("removed-snapshot");
                    fs::rename(e.path(), &trash).at(e.path())?;
                    if trash.is_dir() && !trash.is_symlink() {
                        fs::remove_dir_all(&trash).at(&trash)?;
                    } else {
                        fs::remove_file(&trash).at(&trash)?;
                    }
                }
                report.problems.push(Problem::BadSnapshot { name, reason });
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reference;

    fn rootfs(content: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "file", content).unwrap();
        b.into_inner().unwrap()
    }

    fn store_with_two_images() -> (tempfile::TempDir, Store, crate::Image, crate::Image) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = store
            .import_rootfs(
                &rootfs(b"a")[..],
                Some(&Reference::parse("a:1").unwrap()),
                "test",
            )
            .unwrap();
        let b = store
            .import_rootfs(
                &rootfs(b"b")[..],
                Some(&Reference::parse("b:1").unwrap()),
                "test",
            )
            .unwrap();
        (dir, store, a, b)
    }

    #[test]
    fn a_sound_store_has_no_problem() {
        let (_dir, store, _, _) = store_with_two_images();
        let r = store.check(false).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!((r.blobs, r.images, r.snapshots), (6, 2, 2));
    }

    #[test]
    fn a_corrupt_layer_breaks_its_image_and_repair_removes_it_alone() {
        let (_dir, store, a, b) = store_with_two_images();
        let layer = a.layer_digests().unwrap()[0].clone();
        fs::write(store.blob_path(&layer), b"flipped").unwrap();
        let r = store.check(false).unwrap();
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert_eq!(
            r.problems[0],
            Problem::CorruptBlob {
                name: layer.hex().to_owned()
            }
        );
        assert!(
            matches!(&r.problems[1], Problem::BrokenImage { name, .. } if name == "docker.io/library/a:1")
        );
        // Checking changed nothing.
        assert!(store.has_blob(&layer));
        store.check(true).unwrap();
        assert!(!store.has_blob(&layer));
        let left: Vec<_> = store.entries().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].manifest, b.manifest_digest);
        assert!(store.check(false).unwrap().problems.is_empty());
    }

    #[test]
    fn missing_configs_and_half_snapshots_are_found() {
        let (_dir, store, a, _) = store_with_two_images();
        fs::remove_file(store.blob_path(&a.config_digest)).unwrap();
        let chain = a.chain_ids().unwrap()[0].clone();
        fs::remove_file(store.snapshot_dir(&chain).join("info.json")).unwrap();
        fs::create_dir(store.snapshots_dir().join("not-a-chain-id")).unwrap();
        let r = store.check(false).unwrap();
        assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
        store.check(true).unwrap();
        assert!(store.check(false).unwrap().problems.is_empty());
        assert_eq!(store.entries().unwrap().len(), 1);
    }
}
