//! Images in the store: index.json entries, tags, lookups by reference or id.
//!
//! Each tag is one index.json entry annotated `org.opencontainers.image.ref.name` with the
//! full normalized reference, so other OCI tools read the store as it is. An image that lost
//! its last tag to another image stays as an entry without annotation: `<none>:<none>` in
//! `rbox images`, removed by `rbox image prune`.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::store::{write_atomic, Store, MAX_DOCUMENT_SIZE};

/// The annotation that names a tag in an OCI layout's index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An image: its manifest and config.
#[derive(Debug, Clone)]
pub struct Image {
    /// Digest of the manifest.
    pub manifest_digest: Digest,
    /// Size of the manifest in bytes.
    pub manifest_size: u64,
    /// The manifest.
    pub manifest: ImageManifest,
    /// Digest of the config: the image id, as docker and podman show it.
    pub config_digest: Digest,
    /// The config.
    pub config: ImageConfiguration,
}

impl Image {
    /// The image id (the config's digest).
    pub fn id(&self) -> &Digest {
        &self.config_digest
    }

    /// Layer diff IDs from the config, bottom first.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| d.parse())
            .collect()
    }

    /// Snapshot chain IDs, bottom first.
    pub fn chain_ids(&self) -> Result<Vec<Digest>> {
        Ok(Digest::chain_ids(&self.diff_ids()?))
    }

    /// Layer blob digests from the manifest, bottom first.
    /// The layers as the manifest names them: (media type, digest, size), bottom first.
    pub fn layer_refs(&self) -> Result<Vec<crate::import::LayerRef>> {
        self.manifest
            .layers()
            .iter()
            .map(|l| {
                Ok((
                    l.media_type().to_string(),
                    Digest::try_from(l.digest())?,
                    l.size(),
                ))
            })
            .collect()
    }

    /// The layers' digests, bottom first.
    pub fn layer_digests(&self) -> Result<Vec<Digest>> {
        self.manifest
            .layers()
            .iter()
            .map(|l| Digest::try_from(l.digest()))
            .collect()
    }
}

/// One entry of index.json.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The manifest it points to.
    pub manifest: Digest,
    /// Its tag, or `None` for an untagged (dangling) image.
    pub reference: Option<Reference>,
}

/// An image with all the tags that point to it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// The image.
    pub image: Image,
    /// Its tags (empty for a dangling image).
    pub references: Vec<Reference>,
    /// Bytes of file content in its layers, as `docker images` shows SIZE.
    pub size: u64,
}

/// What removing one name did.
#[derive(Debug, Clone, Default)]
pub struct Removal {
    /// Tags removed.
    pub untagged: Vec<Reference>,
    /// Image ids removed entirely.
    pub deleted: Vec<Digest>,
}

impl Store {
    fn read_index(&self) -> Result<ImageIndex> {
        let p = self.index_path();
        let f = std::fs::File::open(&p).at(&p)?;
        let size = f.metadata().at(&p)?.len();
        if size > MAX_DOCUMENT_SIZE {
            return Err(Error::TooLarge {
                what: p.display().to_string(),
                size,
                limit: MAX_DOCUMENT_SIZE,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(f, MAX_DOCUMENT_SIZE + 1),
            &mut bytes,
        )
        .at(&p)?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            what: p.display().to_string(),
            source,
        })
    }

