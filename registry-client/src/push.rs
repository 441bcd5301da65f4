//! `push`: the blobs the repository lacks (mounted from another repository of the same
//! registry when the store knows one that has them, else uploaded), then the manifest.
//!
//! Layers stored as plain tars (rbox builds them so) are gzipped on the way, in parallel
//! (`compress.rs`), straight into the upload: the manifest pushed then names the gzipped
//! blobs, and the local image is left as it is. The gzipped digest of each layer is
//! remembered in `<root>/compressed-layers/`, so a later push finds the blob in the
//! registry with a `HEAD` (or mounts it) without compressing again; the compression is
//! deterministic, so compressing again gives the same blob. Other manifests go byte for
//! byte as stored.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use rbox_image::compression::Compression;
use rbox_image::digest::HashingWriter;
use rbox_image::{Digest, Image, Reference, Store};
use serde::{Deserialize, Serialize};
use ureq::http::header;
use ureq::SendBody;

use crate::client::{authorized, Client, Reply};
use crate::compress::GzipReader;
use crate::error::{Error, Result};
use crate::manifest::{Blob, Document, DOCKER_MANIFEST};
use crate::progress::{Event, Progress, PROGRESS_STEP};
use crate::pull::PARALLEL_TRANSFERS;

/// The media type of a gzipped layer in an OCI manifest.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The media type of a gzipped layer in a Docker schema 2 manifest.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Blobs up to this size go in one `PUT`; larger ones are streamed with `PATCH`, then
/// closed with an empty `PUT`, as docker does.
pub const MONOLITHIC_LIMIT: u64 = 4 * 1024 * 1024;

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    /// The manifest's digest, as the registry has it.
    pub digest: Digest,
    /// The manifest's size.
    pub size: u64,
    /// Blobs uploaded (0: the registry had them all).
    pub uploaded: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Layers gzipped on the way (0 when every layer was compressed already, or the
    /// registry had the compressed blobs).
    pub compressed: usize,
}

/// A layer's gzipped blob, remembered after a push.
#[derive(Debug, Clone)]
struct Compressed {
    digest: Digest,
    size: u64,
}

/// A `Compressed` on disk.
#[derive(Serialize, Deserialize)]
struct CacheEntry {
    digest: String,
    size: u64,
}

/// `<root>/compressed-layers`: for each plain layer pushed, the blob its gzip is.
fn cache_path(store: &Store, layer: &Digest) -> PathBuf {
    store
        .root()
        .join("compressed-layers")
        .join(format!("{}.json", layer.hex()))
}

fn cached(store: &Store, layer: &Digest) -> Option<Compressed> {
    let bytes = std::fs::read(cache_path(store, layer)).ok()?;
    let e: CacheEntry = serde_json::from_slice(&bytes).ok()?;
    Some(Compressed {
        digest: e.digest.parse().ok()?,
        size: e.size,
    })
}

fn remember(store: &Store, layer: &Digest, c: &Compressed) {
    let path = cache_path(store, layer);
    let dir = path.parent().expect("a cache file has a directory");
    let res = std::fs::create_dir_all(dir).map_err(|e| rbox_image::Error::io(dir, e));
    let bytes = serde_json::to_vec(&CacheEntry {
        digest: c.digest.to_string(),
        size: c.size,
    })
    .expect("a cache entry serializes");
    if let Err(e) = res.and_then(|_| rbox_image::store::replace_file(&path, &bytes)) {
        // Only a cache: the next push compresses again.
        tracing::debug!(error = %e, "remembering the compressed blob of {layer}");
    }
}

/// Whether a layer blob is a plain tar (not gzip nor zstd), by its first bytes.
fn is_plain(store: &Store, b: &Blob) -> Result<bool> {
    let f = store.open_blob(&b.digest)?;
    let mut r = BufReader::with_capacity(512, f);
    let c = Compression::detect(&mut r)
        .map_err(|e| rbox_image::Error::io(store.blob_path(&b.digest), e))?;
    Ok(c == Compression::None)
}

/// The gzip media type that goes with a plain layer's.
fn gzip_media_type(manifest_type: &str, layer_type: &str) -> String {
    if let Some(t) = layer_type.strip_suffix(".tar") {
        if t.starts_with("application/vnd.docker.") {
            return format!("{t}.tar.gzip");
        }
        return format!("{t}.tar+gzip");
    }
    if manifest_type == DOCKER_MANIFEST {
        DOCKER_LAYER_GZIP.into()
    } else {
        OCI_LAYER_GZIP.into()
    }
}

