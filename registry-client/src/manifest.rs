//! Manifests and indexes as they come from a registry: their media types, the blobs a
//! manifest names, and the choice of a platform in an index.
//!
//! The bytes of a manifest are kept exactly as received (its digest is its name); these
//! types only read what the client needs from them.

use std::fmt;
use std::str::FromStr;

use rbox_image::Digest;
use serde::Deserialize;

use crate::error::{Error, Result};

/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The `Accept` header of a manifest request: every kind this client reads.
pub const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A blob a manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Whether it is a layer (else the config).
    pub layer: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
}

/// What a document from `/manifests/` is.
#[derive(Debug)]
pub enum Document {
    /// An image manifest.
    Manifest(Manifest),
    /// An index (manifest list) of platform manifests.
    Index(Index),
}

/// An image manifest's media type and blobs.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its media type.
    pub media_type: String,
    /// The config blob.
    pub config: Blob,
    /// The layer blobs, bottom first.
    pub layers: Vec<Blob>,
}

impl Manifest {
    /// The layers, then the config.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.layers.iter().chain(std::iter::once(&self.config))
    }
}

/// An index's entries.
#[derive(Debug, Clone)]
pub struct Index {
    entries: Vec<(Digest, Option<Platform>)>,
}

fn blob(d: RawDescriptor, layer: bool) -> Result<Blob> {
    Ok(Blob {
        digest: d
            .digest
            .parse()
            .map_err(|_| Error::Manifest(format!("unsupported digest {:?}", d.digest)))?,
        size: d.size,
        media_type: d.media_type,
        layer,
    })
}

impl Document {
    /// Reads a manifest or index; `content_type` is the reply's, used when the document
    /// doesn't say its own media type.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Document> {
        let raw: RawDocument = serde_json::from_slice(bytes)
            .map_err(|e| Error::Manifest(format!("malformed manifest: {e}")))?;
        if raw.schema_version == Some(1) {
            return Err(Error::Manifest(
                "Docker schema 1 manifests are not supported (deprecated since 2017)".into(),
            ));
        }
        let media_type = raw
            .media_type
            .clone()
            .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned()))
            .unwrap_or_default();
        let is_index = media_type == OCI_INDEX
            || media_type == DOCKER_LIST
            || (raw.manifests.is_some() && raw.layers.is_none());
        if is_index {
            let entries = raw
                .manifests
                .unwrap_or_default()
                .into_iter()
                .map(|d| {
                    let digest: Digest = d.digest.parse().map_err(|_| {
                        Error::Manifest(format!("unsupported digest {:?}", d.digest))
                    })?;
                    let platform = d.platform.map(|p| Platform {
                        os: p.os,
                        architecture: p.architecture,
                        variant: p.variant.filter(|v| !v.is_empty()),
                    });
                    Ok((digest, platform))
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Document::Index(Index { entries }));
        }
        let config = raw
            .config
            .ok_or_else(|| Error::Manifest("the manifest has no config".into()))?;
        let media_type = if media_type.is_empty() {
            OCI_MANIFEST.to_owned()
        } else {
            media_type
        };
        if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
            return Err(Error::Manifest(format!(
                "unsupported manifest media type {media_type:?}"
            )));
        }
        // The config is read whole once stored: one over the store's limit is refused
        // before it is fetched.
        let limit = rbox_image::store::MAX_DOCUMENT_SIZE;
        if config.size > limit {
            return Err(Error::Manifest(format!(
                "the image config is {} bytes, over the limit of {limit}",
                config.size
            )));
        }
        Ok(Document::Manifest(Manifest {
            media_type,
            config: blob(config, false)?,
            layers: raw
                .layers
                .unwrap_or_default()
                .into_iter()
                .map(|d| blob(d, true))
                .collect::<Result<_>>()?,
        }))
    }
}

impl Index {
    /// The manifest for `want`: os and architecture must match; a variant, if asked for,
    /// too (else the first entry of that architecture).
    pub fn pick(&self, want: &Platform) -> Result<Digest> {
        self.entries
            .iter()
            .find(|(_, p)| {
                p.as_ref().is_some_and(|p| {
                    p.os == want.os
                        && p.architecture == want.architecture
                        && (want.variant.is_none() || p.variant == want.variant)
                })
            })
            .map(|(d, _)| d.clone())
            .ok_or_else(|| {
                let have: Vec<String> = self
                    .entries
                    .iter()
                    .filter_map(|(_, p)| p.as_ref().map(|p| p.to_string()))
                    .collect();
                Error::Manifest(format!(
                    "no image for platform {want} (the index has: {})",
                    if have.is_empty() {
                        "none with a platform".to_owned()
                    } else {
                        have.join(", ")
                    }
                ))
            })
    }
}

/// `os/architecture[/variant]`, as `--platform` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, `v7`, …
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform.
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: rbox_image::import::oci_arch().into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            Error::Manifest(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            ))
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*v).into()),
            }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn an_index_picks_the_platform() {
        let idx = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{A}","size":1,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
            {{"mediaType":"{DOCKER_MANIFEST}","digest":"{B}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        let Document::Index(i) = Document::parse(idx.as_bytes(), None).unwrap() else {
            panic!("not an index");
        };
        assert_eq!(
            i.pick(&"linux/amd64".parse().unwrap()).unwrap().to_string(),
            B
        );
        assert_eq!(
            i.pick(&"linux/arm64".parse().unwrap()).unwrap().to_string(),
            A
        );
        assert_eq!(
            i.pick(&"linux/arm64/v8".parse().unwrap())
                .unwrap()
                .to_string(),
            A
        );
        let e = i
            .pick(&"linux/s390x".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux/arm64/v8, linux/amd64"), "{e}");
    }

    #[test]
    fn a_manifest_names_its_blobs() {
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{A}","size":3}},"layers":[{{"mediaType":"y","digest":"{B}","size":5}}]}}"#
        );
        let Document::Manifest(m) = Document::parse(m.as_bytes(), Some(OCI_MANIFEST)).unwrap()
        else {
            panic!("not a manifest");
        };
        assert_eq!(m.media_type, OCI_MANIFEST);
        let blobs: Vec<_> = m.blobs().map(|b| (b.size, b.layer)).collect();
        assert_eq!(blobs, vec![(5, true), (3, false)]);
    }
}
