//! Test harness for end-to-end tests: each test gets its own data root, runs the real
//! `rbox` binary, and on drop asserts that the host is left clean (no mount and no process
//! under the root).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The longest any single rbox command of a test may take.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The `rbox` binary cargo built for these tests.
pub fn rbox_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rbox"))
}

/// The workspace's top directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli crate is in the workspace")
        .to_path_buf()
}

/// A test's own data root, in a temporary directory removed at the end.
pub struct TestRoot {
    dir: tempfile::TempDir,
    tmpfs: bool,
    /// The default network's bridge for this root (`RBOX_BRIDGE`).
    pub bridge: String,
    /// The default network's subnet for this root (`RBOX_BRIDGE_SUBNET`).
    pub subnet: String,
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .expect("/dev/urandom");
    buf
}

/// A /24 in 10.128.0.0/10 that no route of the host covers, for one test's network.
pub fn free_test_subnet() -> String {
    let routes = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    loop {
        let r = random_bytes(2);
        let prefix = format!("10.{}.{}.", 128 + r[0] % 64, r[1]);
        if !routes.contains(&prefix) {
            return format!("{prefix}0/24");
        }
    }
}

/// What a command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestRoot {
    /// A fresh, empty root.
    pub fn new() -> TestRoot {
        let dir = tempfile::Builder::new()
            .prefix("rbox-test-")
            .tempdir()
            .expect("a temporary directory");
        let bridge = format!(
            "rbt{}",
            random_bytes(5)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        TestRoot {
            dir,
            tmpfs: false,
            bridge,
            subnet: free_test_subnet(),
        }
    }

    /// A fresh root on a tmpfs of `size` bytes, to run out of space on purpose.
    pub fn on_tmpfs(size: u64) -> TestRoot {
        let mut t = TestRoot::new();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "rbox-test-tmpfs",
            ])
            .arg(t.dir.path())
            .status()
            .expect("mount runs");
        assert!(st.success(), "mounting a tmpfs for the test failed");
        t.tmpfs = true;
        t
    }

    /// The data root (`--root`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for `rbox ARGS` on this root.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(rbox_bin());
        c.env("RBOX_ROOT", self.path())
            .env("RBOX_BRIDGE", &self.bridge)
            .env("RBOX_BRIDGE_SUBNET", &self.subnet)
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `rbox ARGS`.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut child = self
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rbox runs");
        // Read both pipes while waiting, and never wait forever: a hung command fails the
        // test instead of the whole run.
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut v);
            v
        });
        let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(st) = child.try_wait().expect("waiting for rbox") {
                break st;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rbox {args:?} ran for over {COMMAND_TIMEOUT:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        Output {
            status,
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        }
        .into()
    }

    /// Runs `rbox ARGS`, asserts it succeeded, and returns its standard output.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let r = self.run(&args);
        assert_eq!(
            r.code, 0,
            "rbox {args:?} failed ({}):\n{}\n{}",
            r.code, r.stdout, r.stderr
        );
        r.stdout
    }

    /// Runs `rbox ARGS`, asserts it failed, and returns its exit code and standard error.
    pub fn fails<I, S>(&self, args: I) -> (i32, String)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let r = self.run(&args);
        assert_ne!(r.code, 0, "rbox {args:?} succeeded:\n{}", r.stdout);
        (r.code, r.stderr)
    }

    /// Makes the busybox base image as `name` with the fixture script, as a user would.
    pub fn busybox(&self, name: &str) {
        let st = Command::new(workspace().join("rootfs-fixtures/busybox.sh"))
            .arg(name)
            .env("RBOX", rbox_bin())
            .env("RBOX_ROOT", self.path())
            .stdout(Stdio::null())
            .status()
            .expect("busybox.sh runs");
        assert!(st.success(), "rootfs-fixtures/busybox.sh failed");
    }

    /// Every file under `images/blobs/sha256`, by name.
    pub fn blobs(&self) -> Vec<String> {
        list(&self.path().join("images/blobs/sha256"))
    }

    /// Every snapshot directory.
    pub fn snapshots(&self) -> Vec<String> {
        list(&self.path().join("snapshots"))
    }

    /// Everything left in `tmp/`.
    pub fn leftovers(&self) -> Vec<String> {
        list(&self.path().join("tmp"))
    }

    /// Asserts that every blob's name is the sha256 of its content.
    pub fn assert_blobs_match_digests(&self) {
        use sha2::{Digest, Sha256};
        for name in self.blobs() {
            let bytes = fs::read(self.path().join("images/blobs/sha256").join(&name)).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                name,
                "blob {name} is corrupt"
            );
        }
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The runtime directory rbox keeps for a data root on a tmpfs (`/run/rbox-<key>` or
/// `/dev/shm/rbox-<key>`), if there is one.
pub fn runtime_dir(root: &Path) -> Option<PathBuf> {
    use sha2::Digest;
    let root = fs::canonicalize(root).ok()?;
    let key = hex::encode(sha2::Sha256::digest(root.as_os_str().as_encoded_bytes()));
    ["/run", "/dev/shm"]
        .iter()
        .map(|b| Path::new(b).join(format!("rbox-{}", &key[..16])))
        .find(|p| p.is_dir())
}

/// Mount points at or under `root`.
pub fn mounts_under(root: &Path) -> Vec<String> {
    let root = root.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .filter(|m| *m == root || m.starts_with(&format!("{root}/")))
        .collect()
}

/// Processes whose command line, working directory or root is under `root`.
pub fn processes_under(root: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let root_s = root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let in_cmdline = String::from_utf8_lossy(&cmdline).contains(&root_s);
        let under =
            |link: &str| fs::read_link(e.path().join(link)).is_ok_and(|p| p.starts_with(root));
        if in_cmdline || under("cwd") || under("root") {
            out.push(pid);
        }
    }
    out
}

