//! rbox as the OCI runtime (`rbox-runc`): runc's command line alone, as containerd's shim
//! drives it (argv shapes, signals, state of each status, runc's error texts, bad input
//! leaving nothing behind), and under the real callers: containerd's `ctr`, Podman and
//! dockerd, each started by the test on its own state and sockets and stopped afterwards.

mod harness;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use harness::{eventually, random_bytes, rbox_bin, TestRoot};
use serde_json::{json, Value};

/// A directory with `rbox-runc`: a link to the rbox binary, which answers to that name.
fn runc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oci-bin");
        fs::create_dir_all(&dir).unwrap();
        let link = dir.join("rbox-runc");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(rbox_bin(), &link).unwrap();
        link
    })
    .clone()
}

fn rand_id(prefix: &str) -> String {
    let r: String = random_bytes(4).iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{r}")
}

/// Orphaned container processes come back to the test process, as they do to a shim.
fn subreaper() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        nix::sys::prctl::set_child_subreaper(true).unwrap();
    });
}

/// Reaps `pid` if it is (or becomes) a child of the test process.
fn reap(pid: i32) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(pid);
    for _ in 0..500 {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(10)),
            _ => return,
        }
    }
}

/// The busybox root filesystem, unpacked into `dir`.
fn unpack_busybox(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(harness::busybox_tarball())
        .arg("-C")
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

/// An OCI bundle: busybox's rootfs and `rbox-runc spec`'s config.json running `args`,
/// with `patch` merged in.
struct Bundle {
    dir: tempfile::TempDir,
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

impl Bundle {
    fn new(args: &[&str], patch: Value) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("rbox-oci-bundle-")
            .tempdir()
            .unwrap();
        unpack_busybox(&dir.path().join("rootfs"));
        let st = Command::new(runc_bin())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success());
        let b = Bundle { dir };
        b.patch(json!({"process": {"terminal": false, "args": args}, "root": {"readonly": false}}));
        b.patch(patch);
        b
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self) -> Value {
        serde_json::from_slice(&fs::read(self.path().join("config.json")).unwrap()).unwrap()
    }

    fn patch(&self, patch: Value) {
        let mut c = self.config();
        merge(&mut c, &patch);
        fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&c).unwrap(),
        )
        .unwrap();
    }
}

/// One `--root` of rbox-runc; on drop, every container left is deleted by force and the
/// root must end up empty.
struct Runc {
    root: tempfile::TempDir,
    log: PathBuf,
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `c` with its stdout and stderr in temporary files; what it wrote.
fn run_to_files(mut c: Command) -> Ran {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let st = c
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    let read = |mut f: fs::File| {
        use std::io::{Read, Seek};
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    };
    Ran {
        code: st.code().unwrap_or(-1),
        stdout: read(out),
        stderr: read(err),
    }
}

fn ran(o: Output) -> Ran {
    Ran {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl Runc {
    fn new() -> Runc {
        subreaper();
        let root = tempfile::Builder::new()
            .prefix("rbox-oci-root-")
            .tempdir()
            .unwrap();
        let log = root.path().with_extension("log");
        Runc { root, log }
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    /// `rbox-runc --root R --log L --log-format json ARGS`, as the shim calls it.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runc_bin());
        c.arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Its output goes to files, not pipes: a created container holds the caller's
    /// stdio (as it does the shim's) until it exits.
    fn run(&self, args: &[&str]) -> Ran {
        run_to_files(self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "rbox-runc {args:?} failed: {}", r.stderr);
        r.stdout
    }

    /// Fails with runc's kind of message: non-zero, the message on stderr and as the last
    /// JSON error line of the log.
    fn fails(&self, args: &[&str], text: &str) {
        let r = self.run(args);
        assert_ne!(r.code, 0, "rbox-runc {args:?} should fail");
        assert!(
            r.stderr.contains(text),
            "rbox-runc {args:?}: {:?} should say {text:?}",
            r.stderr
        );
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["level"] == "error")
            .unwrap_or_else(|| panic!("no JSON error line in the log: {log:?}"));
        assert!(last["msg"].as_str().unwrap().contains(text), "{last}");
        assert!(last["time"].is_string());
    }

    /// `create` the way the shim does: `create --bundle B --pid-file P ID`; the pid.
    fn create(&self, bundle: &Bundle, id: &str) -> i32 {
        let pid_file = self.root().join(format!("{id}.pid"));
        let b = bundle.path().to_str().unwrap();
        let p = pid_file.to_str().unwrap();
        self.ok(&["create", "--bundle", b, "--pid-file", p, id]);
        let pid = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        fs::remove_file(pid_file).unwrap();
        pid
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_owned()
    }

    fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.root())
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        for id in self.ids() {
            let pid = self
                .run(&["state", &id])
                .stdout
                .parse::<Value>()
                .ok()
                .and_then(|s| s["pid"].as_i64());
            let _ = self.run(&["delete", "--force", &id]);
            if let Some(pid) = pid {
                reap(pid as i32);
            }
        }
        let _ = fs::remove_file(&self.log);
        if !std::thread::panicking() {
            assert!(self.ids().is_empty(), "left under --root: {:?}", self.ids());
        }
    }
}

/// Cgroup directories named `name` anywhere in the v1 hierarchies or v2.
fn cgroup_dirs(rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = e.path().join(rel.trim_start_matches('/'));
        if p.is_dir() {
            out.push(p.display().to_string());
        }
    }
    let p = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    if p.is_dir() && !out.contains(&p.display().to_string()) {
        out.push(p.display().to_string());
    }
    out
}

/// Removes the (empty) cgroup directories `rel` of every hierarchy, and those under them
/// (conmon's, for one).
fn remove_cgroups(rel: &str) {
    fn rm(d: &Path) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    rm(&e.path());
                }
            }
        }
        let _ = fs::remove_dir(d);
    }
    for d in cgroup_dirs(rel) {
        rm(Path::new(&d));
    }
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with(['Z', 'X']))
        })
        .is_some_and(|zombie| !zombie)
}

