//! Manifest, index and config JSON as a registry or an archive hands them over: the
//! registry client's decoder and the store's oci-spec types read any bytes or refuse them,
//! never panic, and what they accept names only well-formed digests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use rbox_image::{Digest, Image};
use rbox_registry::manifest::Document;

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()];
    match Document::parse(bytes, content_type) {
        Ok(Document::Manifest(m)) => {
            for b in m.blobs() {
                assert_eq!(b.digest.hex().len(), 64);
            }
        }
        Ok(Document::Index(i)) => {
            let _ = i.pick(&rbox_registry::Platform::host());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    // The store's view: a manifest and a config, as `Store::image` reads them.
    let manifest: Option<ImageManifest> = serde_json::from_slice(bytes).ok();
    let config: Option<ImageConfiguration> = serde_json::from_slice(bytes).ok();
    if let Ok(index) = serde_json::from_slice::<ImageIndex>(bytes) {
        for m in index.manifests() {
            let _ = Digest::try_from(m.digest());
        }
    }
    let default_config = || -> ImageConfiguration {
        serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .expect("a minimal config")
    };
    let default_manifest = || -> ImageManifest {
        serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":2}},"layers":[]}}"#,
            "0".repeat(64)
        ))
        .expect("a minimal manifest")
    };
    if manifest.is_none() && config.is_none() {
        return;
    }
    let image = Image {
        manifest_digest: Digest::of(bytes),
        manifest_size: bytes.len() as u64,
        manifest: manifest.unwrap_or_else(default_manifest),
        config_digest: Digest::of(bytes),
        config: config.unwrap_or_else(default_config),
    };
    if let Ok(ids) = image.diff_ids() {
        assert_eq!(image.chain_ids().map(|c| c.len()).ok(), Some(ids.len()));
    }
    let _ = image.layer_digests();
});