/// The manifest with the layers in `swap` (plain digest → gzipped blob) replaced; every
/// other field kept.
fn rewrite_manifest(
    bytes: &[u8],
    manifest_type: &str,
    swap: &HashMap<Digest, Compressed>,
) -> Result<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Manifest(format!("malformed manifest: {e}")))?;
    if let Some(layers) = v.get_mut("layers").and_then(|l| l.as_array_mut()) {
        for l in layers {
            let Some(d) = l
                .get("digest")
                .and_then(|d| d.as_str())
                .and_then(|d| d.parse::<Digest>().ok())
            else {
                continue;
            };
            if let Some(c) = swap.get(&d) {
                let old_type = l
                    .get("mediaType")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_owned();
                l["mediaType"] = gzip_media_type(manifest_type, &old_type).into();
                l["digest"] = c.digest.to_string().into();
                l["size"] = c.size.into();
            }
        }
    }
    Ok(serde_json::to_vec(&v).expect("a manifest serializes"))
}

/// Pushes `image` to `target` (a tag, or a digest that must be the image's manifest).
pub fn push(
    store: &Store,
    client: &Client,
    image: &Image,
    target: &Reference,
    progress: Progress<'_>,
) -> Result<Pushed> {
    let repo = target.repository();
    let scope = format!("repository:{repo}:pull,push");
    let bytes = store.read_document(&image.manifest_digest, "manifest")?;
    let manifest = match Document::parse(&bytes, None)? {
        Document::Manifest(m) => m,
        Document::Index(_) => {
            return Err(Error::Manifest(
                "pushing an image index is not supported".into(),
            ))
        }
    };
    let mut seen = HashSet::new();
    let blobs: Vec<&Blob> = manifest
        .blobs()
        .filter(|b| seen.insert(&b.digest))
        .collect();
    let sources = mount_sources(store, target);
    let mut plain = HashSet::new();
    for b in blobs.iter().filter(|b| b.layer) {
        if is_plain(store, b)? {
            plain.insert(&b.digest);
        }
    }

    let queue: Mutex<VecDeque<&Blob>> = Mutex::new(blobs.iter().copied().collect());
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let counts = Mutex::new((0usize, 0usize, 0usize));
    let swap: Mutex<HashMap<Digest, Compressed>> = Mutex::new(HashMap::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_TRANSFERS.min(blobs.len()) {
            s.spawn(|| loop {
                if failed.lock().expect("lock").is_some() {
                    break;
                }
                let Some(b) = queue.lock().expect("lock").pop_front() else {
                    break;
                };
                let from = sources
                    .iter()
                    .find(|(_, ds)| ds.contains(&b.digest))
                    .map(|(r, _)| r.as_str());
                let blob = Outgoing {
                    store,
                    client,
                    scope: &scope,
                    repo,
                    local: b,
                    plain: plain.contains(&b.digest),
                    mount_from: from,
                    progress,
                };
                match blob.push() {
                    Ok((sent, gz)) => {
                        let mut c = counts.lock().expect("lock");
                        match sent {
                            Sent::Exists => {}
                            Sent::Uploaded => c.0 += 1,
                            Sent::Mounted => c.1 += 1,
                        }
                        if let Some((gz, fresh)) = gz {
                            if fresh {
                                c.2 += 1;
                            }
                            swap.lock().expect("lock").insert(b.digest.clone(), gz);
                        }
                    }
                    Err(e) => {
                        failed.lock().expect("lock").get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("lock") {
        return Err(e);
    }
    let (uploaded, mounted, compressed) = counts.into_inner().expect("lock");
    let swap = swap.into_inner().expect("lock");
    let (bytes, digest) = if swap.is_empty() {
        (bytes, image.manifest_digest.clone())
    } else {
        let b = rewrite_manifest(&bytes, &manifest.media_type, &swap)?;
        let d = Digest::of(&b);
        (b, d)
    };

    let reference = match (target.digest(), target.tag()) {
        (Some(d), _) if *d != digest => {
            return Err(Error::Manifest(format!(
                "{}: the manifest pushed is {digest}, not that digest",
                target.familiar(),
            )))
        }
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    let url = client.url(&format!("{repo}/manifests/{reference}"));
    let resp = client.send(&scope, |auth| {
        authorized(client.agent().put(&url), auth)
            .header(header::CONTENT_TYPE, manifest.media_type.as_str())
            .send(&bytes[..])
    })?;
    if !resp.status().is_success() {
        return Err(client.error(&format!("manifest for {}", target.familiar()), resp));
    }
    if let Some(d) = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok())
    {
        if d != digest {
            return Err(Error::Content {
                what: format!("manifest for {}", target.familiar()),
                message: format!("the registry stored it as {d}, not {digest}"),
            });
        }
    }
    Ok(Pushed {
        digest,
        size: bytes.len() as u64,
        uploaded,
        mounted,
        compressed,
    })
}

/// Other repositories of the same registry that the store has tags for, with the blobs
/// of those images: a blob found there can be mounted rather than uploaded.
fn mount_sources(store: &Store, target: &Reference) -> Vec<(String, HashSet<Digest>)> {
    let mut out: Vec<(String, HashSet<Digest>)> = Vec::new();
    let Ok(images) = store.images() else {
        return out;
    };
    for s in images {
        for r in &s.references {
            if r.registry() != target.registry() || r.repository() == target.repository() {
                continue;
            }
            let mut ds: HashSet<Digest> = s
                .image
                .layer_digests()
                .unwrap_or_default()
                .into_iter()
                .collect();
            ds.insert(s.image.config_digest.clone());
            match out.iter_mut().find(|(n, _)| n == r.repository()) {
                Some((_, have)) => have.extend(ds),
                None => out.push((r.repository().to_owned(), ds)),
            }
        }
    }
    out
}

enum Sent {
    Exists,
    Uploaded,
    Mounted,
}

/// Where a blob is, before any upload.
enum Found {
    /// In the repository already, or mounted into it.
    Here(Sent),
    /// To upload, with the upload the registry started if it answered a mount with one.
    Upload(Option<String>),
}

/// One blob to push.
struct Outgoing<'a> {
    store: &'a Store,
    client: &'a Client,
    scope: &'a str,
    repo: &'a str,
    /// The blob as the local manifest names it.
    local: &'a Blob,
    /// A plain tar layer, gzipped on the way.
    plain: bool,
    /// Another repository of the registry that may have it.
    mount_from: Option<&'a str>,
    progress: Progress<'a>,
}

impl Outgoing<'_> {
    fn what(&self) -> String {
        format!("blob {}", self.local.digest)
    }

    /// Pushes the blob; for a plain layer, also says which gzipped blob stands for it
    /// and whether it was compressed now.
    fn push(&self) -> Result<(Sent, Option<(Compressed, bool)>)> {
        let path = self.store.blob_file(&self.local.digest)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => {
                    rbox_image::Error::MissingBlob(self.local.digest.to_string())
                }
                _ => rbox_image::Error::io(&path, e),
            })?
            .len();
        if size != self.local.size {
            return Err(Error::Content {
                what: self.what(),
                message: format!(
                    "the manifest says {} bytes, the store has {size}",
                    self.local.size
                ),
            });
        }
        if !self.plain {
            let sent = match self.find(&self.local.digest)? {
                Found::Here(sent) => sent,
                Found::Upload(started) => {
                    self.upload_as_is(&path, size, started)?;
                    Sent::Uploaded
                }
            };
            return Ok((sent, None));
        }
        let mut started = None;
        if let Some(gz) = cached(self.store, &self.local.digest) {
            match self.find(&gz.digest)? {
                Found::Here(sent) => return Ok((sent, Some((gz, false)))),
                Found::Upload(s) => started = s,
            }
        }
        let gz = self.upload_gzipped(&path, started)?;
        remember(self.store, &self.local.digest, &gz);
        Ok((Sent::Uploaded, Some((gz, true))))
    }

    /// Whether the repository has blob `d` (`HEAD`), or can mount it from another one.
    fn find(&self, d: &Digest) -> Result<Found> {
        let head_url = self.client.url(&format!("{}/blobs/{d}", self.repo));
        let resp = self.client.send(self.scope, |auth| {
            authorized(self.client.agent().head(&head_url), auth).call()
        })?;
        match resp.status().as_u16() {
            200 => {
                (self.progress)(Event::Exists(self.local));
                return Ok(Found::Here(Sent::Exists));
            }
            404 => {}
            _ => return Err(self.client.error(&self.what(), resp)),
        }
        let Some(from) = self.mount_from else {
            return Ok(Found::Upload(None));
        };
        let url = self.client.url(&format!(
            "{}/blobs/uploads/?mount={}&from={from}",
            self.repo,
            encode_digest(d)
        ));
        let resp = self.client.send(self.scope, |auth| {
            authorized(self.client.agent().post(&url), auth).send_empty()
        })?;
        match resp.status().as_u16() {
            201 => {
                (self.progress)(Event::Mounted(self.local, from));
                Ok(Found::Here(Sent::Mounted))
            }
            // The registry started an upload instead: it is ours to use.
            202 => Ok(Found::Upload(Some(location(
                self.client,
                &resp,
                &self.what(),
            )?))),
            _ => Err(self
                .client
                .error(&format!("mounting {}", self.what()), resp)),
        }
    }

    /// `POST …/uploads/`: the URL to upload to (`started`: one the registry gave already).
    fn start_upload(&self, started: Option<String>) -> Result<String> {
        if let Some(l) = started {
            return Ok(l);
        }
        let start = self.client.url(&format!("{}/blobs/uploads/", self.repo));
        let resp = self.client.send(self.scope, |auth| {
            authorized(self.client.agent().post(&start), auth).send_empty()
        })?;
        if resp.status().as_u16() != 202 {
            return Err(self
                .client
                .error(&format!("starting the upload of {}", self.what()), resp));
        }
        location(self.client, &resp, &self.what())
    }

    /// The closing `PUT ?digest=` of a streamed upload.
    fn close_upload(&self, resp: &Reply, location: &str, d: &Digest) -> Result<()> {
        let url = with_digest(&location_or(self.client, resp, location), d);
        let resp = self.client.send(self.scope, |auth| {
            authorized(self.client.agent().put(&url), auth).send_empty()
        })?;
        if resp.status().as_u16() != 201 {
            return Err(self
                .client
                .error(&format!("uploading {}", self.what()), resp));
        }
        Ok(())
    }

    /// Uploads the blob as stored: one `PUT` when small, else a streamed `PATCH`.
    fn upload_as_is(
        &self,
        path: &std::path::Path,
        size: u64,
        started: Option<String>,
    ) -> Result<()> {
        let b = self.local;
        let location = self.start_upload(started)?;
        (self.progress)(Event::Started(b));
        if size <= MONOLITHIC_LIMIT {
            let data = std::fs::read(path).map_err(|e| rbox_image::Error::io(path, e))?;
            let url = with_digest(&location, &b.digest);
            let resp = self.client.send(self.scope, |auth| {
                authorized(self.client.agent().put(&url), auth)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .send(&data[..])
            })?;
            if resp.status().as_u16() != 201 {
                return Err(self
                    .client
                    .error(&format!("uploading {}", self.what()), resp));
            }
        } else {
            let resp = self.client.send(self.scope, |auth| {
                let file = File::open(path).map_err(ureq::Error::Io)?;
                let mut reader = Counting {
                    inner: file,
                    blob: b,
                    done: 0,
                    reported: 0,
                    progress: self.progress,
                };
                authorized(self.client.agent().patch(&location), auth)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .send(SendBody::from_reader(&mut reader))
            })?;
            if resp.status().as_u16() != 202 {
                return Err(self
                    .client
                    .error(&format!("uploading {}", self.what()), resp));
            }
            self.close_upload(&resp, &location, &b.digest)?;
        }
        (self.progress)(Event::Done(b));
        Ok(())
    }

    /// Gzips the plain layer into a streamed upload; the registry checks the digest
    /// computed on the way.
    fn upload_gzipped(
        &self,
        path: &std::path::Path,
        started: Option<String>,
    ) -> Result<Compressed> {
        let b = self.local;
        let location = self.start_upload(started)?;
        (self.progress)(Event::Started(b));
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let sent: RefCell<Option<Gzipping>> = RefCell::new(None);
        let resp = self.client.send(self.scope, |auth| {
            let file = File::open(path).map_err(ureq::Error::Io)?;
            let mut cell = sent.borrow_mut();
            let reader = cell.insert(Gzipping {
                gz: GzipReader::new(file, workers),
                hash: HashingWriter::new(io::sink()),
                blob: b,
                reported: 0,
                progress: self.progress,
            });
            authorized(self.client.agent().patch(&location), auth)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .send(SendBody::from_reader(reader))
        })?;
        if resp.status().as_u16() != 202 {
            return Err(self
                .client
                .error(&format!("uploading {}", self.what()), resp));
        }
        let reader = sent.into_inner().expect("the body was sent");
        let (digest, size, _) = reader.hash.finish();
        self.close_upload(&resp, &location, &digest)?;
        (self.progress)(Event::Done(b));
        Ok(Compressed { digest, size })
    }
}

/// The gzip of a plain layer on its way out: hashed, and reported in bytes of the layer.
struct Gzipping<'a> {
    gz: GzipReader,
    hash: HashingWriter<io::Sink>,
    blob: &'a Blob,
    reported: u64,
    progress: Progress<'a>,
}

impl Read for Gzipping<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.gz.read(buf)?;
        self.hash.write_all(&buf[..n])?;
        let done = self.gz.consumed();
        if done - self.reported >= PROGRESS_STEP {
            self.reported = done;
            (self.progress)(Event::Progress(self.blob, done));
        }
        Ok(n)
    }
}

