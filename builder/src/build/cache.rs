//! The build cache: a key per step, chaining its parent's, names the layer the step made.
//!
//! A key is the digest of an explicit encoding: the encoding's version, the parent key, and
//! a [`StepKey`] holding the step's inputs, typed per kind of step, serialized as JSON
//! (fields in a fixed order, no maps): the same inputs give the same key, and any input
//! changed gives another.

use std::fs;
use std::path::PathBuf;

use rbox_image::config::ImageConfig;
use rbox_image::{Digest, Store};

use super::{BuildError, Builder, Result, StageState};

/// A cached step: the layer it made.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CacheEntry {
    digest: String,
    size: u64,
    media_type: String,
}

/// A build whose every layer and setting is what an earlier build made is that image, as
/// Docker's: the earlier config (with its times) is used again, so the image id is the same
/// and nothing is left dangling. Builds are known by their config without its times, under
/// `build-cache/image-<digest>`.
pub(super) fn same_image_as_before(store: &Store, config: ImageConfig) -> ImageConfig {
    let timeless = |c: &ImageConfig| {
        let mut c = c.clone();
        c.created = None;
        for h in &mut c.history {
            h.created = None;
        }
        Digest::of(&c.to_bytes())
    };
    let key = timeless(&config);
    let record = store
        .root()
        .join("build-cache")
        .join(format!("image-{}", key.hex()));
    let earlier = fs::read_to_string(&record)
        .ok()
        .and_then(|d| d.trim().parse::<Digest>().ok())
        .and_then(|d| store.open_blob(&d).ok())
        .and_then(|f| serde_json::from_reader::<_, ImageConfig>(std::io::BufReader::new(f)).ok())
        .filter(|old| timeless(old) == key);
    if let Some(old) = earlier {
        return old;
    }
    let digest = Digest::of(&config.to_bytes());
    let _ = fs::create_dir_all(record.parent().expect("in build-cache"))
        .and_then(|_| fs::write(&record, digest.to_string()));
    config
}

/// A cache carried between machines (`--cache-to` / `--cache-from type=local`): a
/// directory holding `index.json` (step key → layer) and the layers under `blobs/sha256/`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct LocalCache {
    version: u32,
    entries: std::collections::BTreeMap<String, CacheEntry>,
}

/// Reads the index of each `--cache-from` directory: key → (directory, layer).
pub(crate) fn read_cache_dirs(
    dirs: &[PathBuf],
) -> Result<std::collections::HashMap<String, (PathBuf, CacheEntry)>> {
    let mut out = std::collections::HashMap::new();
    for dir in dirs {
        let path = dir.join("index.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            // Nothing exported there yet: a first build.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(BuildError::Failed(format!(
                    "--cache-from {}: {e}",
                    path.display()
                )))
            }
        };
        let c: LocalCache = serde_json::from_slice(&bytes)
            .map_err(|e| BuildError::Failed(format!("--cache-from {}: {e}", path.display())))?;
        for (k, e) in c.entries {
            out.entry(k).or_insert_with(|| (dir.clone(), e));
        }
    }
    Ok(out)
}

/// Writes the layers the build used to `dir` (`--cache-to type=local,dest=DIR`), adding to
/// what it holds.
pub(crate) fn write_cache_dir(
    store: &Store,
    dir: &std::path::Path,
    used: &[(String, CacheEntry)],
) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let index = dir.join("index.json");
    let mut c: LocalCache = fs::read(&index)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    c.version = 1;
    for (key, e) in used {
        let Ok(d) = e.digest.parse::<Digest>() else {
            continue;
        };
        let to = blobs.join(d.hex());
        if !to.exists() {
            let tmp = blobs.join(format!(".{}.tmp", d.hex()));
            let from = store.blob_file(&d)?;
            if fs::hard_link(&from, &tmp).is_err() {
                fs::copy(&from, &tmp)?;
            }
            fs::rename(&tmp, &to)?;
        }
        c.entries.insert(key.clone(), e.clone());
    }
    rbox_image::store::replace_file(&index, &serde_json::to_vec_pretty(&c).expect("json"))?;
    Ok(())
}

