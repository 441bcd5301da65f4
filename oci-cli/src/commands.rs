//! The verbs, over libcontainer's containers under `--root`.

use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::{Container, ContainerStatus};
use libcontainer::syscall::syscall::SyscallType;
use rbox_runtime::executor::RboxExecutor;
use serde_json::{json, Value};

use crate::cli::{Cli, Command, CreateArgs, DeleteArgs, Format, KillArgs, ListArgs, PsArgs};
use crate::container::{checked_id, ensure_sealed, lc, load, manager};
use crate::{fail, Failure, Result};

/// The OCI runtime spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

pub fn run(cli: &Cli) -> Result<i32> {
    if cli.version {
        println!("{} version {}", crate::RUNC_NAME, env!("CARGO_PKG_VERSION"));
        println!("spec: {OCI_VERSION}");
        return Ok(0);
    }
    if let Some(r) = cli.rootless.as_deref() {
        match r {
            "false" | "auto" => {}
            _ => return fail("rootless mode is not supported: run as root"),
        }
    }
    if cli.systemd_cgroup && !Path::new("/run/systemd/system").is_dir() {
        return fail(
            "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system): \
             use cgroupfs paths instead",
        );
    }
    let Some(command) = &cli.command else {
        return fail("no command given: see --help");
    };
    let root = cli.root.as_path();
    match command {
        Command::Create(a) => create(cli, a).map(|_| 0),
        Command::Start(a) => start(root, &a.id).map(|_| 0),
        Command::Run(a) => run_container(cli, a),
        Command::State(a) => {
            let c = load(root, &a.id)?;
            println!("{}", serde_json::to_string_pretty(&state(&c))?);
            Ok(0)
        }
        Command::Kill(a) => kill(root, a).map(|_| 0),
        Command::Delete(a) => delete(root, a).map(|_| 0),
        Command::Exec(a) => crate::exec::exec(cli, a),
        Command::Ps(a) => ps(root, a).map(|_| 0),
        Command::Pause(a) => pause(root, &a.id).map(|_| 0),
        Command::Resume(a) => resume(root, &a.id).map(|_| 0),
        Command::Update(a) => crate::update::update(root, a).map(|_| 0),
        Command::List(a) => list(root, a).map(|_| 0),
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
        Command::Spec(a) => spec(&a.bundle, a.rootless).map(|_| 0),
        Command::Checkpoint(_) | Command::Restore(_) => {
            fail("checkpoint and restore are not supported by this runtime")
        }
        Command::Events(_) => fail("events are not supported by this runtime"),
    }
}

fn status_name(s: ContainerStatus) -> &'static str {
    match s {
        ContainerStatus::Creating => "creating",
        ContainerStatus::Created => "created",
        ContainerStatus::Running => "running",
        ContainerStatus::Stopped => "stopped",
        ContainerStatus::Paused => "paused",
    }
}

fn bundle_rootfs(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["root"]["path"].as_str().map(|p| bundle.join(p)))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The OCI state of a container, with runc's fields (pid 0 once stopped).
pub fn state(c: &Container) -> Value {
    let status = c.status();
    let pid = match status {
        ContainerStatus::Stopped => 0,
        _ => c.pid().map(|p| p.as_raw()).unwrap_or(0),
    };
    json!({
        "ociVersion": OCI_VERSION,
        "id": c.id(),
        "pid": pid,
        "status": status_name(status),
        "bundle": c.bundle(),
        "rootfs": bundle_rootfs(c.bundle()),
        "created": c.created().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        "owner": "",
        "annotations": c.state.annotations.clone().unwrap_or_default(),
    })
}