/// Cgroup directories left for container `id`, in any hierarchy (v1 controllers or v2).
pub fn cgroups_of(id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for e in rd.flatten() {
        for p in [e.path().join("rbox").join(id), e.path().join(id)] {
            if p.is_dir() {
                out.push(p.display().to_string());
            }
        }
    }
    if Path::new("/sys/fs/cgroup/rbox").join(id).is_dir() {
        out.push(format!("/sys/fs/cgroup/rbox/{id}"));
    }
    out
}

impl TestRoot {
    /// Ids of every container of this root.
    pub fn container_ids(&self) -> Vec<String> {
        list(&self.path().join("containers"))
            .into_iter()
            .filter(|n| n.len() == 64)
            .collect()
    }

    /// Removes every container of this root (`rm -f`), as a cleanup step.
    pub fn remove_all_containers(&self) {
        let ids = self.container_ids();
        if !ids.is_empty() {
            let _ = self
                .cmd(["rm".to_string(), "-f".into()].into_iter().chain(ids))
                .output();
        }
    }

    /// Runs `rbox` with `args` and returns the exit code, stdout and stderr.
    pub fn status<I, S>(&self, args: I) -> (i32, String, String)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let r = self.run(args);
        (r.code, r.stdout, r.stderr)
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // What the test left is recorded first; then it is cleaned up either way, so one
        // failing test doesn't leave the host dirty.
        let ids = self.container_ids();
        let leftover_containers: Vec<String> = if ids.is_empty() {
            Vec::new()
        } else {
            self.run(["ps", "-q", "--no-trunc"])
                .stdout
                .lines()
                .map(str::to_owned)
                .collect()
        };
        self.remove_all_containers();
        // A monitor finishing its own cleanup (a --rm container) is given a moment to exit.
        eventually(3, || processes_under(self.path()).is_empty());
        // Networks: every bridge of this root, and the namespaces of its containers.
        let bridges = self.bridges();
        let _ = self.cmd(["network", "prune", "-f"]).output();
        let net_left = network_leftovers(&bridges, &ids);
        remove_network_leftovers(&net_left);
        let cgroups: Vec<String> = ids.iter().flat_map(|id| cgroups_of(id)).collect();
        let procs = processes_under(self.path());
        for p in &procs {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let top = self.path().to_string_lossy().into_owned();
        let mut mounts = mounts_under(self.path());
        if self.tmpfs {
            mounts.retain(|m| *m != top);
        }
        for m in mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        if self.tmpfs {
            let _ = Command::new("umount").arg(self.path()).status();
        }
        // The root's runtime directory on the tmpfs (empty once its containers are gone).
        if let Some(run) = runtime_dir(self.path()) {
            // The test's own: what a killed rbox left there goes too.
            let _ = fs::remove_dir_all(&run);
        }
        if std::thread::panicking() {
            return;
        }
        assert!(
            leftover_containers.is_empty(),
            "running containers left: {leftover_containers:?}"
        );
        assert!(
            procs.is_empty(),
            "processes left under the test root: {procs:?}"
        );
        assert!(
            mounts.is_empty(),
            "mounts left under the test root: {mounts:?}"
        );
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
        assert!(net_left.is_empty(), "network objects left: {net_left:?}");
    }
}

