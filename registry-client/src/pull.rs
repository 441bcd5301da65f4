//! `pull`: manifest, then the missing blobs, streamed into the store and verified, then
//! snapshots and the tag.

use std::collections::{HashSet, VecDeque};
use std::io::{self, BufReader, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use rbox_image::compression::{decompressed, Compression};
use rbox_image::{Digest, Image, Reference, Store};
use ureq::http::header;

use crate::client::{authorized, read_small, Client};
use crate::error::{Error, Result};
use crate::manifest::{Blob, Document, Manifest, Platform, ACCEPT};
use crate::progress::{Event, Progress, PROGRESS_STEP};

/// How many blobs are fetched at once.
pub const PARALLEL_TRANSFERS: usize = 3;

/// What a pull did.
#[derive(Debug)]
pub struct Pulled {
    /// The image, stored, unpacked and named.
    pub image: Image,
    /// Blobs fetched (0: everything was already there).
    pub fetched: usize,
    /// Whether the store already had the image (nothing was fetched).
    pub up_to_date: bool,
}

/// Fetches a manifest or index by tag or digest: its bytes, as received, and its digest.
pub fn fetch_manifest(
    client: &Client,
    repository: &str,
    target: &str,
    what: &str,
) -> Result<(Vec<u8>, Digest, Option<String>)> {
    let url = client.url(&format!("{repository}/manifests/{target}"));
    let scope = format!("repository:{repository}:pull");
    let mut resp = client.send(&scope, |auth| {
        authorized(client.agent().get(&url), auth)
            .header(header::ACCEPT, ACCEPT)
            .call()
    })?;
    if resp.status().as_u16() == 404 {
        return Err(client.error(&format!("manifest for {what} not found"), resp));
    }
    if !resp.status().is_success() {
        return Err(client.error(what, resp));
    }
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let announced = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok());
    let bytes = read_small(&mut resp)?;
    let digest = Digest::of(&bytes);
    let expected = target.parse::<Digest>().ok().or(announced);
    if let Some(exp) = expected {
        if exp != digest {
            return Err(Error::Content {
                what: what.to_owned(),
                message: format!("the manifest received is {digest}, not {exp}"),
            });
        }
    }
    Ok((bytes, digest, content_type))
}

/// Pulls `reference` into `store`: the manifest for `platform` (from an index if the
/// reference names one), the blobs the store lacks, the snapshots; then names it (a tag,
/// or for `name@digest` an untagged entry).
pub fn pull(
    store: &Store,
    client: &Client,
    reference: &Reference,
    platform: &Platform,
    progress: Progress<'_>,
) -> Result<Pulled> {
    let repo = reference.repository();
    let what = reference.familiar();
    let target = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    let (mut bytes, mut digest, ctype) = fetch_manifest(client, repo, &target, &what)?;
    let manifest: Manifest = match Document::parse(&bytes, ctype.as_deref())? {
        Document::Manifest(m) => m,
        Document::Index(index) => {
            let chosen = index.pick(platform)?;
            let (b, d, ct) = fetch_manifest(client, repo, &chosen.to_string(), &what)?;
            bytes = b;
            digest = d;
            match Document::parse(&bytes, ct.as_deref())? {
                Document::Manifest(m) => m,
                Document::Index(_) => {
                    return Err(Error::Manifest(format!(
                        "{what}: an index inside an index is not supported"
                    )))
                }
            }
        }
    };

    let _content = store.lock_content()?;
    let had_manifest = store.has_blob(&digest);
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    for b in manifest.blobs() {
        if !seen.insert(&b.digest) {
            continue;
        }
        if store.has_blob(&b.digest) {
            progress(Event::Exists(b));
        } else {
            missing.push(b);
        }
    }
    let scope = format!("repository:{repo}:pull");
    fetch_all(store, client, &scope, repo, &missing, progress)?;
    if !had_manifest {
        store.ingest(&bytes[..], Some(&digest))?;
    }
    let image = store.image(&digest)?;
    progress(Event::Extracting);
    unpack(store, &image)?;
    if reference.digest().is_some() {
        store.add_untagged(&image)?;
    } else {
        store.tag(&image, reference)?;
    }
    Ok(Pulled {
        image,
        fetched: missing.len(),
        up_to_date: missing.is_empty() && had_manifest,
    })
}