/// Removes what a failed create left of container `id` (its state and cgroup), unless
/// the id was in use before.
fn undo_create(root: &Path, id: &str) {
    let dir = root.join(id);
    if let Ok(mut c) = Container::load(dir.clone()) {
        let _ = c.delete(true);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `create`: the container made, its first process waiting for `start`.
pub fn create(cli: &Cli, a: &CreateArgs) -> Result<Container> {
    checked_id(&a.id)?;
    let root = cli.root.as_path();
    if root.join(&a.id).exists() {
        return fail(format!("container with id exists: {}", a.id));
    }
    let bundle = std::fs::canonicalize(&a.bundle)
        .map_err(|e| Failure(format!("bundle {}: {e}", a.bundle.display())))?;
    crate::spec_check::load(&bundle)?;
    if a.no_new_keyring {
        // libcontainer always gives the container a new session keyring.
        return fail("--no-new-keyring is not supported by this runtime");
    }
    ensure_sealed()?;
    std::fs::create_dir_all(root).map_err(|e| Failure(format!("mkdir {}: {e}", root.display())))?;
    let built = ContainerBuilder::new(a.id.clone(), SyscallType::Linux)
        .with_root_path(root)
        .and_then(|b| b.with_pid_file(a.pid_file.as_ref()))
        .map(|b| {
            b.with_console_socket(a.console_socket.as_ref())
                .with_preserved_fds(a.preserve_fds)
                .with_executor(RboxExecutor {
                    die_with_parent: false,
                    seccomp: None,
                    drop_sys_admin: false,
                    verdict: None,
                })
                .as_init(&bundle)
                .with_systemd(cli.systemd_cgroup)
                .with_detach(true)
                .with_no_pivot(a.no_pivot)
                .build()
        });
    match built {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) | Err(e) => {
            undo_create(root, &a.id);
            Err(lc(e))
        }
    }
}

/// `start`: the user process of a created container.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let mut c = load(root, id)?;
    match c.status() {
        ContainerStatus::Created => c.start().map_err(lc),
        ContainerStatus::Stopped => fail("cannot start a container that has stopped"),
        ContainerStatus::Running | ContainerStatus::Paused => {
            fail("cannot start an already running container")
        }
        ContainerStatus::Creating => fail("cannot start a container that is being created"),
    }
}

/// `run`: create and start, then (unless --detach) wait for the first process with the
/// signals this process gets forwarded to it, delete the container, and exit with its
/// status.
fn run_container(cli: &Cli, a: &crate::cli::RunArgs) -> Result<i32> {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut mask = SigSet::empty();
    if !a.detach {
        // The container's process is our child: we reap it, and our own children's
        // children too once their parents are gone.
        let _ = nix::sys::prctl::set_child_subreaper(true);
        for s in [
            Signal::SIGCHLD,
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGWINCH,
        ] {
            mask.add(s);
        }
        // Blocked here, reset by the executor before the workload's exec.
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None);
    }
    let mut c = create(cli, &a.create)?;
    let id = a.create.id.clone();
    if let Err(e) = c.start() {
        let _ = c.delete(true);
        return Err(lc(e));
    }
    if a.detach {
        return Ok(0);
    }
    let pid = c
        .pid()
        .ok_or_else(|| Failure("the container has no pid".into()))?;
    let code = loop {
        let sig = match mask.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(pid, sig);
            continue;
        }
        let mut done = None;
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) if p == pid => done = Some(code),
                Ok(WaitStatus::Signaled(p, s, _)) if p == pid => done = Some(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(code) = done {
            break code;
        }
    };
    if !a.keep {
        if let Ok(mut c) = load(&cli.root, &id) {
            let _ = c.delete(true);
        }
    }
    Ok(code)
}

/// A signal as runc takes it: a number, `KILL` or `SIGKILL`.
pub fn parse_signal(s: &str) -> Result<libcontainer::signal::Signal> {
    let sig = match s.parse::<i32>() {
        Ok(n) => libcontainer::signal::Signal::try_from(n).ok(),
        Err(_) => libcontainer::signal::Signal::try_from(s).ok(),
    };
    sig.ok_or_else(|| Failure(format!("unknown signal {s:?}")))
}

fn kill(root: &Path, a: &KillArgs) -> Result<()> {
    let sig = parse_signal(&a.signal)?;
    let mut c = load(root, &a.id)?;
    let before = c.status();
    match before {
        ContainerStatus::Stopped if !a.all => return fail("container not running"),
        ContainerStatus::Creating => return fail("container not running"),
        _ => {}
    }
    c.kill(sig, a.all).map_err(|e| match e {
        libcontainer::error::LibcontainerError::IncorrectStatus(_) => {
            Failure("container not running".into())
        }
        e => lc(e),
    })?;
    // libcontainer records any signalled container as stopped: a process that lives on
    // keeps the status it had.
    if before != ContainerStatus::Stopped {
        let alive = c.pid().is_some_and(|p| process_alive(p.as_raw()));
        if alive {
            c.set_status(before);
            c.save().map_err(lc)?;
        }
    }
    Ok(())
}