impl TestRoot {
    /// The bridges of this root's networks (the default one's even before its first use).
    pub fn bridges(&self) -> Vec<String> {
        let mut out = vec![self.bridge.clone()];
        for f in list(&self.path().join("networks")) {
            if f.ends_with(".json") {
                let text =
                    fs::read_to_string(self.path().join("networks").join(&f)).unwrap_or_default();
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    if let Some(b) = v["Bridge"].as_str() {
                        out.push(b.to_owned());
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// What is left on the host of these bridges and containers: links (the bridges, and veths
/// named after the containers), packet filter tables, network namespaces.
pub fn network_leftovers(bridges: &[String], container_ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    let links = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let tables = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for line in links.lines() {
        let name = line
            .split(':')
            .nth(1)
            .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
            .unwrap_or_default();
        if bridges.contains(&name)
            || container_ids
                .iter()
                .any(|id| name.starts_with(&format!("rb{}", &id[..8])))
        {
            left.push(format!("link {name}"));
        }
    }
    for b in bridges {
        if tables
            .lines()
            .any(|t| t.trim() == format!("table ip rbox-{b}"))
        {
            left.push(format!("nft table rbox-{b}"));
        }
    }
    for id in container_ids {
        let ns = Path::new("/run/netns").join(format!("rbox-{}", &id[..16]));
        if ns.exists() {
            left.push(format!("netns {}", ns.display()));
        }
    }
    left
}

/// Deletes what [`network_leftovers`] found (this root's own bridges, veths, tables and
/// namespaces), so that a failing test leaves the host clean.
pub fn remove_network_leftovers(left: &[String]) {
    for l in left {
        let (kind, name) = l.split_once(' ').unwrap_or((l, ""));
        let _ = match kind {
            "link" => Command::new("ip").args(["link", "del", name]).output(),
            "nft" => {
                let table = name.strip_prefix("table ").unwrap_or(name);
                Command::new("nft")
                    .args(["delete", "table", "ip", table])
                    .output()
            }
            "netns" => {
                let _ = Command::new("umount").arg("-l").arg(name).output();
                let _ = fs::remove_file(name);
                continue;
            }
            _ => continue,
        };
    }
}

/// The busybox rootfs as a plain tarball, made once per test process: the fixture script
/// imports it into a scratch root, and its snapshot is tarred back up.
pub fn busybox_tarball() -> PathBuf {
    static TARBALL: OnceLock<PathBuf> = OnceLock::new();
    TARBALL
        .get_or_init(|| {
            // Kept in cargo's scratch directory for tests, one per test process.
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let tar = dir.join(format!("busybox-rootfs-{}.tar", std::process::id()));
            for old in list(&dir) {
                let p = dir.join(&old);
                let stale = fs::metadata(&p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 3600));
                if old.starts_with("busybox-rootfs-") && stale {
                    let _ = fs::remove_file(p);
                }
            }
            let scratch = TestRoot::new();
            scratch.busybox("busybox:latest");
            // The snapshot is the rootfs; tar it back up.
            let snaps = scratch.snapshots();
            assert_eq!(snaps.len(), 1);
            let fs_dir = scratch.path().join("snapshots").join(&snaps[0]).join("fs");
            let st = Command::new("tar")
                .args(["--sort=name", "--numeric-owner", "-C"])
                .arg(&fs_dir)
                .arg("-cf")
                .arg(&tar)
                .arg(".")
                .status()
                .unwrap();
            assert!(st.success());
            tar
        })
        .clone()
}

/// A tar archive with raw entries, as a hostile archive would have them (the tar crate's
/// builder refuses to write `..`): `(type, path, link target, content)`.
pub fn raw_tar(entries: &[(tar::EntryType, &str, &str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (kind, path, link, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        tar.append(&h, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

/// Writes `bytes` to a new file in `dir` and returns its path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(bytes).unwrap();
    p
}

/// Makes image `name` from image `base` with `patch` merged into its config's `config`
/// (Env, Entrypoint, Cmd, WorkingDir, User, StopSignal, …): saved, rewritten with new
/// digests, loaded back, as another tool would have built it.
pub fn image_with_config(t: &TestRoot, base: &str, name: &str, patch: serde_json::Value) {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("in.tar");
    t.ok([
        OsStr::new("save"),
        "-o".as_ref(),
        archive.as_os_str(),
        base.as_ref(),
    ]);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ar = tar::Archive::new(fs::File::open(&archive).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        files.push((p, b));
    }
    let get = |files: &[(String, Vec<u8>)], p: &str| {
        files
            .iter()
            .find(|(n, _)| n == p)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let index: serde_json::Value = serde_json::from_slice(&get(&files, "index.json")).unwrap();
    let mdigest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&get(&files, &format!("blobs/sha256/{mdigest}"))).unwrap();
    let cdigest = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let mut config: serde_json::Value =
        serde_json::from_slice(&get(&files, &format!("blobs/sha256/{cdigest}"))).unwrap();
    if !config["config"].is_object() {
        config["config"] = serde_json::json!({});
    }
    for (k, v) in patch.as_object().unwrap() {
        config["config"][k] = v.clone();
    }
    let cbytes = serde_json::to_vec(&config).unwrap();
    let cd = sha(&cbytes);
    manifest["config"]["digest"] = format!("sha256:{cd}").into();
    manifest["config"]["size"] = cbytes.len().into();
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let md = sha(&mbytes);
    let new_index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{md}"),
            "size": mbytes.len(),
            "annotations": {"io.containerd.image.name": name},
        }],
    });
    files.retain(|(n, _)| n != "index.json" && n != "manifest.json");
    files.push(("index.json".into(), serde_json::to_vec(&new_index).unwrap()));
    files.push((format!("blobs/sha256/{cd}"), cbytes));
    files.push((format!("blobs/sha256/{md}"), mbytes));
    let out = dir.path().join("out.tar");
    let mut b = tar::Builder::new(fs::File::create(&out).unwrap());
    for (n, bytes) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, n, &bytes[..]).unwrap();
    }
    b.finish().unwrap();
    drop(b);
    t.ok([OsStr::new("load"), "-i".as_ref(), out.as_os_str()]);
}

/// Polls `f` every 50 ms until it is true or `secs` pass; returns whether it became true.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    f()
}

/// `rbox inspect` of one container.
pub fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["inspect", name])).unwrap();
    v[0].clone()
}