/// The version of the key encoding: a change to [`StepKey`] that could give an old key a
/// new meaning bumps it, so that no earlier cache entry is taken for another step.
const KEY_VERSION: u32 = 1;

/// What a step's cache key is made of, besides its parent's key: the inputs that decide
/// what the step makes, its words expanded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(crate) enum StepKey {
    /// The root of a stage FROM scratch.
    Scratch,
    /// The root of a stage FROM an image: its id.
    Image {
        /// `sha256:...` of the image's config.
        id: String,
    },
    /// ENV: the whole environment after it.
    Env {
        /// `K=V` entries, in the config's order.
        env: Vec<String>,
    },
    /// ARG: one build argument set.
    Arg {
        /// Its name.
        name: String,
        /// Its value.
        value: String,
    },
    /// WORKDIR: the absolute working directory after it.
    Workdir {
        /// The path.
        path: String,
    },
    /// USER.
    User {
        /// `user[:group]`.
        user: String,
    },
    /// VOLUME.
    Volume {
        /// The paths.
        volumes: Vec<String>,
    },
    /// SHELL.
    Shell {
        /// The shell's words.
        shell: Vec<String>,
    },
    /// RUN: what runs, and with which variables.
    Run {
        /// The command line as the container gets it (the SHELL's words included).
        argv: Vec<String>,
        /// The ENV and ARG values, `K=V`.
        env: Vec<String>,
        /// What each `--mount` is (never a secret's value), and for a bind its content.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        mounts: Vec<String>,
        /// `--security=insecure`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        insecure: bool,
        /// `--add-host` entries, `NAME:IP`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        hosts: Vec<String>,
    },
    /// COPY or ADD.
    Copy {
        /// ADD rather than COPY.
        add: bool,
        /// The sources, local ones and URLs.
        sources: Vec<String>,
        /// The absolute destination.
        dest: String,
        /// `--chown`.
        chown: Option<String>,
        /// `--chmod`.
        chmod: Option<String>,
        /// The digest of the local sources' content and metadata.
        content: String,
        /// Each URL's checksum when given, else its content's digest.
        urls: Vec<UrlKey>,
    },
}

/// What an ADD's URL adds to its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct UrlKey {
    /// The URL.
    pub(crate) url: String,
    /// `sha256:...`: the `--checksum`, or the fetched content's digest.
    pub(crate) digest: String,
}

/// The encoding of one key, as it is hashed.
#[derive(serde::Serialize)]
struct Encoded<'a> {
    version: u32,
    parent: Option<String>,
    step: &'a StepKey,
}

impl StepKey {
    /// The key of this step after `parent` (`None` for a stage's root).
    pub(crate) fn key(&self, parent: Option<&Digest>) -> Digest {
        Digest::of(&self.encode(parent))
    }

    /// The bytes the key is the digest of.
    fn encode(&self, parent: Option<&Digest>) -> Vec<u8> {
        let encoded = Encoded {
            version: KEY_VERSION,
            parent: parent.map(Digest::to_string),
            step: self,
        };
        serde_json::to_vec(&encoded).expect("a cache key serializes")
    }
}

impl StageState {
    /// Chains `step` to the stage's key, and returns the new key.
    pub(super) fn next_key(&mut self, step: &StepKey) -> Digest {
        let key = step.key(self.key.as_ref());
        self.key = Some(key.clone());
        key
    }
}

