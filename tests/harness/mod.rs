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
        TestRoot { dir, tmpfs: false }
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
        c.env("RBOX_ROOT", self.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `rbox ARGS`.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd(args).output().expect("rbox runs").into()
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

impl Drop for TestRoot {
    fn drop(&mut self) {
        let procs = processes_under(self.path());
        let mut mounts = mounts_under(self.path());
        if self.tmpfs {
            let top = self.path().to_string_lossy().into_owned();
            mounts.retain(|m| *m != top);
            let _ = Command::new("umount").arg(self.path()).status();
        }
        if std::thread::panicking() {
            return;
        }
        assert!(
            procs.is_empty(),
            "processes left under the test root: {procs:?}"
        );
        assert!(
            mounts.is_empty(),
            "mounts left under the test root: {mounts:?}"
        );
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
