//! Pull, push and login against a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry), started per test on a free loopback port with the project's
//! config (tests/registry/config.yml), storage in a temporary directory.

mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use harness::{spawn_registry, TestRoot};

/// A registry process, killed (by its pid) when dropped.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        Registry::start_with(|_| Vec::new())
    }

    /// Starts a registry with extra environment, given its scratch directory.
    fn start_with(env: impl Fn(&Path) -> Vec<(String, String)>) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("rbox-registry-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("storage")).unwrap();
        let extra = env(dir.path());
        let (child, port) = spawn_registry(dir.path(), &extra);
        Registry { child, port, dir }
    }

    /// Kills the registry (by its pid), as a crash would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same storage (on a new port).
    fn restart(&mut self) {
        self.kill();
        let (child, port) = spawn_registry(self.dir.path(), &[]);
        self.child = child;
        self.port = port;
    }

    /// `127.0.0.1:PORT`.
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The hex digest of the largest blob the registry holds.
    fn largest_blob(&self) -> String {
        let dir = self
            .dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256");
        let mut best = (0, String::new());
        for prefix in std::fs::read_dir(&dir).unwrap() {
            for blob in std::fs::read_dir(prefix.unwrap().path()).unwrap() {
                let blob = blob.unwrap();
                let size = std::fs::metadata(blob.path().join("data")).unwrap().len();
                if size > best.0 {
                    best = (size, blob.file_name().to_string_lossy().into_owned());
                }
            }
        }
        best.1
    }

    /// The registry's blob data files.
    fn blob_data(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the proxy does to the bodies of blob downloads (`GET …/blobs/sha256:…`).
enum Fault {
    /// Passes everything through.
    None,
    /// Flips one byte in the middle of every blob's body: same length, wrong content.
    Flip,
    /// After `after` bytes of a blob body longer than `longer_than`, says so on `reached`,
    /// waits for a word on `resume`, then closes both connections without another byte.
    Cut {
        after: u64,
        longer_than: u64,
        reached: mpsc::Sender<()>,
        resume: mpsc::Receiver<()>,
    },
}

/// A TCP proxy on 127.0.0.1 between rbox and a registry, one thread per connection. It
/// forwards one request per connection (asking both sides to close after it), so it knows
/// where each response body starts; `fault` says what it does to blob bodies.
struct Proxy {
    port: u16,
    upstream: Arc<AtomicU16>,
    fault: Arc<Mutex<Fault>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: u16, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = Arc::new(AtomicU16::new(upstream));
        let fault = Arc::new(Mutex::new(fault));
        let stop = Arc::new(AtomicBool::new(false));
        // Connections being proxied.
        let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let thread = {
            let (upstream, fault, stop) = (upstream.clone(), fault.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (upstream, fault) = (upstream.load(Ordering::SeqCst), fault.clone());
                    let active = active.clone();
                    active.fetch_add(1, Ordering::SeqCst);
                    std::thread::spawn(move || {
                        let _ = proxy_one(conn, upstream, &fault, &active);
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            })
        };
        Proxy {
            port,
            upstream,
            fault,
            stop,
            thread: Some(thread),
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn set_upstream(&self, port: u16) {
        self.upstream.store(port, Ordering::SeqCst);
    }

    fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads an HTTP head (request or status line and headers) up to the blank line.
fn read_head(r: &mut impl BufRead) -> std::io::Result<(String, Vec<String>)> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return Ok((first.trim_end().to_owned(), headers));
        }
        headers.push(line);
    }
}

/// A head with `Connection: close` in place of any connection header.
fn closing_head(first: &str, headers: &[String]) -> Vec<u8> {
    let mut out = format!("{first}\r\n");
    for h in headers {
        if !h.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(&format!("{h}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn content_length(headers: &[String]) -> Option<u64> {
    headers.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

fn proxy_one(
    client: TcpStream,
    upstream: u16,
    fault: &Mutex<Fault>,
    active: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let (request, headers) = read_head(&mut from_client)?;
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(&closing_head(&request, &headers))?;
    let body = content_length(&headers).unwrap_or(0);
    std::io::copy(&mut (&mut from_client).take(body), &mut server)?;

    let mut from_server = BufReader::new(server.try_clone()?);
    let (status, headers) = read_head(&mut from_server)?;
    to_client.write_all(&closing_head(&status, &headers))?;
    let is_blob = request.starts_with("GET ") && request.contains("/blobs/sha256:");
    let len = content_length(&headers);
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_server.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let chunk = &mut buf[..n];
        let end = sent + n as u64;
        if is_blob {
            let mut f = fault.lock().unwrap();
            match &*f {
                Fault::None => {}
                Fault::Flip => {
                    let mid = len.unwrap_or(0) / 2;
                    if (sent..end).contains(&mid) {
                        chunk[(mid - sent) as usize] ^= 0x01;
                    }
                }
                Fault::Cut {
                    after, longer_than, ..
                } if len.is_some_and(|l| l > *longer_than) && end > *after => {
                    // Fires once: later requests pass (the retry).
                    let Fault::Cut {
                        after,
                        reached,
                        resume,
                        ..
                    } = std::mem::replace(&mut *f, Fault::None)
                    else {
                        unreachable!()
                    };
                    drop(f);
                    to_client.write_all(&chunk[..(after - sent) as usize])?;
                    to_client.flush()?;
                    // The other transfers of the pull finish first, so that the cut is
                    // the only failure.
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while active.load(Ordering::SeqCst) > 1 && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let _ = reached.send(());
                    let _ = resume.recv_timeout(Duration::from_secs(30));
                    let _ = to_client.shutdown(std::net::Shutdown::Both);
                    let _ = server.shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
                Fault::Cut { .. } => {}
            }
        }
        to_client.write_all(chunk)?;
        sent += n as u64;
    }
}

/// `len` bytes nothing compresses (xorshift64*), deterministic for a seed.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", name])).unwrap();
    v[0].clone()
}

/// The digest from push's last line, `TAG: digest: sha256:… size: N`.
fn pushed_digest(out: &str) -> String {
    let last = out.lines().last().unwrap_or_default();
    let d = last.split("digest: ").nth(1).expect(out);
    d.split(' ').next().unwrap().to_owned()
}

/// Whether a blob of the store is gzipped.
fn gzipped(t: &TestRoot, digest: &str) -> bool {
    let path = t
        .path()
        .join("images/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::read(path).unwrap().starts_with(&[0x1f, 0x8b])
}

#[test]
fn push_then_pull_keeps_digests_and_a_second_push_uploads_nothing() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let name = format!("{}/example/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &name]);
    let local = inspect(&a, &name);
    // The store keeps layers as plain tars: push gzips them on the way.
    let local_layer = local["Manifest"]["Layers"][0].as_str().unwrap().to_owned();
    assert!(!gzipped(&a, &local_layer));
    let out = a.ok(["push", &name]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/example/busybox]",
            reg.addr()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}: Pushed", &local_layer[7..19])),
        "{out}"
    );
    let digest = pushed_digest(&out);
    assert_ne!(local["Manifest"]["Digest"], digest.as_str());
    assert_eq!(
        inspect(&a, &name)["Manifest"],
        local["Manifest"],
        "unchanged"
    );

    // The compressed blob is remembered: nothing to compress or upload again.
    let again = a.ok(["push", &name]);
    assert!(!again.contains("Pushed"), "{again}");
    assert!(again.contains(": Layer already exists"), "{again}");
    assert_eq!(pushed_digest(&again), digest);
    // Forgotten, the layer is compressed again into the same bytes.
    std::fs::remove_dir_all(a.path().join("compressed-layers")).unwrap();
    let third = a.ok(["push", &name]);
    assert_eq!(pushed_digest(&third), digest);

    let b = TestRoot::new();
    let out = b.ok(["pull", &name]);
    assert!(out.contains(": Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let pulled = inspect(&b, &name);
    assert_eq!(pulled["Manifest"]["Digest"], digest.as_str());
    assert_eq!(pulled["Id"], local["Id"], "the config is pushed as it is");
    assert_eq!(pulled["RootFS"], local["RootFS"], "same diff ids");
    let layer = pulled["Manifest"]["Layers"][0].as_str().unwrap().to_owned();
    assert!(gzipped(&b, &layer));
    assert_eq!(b.snapshots(), a.snapshots());
    b.assert_blobs_match_digests();
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());

    let out = b.ok(["pull", &name]);
    assert!(out.contains("Status: Image is up to date"), "{out}");
    assert!(!out.contains("Pull complete"), "{out}");

    // A pulled (compressed) image is pushed back byte for byte: same digest.
    let copy = format!("{}/copy/busybox:1", reg.addr());
    b.ok(["tag", &name, &copy]);
    let out = b.ok(["push", &copy]);
    assert_eq!(pushed_digest(&out), digest);

    // A digest pins the manifest; -q prints only the name.
    let c = TestRoot::new();
    let pinned = format!("{}/example/busybox@{digest}", reg.addr());
    assert_eq!(c.ok(["pull", "-q", &pinned]).trim(), pinned);
    assert_eq!(inspect(&c, &pinned)["Id"], local["Id"]);
}

#[test]
fn pulling_what_does_not_exist_fails_plainly_and_stores_nothing() {
    let reg = Registry::start();
    let t = TestRoot::new();
    let (code, err) = t.fails(["pull", &format!("{}/example/nothing:nope", reg.addr())]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("not found") && err.contains("manifest unknown"),
        "{err}"
    );
    assert!(t.blobs().is_empty(), "{:?}", t.blobs());
    assert!(t.leftovers().is_empty());
    assert_eq!(t.ok(["images", "-q"]), "");

    // A registry that is not there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, err) = t.fails(["pull", &format!("127.0.0.1:{port}/x:1")]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("connection refused"), "{err}");
    let (_, err) = t.fails(["pull", "127.0.0.1:1/Bad:x"]);
    assert!(err.contains("invalid reference format"), "{err}");
}

#[test]
fn a_blob_corrupted_in_the_registry_is_refused_and_not_stored() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let name = format!("{}/example/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &name]);
    a.ok(["push", &name]);
    // The layer as pushed (gzipped): the largest blob in the registry.
    let layer = reg.largest_blob();
    // Same length, one byte flipped: only the digest can tell.
    let data = reg.blob_data(&layer);
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();

    let b = TestRoot::new();
    let (_, err) = b.fails(["pull", &name]);
    assert!(
        err.contains(&layer) && err.contains("nothing was stored"),
        "{err}"
    );
    assert!(!b.blobs().contains(&layer), "{:?}", b.blobs());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    assert!(b.snapshots().is_empty());
    assert_eq!(b.ok(["images", "-q"]), "");
    b.assert_blobs_match_digests();
}

#[test]
fn a_blob_corrupted_in_transit_is_refused_and_nothing_is_stored() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let name = format!("{}/example/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &name]);
    a.ok(["push", "-q", &name]);

    // Every blob comes through the proxy with one byte flipped.
    let proxy = Proxy::start(reg.port, Fault::Flip);
    let through = format!("{}/example/busybox:1", proxy.addr());
    let b = TestRoot::new();
    let (code, err) = b.fails(["pull", &through]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    assert!(b.blobs().is_empty(), "{:?}", b.blobs());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    assert!(b.snapshots().is_empty(), "{:?}", b.snapshots());
    assert_eq!(b.ok(["images", "-q"]), "");

    // The same pull with the wire fixed works, and the error named one of its blobs.
    proxy.set_fault(Fault::None);
    b.ok(["pull", "-q", &through]);
    let pulled = inspect(&b, &through);
    assert_eq!(pulled["Id"], inspect(&a, &name)["Id"]);
    let mut blobs: Vec<String> = pulled["Manifest"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    blobs.push(pulled["Id"].as_str().unwrap().to_owned());
    assert!(blobs.iter().any(|d| err.contains(d.as_str())), "{err}");
    b.assert_blobs_match_digests();
}

#[test]
fn a_pull_cut_mid_blob_by_a_registry_crash_keeps_nothing_partial_and_a_retry_works() {
    let mut reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    // An image whose top layer is 30 MB that no compression shrinks.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY big /big\n",
    )
    .unwrap();
    std::fs::write(ctx.path().join("big"), random_bytes(30 << 20, 7)).unwrap();
    let name = format!("{}/example/big:1", reg.addr());
    a.ok(["build", "-q", "-t", &name, ctx.path().to_str().unwrap()]);
    a.ok(["push", "-q", &name]);

    // The proxy lets 10 MB of the big layer through, then the registry is killed.
    let (reached_tx, reached) = mpsc::channel();
    let (resume, resume_rx) = mpsc::channel();
    let proxy = Proxy::start(
        reg.port,
        Fault::Cut {
            after: 10 << 20,
            longer_than: 20 << 20,
            reached: reached_tx,
            resume: resume_rx,
        },
    );
    let through = format!("{}/example/big:1", proxy.addr());
    let b = TestRoot::new();
    let mut pull = b.cmd(["pull", &through]);
    pull.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = pull.spawn().unwrap();
    reached
        .recv_timeout(Duration::from_secs(120))
        .expect("the pull got 10 MB into the big layer");
    reg.kill();
    resume.send(()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("10485760 of"), "{err}");
    let blobs_after_cut = b.blobs();
    let snapshots_after_cut = b.snapshots();
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    assert_eq!(b.ok(["images", "-q"]), "");
    b.assert_blobs_match_digests();

    // While the registry is down, a pull fails plainly.
    let (_, down) = b.fails(["pull", &through]);
    assert_eq!(down.lines().count(), 1, "{down}");
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());

    // Back up (same storage, new port behind the same proxy): the retry completes.
    reg.restart();
    proxy.set_upstream(reg.port);
    b.ok(["pull", "-q", &through]);
    let pulled = inspect(&b, &through);
    assert_eq!(pulled["Id"], inspect(&a, &name)["Id"]);
    let big = pulled["Manifest"]["Layers"][1].as_str().unwrap().to_owned();
    assert!(err.contains(&big), "the error names the big layer: {err}");
    let big_hex = big.trim_start_matches("sha256:");
    assert!(
        !blobs_after_cut.iter().any(|x| x == big_hex),
        "{blobs_after_cut:?}"
    );
    assert!(snapshots_after_cut.len() < 2, "{snapshots_after_cut:?}");
    assert_eq!(b.snapshots(), a.snapshots());
    b.assert_blobs_match_digests();
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn registries_json_allows_plain_http_for_the_registries_it_lists() {
    let reg = Registry::start();
    // The registry under a name that is not loopback to rbox (an IPv4-mapped IPv6
    // address), so it expects TLS unless told otherwise.
    let host = format!("[::ffff:127.0.0.1]:{}", reg.port);
    let name = format!("{host}/example/busybox:1");
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    a.ok(["tag", "busybox", &name]);
    let (_, err) = a.fails(["push", &name]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("TLS") && err.contains("registries.json"),
        "{err}"
    );

    // <root>/registries.json.
    let conf = format!(r#"{{"registries": [{{"location": "{host}", "insecure": true}}]}}"#);
    std::fs::write(a.path().join("registries.json"), &conf).unwrap();
    let out = a.ok(["push", &name]);
    assert!(out.contains(": Pushed"), "{out}");
    // --tls-verify=true still insists on TLS.
    let (_, err) = a.fails(["push", "--tls-verify=true", &name]);
    assert!(err.contains("TLS"), "{err}");

    // $RBOX_REGISTRIES_CONF names another file.
    let b = TestRoot::new();
    let elsewhere = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(elsewhere.path(), &conf).unwrap();
    let r = b
        .cmd(["pull", "-q", &name])
        .env("RBOX_REGISTRIES_CONF", elsewhere.path())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(inspect(&b, &name)["Id"], inspect(&a, &name)["Id"]);

    // A mistake in the file is an error that names it.
    std::fs::write(
        a.path().join("registries.json"),
        r#"{"registries": [{"location": "x", "insecure": "yes"}]}"#,
    )
    .unwrap();
    let (_, err) = a.fails(["pull", &name]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("registries.json"), "{err}");
}

#[test]
fn basic_auth_refuses_without_login_and_works_after() {
    let reg = Registry::start_with(|dir| {
        let out = Command::new("htpasswd")
            .args(["-Bbn", "tester", "s3cret"])
            .output()
            .expect("htpasswd runs (apt-get install apache2-utils)");
        assert!(out.status.success());
        let file = dir.join("htpasswd");
        std::fs::write(&file, out.stdout).unwrap();
        vec![
            ("REGISTRY_AUTH".into(), "htpasswd".into()),
            ("REGISTRY_AUTH_HTPASSWD_REALM".into(), "rbox-test".into()),
            (
                "REGISTRY_AUTH_HTPASSWD_PATH".into(),
                file.display().to_string(),
            ),
        ]
    });
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let name = format!("{}/private/busybox:1", reg.addr());
    t.ok(["tag", "busybox", &name]);
    let (_, err) = t.fails(["push", &name]);
    assert!(err.contains("rbox login"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let login = |password: &str| {
        let mut c = t.cmd(["login", "-u", "tester", "--password-stdin", &reg.addr()]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = login("wrong");
    assert_eq!(code, Some(1));
    assert!(err.contains("wrong user name or password"), "{err}");
    let auth_file = t.path().join("auth.json");
    assert!(!auth_file.exists());

    let (code, out, err) = login("s3cret");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Login Succeeded\n");
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&auth_file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth_file).unwrap()).unwrap();
    assert_eq!(
        v["auths"][reg.addr()]["auth"],
        "dGVzdGVyOnMzY3JldA==" // base64("tester:s3cret")
    );

    let out = t.ok(["push", &name]);
    assert!(out.contains(": Pushed"), "{out}");
    t.ok(["rmi", &name]);
    t.ok(["pull", &name]);

    // skopeo reads the same file.
    let st = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(&auth_file)
        .arg(format!("docker://{name}"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());

    assert_eq!(
        t.ok(["logout", &reg.addr()]),
        format!("Removing login credentials for {}\n", reg.addr())
    );
    t.ok(["rmi", &name]);
    let (_, err) = t.fails(["pull", &name]);
    assert!(err.contains("rbox login"), "{err}");
}

#[test]
fn skopeo_reads_what_rbox_pushes_and_rbox_pulls_what_skopeo_pushes() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let local = inspect(&a, "busybox");

    // rbox → registry → skopeo.
    let name = format!("{}/example/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &name]);
    let digest = pushed_digest(&a.ok(["push", &name]));
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Digest"], digest.as_str());
    // skopeo copies it; its layer (gzipped by the push) unpacks to the local layer.
    let oci = tempfile::tempdir().unwrap();
    let st = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{name}"))
        .arg(format!("oci:{}:copied", oci.path().display()))
        .status()
        .unwrap();
    assert!(st.success());
    let layer = v["Layers"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let gz = std::fs::read(oci.path().join("blobs/sha256").join(layer)).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    use sha2::Digest as _;
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar))),
        local["RootFS"]["Layers"][0].as_str().unwrap()
    );
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--config", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    let config = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(config.as_bytes()))
        ),
        local["Id"].as_str().unwrap()
    );

    // skopeo (from rbox's store, as an OCI layout, converted to a Docker schema 2
    // manifest with a gzipped layer) → registry → rbox.
    let theirs = format!("{}/skopeo/busybox:v2s2", reg.addr());
    let st = Command::new("skopeo")
        .args(["copy", "-q", "--format", "v2s2", "--dest-tls-verify=false"])
        .arg(format!(
            "oci:{}/images:docker.io/library/busybox:latest",
            a.path().display()
        ))
        .arg(format!("docker://{theirs}"))
        .status()
        .unwrap();
    assert!(st.success());
    let b = TestRoot::new();
    b.ok(["pull", &theirs]);
    let pulled = inspect(&b, &theirs);
    assert_eq!(pulled["RootFS"], local["RootFS"], "same diff ids");
    assert_ne!(
        pulled["Manifest"]["Layers"], local["Manifest"]["Layers"],
        "gzipped"
    );
    assert_eq!(b.snapshots(), a.snapshots());
    b.assert_blobs_match_digests();

    // And pushed back from rbox, the Docker manifest keeps its digest.
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{theirs}"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let again = format!("{}/again/busybox:v2s2", reg.addr());
    b.ok(["tag", &theirs, &again]);
    let out = b.ok(["push", &again]);
    assert_eq!(pushed_digest(&out), v["Digest"].as_str().unwrap());
    // The blobs were already in the registry's other repository: mounted, not uploaded.
    assert!(out.contains("Mounted from skopeo/busybox"), "{out}");
}

#[test]
fn run_pulls_a_missing_image_and_pull_never_refuses() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let image = format!("{}/auto/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &image]);
    a.ok(["push", "-q", &image]);
    let b = TestRoot::new();
    let (code, _, err) = b.status(["run", "--rm", "--pull", "never", &image, "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("no such image"), "{err}");
    let (code, out, err) = b.status(["run", "--rm", &image, "echo", "pulled and ran"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "pulled and ran\n", "the pull's messages go to stderr");
    assert!(
        err.contains("Unable to find image") && err.contains("Downloaded newer image"),
        "{err}"
    );
    // Now in the store: no second pull.
    let (_, _, err) = b.status(["run", "--rm", &image, "true"]);
    assert!(!err.contains("Unable to find image"), "{err}");
}

#[test]
fn build_pulls_a_missing_base_image() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let base = format!("{}/base/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &base]);
    a.ok(["push", "-q", &base]);
    let b = TestRoot::new();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nRUN echo built on a pulled base > /x\nCMD [\"cat\", \"/x\"]\n"),
    )
    .unwrap();
    let (code, out, err) = b.status(["build", "-t", "onpulled:1", ctx.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("Unable to find image") && err.contains("Downloaded newer image"),
        "{err}"
    );
    assert_eq!(
        b.ok(["run", "--rm", "onpulled:1"]),
        "built on a pulled base\n"
    );
}
