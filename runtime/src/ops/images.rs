//! The image verbs that need containers or choose what to show: `rmi` (an image a
//! container uses is kept, then what nothing refers to is collected) and `images` (which
//! tags a reference selects), and the document of `image inspect`.

use std::collections::HashSet;

use rbox_image::config::RunConfig;
use rbox_image::gc::GcReport;
use rbox_image::{Digest, Reference, Removal, Store};
use serde::Serialize;

use crate::store::containers::Containers;

/// Removes images by name, keeping those containers use; [`Remover::collect`] then frees
/// what nothing refers to any more.
pub struct Remover<'a> {
    store: &'a Store,
    containers: &'a Containers,
    in_use: HashSet<String>,
}

impl<'a> Remover<'a> {
    /// Reads which images containers use.
    pub fn new(store: &'a Store, containers: &'a Containers) -> crate::Result<Remover<'a>> {
        Ok(Remover {
            store,
            containers,
            in_use: containers.images_in_use()?,
        })
    }

    /// Removes image `name` (a tag, a name or an id); `force` removes an image several
    /// tags name.
    pub fn remove(&self, name: &str, force: bool) -> Result<Removal, rbox_image::Error> {
        let used = |d: &Digest| self.in_use.contains(&d.to_string());
        let removal = self.store.remove(name, force, &used)?;
        let root = self.containers.root();
        for r in &removal.untagged {
            let n = r.familiar();
            crate::store::events::other(root, "image", "untag", &n, &[("name", n.clone())]);
        }
        for d in &removal.deleted {
            crate::store::events::other(root, "image", "delete", &d.to_string(), &[]);
        }
        Ok(removal)
    }

    /// Collects the blobs and snapshots nothing refers to, keeping what containers use.
    pub fn collect(self) -> crate::Result<GcReport> {
        collect(self.store, self.containers)
    }
}

/// Collects the blobs and snapshots nothing refers to, keeping what containers use.
pub fn collect(store: &Store, containers: &Containers) -> crate::Result<GcReport> {
    let keep = containers.manifests_in_use()?;
    Ok(store.gc(&keep)?)
}

/// One row of `images`: a tag of an image, or `<none>` for an image without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The repository as docker shows it (`busybox`, `example.com/app`), or `<none>`.
    pub repository: String,
    /// The tag, or `<none>`.
    pub tag: String,
    /// The image id.
    pub id: Digest,
    /// When the image was made (RFC 3339), if its config says.
    pub created: Option<String>,
    /// Bytes of file content in its layers.
    pub size: u64,
}

/// The rows `images [REFERENCE]` shows, sorted by repository and tag within each image:
/// only the tags of `reference`'s repository (and of its tag, when it names one).
pub fn list(store: &Store, reference: Option<&str>) -> crate::Result<Vec<Row>> {
    let filter = reference.map(Reference::parse).transpose()?;
    let explicit_tag =
        reference.is_some_and(|r| r.rsplit_once(':').is_some_and(|(_, t)| !t.contains('/')));
    let mut rows = Vec::new();
    for s in store.images()? {
        let mut names: Vec<(String, String)> = s
            .references
            .iter()
            .filter(|r| match &filter {
                None => true,
                Some(f) => f.name() == r.name() && (!explicit_tag || f.tag() == r.tag()),
            })
            .map(|r| (r.familiar_name(), r.tag().unwrap_or("<none>").to_owned()))
            .collect();
        if s.references.is_empty() && filter.is_none() {
            names.push(("<none>".into(), "<none>".into()));
        }
        names.sort();
        let created = s.image.config.created();
        for (repository, tag) in names {
            rows.push(Row {
                repository,
                tag,
                id: s.image.id().clone(),
                created: created.clone(),
                size: s.size,
            });
        }
    }
    Ok(rows)
}

/// One line of `docker history`: an entry of the image's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The image's id on the newest line; `None` (docker's `<missing>`) below it.
    pub id: Option<Digest>,
    /// When (RFC 3339).
    pub created: Option<String>,
    /// The instruction.
    pub created_by: String,
    /// The size of the layer it made (0 for an instruction that made none).
    pub size: u64,
    /// Its comment.
    pub comment: String,
}