impl Builder<'_> {
    pub(super) fn cache_path(&self, key: &Digest) -> PathBuf {
        self.store.root().join("build-cache").join(key.hex())
    }

    /// A cached layer for `key`, if its blob is still in the store.
    pub(super) fn cached(&mut self, key: &Digest, st: &mut StageState) -> Result<bool> {
        if self.o.no_cache {
            return Ok(false);
        }
        let local = fs::read(self.cache_path(key))
            .ok()
            .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok())
            .and_then(|e| Some((e.digest.parse::<Digest>().ok()?, e)))
            .filter(|(d, _)| self.store.has_blob(d));
        let (d, e) = match local {
            Some(found) => found,
            None => match self.imported(key)? {
                Some(found) => found,
                None => return Ok(false),
            },
        };
        let parent = st.chain.last().cloned();
        let chain = match &parent {
            Some(p) => p.chain(&d),
            None => d.clone(),
        };
        if self.store.snapshot_info(&chain)?.is_none() {
            let blob = self.store.open_blob(&d)?;
            self.store
                .unpack_layer(blob, parent.as_ref(), Some(&d), &d.to_string())?;
        }
        self.used(key, &e);
        st.layers.push((e.media_type, d.clone(), e.size));
        st.diff_ids.push(d);
        st.chain.push(chain);
        self.note_cached(&format!("Using cache {}", &key.hex()[..12]));
        Ok(true)
    }

    /// The layer `--cache-from` has for `key`, taken into the store (its digest checked)
    /// and remembered as a local entry.
    fn imported(&mut self, key: &Digest) -> Result<Option<(Digest, CacheEntry)>> {
        let o = self.o;
        let Some((dir, e)) = o.imported.get(key.hex()) else {
            return Ok(None);
        };
        let Ok(d) = e.digest.parse::<Digest>() else {
            return Ok(None);
        };
        if !self.store.has_blob(&d) {
            let Ok(f) = fs::File::open(dir.join("blobs/sha256").join(d.hex())) else {
                return Ok(None);
            };
            if self.store.ingest(f, Some(&d)).is_err() {
                return Ok(None);
            }
        }
        self.write_entry(key, e)?;
        self.note_cached(&format!("Imported from {}", dir.display()));
        Ok(Some((d, e.clone())))
    }

    /// Notes that the build used the layer of `key` (for `--cache-to`).
    fn used(&self, key: &Digest, e: &CacheEntry) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key.hex().to_owned(), e.clone()));
    }

    pub(super) fn remember(&self, key: &Digest, diff: &rbox_image::diff::Diff) -> Result<()> {
        let e = CacheEntry {
            digest: diff.digest.to_string(),
            size: diff.size,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        self.write_entry(key, &e)?;
        self.used(key, &e);
        Ok(())
    }

    fn write_entry(&self, key: &Digest, e: &CacheEntry) -> Result<()> {
        let dir = self.store.root().join("build-cache");
        fs::create_dir_all(&dir)?;
        rbox_image::store::replace_file(
            &self.cache_path(key),
            &serde_json::to_vec(e).expect("json"),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn copy() -> StepKey {
        StepKey::Copy {
            add: false,
            sources: vec!["a".into(), "b/*".into()],
            dest: "/d/".into(),
            chown: None,
            chmod: None,
            content: Digest::of(b"content").to_string(),
            urls: vec![],
        }
    }

    fn url(url: &str, digest: &[u8]) -> UrlKey {
        UrlKey {
            url: url.into(),
            digest: Digest::of(digest).to_string(),
        }
    }

    /// One step of each kind, whose words are all "x" where they can be.
    fn one_of_each() -> Vec<StepKey> {
        let x = || "x".to_owned();
        vec![
            StepKey::Scratch,
            StepKey::Image { id: x() },
            StepKey::Env { env: vec![x()] },
            StepKey::Arg {
                name: x(),
                value: x(),
            },
            StepKey::Workdir { path: x() },
            StepKey::User { user: x() },
            StepKey::Volume { volumes: vec![x()] },
            StepKey::Shell { shell: vec![x()] },
            StepKey::Run {
                argv: vec![x()],
                env: vec![x()],
                mounts: vec![],
                insecure: false,
                hosts: vec![],
            },
            copy(),
        ]
    }

    /// The key of the RUN below after FROM scratch: sha256 of its encoding, worked out
    /// apart from this code. A change here invalidates every cache: bump KEY_VERSION.
    const GOLDEN_RUN_KEY: &str =
        "sha256:125e94a398358b3793ab72f1e0077552530117856f8f92eb099bc71f70e522cb";

    #[test]
    fn the_encoding_is_stable() {
        let encoded = StepKey::Workdir { path: "/w".into() }.encode(None);
        assert_eq!(
            String::from_utf8(encoded).unwrap(),
            r#"{"version":1,"parent":null,"step":{"step":"workdir","path":"/w"}}"#
        );
        let root = StepKey::Scratch.key(None);
        let run = StepKey::Run {
            argv: vec!["/bin/sh".into(), "-c".into(), "make".into()],
            env: vec!["PATH=/bin".into()],
            mounts: vec![],
            insecure: false,
            hosts: vec![],
        };
        assert_eq!(
            String::from_utf8(run.encode(Some(&root))).unwrap(),
            format!(
                r#"{{"version":1,"parent":"{root}","step":{{"step":"run","argv":["/bin/sh","-c","make"],"env":["PATH=/bin"]}}}}"#
            )
        );
        assert_eq!(run.key(Some(&root)).to_string(), GOLDEN_RUN_KEY);
        for step in one_of_each() {
            assert_eq!(step.key(Some(&root)), step.clone().key(Some(&root)));
        }
    }

    #[test]
    fn each_input_changes_the_key() {
        let parent = StepKey::Scratch.key(None);
        let mut steps = one_of_each();
        let changed = |f: &dyn Fn(&mut StepKey)| {
            let mut step = copy();
            f(&mut step);
            step
        };
        steps.extend([
            changed(&|s| {
                if let StepKey::Copy { add, .. } = s {
                    *add = true
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { sources, .. } = s {
                    sources.pop();
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { dest, .. } = s {
                    *dest = "/d".into()
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { chown, .. } = s {
                    *chown = Some("1:1".into())
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { chmod, .. } = s {
                    *chmod = Some("755".into())
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { content, .. } = s {
                    *content = Digest::of(b"other").to_string()
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { urls, .. } = s {
                    urls.push(url("https://h/f", b"f"))
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { urls, .. } = s {
                    urls.push(url("https://h/f", b"g"))
                }
            }),
            changed(&|s| {
                if let StepKey::Copy { urls, .. } = s {
                    urls.push(url("https://h/g", b"f"))
                }
            }),
            // Words are kept apart, and each field from the others.
            StepKey::Run {
                argv: vec!["x y".into()],
                env: vec![],
                mounts: vec![],
                insecure: false,
                hosts: vec![],
            },
            StepKey::Run {
                argv: vec!["x".into(), "y".into()],
                env: vec![],
                mounts: vec![],
                insecure: false,
                hosts: vec![],
            },
            StepKey::Run {
                argv: vec![],
                env: vec!["x".into()],
                mounts: vec![],
                insecure: false,
                hosts: vec![],
            },
            StepKey::Run {
                argv: vec!["x".into()],
                env: vec!["A=1".into()],
                mounts: vec![],
                insecure: false,
                hosts: vec![],
            },
            StepKey::Arg {
                name: "x=x".into(),
                value: String::new(),
            },
            StepKey::Arg {
                name: "x".into(),
                value: "y".into(),
            },
            StepKey::Env {
                env: vec!["x".into(), "x".into()],
            },
            StepKey::Run {
                argv: vec!["x".into()],
                env: vec![],
                mounts: vec!["x".into()],
                insecure: false,
                hosts: vec![],
            },
            StepKey::Run {
                argv: vec!["x".into()],
                env: vec![],
                mounts: vec![],
                insecure: true,
                hosts: vec![],
            },
            StepKey::Run {
                argv: vec!["x".into()],
                env: vec![],
                mounts: vec![],
                insecure: false,
                hosts: vec!["x:10.0.0.1".into()],
            },
            StepKey::Image { id: "y".into() },
        ]);
        let keys: HashSet<Digest> = steps.iter().map(|s| s.key(Some(&parent))).collect();
        assert_eq!(keys.len(), steps.len(), "two steps share a key");
        // The parent is an input too.
        let other = StepKey::Image { id: "x".into() }.key(None);
        for step in &steps {
            let key = step.key(Some(&parent));
            assert_ne!(key, step.key(Some(&other)), "{step:?}");
            assert_ne!(key, step.key(None), "{step:?}");
        }
    }

    #[test]
    fn a_stage_chains_its_keys() {
        let mut st = StageState {
            key: Some(StepKey::Scratch.key(None)),
            ..Default::default()
        };
        let step = StepKey::User { user: "u".into() };
        let first = st.next_key(&step);
        assert_eq!(first, step.key(Some(&StepKey::Scratch.key(None))));
        let second = st.next_key(&step);
        assert_eq!(second, step.key(Some(&first)));
        assert_ne!(first, second);
        assert_eq!(st.key, Some(second));
    }
}