#[test]
fn the_shims_argv_runs_a_container_through_its_states() {
    let r = Runc::new();
    let b = Bundle::new(&["sleep", "300"], json!({}));
    let id = rand_id("states");
    let pid = r.create(&b, &id);
    assert!(alive(pid));
    let s = r.state(&id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["pid"], pid);
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["bundle"], b.path().to_str().unwrap());
    assert!(s["ociVersion"].is_string());
    // Waiting for start, the first process runs the runtime from a binary that can't be
    // written (CVE-2019-5736): a read-only mount or a sealed memfd.
    let exe = fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    let ro = nix::sys::statvfs::fstatvfs(&exe)
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    let sealed = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&exe),
        nix::fcntl::FcntlArg::F_GET_SEALS,
    )
    .is_ok_and(|s| s != 0);
    assert!(
        ro || sealed,
        "the runtime's binary is writable from the container"
    );
    // The workload has not run yet.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("sleep"));
    r.ok(&["start", &id]);
    assert!(eventually(5, || {
        String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
            .contains("sleep")
    }));
    assert_eq!(r.status(&id), "running");
    r.fails(&["start", &id], "cannot start an already running container");
    let ps: Vec<i32> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps, vec![pid]);
    assert!(r.ok(&["ps", &id]).contains("sleep 300"));
    let list = r.ok(&["list"]);
    assert!(list.starts_with("ID"), "{list}");
    assert!(list.contains(&id));
    assert_eq!(r.ok(&["list", "-q"]).trim(), id);
    r.ok(&["pause", &id]);
    assert_eq!(r.status(&id), "paused");
    r.fails(&["pause", &id], "container already paused");
    r.ok(&["resume", &id]);
    assert_eq!(r.status(&id), "running");
    r.fails(&["resume", &id], "container not paused");
    r.fails(&["delete", &id], "is not stopped");
    r.ok(&["kill", &id, "KILL"]);
    reap(pid);
    assert_eq!(r.status(&id), "stopped");
    assert_eq!(r.state(&id)["pid"], 0);
    r.fails(&["kill", &id, "TERM"], "container not running");
    r.fails(&["start", &id], "cannot start a container that has stopped");
    r.fails(&["exec", &id, "true"], "stopped");
    r.ok(&["delete", &id]);
    r.fails(&["state", &id], "container does not exist");
    r.fails(&["kill", &id, "9"], "does not exist");
    r.fails(&["delete", &id], "container does not exist");
    r.ok(&["delete", "--force", &id]);
    assert!(cgroup_dirs(&format!(":youki:{id}")).is_empty());
}

#[test]
fn options_go_before_or_after_the_id_and_kill_takes_each_signal_form() {
    let r = Runc::new();
    let b = Bundle::new(&["sleep", "300"], json!({}));
    for sig in ["9", "KILL", "SIGKILL", "kill"] {
        let id = rand_id("sig");
        let pid_file = r.root().join("p");
        // The id first, the options after it.
        r.ok(&[
            "create",
            &id,
            "-b",
            b.path().to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
        ]);
        let pid: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        fs::remove_file(&pid_file).unwrap();
        r.ok(&["start", &id]);
        r.ok(&["kill", &id, sig]);
        reap(pid);
        assert!(!alive(pid), "{sig}");
        assert_eq!(r.status(&id), "stopped", "{sig}");
        r.ok(&["delete", &id]);
    }
    let id = rand_id("sig");
    let pid = r.create(&b, &id);
    r.ok(&["start", &id]);
    r.fails(&["kill", &id, "BOGUS"], "unknown signal");
    // A signal the process survives leaves it running.
    b.patch(json!({}));
    r.ok(&["kill", &id, "SIGCONT"]);
    assert_eq!(r.status(&id), "running");
    r.ok(&["kill", "--all", &id, "SIGKILL"]);
    reap(pid);
    assert_eq!(r.status(&id), "stopped");
    // --all of a stopped container is no error (as runc).
    r.ok(&["kill", "--all", &id, "9"]);
    r.ok(&["delete", &id]);
}

#[test]
fn a_container_whose_init_was_reaped_elsewhere_is_stopped_and_deletes() {
    let r = Runc::new();
    let b = Bundle::new(&["sh", "-c", "exit 7"], json!({}));
    let id = rand_id("reaped");
    let pid = r.create(&b, &id);
    r.ok(&["start", &id]);
    // The caller (here the test, a subreaper as the shim is) reaps the init itself.
    let st = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
    assert_eq!(
        st,
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 7)
    );
    assert_eq!(r.status(&id), "stopped");
    r.ok(&["delete", &id]);
    assert!(r.ids().is_empty());
}