/// `sha256:…` with the colon escaped, for a query string.
fn encode_digest(d: &Digest) -> String {
    format!("sha256%3A{}", d.hex())
}

fn with_digest(location: &str, d: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", encode_digest(d))
}

/// The upload URL a reply gives, made absolute.
fn location(client: &Client, resp: &Reply, what: &str) -> Result<String> {
    let l = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Registry {
            what: what.to_owned(),
            status: resp.status().as_u16(),
            code: None,
            message: "the registry gave no upload location".into(),
        })?;
    Ok(absolute(client, l))
}

fn location_or(client: &Client, resp: &Reply, fallback: &str) -> String {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| fallback.to_owned(), |l| absolute(client, l))
}

fn absolute(client: &Client, l: &str) -> String {
    if l.starts_with("http://") || l.starts_with("https://") {
        l.to_owned()
    } else if l.starts_with('/') {
        format!("{}{l}", client.base())
    } else {
        format!("{}/{l}", client.base())
    }
}

/// A reader that reports how much of a blob went out.
struct Counting<'a> {
    inner: File,
    blob: &'a Blob,
    done: u64,
    reported: u64,
    progress: Progress<'a>,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.reported >= PROGRESS_STEP {
            self.reported = self.done;
            (self.progress)(Event::Progress(self.blob, self.done));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_layers_get_the_gzip_media_type_of_their_manifest() {
        let oci = crate::manifest::OCI_MANIFEST;
        assert_eq!(
            gzip_media_type(oci, "application/vnd.oci.image.layer.v1.tar"),
            OCI_LAYER_GZIP
        );
        assert_eq!(
            gzip_media_type(
                DOCKER_MANIFEST,
                "application/vnd.docker.image.rootfs.diff.tar"
            ),
            DOCKER_LAYER_GZIP
        );
        assert_eq!(gzip_media_type(DOCKER_MANIFEST, ""), DOCKER_LAYER_GZIP);
        assert_eq!(gzip_media_type(oci, "x"), OCI_LAYER_GZIP);
    }

    #[test]
    fn a_rewritten_manifest_keeps_every_other_field() {
        let plain = Digest::of(b"plain");
        let other = Digest::of(b"other");
        let gz = Digest::of(b"gz");
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{oci}","config":{{"mediaType":"c","digest":"{other}","size":5}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{plain}","size":5,"annotations":{{"a":"b"}}}},
            {{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{other}","size":5}}],
            "annotations":{{"k":"v"}}}}"#,
            oci = crate::manifest::OCI_MANIFEST
        );
        let swap = HashMap::from([(
            plain.clone(),
            Compressed {
                digest: gz.clone(),
                size: 3,
            },
        )]);
        let out = rewrite_manifest(m.as_bytes(), crate::manifest::OCI_MANIFEST, &swap).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["layers"][0]["digest"], gz.to_string());
        assert_eq!(v["layers"][0]["size"], 3);
        assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_GZIP);
        assert_eq!(v["layers"][0]["annotations"]["a"], "b");
        assert_eq!(v["layers"][1]["digest"], other.to_string());
        assert_eq!(v["annotations"]["k"], "v");
        assert_eq!(v["config"]["digest"], other.to_string());
    }
}