/// The history of image `name`, newest first, each entry with the layer it made.
pub fn history(store: &Store, name: &str) -> Result<Vec<HistoryRow>, rbox_image::Error> {
    let image = store.resolve(name)?;
    let history = store.image_config(image.id())?.history;
    let layers = image.manifest.layers();
    let mut layer = layers.len();
    let newest = history.len();
    Ok(history
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, h)| {
            let size = if h.empty_layer == Some(true) {
                0
            } else {
                layer = layer.saturating_sub(1);
                layers.get(layer).map_or(0, |l| l.size())
            };
            HistoryRow {
                id: (i + 1 == newest).then(|| image.id().clone()),
                created: h.created,
                created_by: h.created_by.unwrap_or_default(),
                size,
                comment: h.comment.unwrap_or_default(),
            }
        })
        .collect())
}

/// An image as `docker image inspect` shows it, its config as stored (`null`s included:
/// Docker's configs hold `"Entrypoint": null`, `"Volumes": null`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageJson {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: [String; 0],
    created: Option<String>,
    author: String,
    config: Option<RunConfig>,
    architecture: String,
    os: String,
    size: u64,
    #[serde(rename = "RootFS")]
    root_fs: RootFsJson,
    manifest: ManifestJson,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RootFsJson {
    #[serde(rename = "Type")]
    kind: &'static str,
    layers: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestJson {
    digest: String,
    layers: Vec<String>,
}

impl ImageJson {
    /// The document of image `name` (a tag, a name or an id).
    pub fn new(store: &Store, name: &str) -> Result<ImageJson, rbox_image::Error> {
        let image = store.resolve(name)?;
        let ic = store.image_config(image.id())?;
        let repo_tags = store
            .entries()?
            .iter()
            .filter(|e| e.manifest == image.manifest_digest)
            .filter_map(|e| e.reference.as_ref().map(|r| r.familiar()))
            .collect();
        Ok(ImageJson {
            id: image.id().to_string(),
            repo_tags,
            repo_digests: [],
            created: ic.created,
            author: ic.author.unwrap_or_default(),
            config: ic.config,
            architecture: ic.architecture,
            os: ic.os,
            size: store.image_size(&image),
            root_fs: RootFsJson {
                kind: "layers",
                layers: ic.rootfs.diff_ids,
            },
            manifest: ManifestJson {
                digest: image.manifest_digest.to_string(),
                layers: image
                    .layer_digests()?
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let empty_tar = [0u8; 1024];
        let busybox = Reference::parse("busybox:latest").unwrap();
        let image = store
            .import_rootfs(&empty_tar[..], Some(&busybox), "test")
            .unwrap();
        store
            .tag(&image, &Reference::parse("busybox:1").unwrap())
            .unwrap();
        store
            .tag(&image, &Reference::parse("example.com/app:2").unwrap())
            .unwrap();
        (dir, store)
    }

    fn names(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| format!("{}:{}", r.repository, r.tag))
            .collect()
    }

    #[test]
    fn a_reference_selects_its_repository_and_its_tag() {
        let (_dir, store) = store();
        assert_eq!(
            names(&list(&store, None).unwrap()),
            ["busybox:1", "busybox:latest", "example.com/app:2"]
        );
        assert_eq!(
            names(&list(&store, Some("busybox")).unwrap()),
            ["busybox:1", "busybox:latest"]
        );
        assert_eq!(
            names(&list(&store, Some("busybox:1")).unwrap()),
            ["busybox:1"]
        );
        assert!(list(&store, Some("alpine")).unwrap().is_empty());
    }

    #[test]
    fn image_documents_have_dockers_field_names() {
        let (_dir, store) = store();
        let v = serde_json::to_value(ImageJson::new(&store, "busybox:1").unwrap()).unwrap();
        assert_eq!(
            v["RepoTags"],
            serde_json::json!(["busybox:latest", "busybox:1", "example.com/app:2"])
        );
        assert_eq!(v["RepoDigests"], serde_json::json!([]));
        assert_eq!(v["RootFS"]["Type"], "layers");
        assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
        assert_eq!(v["Manifest"]["Layers"].as_array().unwrap().len(), 1);
        assert!(v["Id"].as_str().unwrap().starts_with("sha256:"));
    }

    #[test]
    fn removing_one_tag_keeps_the_image_its_other_tags_name() {
        let (dir, store) = store();
        let containers = Containers::open(dir.path()).unwrap();
        let remover = Remover::new(&store, &containers).unwrap();
        let r = remover.remove("busybox:1", false).unwrap();
        assert_eq!(r.untagged.len(), 1);
        assert!(r.deleted.is_empty());
        remover.collect().unwrap();
        assert_eq!(list(&store, None).unwrap().len(), 2);
    }
}