/// Whether `pid` is a process that hasn't exited (not a zombie).
fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn delete(root: &Path, a: &DeleteArgs) -> Result<()> {
    let dir = root.join(&a.id);
    let mut c = match load(root, &a.id) {
        Ok(c) => c,
        Err(e) => {
            checked_id(&a.id)?;
            // A create that died before writing its state leaves only the directory.
            if dir.is_dir() && !dir.join("state.json").exists() {
                let _ = std::fs::remove_dir_all(&dir);
                return Ok(());
            }
            if a.force && e.0 == "container does not exist" {
                return Ok(());
            }
            return Err(e);
        }
    };
    match c.status() {
        ContainerStatus::Running | ContainerStatus::Paused if !a.force => fail(format!(
            "cannot delete container {} that is not stopped: {}",
            a.id,
            status_name(c.status())
        )),
        _ => {
            c.delete(a.force || c.status() == ContainerStatus::Created)
                .map_err(lc)?;
            let _ = std::fs::remove_dir_all(&dir);
            Ok(())
        }
    }
}

fn ps(root: &Path, a: &PsArgs) -> Result<()> {
    use libcgroups::common::CgroupManager;
    let c = load(root, &a.id)?;
    let pids: Vec<i32> = if c.status() == ContainerStatus::Stopped {
        Vec::new()
    } else {
        manager(&c)?
            .get_all_pids()
            .map_err(|e| Failure(format!("the container's processes: {e}")))?
            .into_iter()
            .map(|p| p.as_raw())
            .collect()
    };
    if a.format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        a.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Failure(format!("ps: {e}")))?;
    if !out.status.success() {
        return fail(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Ok(());
    };
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        return fail("ps: no PID column in the output");
    };
    println!("{header}");
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}

fn pause(root: &Path, id: &str) -> Result<()> {
    let mut c = load(root, id)?;
    match c.status() {
        ContainerStatus::Running => c.pause().map_err(lc),
        ContainerStatus::Paused => fail("container already paused"),
        _ => fail("container not running"),
    }
}

fn resume(root: &Path, id: &str) -> Result<()> {
    let mut c = load(root, id)?;
    match c.status() {
        ContainerStatus::Paused => c.resume().map_err(lc),
        _ => fail("container not paused"),
    }
}

fn list(root: &Path, a: &ListArgs) -> Result<()> {
    let mut states = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        for id in ids {
            if let Ok(c) = load(root, &id) {
                states.push(state(&c));
            }
        }
    }
    if a.quiet {
        for s in &states {
            println!("{}", s["id"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    if a.format == Format::Json {
        println!("{}", serde_json::to_string(&states)?);
        return Ok(());
    }
    let rows: Vec<[String; 6]> = states
        .iter()
        .map(|s| {
            let f = |k: &str| match &s[k] {
                Value::String(v) => v.clone(),
                Value::Null => String::new(),
                v => v.to_string(),
            };
            [
                f("id"),
                f("pid"),
                f("status"),
                f("bundle"),
                f("created"),
                f("owner"),
            ]
        })
        .collect();
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let mut widths = [0usize; 6];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
    Ok(())
}

/// The OCI runtime features document.
pub fn features() -> Value {
    let namespaces = [
        "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time",
    ];
    let caps: Vec<String> = caps_names();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
            "exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
            "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
            "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec",
            "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
            "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
            "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
            "suid", "symfollow", "sync", "unbindable"],
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false,
                        "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                            "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features": OCI_VERSION,
            "io.github.rbox.version": env!("CARGO_PKG_VERSION"),
            "io.github.rbox.libcontainer.version": "0.7"
        }
    })
}

fn caps_names() -> Vec<String> {
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
    .iter()
    .map(|c| format!("CAP_{c}"))
    .collect()
}

/// `spec`: a default config.json (runc's: `sh` on a terminal, rootfs `rootfs`).
fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    if rootless {
        return fail("spec --rootless is not supported by this runtime");
    }
    let file: PathBuf = bundle.join("config.json");
    if file.exists() {
        return fail("File config.json exists. Remove it first");
    }
    let spec = oci_spec::runtime::Spec::default();
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&file, text + "\n").map_err(|e| Failure(format!("{}: {e}", file.display())))
}
