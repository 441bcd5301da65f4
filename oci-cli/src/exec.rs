//! `exec`: a new process in a container's namespaces and cgroup, described by a process
//! JSON file (`--process`, as the shims pass it) or by a command and flags over the
//! container's own process (its user, environment, capabilities).

use std::collections::HashMap;
use std::path::PathBuf;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::ContainerStatus;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::{waitpid, WaitStatus};
use oci_spec::runtime::{Process, Spec};
use rbox_runtime::executor::RboxExecutor;

use crate::cli::{Cli, ExecArgs};
use crate::container::{ensure_sealed, lc, load};
use crate::{fail, Failure, Result};

/// The process `exec` runs when given a command: the container's process with the
/// command, terminal, cwd, user, environment, capabilities and no_new_privileges of the
/// flags.
fn process_from_flags(base: Option<Process>, a: &ExecArgs) -> Result<Process> {
    let mut p = base.unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(cwd) = &a.cwd {
        if cwd.is_relative() {
            return fail(format!("cwd {} is not an absolute path", cwd.display()));
        }
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        for e in &a.env {
            let name = e.split('=').next().unwrap_or_default();
            env.retain(|x| x.split('=').next() != Some(name));
            env.push(e.clone());
        }
        p.set_env(Some(env));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Failure(format!("--user {u}: UID[:GID] must be numbers")))
        };
        user.set_uid(num(uid)?);
        if let Some(g) = gid {
            user.set_gid(num(g)?);
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let name = c.to_ascii_uppercase();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            // As config.json spells it: CAP_…
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name))
                    .map_err(|_| Failure(format!("unknown capability {c:?}")))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = set.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
            if caps.inheritable().is_some() {
                caps.set_ambient(add(caps.ambient()));
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

pub fn exec(cli: &Cli, a: &ExecArgs) -> Result<i32> {
    let root = cli.root.as_path();
    let c = load(root, &a.id)?;
    match c.status() {
        ContainerStatus::Stopped => return fail("cannot exec in a stopped container"),
        ContainerStatus::Paused if !a.ignore_paused => {
            return fail("cannot exec in a paused container (use --ignore-paused to override)")
        }
        ContainerStatus::Creating => return fail("cannot exec in a container being created"),
        _ => {}
    }
    if a.process.is_none() && a.command.is_empty() {
        return fail("exec needs a command or --process");
    }
    if a.tty && a.console_socket.is_none() && a.process.is_none() {
        return fail("--tty needs --console-socket: this runtime has no pty relay of its own");
    }
    ensure_sealed()?;
    let process_file: PathBuf = match &a.process {
        Some(p) => p.clone(),
        None => {
            let base = Spec::load(c.bundle().join("config.json"))
                .ok()
                .and_then(|s| s.process().clone());
            let p = process_from_flags(base, a)?;
            // Next to the container's state; removed once the process has started.
            let file = root
                .join(&a.id)
                .join(format!("exec-{}.json", std::process::id()));
            std::fs::write(&file, serde_json::to_vec(&p)?)
                .map_err(|e| Failure(format!("{}: {e}", file.display())))?;
            file
        }
    };
    // The process is our child: reap it, or leave it to the caller's subreaper.
    let pid = ContainerBuilder::new(a.id.clone(), SyscallType::Linux)
        .with_root_path(root)
        .and_then(|b| b.with_pid_file(a.pid_file.as_ref()))
        .and_then(|b| {
            b.with_console_socket(a.console_socket.as_ref())
                .with_preserved_fds(a.preserve_fds)
                .with_executor(RboxExecutor {
                    die_with_parent: false,
                    seccomp: None,
                    drop_sys_admin: false,
                    verdict: None,
                })
                .validate_id()
        })
        .and_then(|b| {
            b.as_tenant()
                .with_detach(a.detach)
                .with_env(HashMap::new())
                .with_process(Some(&process_file))
                .with_ignore_paused(a.ignore_paused)
                .build()
        });
    if a.process.is_none() {
        let _ = std::fs::remove_file(&process_file);
    }
    let pid = match pid {
        Ok(pid) => pid,
        Err(e) => {
            // A process that failed before its exec is our child: reaped here, not left
            // to the caller (a zombie in the container's pid namespace keeps its first
            // process from ever finishing).
            reap_children();
            return Err(lc(e));
        }
    };
    if a.detach {
        return Ok(0);
    }
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return fail(format!("waiting for the process: {e}")),
        }
    }
}

/// Reaps the children this process has, waiting up to a second for them to exit.
fn reap_children() {
    use nix::sys::wait::WaitPidFlag;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
