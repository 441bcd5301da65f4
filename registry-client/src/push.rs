//! `push`: the blobs the repository lacks (mounted from another repository of the same
//! registry when the store knows one that has them, else uploaded), then the manifest,
//! byte for byte as stored.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::sync::Mutex;

use rbox_image::{Digest, Image, Reference, Store};
use ureq::http::header;
use ureq::SendBody;

use crate::client::{authorized, Client, Reply};
use crate::error::{Error, Result};
use crate::manifest::{Blob, Document};
use crate::progress::{Event, Progress, PROGRESS_STEP};
use crate::pull::PARALLEL_TRANSFERS;

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

    let queue: Mutex<VecDeque<&Blob>> = Mutex::new(blobs.iter().copied().collect());
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let counts = Mutex::new((0usize, 0usize));
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
                match push_blob(store, client, &scope, repo, b, from, progress) {
                    Ok(Sent::Exists) => {}
                    Ok(Sent::Uploaded) => counts.lock().expect("lock").0 += 1,
                    Ok(Sent::Mounted) => counts.lock().expect("lock").1 += 1,
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
    let (uploaded, mounted) = counts.into_inner().expect("lock");

    let reference = match (target.digest(), target.tag()) {
        (Some(d), _) if *d != image.manifest_digest => {
            return Err(Error::Manifest(format!(
                "{}: the image's manifest is {}, not that digest",
                target.familiar(),
                image.manifest_digest
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
        if d != image.manifest_digest {
            return Err(Error::Content {
                what: format!("manifest for {}", target.familiar()),
                message: format!(
                    "the registry stored it as {d}, not {}",
                    image.manifest_digest
                ),
            });
        }
    }
    Ok(Pushed {
        digest: image.manifest_digest.clone(),
        size: bytes.len() as u64,
        uploaded,
        mounted,
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

fn push_blob(
    store: &Store,
    client: &Client,
    scope: &str,
    repo: &str,
    b: &Blob,
    mount_from: Option<&str>,
    progress: Progress<'_>,
) -> Result<Sent> {
    let what = format!("blob {}", b.digest);
    let path = store.blob_path(&b.digest);
    let size = std::fs::metadata(&path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => rbox_image::Error::MissingBlob(b.digest.to_string()),
            _ => rbox_image::Error::io(&path, e),
        })?
        .len();
    if size != b.size {
        return Err(Error::Content {
            what,
            message: format!("the manifest says {} bytes, the store has {size}", b.size),
        });
    }
    let head_url = client.url(&format!("{repo}/blobs/{}", b.digest));
    let resp = client.send(scope, |auth| {
        authorized(client.agent().head(&head_url), auth).call()
    })?;
    match resp.status().as_u16() {
        200 => {
            progress(Event::Exists(b));
            return Ok(Sent::Exists);
        }
        404 => {}
        _ => return Err(client.error(&what, resp)),
    }

    // Start an upload, or mount the blob from another repository (a registry that can't
    // mount it starts an upload instead).
    let mut start = client.url(&format!("{repo}/blobs/uploads/"));
    if let Some(from) = mount_from {
        start.push_str(&format!("?mount={}&from={from}", encode_digest(&b.digest)));
    }
    let resp = client.send(scope, |auth| {
        authorized(client.agent().post(&start), auth).send_empty()
    })?;
    match resp.status().as_u16() {
        201 if mount_from.is_some() => {
            progress(Event::Mounted(b, mount_from.unwrap_or_default()));
            return Ok(Sent::Mounted);
        }
        202 => {}
        _ => return Err(client.error(&format!("starting the upload of {what}"), resp)),
    }
    let location = location(client, &resp, &what)?;
    progress(Event::Started(b));

    let resp = if size <= MONOLITHIC_LIMIT {
        let data = std::fs::read(&path).map_err(|e| rbox_image::Error::io(&path, e))?;
        let url = with_digest(&location, &b.digest);
        client.send(scope, |auth| {
            authorized(client.agent().put(&url), auth)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .send(&data[..])
        })?
    } else {
        let resp = client.send(scope, |auth| {
            let file = File::open(&path).map_err(ureq::Error::Io)?;
            let mut reader = Counting {
                inner: file,
                blob: b,
                done: 0,
                reported: 0,
                progress,
            };
            authorized(client.agent().patch(&location), auth)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .send(SendBody::from_reader(&mut reader))
        })?;
        if resp.status().as_u16() != 202 {
            return Err(client.error(&format!("uploading {what}"), resp));
        }
        let url = with_digest(&location_or(client, &resp, &location), &b.digest);
        client.send(scope, |auth| {
            authorized(client.agent().put(&url), auth).send_empty()
        })?
    };
    if resp.status().as_u16() != 201 {
        return Err(client.error(&format!("uploading {what}"), resp));
    }
    progress(Event::Done(b));
    Ok(Sent::Uploaded)
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