/// A `docker-registry` of the test's own on a free loopback port, its storage in a
/// temporary directory removed with it; killed (by its pid) when dropped.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("rbox-registry-")
            .tempdir()
            .unwrap();
        fs::create_dir(dir.path().join("storage")).unwrap();
        let (child, port) = spawn_registry(dir.path(), &[]);
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's `docker-registry` (the project's tests/registry/config.yml) on a free
/// loopback port, its storage in `dir/storage` and its log in `dir/registry.log`, with extra
/// environment `env`; returns the process and the port once it answers.
pub fn spawn_registry(dir: &Path, env: &[(String, String)]) -> (std::process::Child, u16) {
    use std::time::{Duration, Instant};
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(workspace().join("tests/registry/config.yml"))
            .env(
                "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
                dir.join("storage"),
            )
            .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("registry.log"))
                    .unwrap(),
            )
            .spawn()
            .expect("docker-registry runs (apt-get install docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // the port was taken: try another
            }
            if registry_answers(port) {
                return (child, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("docker-registry did not start");
}

/// Whether something answers HTTP on `GET /v2/` at the loopback port.
pub fn registry_answers(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

/// A fresh root with the busybox base image as `busybox:latest`.
pub fn busybox() -> TestRoot {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    t
}

/// A build context with `files` (path, content).
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let p = d.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, c).unwrap();
    }
    d
}

impl TestRoot {
    /// `rbox build ARGS CONTEXT`: its exit code, output and errors.
    pub fn build(&self, ctx: &Path, args: &[&str]) -> (i32, String, String) {
        let mut full: Vec<&OsStr> = vec![OsStr::new("build")];
        full.extend(args.iter().map(OsStr::new));
        full.push(ctx.as_os_str());
        self.status(full)
    }

    /// Builds `ctx` as `tag` (quietly), asserting that it succeeds; returns the image id.
    pub fn build_ok(&self, ctx: &Path, tag: &str) -> String {
        let (code, out, err) = self.build(ctx, &["-q", "-t", tag]);
        assert_eq!(code, 0, "building {tag} failed:\n{out}\n{err}");
        out.trim().to_owned()
    }
}
