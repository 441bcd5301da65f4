//! `rbox exec`: another process in a running container, in its namespaces and cgroup,
//! with its capabilities and seccomp profile.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::SigmaskHow;
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::error::{Error, IoContext, Result};
use crate::model::container::Status;
use crate::oci::executor::{RboxExecutor, Verdict};
use crate::store::containers::Containers;
use crate::store::logs::Stream;
use crate::supervise::monitor::{handled_signals, runtime_error, start_error};
use crate::supervise::relay::{copy_winsize, receive_fd, Caller, Relay};
use crate::{host::rootfs, oci::user};

/// The options of `rbox exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `-e KEY=value` (or `KEY`, from this environment).
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `-d`: start it and return.
    pub detach: bool,
    /// `--privileged`: every capability rbox holds, whatever the container's own.
    pub privileged: bool,
    /// Killed (SIGKILL) after this long: a health probe's check.
    pub timeout: Option<std::time::Duration>,
}

/// Runs a command in container `id`; returns its exit code (0 when detached). The calling
/// process must run from a sealed copy of rbox and be single-threaded.
pub fn exec(containers: &Containers, id: &str, o: &ExecOptions) -> Result<i32> {
    let c = crate::ops::lifecycle::reconcile(containers, id)?;
    if c.state.status != Status::Running {
        return Err(Error::Conflict(format!(
            "container {} is not running",
            c.config.name
        )));
    }
    if c.state.paused {
        return Err(Error::Conflict(format!(
            "container {} is paused, unpause the container first",
            c.config.name
        )));
    }
    if o.command.is_empty() {
        return Err(Error::NoCommand);
    }
    let dir = containers.dir(id);
    let root = dir.join("rootfs");
    let passwd = rootfs::read_in_root(&root, "/etc/passwd")?.unwrap_or_default();
    let group = rootfs::read_in_root(&root, "/etc/group")?.unwrap_or_default();
    let who = user::resolve(
        o.user.as_deref().unwrap_or(&c.config.config.user),
        &passwd,
        &group,
    )?;
    let mut env: HashMap<String, String> = HashMap::new();
    for e in &o.env {
        match e.split_once('=') {
            Some((k, v)) => {
                env.insert(k.to_owned(), v.to_owned());
            }
            None => {
                if let Ok(v) = std::env::var(e) {
                    env.insert(e.clone(), v);
                }
            }
        }
    }
    // An empty HOME would have the OCI runtime look the user up through the image's NSS
    // modules inside the container (see `spec::environment`).
    if env.get("HOME").is_some_and(|h| h.is_empty()) {
        env.insert("HOME".into(), who.home.clone());
    }
    if o.tty {
        env.entry("TERM".into()).or_insert_with(|| "xterm".into());
    }
    let run = containers.run_path(id);
    // The container's own filter, loaded with no_new_privs right before exec.
    let seccomp =
        crate::oci::spec::seccomp_filter(&c.config, &containers.runtime_dir().join("seccomp"))?;
    let privileged = c.config.host.privileged;

    // Signals are taken through a signalfd while the process runs.
    let mask = handled_signals();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

    let (verdict, verdict_fd) = Verdict::pipe()?;
    let mut builder = ContainerBuilder::new(id.to_owned(), SyscallType::Linux)
        .with_root_path(containers.run_dir())
        .map_err(runtime_error)?
        .with_executor(RboxExecutor {
            verdict: Some(verdict_fd),
            die_with_parent: false,
            seccomp,
            drop_sys_admin: false,
        });
    let sock_name = format!("exec-{}.sock", std::process::id());
    let mut piped_stdin: Option<OwnedFd> = None;
    let mut piped_outputs: Vec<(OwnedFd, Stream)> = Vec::new();
    let console = if o.tty {
        let prev = std::env::current_dir()?;
        std::env::set_current_dir(&run).at(&run)?;
        let l = UnixListener::bind(&sock_name);
        std::env::set_current_dir(prev)?;
        let l = l.at(run.join(&sock_name))?;
        builder = builder.with_console_socket(Some(run.join(&sock_name)));
        Some(l)
    } else {
        let null = || File::open("/dev/null").map(OwnedFd::from);
        if o.detach {
            builder = builder
                .with_stdin(null()?)
                .with_stdout(OwnedFd::from(write_null()?))
                .with_stderr(OwnedFd::from(write_null()?));
        } else {
            // Relayed through pipes: the caller's own descriptors never reach the
            // container (it could reopen a host file through /proc/self/fd/N).
            let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC);
            let stdin = if o.interactive {
                let (r, w) = pipe()?;
                piped_stdin = Some(w);
                r
            } else {
                null()?
            };
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            builder = builder
                .with_stdin(stdin)
                .with_stdout(out_w)
                .with_stderr(err_w);
            piped_outputs = vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)];
        }
        None
    };
    let workdir = o
        .workdir
        .as_deref()
        .or(Some(c.config.config.working_dir.as_str()))
        .filter(|w| !w.is_empty())
        .unwrap_or("/");
    let process = process_spec(
        &run.join("bundle/config.json"),
        o,
        env,
        &who,
        workdir,
        privileged,
    )?;
    let process_file = run.join(format!("exec-{}.json", std::process::id()));
    crate::store::containers::write_json(&process_file, &process)?;
    let tenant = builder
        .as_tenant()
        .with_process(Some(&process_file))
        .with_detach(o.tty || o.detach);
    let result = tenant.build();
    let _ = std::fs::remove_file(run.join(&sock_name));
    let _ = std::fs::remove_file(&process_file);
    let pid = result.map_err(|e| start_error(e, &o.command[0], &verdict))?;
    if o.detach {
        return Ok(0);
    }
    let deadline = o.timeout.map(|t| std::time::Instant::now() + t);
    if let Some(listener) = console {
        let master = receive_fd(&listener).at(run.join(&sock_name))?;
        let _raw = crate::supervise::attach::RawTerminal::enable();
        copy_winsize(io::stdin().as_fd(), master.as_fd());
        let outputs = vec![(master.try_clone()?, Stream::Stdout)];
        let mut relay = Relay {
            log: None,
            caller: Some(Caller::whole()),
            stdin_to: o.interactive.then_some(master),
            health: None,
            deadline,
            attach: None,
        };
        return Ok(relay.run(pid.as_raw(), outputs, &sigfd));
    }
    let mut relay = Relay {
        log: None,
        caller: Some(Caller::whole()),
        stdin_to: piped_stdin,
        health: None,
        deadline,
        attach: None,
    };
    Ok(relay.run(pid.as_raw(), piped_outputs, &sigfd))
}