/// Fetches `blobs`, a few at a time; the first failure stops the others.
fn fetch_all(
    store: &Store,
    client: &Client,
    scope: &str,
    repo: &str,
    blobs: &[&Blob],
    progress: Progress<'_>,
) -> Result<()> {
    let queue: Mutex<VecDeque<&Blob>> = Mutex::new(blobs.iter().copied().collect());
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_TRANSFERS.min(blobs.len()) {
            s.spawn(|| loop {
                if failed.lock().expect("lock").is_some() {
                    break;
                }
                let Some(b) = queue.lock().expect("lock").pop_front() else {
                    break;
                };
                if let Err(e) = fetch_blob(store, client, scope, repo, b, progress) {
                    failed.lock().expect("lock").get_or_insert(e);
                    break;
                }
            });
        }
    });
    match failed.into_inner().expect("lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Streams one blob into the store; it is committed only if its size and digest match.
fn fetch_blob(
    store: &Store,
    client: &Client,
    scope: &str,
    repo: &str,
    b: &Blob,
    progress: Progress<'_>,
) -> Result<()> {
    let what = format!("blob {}", b.digest);
    let url = client.url(&format!("{repo}/blobs/{}", b.digest));
    let resp = client.send(scope, |auth| {
        authorized(client.agent().get(&url), auth).call()
    })?;
    if !resp.status().is_success() {
        return Err(client.error(&what, resp));
    }
    progress(Event::Started(b));
    let mut body = resp.into_body().into_reader();
    let mut w = store.blob_writer()?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut done: u64 = 0;
    let mut reported: u64 = 0;
    loop {
        let n = body.read(&mut buf).map_err(|e| Error::Transport {
            registry: client.registry().to_owned(),
            message: format!(
                "fetching {what}: the transfer broke after {done} of {} bytes ({e}); \
                 nothing was stored",
                b.size
            ),
        })?;
        if n == 0 {
            break;
        }
        done += n as u64;
        if done > b.size {
            return Err(Error::Content {
                what,
                message: format!("the registry sent more than its {} bytes", b.size),
            });
        }
        w.write_all(&buf[..n])?;
        if done - reported >= PROGRESS_STEP {
            reported = done;
            progress(Event::Progress(b, done));
        }
    }
    if done != b.size {
        return Err(Error::Content {
            what,
            message: format!("the registry sent {done} of its {} bytes", b.size),
        });
    }
    w.commit(Some(&b.digest)).map_err(|e| match e {
        rbox_image::Error::DigestMismatch { actual, .. } => Error::Content {
            what: what.clone(),
            message: format!("the content received is {actual}; nothing was stored"),
        },
        e => e.into(),
    })?;
    progress(Event::Done(b));
    Ok(())
}

/// Unpacks the layers that have no snapshot yet. A compressed layer is decompressed on a
/// thread of its own while the tar is applied, so the two run on two cores.
fn unpack(store: &Store, image: &Image) -> Result<()> {
    let diff_ids = image.diff_ids()?;
    let layers = image.layer_digests()?;
    if diff_ids.len() != layers.len() {
        return Err(Error::Manifest(format!(
            "the manifest has {} layers but the config {} diff_ids",
            layers.len(),
            diff_ids.len()
        )));
    }
    let chain_ids = Digest::chain_ids(&diff_ids);
    for (i, chain) in chain_ids.iter().enumerate() {
        if store.snapshot_dir(chain).join("info.json").exists() {
            continue;
        }
        let parent = i.checked_sub(1).map(|p| &chain_ids[p]);
        let name = layers[i].to_string();
        let mut blob = BufReader::with_capacity(256 * 1024, store.open_blob(&layers[i])?);
        let kind = Compression::detect(&mut blob)
            .map_err(|e| rbox_image::Error::io(store.blob_path(&layers[i]), e))?;
        if kind == Compression::None {
            store.unpack_layer(blob, parent, Some(&diff_ids[i]), &name)?;
            continue;
        }
        std::thread::scope(|s| -> Result<()> {
            let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(8);
            s.spawn(move || {
                let (_, mut plain) = match decompressed(blob) {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    let mut buf = vec![0u8; 256 * 1024];
                    match plain.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            buf.truncate(n);
                            if tx.send(Ok(buf)).is_err() {
                                return; // the unpacking stopped
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
            let reader = ChannelReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            };
            store.unpack_layer(reader, parent, Some(&diff_ids[i]), &name)?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Reads what a thread sends in pieces.
struct ChannelReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(piece) => {
                    self.buf = piece?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