    /// Every index.json entry.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        Ok(self
            .read_index()?
            .manifests()
            .iter()
            .filter_map(entry_of)
            .collect())
    }

    /// Changes index.json under its lock and replaces it atomically.
    pub(crate) fn modify_index<T>(
        &self,
        f: impl FnOnce(&mut Vec<Descriptor>) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock_index()?;
        let mut index = self.read_index()?;
        let mut manifests = index.manifests().clone();
        let out = f(&mut manifests)?;
        index.set_manifests(manifests);
        let bytes = serde_json::to_vec(&index).expect("an index serializes");
        write_atomic(&self.index_path(), &bytes)?;
        Ok(out)
    }

    /// Loads an image by manifest digest.
    pub fn image(&self, manifest_digest: &Digest) -> Result<Image> {
        let raw = self.read_document(manifest_digest, "manifest")?;
        let manifest: ImageManifest =
            serde_json::from_slice(&raw).map_err(|source| Error::Json {
                what: format!("manifest {manifest_digest}"),
                source,
            })?;
        let config_digest = Digest::try_from(manifest.config().digest())?;
        let raw_config = self.read_document(&config_digest, "config")?;
        let config: ImageConfiguration =
            serde_json::from_slice(&raw_config).map_err(|source| Error::Json {
                what: format!("image config {config_digest}"),
                source,
            })?;
        Ok(Image {
            manifest_digest: manifest_digest.clone(),
            manifest_size: raw.len() as u64,
            manifest,
            config_digest,
            config,
        })
    }

    /// Every image with its tags, newest first.
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        let mut by_manifest: Vec<(Digest, Vec<Reference>)> = Vec::new();
        for e in self.entries()? {
            let slot = match by_manifest.iter().position(|(m, _)| *m == e.manifest) {
                Some(i) => i,
                None => {
                    by_manifest.push((e.manifest.clone(), Vec::new()));
                    by_manifest.len() - 1
                }
            };
            if let Some(r) = e.reference {
                by_manifest[slot].1.push(r);
            }
        }
        let mut out = Vec::new();
        for (m, references) in by_manifest {
            let image = match self.image(&m) {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(manifest = %m, error = %e, "skipping unreadable image");
                    continue;
                }
            };
            let size = self.image_size(&image);
            out.push(ImageSummary {
                image,
                references,
                size,
            });
        }
        out.sort_by(|a, b| b.image.config.created().cmp(a.image.config.created()));
        Ok(out)
    }

    /// Bytes of file content in an image's layers (compressed blob sizes where a layer is
    /// not unpacked).
    pub fn image_size(&self, image: &Image) -> u64 {
        let chain = image.chain_ids().unwrap_or_default();
        image
            .manifest
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                chain
                    .get(i)
                    .and_then(|c| self.snapshot_info(c).ok().flatten())
                    .map_or(l.size(), |s| s.size)
            })
            .sum()
    }

    /// Finds an image by tag, digest reference, or (a unique prefix of) its id.
    pub fn resolve(&self, name: &str) -> Result<Image> {
        let entries = self.entries()?;
        if let Ok(r) = Reference::parse(name) {
            let found = entries.iter().find(|e| match (&e.reference, r.digest()) {
                (_, Some(d)) => e.manifest == *d,
                (Some(er), None) => *er == r,
                (None, None) => false,
            });
            if let Some(e) = found {
                return self.image(&e.manifest);
            }
        }
        if let Some(m) = self.resolve_id(&entries, name)? {
            return self.image(&m);
        }
        Err(Error::NoSuchImage(name.to_owned()))
    }

    /// The manifest of the image whose id starts with `name` (hex, or `sha256:` and hex).
    fn resolve_id(&self, entries: &[Entry], name: &str) -> Result<Option<Digest>> {
        let prefix = name.strip_prefix("sha256:").unwrap_or(name);
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut found: Option<(Digest, Digest)> = None;
        for e in entries {
            let Ok(img) = self.image(&e.manifest) else {
                continue;
            };
            if img.id().hex().starts_with(prefix) {
                match &found {
                    Some((id, _)) if id != img.id() => {
                        return Err(Error::AmbiguousId(name.to_owned()))
                    }
                    Some(_) => {}
                    None => found = Some((img.id().clone(), e.manifest.clone())),
                }
            }
        }
        Ok(found.map(|(_, m)| m))
    }

    /// Points `reference` at `image`. The image it pointed to before, if left with no tag,
    /// stays as a dangling image.
    pub fn tag(&self, image: &Image, reference: &Reference) -> Result<()> {
        if reference.digest().is_some() || reference.tag().is_none() {
            return Err(Error::InvalidReference {
                input: reference.to_string(),
                reason: "a tag is needed (not a digest)".into(),
            });
        }
        let name = reference.to_string();
        self.modify_index(|ms| {
            let old: Option<Digest> = ms
                .iter()
                .find(|d| ref_name(d) == Some(&name))
                .and_then(|d| Digest::try_from(d.digest()).ok());
            ms.retain(|d| ref_name(d) != Some(&name));
            // A tagged image is no longer dangling.
            ms.retain(|d| !(ref_name(d).is_none() && is_manifest(d, &image.manifest_digest)));
            if let Some(old) = old.filter(|o| *o != image.manifest_digest) {
                if !ms.iter().any(|d| is_manifest(d, &old)) {
                    ms.push(descriptor(&old, self.blob_size(&old), None));
                }
            }
            ms.push(descriptor(
                &image.manifest_digest,
                image.manifest_size,
                Some(&name),
            ));
            Ok(())
        })
    }

    /// Records an image with no tag (as `docker import` without a name does).
    pub fn add_untagged(&self, image: &Image) -> Result<()> {
        self.modify_index(|ms| {
            if !ms.iter().any(|d| is_manifest(d, &image.manifest_digest)) {
                ms.push(descriptor(
                    &image.manifest_digest,
                    image.manifest_size,
                    None,
                ));
            }
            Ok(())
        })
    }

    /// Removes what `name` names, as `docker rmi` does: a tag removes that tag (and the
    /// image with its last tag); an id removes the image, which needs `force` when several
    /// tags point to it. `in_use` says whether an image id is used by a container.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&Digest) -> bool,
    ) -> Result<Removal> {
        let image = self.resolve(name)?;
        let by_tag = Reference::parse(name).ok().filter(|r| {
            r.digest().is_none()
                && self
                    .entries()
                    .map(|es| es.iter().any(|e| e.reference.as_ref() == Some(r)))
                    .unwrap_or(false)
        });
        let mut removal = Removal::default();
        self.modify_index(|ms| {
            let tags: Vec<Reference> = ms
                .iter()
                .filter(|d| is_manifest(d, &image.manifest_digest))
                .filter_map(|d| ref_name(d).and_then(|n| Reference::parse(n).ok()))
                .collect();
            let remove_whole = match &by_tag {
                Some(_) => tags.len() <= 1,
                None => true,
            };
            if remove_whole && in_use(image.id()) && !force {
                return Err(Error::Conflict(format!(
                    "unable to remove {name}: image {} is used by a container (use -f to force)",
                    image.id().short()
                )));
            }
            match &by_tag {
                Some(r) => {
                    let n = r.to_string();
                    ms.retain(|d| ref_name(d) != Some(&n));
                    removal.untagged.push(r.clone());
                }
                None => {
                    if tags.len() > 1 && !force {
                        return Err(Error::Conflict(format!(
                            "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                            image.id().short()
                        )));
                    }
                    ms.retain(|d| !is_manifest(d, &image.manifest_digest));
                    removal.untagged.extend(tags);
                }
            }
            if !ms.iter().any(|d| is_manifest(d, &image.manifest_digest)) {
                removal.deleted.push(image.id().clone());
            }
            Ok(())
        })?;
        Ok(removal)
    }

    /// Removes every untagged image that `in_use` does not claim; returns their ids.
    pub fn remove_dangling(&self, in_use: &dyn Fn(&Digest) -> bool) -> Result<Vec<Digest>> {
        let mut gone = Vec::new();
        let ids: HashMap<Digest, Digest> = self
            .entries()?
            .into_iter()
            .filter(|e| e.reference.is_none())
            .filter_map(|e| {
                self.image(&e.manifest)
                    .ok()
                    .map(|i| (e.manifest, i.id().clone()))
            })
            .collect();
        self.modify_index(|ms| {
            ms.retain(|d| {
                if ref_name(d).is_some() {
                    return true;
                }
                let Ok(m) = Digest::try_from(d.digest()) else {
                    return true;
                };
                match ids.get(&m) {
                    Some(id) if !in_use(id) => {
                        gone.push(id.clone());
                        false
                    }
                    _ => true,
                }
            });
            Ok(())
        })?;
        Ok(gone)
    }
}

fn ref_name(d: &Descriptor) -> Option<&String> {
    d.annotations().as_ref().and_then(|a| a.get(REF_NAME))
}

fn is_manifest(d: &Descriptor, m: &Digest) -> bool {
    Digest::try_from(d.digest()).is_ok_and(|x| x == *m)
}

fn entry_of(d: &Descriptor) -> Option<Entry> {
    let manifest = Digest::try_from(d.digest()).ok()?;
    let reference = ref_name(d).and_then(|n| Reference::parse(n).ok());
    Some(Entry {
        manifest,
        reference,
    })
}

/// An index.json entry for a manifest, with its tag annotation if any.
pub(crate) fn descriptor(m: &Digest, size: u64, name: Option<&str>) -> Descriptor {
    let mut d = Descriptor::new(MediaType::ImageManifest, size, m);
    if let Some(n) = name {
        d.set_annotations(Some(HashMap::from([(REF_NAME.to_owned(), n.to_owned())])));
    }
    d
}