/// The OCI process of an exec: the container's own (capabilities, limits, profile) with
/// the command, environment (the container's, then `-e`), user, working directory and
/// terminal of this one. A capability the bounding set lacks (CAP_SYS_ADMIN, held by the
/// first process only to load its filter) is in no set.
fn process_spec(
    container_spec: &Path,
    o: &ExecOptions,
    env: HashMap<String, String>,
    who: &user::ExecUser,
    workdir: &str,
    privileged: bool,
) -> Result<serde_json::Value> {
    let spec: serde_json::Value = crate::store::containers::read_json(container_spec)?;
    let mut p = spec["process"].clone();
    let mut vars: Vec<String> = p["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .filter(|kv| !env.contains_key(kv.split('=').next().unwrap_or("")))
        .map(str::to_owned)
        .collect();
    let mut given: Vec<_> = env.into_iter().collect();
    given.sort();
    vars.extend(given.into_iter().map(|(k, v)| format!("{k}={v}")));
    if o.tty && !vars.iter().any(|v| v.starts_with("TERM=")) {
        vars.push("TERM=xterm".into());
    }
    let bounding: Vec<serde_json::Value> = p["capabilities"]["bounding"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(caps) = p["capabilities"].as_object_mut() {
        for (_, set) in caps.iter_mut() {
            if let Some(list) = set.as_array_mut() {
                list.retain(|c| bounding.contains(c));
            }
        }
        if o.privileged {
            // As docker's `exec --privileged`: all of them bounding, permitted, effective.
            let all = serde_json::json!(crate::oci::caps::grantable_caps());
            for set in ["bounding", "permitted", "effective"] {
                caps.insert(set.into(), all.clone());
            }
        }
    }
    p["args"] = serde_json::json!(o.command);
    p["env"] = serde_json::json!(vars);
    p["cwd"] = serde_json::json!(workdir);
    p["terminal"] = serde_json::json!(o.tty);
    p["noNewPrivileges"] = serde_json::json!(!privileged);
    p["user"] = serde_json::json!({
        "uid": who.uid,
        "gid": who.gid,
        "additionalGids": who.additional_gids,
    });
    if let Some(obj) = p.as_object_mut() {
        obj.remove("consoleSize");
    }
    Ok(p)
}

fn write_null() -> io::Result<File> {
    std::fs::OpenOptions::new().write(true).open("/dev/null")
}