#[test]
fn run_waits_and_exits_with_the_code_and_stdio_passes_through() {
    let r = Runc::new();
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"], json!({}));
    let id = rand_id("run");
    let o = r.run(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert_eq!(o.stdout, "out\n");
    assert!(o.stderr.contains("err\n"), "{}", o.stderr);
    assert!(
        r.ids().is_empty(),
        "run removes the container: {:?}",
        r.ids()
    );
    // stdin too: the caller's, untouched.
    let b = Bundle::new(&["cat"], json!({}));
    let mut c = r.cmd(&["run", "-b", b.path().to_str().unwrap(), &rand_id("cat")]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"through\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "through\n");
}

#[test]
fn exec_runs_commands_and_process_files() {
    let r = Runc::new();
    let b = Bundle::new(
        &["sleep", "300"],
        json!({"process": {"env": ["PATH=/bin", "A=1"], "noNewPrivileges": false}}),
    );
    let id = rand_id("exec");
    let pid = r.create(&b, &id);
    r.ok(&["start", &id]);
    assert_eq!(r.ok(&["exec", &id, "sh", "-c", "echo $A"]), "1\n");
    let out = r.ok(&[
        "exec",
        "--env",
        "B=2",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "echo $A $B $(pwd) $(id -u):$(id -g)",
    ]);
    assert_eq!(out, "1 2 /tmp 1000:1000\n");
    // --cap adds a capability, --no-new-privs sets the flag.
    let status = |extra: &[&str]| {
        let mut a = vec!["exec"];
        a.extend(extra);
        a.extend([id.as_str(), "cat", "/proc/self/status"]);
        r.ok(&a)
    };
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap()
    };
    let plain = status(&[]);
    let more = status(&["--cap", "CAP_SYS_ADMIN", "--no-new-privs"]);
    let eff = |t: &str| u64::from_str_radix(&field(t, "CapEff:"), 16).unwrap();
    assert_eq!(eff(&plain) & (1 << 21), 0);
    assert_ne!(eff(&more) & (1 << 21), 0);
    assert_eq!(field(&plain, "NoNewPrivs:"), "0");
    assert_eq!(field(&more, "NoNewPrivs:"), "1");
    let o = r.run(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(o.code, 5);
    let o = r.run(&["exec", &id, "no-such-command"]);
    assert_ne!(o.code, 0);
    // The shim's form: a process file, detached, a pid file.
    let files = tempfile::tempdir().unwrap();
    let proc_file = files.path().join("process.json");
    fs::write(
        &proc_file,
        serde_json::to_vec(&json!({
            "terminal": false, "cwd": "/", "args": ["sh", "-c", "echo from-file > /tmp/f; sleep 1"],
            "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}
        }))
        .unwrap(),
    )
    .unwrap();
    let pid_file = files.path().join("exec.pid");
    r.ok(&[
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let epid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    reap(epid);
    assert_eq!(r.ok(&["exec", &id, "cat", "/tmp/f"]), "from-file\n");
    // No descriptor of the runtime's reaches the process.
    let fds = r.ok(&["exec", &id, "ls", "/proc/self/fd"]);
    let fds: Vec<&str> = fds.split_whitespace().collect();
    assert!(fds.len() <= 4, "descriptors in the exec'd process: {fds:?}");
    r.ok(&["kill", &id, "9"]);
    reap(pid);
    r.ok(&["delete", &id]);
}

#[test]
fn no_descriptor_leaks_into_the_container_but_preserved_ones() {
    use std::os::unix::process::CommandExt;
    let r = Runc::new();
    let b = Bundle::new(&["ls", "/proc/self/fd"], json!({}));
    let run = |preserve: &str| {
        let extra = fs::File::open("/dev/null").unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&extra);
        let mut c = r.cmd(&[
            "run",
            "--preserve-fds",
            preserve,
            "-b",
            b.path().to_str().unwrap(),
            &rand_id("fds"),
        ]);
        // SAFETY: dup2 is async-signal-safe.
        unsafe {
            c.pre_exec(move || {
                nix::unistd::dup2(raw, 3)
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let o = ran(c.output().unwrap());
        drop(extra);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let mut fds: Vec<String> = o.stdout.split_whitespace().map(String::from).collect();
        fds.sort();
        fds
    };
    // 0, 1, 2 and ls's own directory.
    assert_eq!(run("0").len(), 4);
    assert!(run("1").contains(&"3".to_string()));
}

#[test]
fn cgroups_path_hooks_and_update() {
    let r = Runc::new();
    let id = rand_id("cg");
    let parent = rand_id("rbox-oci-test");
    let cg = format!("/{parent}/{id}");
    let marks = tempfile::tempdir().unwrap();
    let m = marks.path().display().to_string();
    let hook =
        |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {m}/{name}")]});
    let b = Bundle::new(
        &["sleep", "300"],
        json!({
            "linux": {"cgroupsPath": cg},
            "hooks": {
                "createRuntime": [hook("createRuntime")],
                "poststart": [hook("poststart")],
                "poststop": [hook("poststop")]
            }
        }),
    );
    let pid = r.create(&b, &id);
    assert!(!cgroup_dirs(&cg).is_empty());
    let procs = fs::read_to_string(format!("/sys/fs/cgroup/pids/{cg}/cgroup.procs"))
        .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup/{cg}/cgroup.procs")))
        .unwrap();
    assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    // The hooks get the state on stdin.
    let st: Value =
        serde_json::from_str(&fs::read_to_string(marks.path().join("createRuntime")).unwrap())
            .unwrap();
    assert_eq!(st["id"], id.as_str());
    r.ok(&["start", &id]);
    assert!(eventually(5, || marks.path().join("poststart").exists()));
    r.ok(&["update", "--memory", "64m", "--pids-limit", "50", &id]);
    let mem = fs::read_to_string(format!("/sys/fs/cgroup/memory/{cg}/memory.limit_in_bytes"))
        .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup/{cg}/memory.max")))
        .unwrap();
    assert_eq!(mem.trim(), (64u64 << 20).to_string());
    // containerd's form: LinuxResources on stdin.
    let mut c = r.cmd(&["update", "--resources", "-", &id]);
    let mut child = c
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 40}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let pids = fs::read_to_string(format!("/sys/fs/cgroup/pids/{cg}/pids.max"))
        .or_else(|_| fs::read_to_string(format!("/sys/fs/cgroup/{cg}/pids.max")))
        .unwrap();
    assert_eq!(pids.trim(), "40");
    r.ok(&["kill", &id, "9"]);
    reap(pid);
    r.ok(&["delete", &id]);
    assert!(marks.path().join("poststop").exists());
    assert!(cgroup_dirs(&cg).is_empty(), "{:?}", cgroup_dirs(&cg));
    remove_cgroups(&parent);
    assert!(cgroup_dirs(&parent).is_empty());
}

#[test]
fn namespaces_are_joined_by_path() {
    let r = Runc::new();
    let a = Bundle::new(&["sleep", "300"], json!({}));
    let ida = rand_id("nsa");
    let pa = r.create(&a, &ida);
    r.ok(&["start", &ida]);
    let mut ns = a.config()["linux"]["namespaces"].clone();
    for n in ns.as_array_mut().unwrap() {
        if n["type"] == "network" || n["type"] == "ipc" {
            let kind = if n["type"] == "network" { "net" } else { "ipc" };
            n["path"] = json!(format!("/proc/{pa}/ns/{kind}"));
        }
    }
    let b = Bundle::new(&["sleep", "300"], json!({}));
    b.patch(json!({"linux": {"namespaces": ns}}));
    let idb = rand_id("nsb");
    let pb = r.create(&b, &idb);
    r.ok(&["start", &idb]);
    let link = |pid: i32, kind: &str| fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    assert_eq!(link(pa, "net"), link(pb, "net"));
    assert_eq!(link(pa, "ipc"), link(pb, "ipc"));
    assert_ne!(link(pa, "pid"), link(pb, "pid"));
    for (id, pid) in [(&idb, pb), (&ida, pa)] {
        r.ok(&["delete", "--force", id]);
        reap(pid);
    }
}

#[test]
fn bad_input_fails_as_runc_and_leaves_nothing() {
    let r = Runc::new();
    let b = Bundle::new(&["true"], json!({}));
    let bp = b.path().to_str().unwrap().to_owned();
    let id = rand_id("bad");
    // A malformed config.json: the error names the field.
    let good = b.config();
    b.patch(json!({"process": {"user": {"uid": "root"}}}));
    r.fails(&["create", "--bundle", &bp, &id], "process.user.uid");
    b.patch(json!({"process": {"user": {"uid": 0}}}));
    b.patch(json!({"linux": {"resources": {"memory": {"limit": "lots"}}}}));
    r.fails(
        &["create", "--bundle", &bp, &id],
        "linux.resources.memory.limit",
    );
    fs::write(b.path().join("config.json"), "{ not json").unwrap();
    r.fails(&["create", "--bundle", &bp, &id], "config.json");
    fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&good).unwrap(),
    )
    .unwrap();
    // A hard limit above the runtime's own, which it can't raise without CAP_SYS_RESOURCE:
    // named before anything is made (the kernel's EPERM would say nothing).
    if !has_cap_sys_resource() {
        let own = own_nofile_hard();
        b.patch(json!({"process": {"rlimits": [
            {"type": "RLIMIT_NOFILE", "hard": own + 1, "soft": 1024}
        ]}}));
        r.fails(
            &["create", "--bundle", &bp, &id],
            "process.rlimits: RLIMIT_NOFILE: hard limit",
        );
        fs::write(
            b.path().join("config.json"),
            serde_json::to_vec(&good).unwrap(),
        )
        .unwrap();
        assert!(r.ids().is_empty(), "{:?}", r.ids());
    }
    // A bundle without its rootfs.
    fs::rename(b.path().join("rootfs"), b.path().join("elsewhere")).unwrap();
    r.fails(&["create", "--bundle", &bp, &id], "rootfs");
    r.fails(
        &["create", "--bundle", "/nonexistent-bundle", &id],
        "/nonexistent-bundle",
    );
    fs::rename(b.path().join("elsewhere"), b.path().join("rootfs")).unwrap();
    assert!(r.ids().is_empty(), "{:?}", r.ids());
    // A command that doesn't exist in the rootfs.
    b.patch(json!({"process": {"args": ["/no/such/command"]}}));
    let o = r.run(&["run", "--bundle", &bp, &id]);
    assert_ne!(o.code, 0);
    assert!(r.ids().is_empty(), "{:?}", r.ids());
    assert!(cgroup_dirs(&format!(":youki:{id}")).is_empty());
    b.patch(json!({"process": {"args": ["sleep", "300"]}}));
    // An id in use.
    let pid = r.create(&b, &id);
    r.fails(
        &["create", "--bundle", &bp, &id],
        "container with id exists",
    );
    assert_eq!(r.status(&id), "created");
    // A bad id.
    r.fails(&["create", "--bundle", &bp, "../x"], "invalid container id");
    r.fails(&["state", "../x"], "invalid container id");
    // Unsupported: a clear error.
    r.fails(
        &["create", "--no-new-keyring", "--bundle", &bp, "other"],
        "not supported",
    );
    r.fails(&["--systemd-cgroup", "state", &id], "systemd");
    // A created container deletes without --force (as runc).
    r.ok(&["delete", &id]);
    reap(pid);
    assert!(r.ids().is_empty(), "{:?}", r.ids());
}

#[test]
fn features_spec_and_version() {
    let r = Runc::new();
    let f: Value = serde_json::from_str(&r.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("createContainer")));
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("network")));
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    let dir = tempfile::tempdir().unwrap();
    r.ok(&["spec", "--bundle", dir.path().to_str().unwrap()]);
    let c: Value =
        serde_json::from_slice(&fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(c["root"]["path"], "rootfs");
    r.fails(
        &["spec", "--bundle", dir.path().to_str().unwrap()],
        "config.json exists",
    );
    let v = r.ok(&["--version"]);
    assert!(v.starts_with("rbox-runc version "), "{v}");
    assert!(v.contains("spec: 1."), "{v}");
    // `rbox oci` is the same command line.
    let o = Command::new(rbox_bin())
        .args(["oci", "--root"])
        .arg(r.root())
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
}

// ---- the real callers ----

/// A busybox image as a tar archive that `ctr import`, `podman load` and `docker load`
/// read (rbox's save: an OCI layout that is a docker archive too), made once.
fn busybox_archive() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let t = TestRoot::new();
        t.busybox("busybox:latest");
        let tar = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("oci-busybox-{}.tar", std::process::id()));
        t.ok(["save", "-o", tar.to_str().unwrap(), "busybox:latest"]);
        tar
    })
    .clone()
}

