//! Unpacked layers, one directory per chain ID, used read-only as overlay lower dirs.
//!
//! A snapshot is unpacked into `tmp/` and renamed into `snapshots/<chain hex>/` only when
//! complete and verified, so a snapshot that exists is whole.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::compression::decompressed;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::image::Image;
use crate::layer;
use crate::store::{sync_dir, write_atomic, Store};

/// What the store records about a snapshot beside its tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The snapshot's chain ID.
    pub chain_id: String,
    /// The diff ID of the layer this snapshot holds.
    pub diff_id: String,
    /// Bytes of regular file content in the layer.
    pub size: u64,
    /// The hash of the layer's tar every [`crate::digest::CHUNK`] bytes (of a layer built
    /// here): a layer built again over this one is hashed from there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<crate::digest::Checkpoint>,
}

/// The result of unpacking one layer.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The layer's diff ID.
    pub diff_id: Digest,
    /// The snapshot's chain ID.
    pub chain_id: Digest,
    /// Bytes of regular file content.
    pub size: u64,
}

impl Store {
    /// `snapshots/<chain hex>`.
    pub fn snapshot_dir(&self, chain_id: &Digest) -> PathBuf {
        self.snapshots_dir().join(chain_id.hex())
    }

    /// The unpacked tree of a snapshot: `snapshots/<chain hex>/fs`.
    pub fn snapshot_fs(&self, chain_id: &Digest) -> PathBuf {
        self.snapshot_dir(chain_id).join("fs")
    }

    /// A snapshot's record, if the snapshot exists.
    pub fn snapshot_info(&self, chain_id: &Digest) -> Result<Option<SnapshotInfo>> {
        let p = self.snapshot_dir(chain_id).join("info.json");
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| Error::Json {
                    what: p.display().to_string(),
                    source,
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Chain IDs of every snapshot present.
    pub fn snapshots(&self) -> Result<Vec<Digest>> {
        let dir = self.snapshots_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).at(&dir)? {
            let e = e.at(&dir)?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Unpacks a layer blob stream (plain, gzip or zstd) into a new snapshot on top of
    /// `parent`. If `expected_diff_id` is given and the uncompressed stream doesn't match it,
    /// nothing is kept. The compressed stream is read only as far as the decompressor needs.
    pub fn unpack_layer(
        &self,
        blob: impl Read,
        parent: Option<&Digest>,
        expected_diff_id: Option<&Digest>,
        layer_name: &str,
    ) -> Result<Unpacked> {
        let work = self.tmp_path("snapshot");
        let result = self.unpack_into(&work, blob, parent, expected_diff_id, layer_name);
        if work.exists() {
            let _ = fs::remove_dir_all(&work);
        }
        result
    }

    fn unpack_into(
        &self,
        work: &std::path::Path,
        blob: impl Read,
        parent: Option<&Digest>,
        expected_diff_id: Option<&Digest>,
        layer_name: &str,
    ) -> Result<Unpacked> {
        let fs_dir = work.join("fs");
        fs::create_dir_all(&fs_dir).at(&fs_dir)?;
        let (_, stream) = decompressed(blob).at(layer_name)?;
        let applied = layer::apply(stream, &fs_dir)?;
        if let Some(exp) = expected_diff_id {
            if *exp != applied.diff_id {
                return Err(Error::DiffIdMismatch {
                    layer: layer_name.to_owned(),
                    expected: exp.to_string(),
                    actual: applied.diff_id.to_string(),
                });
            }
        }
        let chain_id = match parent {
            Some(p) => p.chain(&applied.diff_id),
            None => applied.diff_id.clone(),
        };
        let info = SnapshotInfo {
            chain_id: chain_id.to_string(),
            diff_id: applied.diff_id.to_string(),
            size: applied.content_size,
            checkpoints: Vec::new(),
        };
        write_atomic(
            &work.join("info.json"),
            &serde_json::to_vec(&info).expect("snapshot info serializes"),
        )?;
        let dest = self.snapshot_dir(&chain_id);
        match fs::rename(work, &dest) {
            Ok(()) => sync_dir(&self.snapshots_dir())?,
            // Another process unpacked the same layer first: theirs is as good as ours.
            Err(e) if dest.join("info.json").exists() => {
                tracing::debug!(error = %e, "snapshot {chain_id} already present")
            }
            Err(e) => return Err(Error::io(dest, e)),
        }
        Ok(Unpacked {
            diff_id: applied.diff_id,
            chain_id,
            size: applied.content_size,
        })
    }

    /// Makes sure every layer of `image` is unpacked; returns the chain IDs, bottom first.
    pub fn ensure_snapshots(&self, image: &Image) -> Result<Vec<Digest>> {
        let diff_ids = image.diff_ids()?;
        let layers = image.layer_digests()?;
        if diff_ids.len() != layers.len() {
            return Err(Error::BadArchive(format!(
                "image {}: the manifest has {} layers but the config {} diff_ids",
                image.id().short(),
                layers.len(),
                diff_ids.len()
            )));
        }
        let chain_ids = Digest::chain_ids(&diff_ids);
        for (i, chain) in chain_ids.iter().enumerate() {
            if self.snapshot_dir(chain).join("info.json").exists() {
                continue;
            }
            let blob = self.open_blob(&layers[i])?;
            self.unpack_layer(
                blob,
                i.checked_sub(1).map(|p| &chain_ids[p]),
                Some(&diff_ids[i]),
                &layers[i].to_string(),
            )?;
        }
        Ok(chain_ids)
    }

    /// Removes a snapshot. It is first renamed into `tmp/`, so a crash midway leaves no
    /// half snapshot under its name.
    pub fn remove_snapshot(&self, chain_id: &Digest) -> Result<()> {
        let dir = self.snapshot_dir(chain_id);
        if !dir.exists() {
            return Ok(());
        }
        let trash = self.tmp_path("removed-snapshot");
        fs::rename(&dir, &trash).at(&dir)?;
        fs::remove_dir_all(&trash).at(&trash)
    }
}
