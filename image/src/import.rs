//! `rbox import`: a rootfs tarball becomes a one-layer image.

use std::io::{self, Read, Write};

use serde_json::json;

use crate::compression::Compression;
use crate::digest::Digest;
use crate::error::Result;
use crate::image::Image;
use crate::reference::Reference;
use crate::store::{BlobWriter, Store};

/// Copies what is read through it into a blob being written.
struct Tee<'a, R> {
    inner: &'a mut R,
    blob: &'a mut BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.blob.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The OCI name of the machine's architecture.
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The current time as RFC 3339 with nanoseconds, as image configs carry it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl Store {
    /// Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image, tagged
    /// `reference` if given. The layer blob is stored as it came, and unpacked into its
    /// snapshot in the same pass.
    pub fn import_rootfs(
        &self,
        mut tarball: impl Read,
        reference: Option<&Reference>,
        created_by: &str,
    ) -> Result<Image> {
        let _content = self.lock_content()?;
        let mut blob = self.blob_writer()?;
        let mut head = [0u8; 4];
        let unpacked = {
            let tee = Tee {
                inner: &mut tarball,
                blob: &mut blob,
            };
            let mut peek = io::BufReader::new(tee);
            let head_bytes = io::BufRead::fill_buf(&mut peek)?;
            let n = head_bytes.len().min(4);
            head[..n].copy_from_slice(&head_bytes[..n]);
            self.unpack_layer(peek, None, None, "rootfs tarball")?
        };
        // The decompressor may stop before the end of the compressed stream.
        io::copy(&mut tarball, &mut blob)?;
        let compression = Compression::detect(&mut &head[..])?;
        let (layer_digest, layer_size) = blob.commit(None)?;

        let created = now_rfc3339();
        let config = json!({
            "created": created,
            "architecture": oci_arch(),
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [unpacked.diff_id.to_string()]},
            "history": [{"created": created, "created_by": created_by}],
        });
        let config_bytes = serde_json::to_vec(&config).expect("config serializes");
        let config_digest = self.ingest_bytes(&config_bytes)?;
        let manifest = manifest_json(
            &config_digest,
            config_bytes.len() as u64,
            &[(compression.layer_media_type(), &layer_digest, layer_size)],
        );
        let manifest_digest = self.ingest_bytes(&manifest)?;
        let image = self.image(&manifest_digest)?;
        match reference {
            Some(r) => self.tag(&image, r)?,
            None => self.add_untagged(&image)?,
        }
        Ok(image)
    }
}

/// An OCI image manifest for a config and layers `(media type, digest, size)`.
pub fn manifest_json(
    config: &Digest,
    config_size: u64,
    layers: &[(&str, &Digest, u64)],
) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|(mt, d, s)| json!({"mediaType": mt, "digest": d.to_string(), "size": s}))
        .collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.to_string(),
            "size": config_size,
        },
        "layers": layers,
    }))
    .expect("manifest serializes")
}

/// A layer of an image being committed: media type, digest, size.
pub type LayerRef = (String, Digest, u64);

impl Store {
    /// Stores an image from its config and layers (config and manifest written as blobs),
    /// without tagging it.
    pub fn commit_image(
        &self,
        config: &crate::config::ImageConfig,
        layers: &[LayerRef],
    ) -> Result<Image> {
        let _content = self.lock_content()?;
        let config_bytes = config.to_bytes();
        let config_digest = self.ingest_bytes(&config_bytes)?;
        let refs: Vec<(&str, &Digest, u64)> =
            layers.iter().map(|(m, d, s)| (m.as_str(), d, *s)).collect();
        let manifest = manifest_json(&config_digest, config_bytes.len() as u64, &refs);
        let manifest_digest = self.ingest_bytes(&manifest)?;
        self.image(&manifest_digest)
    }
}