/// This process's hard limit of open files.
fn own_nofile_hard() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1
}

/// Whether this process may raise its resource limits (root may lack it, as here).
fn has_cap_sys_resource() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    eff & (1 << 24) != 0
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` with a pty as its stdio (ctr -t and docker -t want a terminal), through
/// script(1); its output.
fn on_a_terminal(cmd: &str) -> Ran {
    ran(Command::new("timeout")
        .args(["60", "script", "-qec", cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap())
}

/// A daemon the test started; stopped by its pid (TERM, then KILL) on drop.
struct Daemon {
    child: std::process::Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon's own directory under /run: what the daemon mounted there (dockerd binds its
/// data root onto itself) is unmounted, even when a test fails, before it is removed.
struct PrivateDir(tempfile::TempDir);

impl PrivateDir {
    fn new(prefix: &str) -> PrivateDir {
        PrivateDir(
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in("/run")
                .unwrap(),
        )
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        for m in harness::mounts_under(self.0.path()).iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// A private containerd: its own root, state, sockets; the CRI plugin off.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Option<Daemon>,
    ns: String,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("rbox-ctd-")
            .tempdir_in("/run")
            .unwrap();
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n\
             [ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{d}/debug.sock\"\n"
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let c = Containerd {
            daemon: Some(Daemon { child }),
            ns: rand_id("rboxtest"),
            dir,
        };
        assert!(
            eventually(20, || c.ctr_status(&["version"]).0 == 0),
            "containerd did not come up: {}",
            fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
        );
        c
    }

    fn ctr_cmd(&self) -> String {
        format!("ctr -a {}/c.sock -n {}", self.dir.path().display(), self.ns)
    }

    fn runc_root(&self) -> PathBuf {
        self.dir.path().join("runc")
    }

    fn runtime_flags(&self) -> String {
        format!(
            "--runc-binary {} --runc-root {}",
            runc_bin().display(),
            self.runc_root().display()
        )
    }

    fn ctr_status(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new("timeout")
            .arg("60")
            .arg("ctr")
            .arg("-a")
            .arg(self.dir.path().join("c.sock"))
            .arg("-n")
            .arg(&self.ns)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let r = ran(o);
        (r.code, r.stdout, r.stderr)
    }

    fn ctr(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctr_status(args);
        assert_eq!(code, 0, "ctr {args:?}: {err}");
        out
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks, containers, images, then the namespace itself.
        for line in self.ctr_status(&["task", "ls", "-q"]).1.lines() {
            let _ = self.ctr_status(&["task", "kill", "-a", "-s", "SIGKILL", line]);
            let _ = self.ctr_status(&["task", "rm", "-f", line]);
        }
        for line in self.ctr_status(&["container", "ls", "-q"]).1.lines() {
            let _ = self.ctr_status(&["container", "rm", line]);
        }
        for line in self.ctr_status(&["image", "ls", "-q"]).1.lines() {
            let _ = self.ctr_status(&["image", "rm", line]);
        }
        let _ = self.ctr_status(&["content", "prune", "references"]);
        let ns = self.ns.clone();
        let _ = Command::new("ctr")
            .arg("-a")
            .arg(self.dir.path().join("c.sock"))
            .args(["namespace", "rm", &ns])
            .output();
        self.daemon.take();
        // The namespace's parent cgroup, made for its containers.
        remove_cgroups(&ns);
        let left = harness::mounts_under(self.dir.path());
        for m in left.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "mounts left: {left:?}");
            assert!(cgroup_dirs(&ns).is_empty(), "{:?}", cgroup_dirs(&ns));
        }
    }
}

#[test]
fn containerd_ctr_runs_containers_with_rbox_runc() {
    if !have("containerd") || !have("ctr") {
        panic!("containerd is missing: make deps installs it");
    }
    let c = Containerd::start();
    let image = "docker.io/library/busybox:latest";
    c.ctr(&[
        "image",
        "import",
        "--base-name",
        "docker.io/library/busybox",
        busybox_archive().to_str().unwrap(),
    ]);
    let rt = format!(
        "--runc-binary={} --runc-root={}",
        runc_bin().display(),
        c.runc_root().display()
    );
    let rt: Vec<&str> = rt.split(' ').collect();
    let run = |extra: &[&str], id: &str, cmd: &[&str]| {
        let mut a = vec!["run"];
        a.extend(extra);
        a.extend(&rt);
        a.push(image);
        a.push(id);
        a.extend(cmd);
        c.ctr_status(&a)
    };
    // Plain, with the exit code.
    let (code, out, err) = run(&["--rm"], "plain", &["sh", "-c", "echo hello; exit 0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hello\n");
    let (code, _, _) = run(&["--rm"], "code", &["sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    // -t: the pty's master reaches the shim over the console socket.
    let t = on_a_terminal(&format!(
        "{} run -t --rm {} {image} tty sh -c 'tty; echo tty-ok'",
        c.ctr_cmd(),
        c.runtime_flags()
    ));
    assert!(t.stdout.contains("/dev/pts/0"), "{}{}", t.stdout, t.stderr);
    assert!(t.stdout.contains("tty-ok"));
    // A detached task: exec, ps, pause and resume, kill -a, rm.
    let (code, _, err) = run(&["-d"], "long", &["sleep", "300"]);
    assert_eq!(code, 0, "{err}");
    assert!(c.ctr(&["task", "ls"]).contains("RUNNING"));
    let out = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "long",
        "sh",
        "-c",
        "echo in; exit 0",
    ]);
    assert_eq!(out, "in\n");
    let (code, _, _) = c.ctr_status(&[
        "task",
        "exec",
        "--exec-id",
        "e2",
        "long",
        "sh",
        "-c",
        "exit 4",
    ]);
    assert_eq!(code, 4);
    let t = on_a_terminal(&format!(
        "{} task exec -t --exec-id e3 long tty",
        c.ctr_cmd()
    ));
    assert!(t.stdout.contains("/dev/pts/"), "{}{}", t.stdout, t.stderr);
    let ps = c.ctr(&["task", "ps", "long"]);
    assert_eq!(ps.lines().count(), 2, "{ps}");
    c.ctr(&["task", "pause", "long"]);
    assert!(c.ctr(&["task", "ls"]).contains("PAUSED"));
    c.ctr(&["task", "resume", "long"]);
    assert!(c.ctr(&["task", "ls"]).contains("RUNNING"));
    c.ctr(&["task", "kill", "-a", "-s", "SIGKILL", "long"]);
    assert!(eventually(10, || c
        .ctr(&["task", "ls"])
        .contains("STOPPED")));
    c.ctr(&["task", "rm", "long"]);
    c.ctr(&["container", "rm", "long"]);
    assert_eq!(c.ctr(&["container", "ls", "-q"]), "");
    // The runtime's state is gone with the containers.
    let left: Vec<_> = fs::read_dir(c.runc_root().join(&c.ns))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn podman_runs_containers_with_rbox_runc() {
    assert!(have("podman"), "podman is missing: make deps installs it");
    let dir = PrivateDir::new("rbox-podman-");
    let d = dir.0.path();
    let state = d.join("runc");
    // podman's cleanup process (`podman container cleanup`, run when a container exits)
    // is not given --runtime-flag: the runtime's --root is pinned by a wrapper instead.
    let wrapper = d.join("rbox-runc-podman");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --root {} \"$@\"\n",
            runc_bin().display(),
            state.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Its own storage, run root and runtime state; cgroupfs; no network of its own.
    let podman = |args: &[&str]| {
        let o = Command::new("timeout")
            .arg("60")
            .arg("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--runtime")
            .arg(&wrapper)
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--storage-driver", "overlay"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ran(o)
    };
    let ok = |args: &[&str]| {
        let r = podman(args);
        assert_eq!(r.code, 0, "podman {args:?}: {}", r.stderr);
        r.stdout
    };
    ok(&["load", "-i", busybox_archive().to_str().unwrap()]);
    let image = "docker.io/library/busybox:latest";
    let parent = format!("/{}", rand_id("rbox-pm"));
    // podman run as root asks for 1048576 open files and processes; a runtime under lower
    // hard limits without CAP_SYS_RESOURCE can't grant them (runc can't either, and
    // conmon lowers the runtime's own): modest limits, which any runtime can set.
    let run = [
        "run",
        "--pull",
        "never",
        "--network",
        "none",
        "--cgroup-parent",
        parent.as_str(),
        "--ulimit",
        "nofile=4096:4096",
        "--ulimit",
        "nproc=4096:4096",
    ];
    let mut a = run.to_vec();
    a.extend(["--rm", image, "sh", "-c", "echo hi $(ulimit -n); exit 0"]);
    assert_eq!(ok(&a), "hi 4096\n");
    let mut a = run.to_vec();
    a.extend(["--rm", image, "sh", "-c", "exit 5"]);
    assert_eq!(podman(&a).code, 5);
    let name = rand_id("pm");
    let mut a = run.to_vec();
    a.extend(["-d", "--name", &name, image, "sleep", "300"]);
    ok(&a);
    assert_eq!(ok(&["exec", &name, "sh", "-c", "echo in"]), "in\n");
    assert_eq!(podman(&["exec", &name, "sh", "-c", "exit 4"]).code, 4);
    ok(&["pause", &name]);
    assert!(ok(&["inspect", "--format", "{{.State.Status}}", &name]).contains("paused"));
    ok(&["unpause", &name]);
    assert!(ok(&["inspect", "--format", "{{.State.Status}}", &name]).contains("running"));
    ok(&["rm", "-f", "-t", "0", &name]);
    assert_eq!(ok(&["ps", "-aq"]), "");
    ok(&["rmi", "-f", image]);
    let left: Vec<_> = fs::read_dir(&state)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let _ = podman(&["system", "reset", "-f"]);
    let mounts = harness::mounts_under(d);
    for m in mounts.iter().rev() {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
    assert!(mounts.is_empty(), "{mounts:?}");
    remove_cgroups(&parent);
    assert!(cgroup_dirs(&parent).is_empty());
}

#[test]
fn dockerd_runs_containers_with_rbox_runc() {
    assert!(
        have("dockerd"),
        "dockerd is missing: make deps installs docker.io"
    );
    let dir = PrivateDir::new("rbox-dockerd-");
    let d = dir.0.path();
    let sock = d.join("docker.sock");
    let parent = rand_id("rbox-dk");
    let log = fs::File::create(d.join("dockerd.log")).unwrap();
    // dockerd takes the host's containerd whenever its socket exists, even one nobody
    // listens on any more: it is given a private containerd of the test's own instead.
    let containerd = Containerd::start();
    // Its own data root, exec root, containerd, pidfile and socket; no bridge and no
    // iptables: the host's network is left alone.
    let child = Command::new("dockerd")
        .arg("--data-root")
        .arg(d.join("data"))
        .arg("--exec-root")
        .arg(d.join("exec"))
        .arg("--pidfile")
        .arg(d.join("dockerd.pid"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
        .arg(format!("--add-runtime=rbox={}", runc_bin().display()))
        .arg(format!("--cgroup-parent=/{parent}"))
        .arg("--containerd")
        .arg(containerd.dir.path().join("c.sock"))
        .arg(format!("--containerd-namespace={}", containerd.ns))
        .arg(format!(
            "--containerd-plugins-namespace={}-plugins",
            containerd.ns
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon { child };
    let docker = |args: &[&str]| {
        let o = Command::new("timeout")
            .arg("60")
            .arg("docker")
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ran(o)
    };
    let ok = |args: &[&str]| {
        let r = docker(args);
        assert_eq!(r.code, 0, "docker {args:?}: {}", r.stderr);
        r.stdout
    };
    assert!(
        eventually(30, || docker(&["version"]).code == 0),
        "dockerd did not come up: {}",
        fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
    );
    ok(&["load", "-i", busybox_archive().to_str().unwrap()]);
    let run = ["run", "--runtime", "rbox", "--network", "none"];
    let mut a = run.to_vec();
    a.extend(["--rm", "busybox:latest", "sh", "-c", "echo hi; exit 0"]);
    assert_eq!(ok(&a), "hi\n");
    let mut a = run.to_vec();
    a.extend(["--rm", "busybox:latest", "sh", "-c", "exit 6"]);
    assert_eq!(docker(&a).code, 6);
    let name = rand_id("dk");
    let mut a = run.to_vec();
    a.extend(["-d", "--name", &name, "busybox:latest", "sleep", "300"]);
    ok(&a);
    assert_eq!(
        ok(&["inspect", "--format", "{{.HostConfig.Runtime}}", &name]).trim(),
        "rbox"
    );
    assert_eq!(ok(&["exec", &name, "sh", "-c", "echo in"]), "in\n");
    let t = on_a_terminal(&format!(
        "DOCKER_HOST=unix://{} docker exec -t {name} tty",
        sock.display()
    ));
    assert!(t.stdout.contains("/dev/pts/"), "{}{}", t.stdout, t.stderr);
    ok(&["pause", &name]);
    assert_eq!(
        ok(&["inspect", "--format", "{{.State.Status}}", &name]).trim(),
        "paused"
    );
    ok(&["unpause", &name]);
    ok(&["rm", "-f", &name]);
    assert_eq!(ok(&["ps", "-aq"]), "");
    ok(&["rmi", "busybox:latest"]);
    drop(daemon);
    drop(containerd);
    let mounts = harness::mounts_under(d);
    for m in mounts.iter().rev() {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
    assert!(mounts.is_empty(), "{mounts:?}");
    remove_cgroups(&parent);
    assert!(cgroup_dirs(&parent).is_empty());
}

// ---- CRI: a minimal gRPC client (HTTP/2 without TLS, protobuf by hand) ----

mod cri {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::time::Duration;

    /// A protobuf message being written.
    #[derive(Default, Clone)]
    pub struct Msg(pub Vec<u8>);

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    impl Msg {
        pub fn new() -> Msg {
            Msg::default()
        }
        pub fn bytes(mut self, field: u32, b: &[u8]) -> Msg {
            varint(&mut self.0, u64::from(field << 3 | 2));
            varint(&mut self.0, b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        pub fn str(self, field: u32, s: &str) -> Msg {
            self.bytes(field, s.as_bytes())
        }
        pub fn msg(self, field: u32, m: Msg) -> Msg {
            let b = m.0;
            self.bytes(field, &b)
        }
        pub fn int(mut self, field: u32, v: u64) -> Msg {
            varint(&mut self.0, u64::from(field << 3));
            varint(&mut self.0, v);
            self
        }
    }

    /// A field of a message read back.
    #[derive(Debug, Clone)]
    pub enum Val {
        Int(u64),
        Bytes(Vec<u8>),
    }

    /// The fields of protobuf message `b`, in order.
    pub fn fields(b: &[u8]) -> Vec<(u32, Val)> {
        let mut out = Vec::new();
        let mut i = 0;
        let read_varint = |i: &mut usize| {
            let mut v = 0u64;
            let mut shift = 0;
            while *i < b.len() {
                let x = b[*i];
                *i += 1;
                v |= u64::from(x & 0x7f) << shift;
                shift += 7;
                if x & 0x80 == 0 {
                    break;
                }
            }
            v
        };
        while i < b.len() {
            let tag = read_varint(&mut i);
            let (field, wire) = ((tag >> 3) as u32, tag & 7);
            match wire {
                0 => out.push((field, Val::Int(read_varint(&mut i)))),
                2 => {
                    let n = read_varint(&mut i) as usize;
                    out.push((field, Val::Bytes(b[i..i + n].to_vec())));
                    i += n;
                }
                1 => i += 8,
                5 => i += 4,
                _ => break,
            }
        }
        out
    }

    pub fn get_bytes(b: &[u8], field: u32) -> Vec<Vec<u8>> {
        fields(b)
            .into_iter()
            .filter_map(|(f, v)| match v {
                Val::Bytes(x) if f == field => Some(x),
                _ => None,
            })
            .collect()
    }

    pub fn get_str(b: &[u8], field: u32) -> String {
        get_bytes(b, field)
            .first()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .unwrap_or_default()
    }

    pub fn get_int(b: &[u8], field: u32) -> u64 {
        fields(b)
            .into_iter()
            .find_map(|(f, v)| match v {
                Val::Int(x) if f == field => Some(x),
                _ => None,
            })
            .unwrap_or(0)
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// A header as HPACK's "literal without indexing, new name", no Huffman coding.
    fn header(out: &mut Vec<u8>, name: &str, value: &str) {
        out.push(0);
        for s in [name, value] {
            assert!(s.len() < 127);
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }

    /// One unary call of `/runtime.v1.RuntimeService/METHOD` on a new connection; the
    /// response message, or why there is none.
    pub fn call(sock: &Path, method: &str, req: Msg) -> Result<Vec<u8>, String> {
        let mut s = UnixStream::connect(sock).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        out.extend(frame(4, 0, 0, &[]));
        let mut h = Vec::new();
        header(&mut h, ":method", "POST");
        header(&mut h, ":scheme", "http");
        header(
            &mut h,
            ":path",
            &format!("/runtime.v1.RuntimeService/{method}"),
        );
        header(&mut h, ":authority", "localhost");
        header(&mut h, "content-type", "application/grpc");
        header(&mut h, "te", "trailers");
        out.extend(frame(1, 0x4, 1, &h));
        let mut body = vec![0u8];
        body.extend_from_slice(&(req.0.len() as u32).to_be_bytes());
        body.extend_from_slice(&req.0);
        out.extend(frame(0, 0x1, 1, &body));
        s.write_all(&out).map_err(|e| e.to_string())?;
        let mut data = Vec::new();
        let mut trailers = Vec::new();
        loop {
            let mut hdr = [0u8; 9];
            s.read_exact(&mut hdr)
                .map_err(|e| format!("{method}: {e}"))?;
            let len =
                (usize::from(hdr[0]) << 16) | (usize::from(hdr[1]) << 8) | usize::from(hdr[2]);
            let (kind, flags) = (hdr[3], hdr[4]);
            let stream = u32::from_be_bytes([hdr[5], hdr[6], hdr[7], hdr[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            s.read_exact(&mut payload).map_err(|e| e.to_string())?;
            match kind {
                // SETTINGS: acknowledged.
                4 if flags & 1 == 0 => s.write_all(&frame(4, 1, 0, &[])).unwrap(),
                // PING: answered.
                6 if flags & 1 == 0 => s.write_all(&frame(6, 1, 0, &payload)).unwrap(),
                0 if stream == 1 => {
                    data.extend_from_slice(&payload);
                    if flags & 1 != 0 {
                        break;
                    }
                }
                1 if stream == 1 => {
                    trailers.extend_from_slice(&payload);
                    if flags & 1 != 0 {
                        break;
                    }
                }
                3 => return Err(format!("{method}: stream reset")),
                7 => return Err(format!("{method}: connection closed (GOAWAY)")),
                _ => {}
            }
        }
        if data.len() < 5 {
            // A trailers-only answer: an error (its text is Huffman-coded in the trailers).
            let text: String = trailers
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            return Err(format!("{method} failed: {text}"));
        }
        let n = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        Ok(data[5..5 + n].to_vec())
    }
}

/// A private containerd with the CRI plugin: its own root, state and sockets, a CNI
/// bridge of its own, `restrict_oom_score_adj` (no CAP_SYS_RESOURCE here), the sandbox
/// image a local one, and the `rbox` runtime handler.
struct CriContainerd {
    dir: tempfile::TempDir,
    daemon: Option<Daemon>,
    bridge: String,
}

impl CriContainerd {
    fn start() -> CriContainerd {
        let dir = tempfile::Builder::new()
            .prefix("rbox-cri-")
            .tempdir_in("/run")
            .unwrap();
        let d = dir.path().display().to_string();
        let bridge = format!(
            "rbc{}",
            random_bytes(4)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let subnet = harness::free_test_subnet();
        fs::create_dir_all(dir.path().join("net.d")).unwrap();
        fs::write(
            dir.path().join("net.d/10-rbox-test.conflist"),
            serde_json::to_vec_pretty(&json!({
                "cniVersion": "0.4.0",
                "name": format!("rbox-test-{bridge}"),
                "plugins": [{
                    "type": "bridge", "bridge": bridge, "isGateway": false, "ipMasq": false,
                    "ipam": {"type": "host-local", "subnet": subnet,
                             "dataDir": format!("{d}/cni-ipam")}
                }]
            }))
            .unwrap(),
        )
        .unwrap();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "rbox.test/pause:1"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "rbox"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rbox]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rbox.options]
        BinaryName = "{bin}"
        Root = "{d}/rbox-runc"
"#,
            bin = runc_bin().display()
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let c = CriContainerd {
            daemon: Some(Daemon { child }),
            dir,
            bridge,
        };
        assert!(
            eventually(30, || c.ctr(&["version"]).0 == 0),
            "containerd did not come up: {}",
            c.log()
        );
        c
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> (i32, String, String) {
        let r = ran(Command::new("timeout")
            .arg("120")
            .arg("ctr")
            .arg("-a")
            .arg(self.sock())
            .args(["-n", "k8s.io"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap());
        (r.code, r.stdout, r.stderr)
    }

    fn call(&self, method: &str, req: cri::Msg) -> Vec<u8> {
        cri::call(&self.sock(), method, req).unwrap_or_else(|e| {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!(
                "{e}\ncontainerd's log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
    }
}

impl Drop for CriContainerd {
    fn drop(&mut self) {
        for kind in ["task", "container"] {
            for id in self.ctr(&[kind, "ls", "-q"]).1.lines() {
                let _ = self.ctr(&[kind, "rm", "-f", id]);
            }
        }
        for img in self.ctr(&["image", "ls", "-q"]).1.lines() {
            let _ = self.ctr(&["image", "rm", img]);
        }
        self.daemon.take();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        let mounts = harness::mounts_under(self.dir.path());
        for m in mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        if !std::thread::panicking() {
            assert!(mounts.is_empty(), "mounts left: {mounts:?}");
        }
    }
}

#[test]
fn cri_runs_a_pod_of_two_containers_sharing_localhost_with_rbox_runc() {
    use cri::{get_bytes, get_int, get_str, Msg};
    assert!(
        have("containerd"),
        "containerd is missing: make deps installs it"
    );
    let c = CriContainerd::start();
    // The images: busybox, and a pause image made from it, under the configured name.
    let archive = busybox_archive();
    let (code, _, err) = c.ctr(&[
        "image",
        "import",
        "--base-name",
        "docker.io/library/busybox",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let pause = {
        let t = TestRoot::new();
        t.busybox("busybox:latest");
        harness::image_with_config(
            &t,
            "busybox:latest",
            "rbox.test/pause:1",
            json!({"Entrypoint": ["sleep", "2147483647"], "Cmd": null}),
        );
        let tar = t.path().join("pause.tar");
        t.ok(["save", "-o", tar.to_str().unwrap(), "rbox.test/pause:1"]);
        let (code, _, err) = c.ctr(&["image", "import", tar.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        t
    };
    drop(pause);
    let parent = format!("/{}", rand_id("rbox-cri"));
    let sandbox_config = Msg::new()
        .msg(
            1,
            Msg::new()
                .str(1, "pod")
                .str(2, &rand_id("uid"))
                .str(3, "default")
                .int(4, 0),
        )
        .str(2, "pod")
        .msg(8, Msg::new().str(1, &parent));
    // RunPodSandbox with the RuntimeClass handler `rbox`.
    let resp = c.call(
        "RunPodSandbox",
        Msg::new().msg(1, sandbox_config.clone()).str(2, "rbox"),
    );
    let pod = get_str(&resp, 1);
    assert!(!pod.is_empty());
    let container = |name: &str, args: &[&str]| {
        let mut config = Msg::new()
            .msg(1, Msg::new().str(1, name))
            .msg(2, Msg::new().str(1, "docker.io/library/busybox:latest"));
        for a in args {
            config = config.str(3, a);
        }
        let resp = c.call(
            "CreateContainer",
            Msg::new()
                .str(1, &pod)
                .msg(2, config)
                .msg(3, sandbox_config.clone()),
        );
        let id = get_str(&resp, 1);
        c.call("StartContainer", Msg::new().str(1, &id));
        id
    };
    let server = container(
        "server",
        &[
            "sh",
            "-c",
            "mkdir /www && echo shared-localhost > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www",
        ],
    );
    let client = container("client", &["sleep", "300"]);
    let exec = |id: &str, cmd: &[&str]| {
        let mut req = Msg::new().str(1, id);
        for a in cmd {
            req = req.str(2, a);
        }
        let resp = c.call("ExecSync", req.int(3, 30));
        (
            String::from_utf8_lossy(&get_bytes(&resp, 1).concat()).into_owned(),
            get_int(&resp, 3),
        )
    };
    assert!(
        eventually(20, || exec(
            &client,
            &["wget", "-q", "-O-", "http://127.0.0.1:8080/"]
        )
        .0 == "shared-localhost\n"),
        "the client doesn't reach the server on localhost"
    );
    assert_eq!(exec(&client, &["sh", "-c", "exit 3"]).1, 3);
    // Both listed, running (state 1).
    let list = c.call("ListContainers", Msg::new());
    let listed = get_bytes(&list, 1);
    assert_eq!(listed.len(), 2);
    for x in &listed {
        assert_eq!(get_int(x, 6), 1, "not running");
        assert_eq!(get_str(x, 2), pod);
    }
    let status = c.call("ContainerStatus", Msg::new().str(1, &server));
    let status = &get_bytes(&status, 1)[0];
    assert_eq!(get_str(status, 1), server);
    assert_eq!(get_int(status, 3), 1);
    c.call("StopPodSandbox", Msg::new().str(1, &pod));
    let status = c.call("ContainerStatus", Msg::new().str(1, &client));
    assert_eq!(get_int(&get_bytes(&status, 1)[0], 3), 2, "exited");
    c.call("RemovePodSandbox", Msg::new().str(1, &pod));
    assert!(get_bytes(&c.call("ListContainers", Msg::new()), 1).is_empty());
    let left: Vec<_> = fs::read_dir(c.dir.path().join("rbox-runc/k8s.io"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    remove_cgroups(&parent);
    assert!(
        cgroup_dirs(&parent).is_empty(),
        "{:?}",
        cgroup_dirs(&parent)
    );
}
