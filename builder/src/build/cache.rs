//! The build cache: a key per step, chaining its parent's, names the layer the step made.

use std::fs;
use std::path::PathBuf;

use rbox_image::{Digest, Store};
use serde_json::Value;

use super::{Builder, Result, StageState};

/// A cached step: the layer it made.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    digest: String,
    size: u64,
    media_type: String,
}

/// A build whose every layer and setting is what an earlier build made is that image, as
/// Docker's: the earlier config (with its times) is used again, so the image id is the same
/// and nothing is left dangling. Builds are known by their config without its times, under
/// `build-cache/image-<digest>`.
pub(super) fn same_image_as_before(store: &Store, config: Value) -> Value {
    let timeless = |c: &Value| {
        let mut c = c.clone();
        if let Some(o) = c.as_object_mut() {
            o.remove("created");
        }
        for h in c["history"].as_array_mut().into_iter().flatten() {
            if let Some(o) = h.as_object_mut() {
                o.remove("created");
            }
        }
        Digest::of(&serde_json::to_vec(&c).expect("a config serializes"))
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
        .and_then(|f| serde_json::from_reader::<_, Value>(std::io::BufReader::new(f)).ok())
        .filter(|old| timeless(old) == key);
    if let Some(old) = earlier {
        return old;
    }
    let digest = Digest::of(&serde_json::to_vec(&config).expect("a config serializes"));
    let _ = fs::create_dir_all(record.parent().expect("in build-cache"))
        .and_then(|_| fs::write(&record, digest.to_string()));
    config
}

impl StageState {
    pub(super) fn next_key(&mut self, part: &str) -> Digest {
        let prev = self.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        let k = Digest::of(format!("{prev}\n{part}").as_bytes());
        self.key = Some(k.clone());
        k
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
        let Ok(bytes) = fs::read(self.cache_path(key)) else {
            return Ok(false);
        };
        let Ok(e) = serde_json::from_slice::<CacheEntry>(&bytes) else {
            return Ok(false);
        };
        let Ok(d) = e.digest.parse::<Digest>() else {
            return Ok(false);
        };
        if !self.store.has_blob(&d) {
            return Ok(false);
        }
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
        st.layers.push((e.media_type, d.clone(), e.size));
        st.diff_ids.push(d);
        st.chain.push(chain);
        let _ = writeln!(self.log, "--> Using cache {}", &key.hex()[..12]);
        Ok(true)
    }

    pub(super) fn remember(&self, key: &Digest, diff: &rbox_image::diff::Diff) -> Result<()> {
        let dir = self.store.root().join("build-cache");
        fs::create_dir_all(&dir)?;
        let e = CacheEntry {
            digest: diff.digest.to_string(),
            size: diff.size,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        rbox_image::store::replace_file(
            &self.cache_path(key),
            &serde_json::to_vec(&e).expect("json"),
        )?;
        Ok(())
    }
}
