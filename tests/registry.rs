//! Pull, push and login against a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry), started per test on a free loopback port with the project's
//! config (tests/registry/config.yml), storage in a temporary directory.

mod harness;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{workspace, TestRoot};

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
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("rbox-registry-")
                .tempdir()
                .unwrap();
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let storage = dir.path().join("storage");
            std::fs::create_dir(&storage).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(workspace().join("tests/registry/config.yml"))
                .env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", &storage)
                .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
                .envs(env(dir.path()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
                .spawn()
                .expect("docker-registry runs (apt-get install docker-registry)");
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken: try another
                }
                if answers(port) {
                    return Registry { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `127.0.0.1:PORT`.
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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

/// Whether something answers HTTP on `GET /v2/` at the port.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
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

#[test]
fn push_then_pull_keeps_digests_and_a_second_push_uploads_nothing() {
    let reg = Registry::start();
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let name = format!("{}/example/busybox:1", reg.addr());
    a.ok(["tag", "busybox", &name]);
    let out = a.ok(["push", &name]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/example/busybox]",
            reg.addr()
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    let digest = pushed_digest(&out);
    let local = inspect(&a, &name);
    assert_eq!(local["Manifest"]["Digest"], digest.as_str());

    let again = a.ok(["push", &name]);
    assert!(!again.contains("Pushed"), "{again}");
    assert!(again.contains(": Layer already exists"), "{again}");
    assert_eq!(pushed_digest(&again), digest);

    let b = TestRoot::new();
    let out = b.ok(["pull", &name]);
    assert!(out.contains(": Pull complete"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert!(out.contains("Status: Downloaded newer image"), "{out}");
    let pulled = inspect(&b, &name);
    assert_eq!(pulled["Id"], local["Id"]);
    assert_eq!(pulled["Manifest"], local["Manifest"]);
    assert_eq!(pulled["RootFS"], local["RootFS"]);
    assert_eq!(b.snapshots(), a.snapshots());
    b.assert_blobs_match_digests();
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());

    let out = b.ok(["pull", &name]);
    assert!(out.contains("Status: Image is up to date"), "{out}");
    assert!(!out.contains("Pull complete"), "{out}");

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
    let layer = inspect(&a, &name)["Manifest"]["Layers"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
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
    assert_eq!(v["Layers"], local["Manifest"]["Layers"]);
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--config", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    let config = String::from_utf8_lossy(&out.stdout).into_owned();
    use sha2::Digest as _;
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
