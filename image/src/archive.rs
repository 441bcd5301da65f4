//! `rbox save` and `rbox load`: image archives.
//!
//! `save` writes an OCI image layout as a tar, with a docker-archive `manifest.json` beside
//! it (as Docker ≥ 25 does), so `docker load`, `podman load` and `skopeo` read it. `load`
//! reads either form, verifying every blob against its digest as it streams in.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufReader, Read, Write};

use oci_spec::image::{ImageIndex, MediaType};
use serde::Deserialize;
use serde_json::json;

use crate::compression::Compression;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::image::{Image, REF_NAME};
use crate::import::{manifest_json, oci_arch};
use crate::layer::clean_components;
use crate::limits::{shown, Guard, Limits, DEFAULT_MAX_ENTRIES};
use crate::reference::Reference;
use crate::store::{Store, MAX_DOCUMENT_SIZE};

/// The annotation containerd and Docker put on archive entries with the full image name.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// An image loaded from an archive, with the names it was given.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The image.
    pub image: Image,
    /// The tags it received (none: loaded untagged).
    pub references: Vec<Reference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerArchiveItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl Store {
    /// Writes `images` (each with the name it is saved under, if any) to `out` as a tar.
    pub fn save(&self, images: &[(Image, Option<Reference>)], out: impl Write) -> Result<()> {
        let mut tar = tar::Builder::new(out);
        let mut blobs: BTreeSet<Digest> = BTreeSet::new();
        let mut index = Vec::new();
        let mut docker_manifest = Vec::new();
        for (image, reference) in images {
            blobs.insert(image.manifest_digest.clone());
            blobs.insert(image.config_digest.clone());
            let layers = image.layer_digests()?;
            blobs.extend(layers.iter().cloned());
            let mut entry = json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image.manifest_digest.to_string(),
                "size": image.manifest_size,
            });
            if let Some(r) = reference {
                entry["annotations"] =
                    json!({REF_NAME: r.to_string(), CONTAINERD_NAME: r.to_string()});
            }
            index.push(entry);
            docker_manifest.push(json!({
                "Config": format!("blobs/sha256/{}", image.config_digest.hex()),
                "RepoTags": reference.iter().map(|r| r.familiar()).collect::<Vec<_>>(),
                "Layers": layers.iter().map(|d| format!("blobs/sha256/{}", d.hex())).collect::<Vec<_>>(),
            }));
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": index,
        });
        append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        append_bytes(
            &mut tar,
            "index.json",
            &serde_json::to_vec(&index).expect("json"),
        )?;
        append_bytes(
            &mut tar,
            "manifest.json",
            &serde_json::to_vec(&docker_manifest).expect("json"),
        )?;
        for d in &blobs {
            let f = self.open_blob(d)?;
            let len = f.metadata().at(self.blob_path(d))?.len();
            let mut h = header(len);
            tar.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), f)?;
        }
        tar.into_inner()?.flush()?;
        Ok(())
    }

    /// Reads an OCI or docker archive from `input`, storing and unpacking its images.
    ///
    /// The archive's own tar goes through the same [`Guard`] as a layer's: its metadata
    /// headers (PAX, GNU long names), which the tar parser holds whole in memory, are
    /// refused over 1 MiB, and its sizes are read as the parser reads them. (The archive
    /// as a whole has no size limit: each layer in it has its own.)
    pub fn load(&self, input: impl Read) -> Result<Vec<Loaded>> {
        let guard = Guard::new(
            BufReader::with_capacity(256 * 1024, input),
            Limits {
                max_bytes: u64::MAX,
                max_entries: DEFAULT_MAX_ENTRIES,
            },
        );
        let refusal = guard.refusal();
        self.load_guarded(guard).map_err(|e| match refusal.get() {
            Some(why) => Error::BadArchive(format!("image archive refused: {why}")),
            None => e,
        })
    }

    fn load_guarded(&self, input: impl Read) -> Result<Vec<Loaded>> {
        let _content = self.lock_content()?;
        let mut archive = tar::Archive::new(input);
        let mut oci_index: Option<Vec<u8>> = None;
        let mut docker_manifest: Option<Vec<u8>> = None;
        // Archive path → blob digest, for docker archives that name files by path.
        let mut by_path: HashMap<String, Digest> = HashMap::new();
        let mut links: HashMap<String, String> = HashMap::new();
        for entry in archive
            .entries()
            .map_err(|e| Error::BadArchive(shown(&e.to_string())))?
        {
            let mut entry = entry.map_err(|e| Error::BadArchive(shown(&e.to_string())))?;
            let raw = entry.path_bytes().into_owned();
            // Shown cut short in errors: a GNU long name can be a megabyte.
            let name = shown(&String::from_utf8_lossy(&raw));
            let comps = clean_components(&raw).map_err(|reason| Error::UnsafeEntry {
                entry: name.clone(),
                reason: reason.into(),
            })?;
            let path = comps
                .iter()
                .map(|c| String::from_utf8_lossy(c))
                .collect::<Vec<_>>()
                .join("/");
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                if let Some(t) = entry.link_name_bytes() {
                    let t = String::from_utf8_lossy(&t).into_owned();
                    let target = if kind.is_symlink() {
                        resolve_relative(&path, &t)
                    } else {
                        t.trim_start_matches("./").to_owned()
                    };
                    links.insert(path, target);
                }
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            match path.as_str() {
                "index.json" => oci_index = Some(read_limited(&mut entry, &name)?),
                "manifest.json" => docker_manifest = Some(read_limited(&mut entry, &name)?),
                "oci-layout" | "repositories" => {}
                p => {
                    let expected = p
                        .strip_prefix("blobs/sha256/")
                        .map(Digest::from_hex)
                        .transpose()
                        .map_err(|_| Error::BadArchive(format!("{name}: not a sha256 digest")))?;
                    let digest = match &expected {
                        Some(d) if self.has_blob(d) => d.clone(),
                        _ => {
                            self.ingest(&mut entry, expected.as_ref())
                                .map_err(|e| match e {
                                    Error::DigestMismatch { expected, actual } => {
                                        Error::BadArchive(format!(
                                            "{name}: content is {actual}, not {expected}"
                                        ))
                                    }
                                    e => e,
                                })?
                                .0
                        }
                    };
                    by_path.insert(p.to_owned(), digest);
                }
            }
        }
        let lookup = |p: &str| -> Result<Digest> {
            let mut p = p.trim_start_matches("./").to_owned();
            for _ in 0..16 {
                if let Some(d) = by_path.get(&p) {
                    return Ok(d.clone());
                }
                match links.get(&p) {
                    Some(t) => p = t.clone(),
                    None => break,
                }
            }
            Err(Error::BadArchive(format!(
                "{} is named but not in the archive",
                shown(&p)
            )))
        };

        let mut loaded = Vec::new();
        if let Some(index) = oci_index {
            let index: ImageIndex =
                serde_json::from_slice(&index).map_err(|source| Error::Json {
                    what: "index.json in the archive".into(),
                    source,
                })?;
            for desc in index.manifests() {
                let mut m = Digest::try_from(desc.digest())?;
                if *desc.media_type() == MediaType::ImageIndex
                    || desc.media_type().to_string()
                        == "application/vnd.docker.distribution.manifest.list.v2+json"
                {
                    m = self.pick_platform(&m)?;
                }
                let image = self.image(&m)?;
                self.ensure_snapshots(&image)?;
                let annotations = desc.annotations().clone().unwrap_or_default();
                let name = annotations
                    .get(CONTAINERD_NAME)
                    .or_else(|| annotations.get(REF_NAME))
                    .and_then(|n| Reference::parse(n).ok())
                    .filter(|r| r.digest().is_none());
                let references: Vec<Reference> = name.into_iter().collect();
                self.name_loaded(&image, &references)?;
                loaded.push(Loaded { image, references });
            }
        } else if let Some(manifest) = docker_manifest {
            let items: Vec<DockerArchiveItem> =
                serde_json::from_slice(&manifest).map_err(|source| Error::Json {
                    what: "manifest.json in the archive".into(),
                    source,
                })?;
            for item in items {
                let config = lookup(&item.config)?;
                let mut layers = Vec::new();
                for l in &item.layers {
                    let d = lookup(l)?;
                    let mut f = BufReader::new(self.open_blob(&d)?);
                    let c = Compression::detect(&mut f)?;
                    let size = std::fs::metadata(self.blob_path(&d))
                        .at(self.blob_path(&d))?
                        .len();
                    layers.push((c.layer_media_type(), d, size));
                }
                let config_size = std::fs::metadata(self.blob_path(&config))
                    .at(self.blob_path(&config))?
                    .len();
                let layer_refs: Vec<(&str, &Digest, u64)> =
                    layers.iter().map(|(m, d, s)| (*m, d, *s)).collect();
                let manifest = manifest_json(&config, config_size, &layer_refs);
                let m = self.ingest_bytes(&manifest)?;
                let image = self.image(&m)?;
                self.ensure_snapshots(&image)?;
                let references = item
                    .repo_tags
                    .unwrap_or_default()
                    .iter()
                    .map(|t| Reference::parse(t))
                    .collect::<Result<Vec<_>>>()?;
                self.name_loaded(&image, &references)?;
                loaded.push(Loaded { image, references });
            }
        } else {
            return Err(Error::BadArchive(
                "not an image archive: it has neither index.json nor manifest.json".into(),
            ));
        }
        Ok(loaded)
    }

    fn name_loaded(&self, image: &Image, references: &[Reference]) -> Result<()> {
        if references.is_empty() {
            return self.add_untagged(image);
        }
        references.iter().try_for_each(|r| self.tag(image, r))
    }

    /// The manifest for this machine's platform in an image index.
    fn pick_platform(&self, index: &Digest) -> Result<Digest> {
        let raw = self.read_document(index, "image index")?;
        let idx: ImageIndex = serde_json::from_slice(&raw).map_err(|source| Error::Json {
            what: format!("image index {index}"),
            source,
        })?;
        let want = oci_arch();
        let chosen = idx
            .manifests()
            .iter()
            .find(|d| {
                d.platform().as_ref().is_some_and(|p| {
                    p.architecture().to_string() == want && p.os().to_string() == "linux"
                })
            })
            .or_else(|| idx.manifests().first())
            .ok_or_else(|| Error::BadArchive(format!("image index {index} is empty")))?;
        Digest::try_from(chosen.digest())
    }
}

fn header(len: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> io::Result<()> {
    let mut h = header(bytes.len() as u64);
    tar.append_data(&mut h, path, bytes)
}

fn read_limited(r: &mut impl Read, name: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(MAX_DOCUMENT_SIZE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_DOCUMENT_SIZE {
        return Err(Error::TooLarge {
            what: name.to_owned(),
            size: buf.len() as u64,
            limit: MAX_DOCUMENT_SIZE,
        });
    }
    Ok(buf)
}

/// Resolves a symlink target relative to the directory of the link at `path`.
fn resolve_relative(path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}
