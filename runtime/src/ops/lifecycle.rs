//! start, stop, kill, rm, wait: acting on a container and its monitor directly, from
//! the state on disk; and the reconcile of containers whose monitor died, which every verb
//! calls before it acts (loading a container is a pure read).

use crate::store::events;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::model::container::Status;
use crate::model::options::parse_signal;
use crate::store::containers::{Container, Containers};
use crate::store::process::ProcessHandle;
use crate::supervise::monitor::{self, Attach, Spawned};
use crate::supervise::teardown;

/// Loads container `id`, first undoing what its run left if its monitor died unseen
/// (mounts, network, cgroups), and recording it as killed.
pub fn reconcile(containers: &Containers, id: &str) -> Result<Container> {
    let c = containers.load(id)?;
    if !c.orphaned {
        return Ok(c);
    }
    // Look again under the lock: the monitor may have just finished cleanly.
    let _l = containers.lock(id)?;
    let mut state = containers.read_state(id)?;
    let c = containers.load(id)?;
    if c.orphaned {
        teardown::dead_monitor(containers, &c.config, &mut state)?;
    }
    containers.load(id)
}

/// How long a start that another command began is waited for.
const OTHER_START: Duration = Duration::from_secs(30);

/// [`reconcile`], once a start another command began has ended one way or the other (its
/// monitor alive, the container not yet running): a verb acting on a container while a
/// killed `compose up`'s monitor starts it sees it as that start leaves it.
pub fn settle(containers: &Containers, id: &str) -> Result<Container> {
    let deadline = std::time::Instant::now() + OTHER_START;
    loop {
        let c = reconcile(containers, id)?;
        let s = &c.state;
        let starting = !s.is_running()
            && s.monitor_pid > 0
            && crate::store::process::alive(s.monitor_pid, s.monitor_start);
        if !starting || std::time::Instant::now() >= deadline {
            return Ok(c);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every container, newest first, each reconciled as [`reconcile`] does.
pub fn reconcile_all(containers: &Containers) -> Result<Vec<Container>> {
    let mut out = Vec::new();
    for id in containers.ids()? {
        match reconcile(containers, &id) {
            Ok(c) => out.push(c),
            Err(Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    Ok(out)
}

/// Starts a created or stopped container under a new monitor, relaying its stdio to
/// this process's as `attach` says (`None`: detached).
pub fn start(containers: &Containers, id: &str, attach: Option<&Attach>) -> Result<Spawned> {
    let c = settle(containers, id)?;
    if c.state.is_running() {
        return Err(Error::Conflict(format!(
            "container {} is already running",
            c.config.name
        )));
    }
    crate::host::cgroup::prime_migration();
    monitor::spawn(containers.root(), id, attach)
}

fn stop_signal(c: &Container) -> i32 {
    c.config
        .config
        .stop_signal
        .as_deref()
        .and_then(|s| parse_signal(s).ok())
        .unwrap_or(Signal::SIGTERM as i32)
}

/// `Ok(None)` when `r` failed because container `id` is no longer there: a `--rm`
/// container's monitor removes it as it ends, which may happen at any point of a verb
/// acting on it (its directory is renamed away whole, so one look tells).
fn unless_gone<T>(containers: &Containers, id: &str, r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NoSuchContainer(_)) => Ok(None),
        Err(_) if !containers.dir(id).join("container.json").exists() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records that the user stopped the container (its restart policy no longer applies);
/// false when it is gone already.
fn mark_stopped_by_user(containers: &Containers, id: &str) -> Result<bool> {
    let r = containers.update_state(id, |s| s.stopped_by_user = true);
    Ok(unless_gone(containers, id, r)?.is_some())
}

/// Waits for a container's monitor to finish (it records the exit and cleans up); `None`
/// when the monitor removed the container (`--rm`).
fn wait_monitor(
    containers: &Containers,
    c: &Container,
    timeout: Duration,
) -> Result<Option<Container>> {
    if let Some(h) = ProcessHandle::open(c.state.monitor_pid, c.state.monitor_start) {
        h.wait_timeout(Some(timeout));
    }
    unless_gone(containers, c.id(), reconcile(containers, c.id()))
}

/// Stops a container: its stop signal, then SIGKILL after `timeout` seconds (the
/// container's `--stop-timeout`, else 10). Its restart policy no longer applies. Returns
/// the stopped container, or `None` when it removed itself as it stopped (`--rm`).
pub fn stop(containers: &Containers, id: &str, timeout: Option<u32>) -> Result<Option<Container>> {
    stop_with(containers, id, timeout, None)
}

/// [`stop`], sending `signal` first instead of the container's stop signal (`stop -s`).
pub fn stop_with(
    containers: &Containers,
    id: &str,
    timeout: Option<u32>,
    signal: Option<i32>,
) -> Result<Option<Container>> {
    let c = settle(containers, id)?;
    if !c.state.is_running() {
        return Ok(Some(c));
    }
    if !mark_stopped_by_user(containers, id)? {
        return Ok(None);
    }
    if c.state.status == Status::Restarting {
        if let Some(m) = ProcessHandle::open(c.state.monitor_pid, c.state.monitor_start) {
            let _ = m.signal(Signal::SIGTERM as i32);
        }
        return wait_monitor(containers, &c, Duration::from_secs(10));
    }
    let secs = timeout.or(c.config.config.stop_timeout).unwrap_or(10);
    if let Some(p) = ProcessHandle::open(c.state.pid, c.state.pid_start) {
        let first = signal.unwrap_or_else(|| stop_signal(&c));
        let _ = p.signal(first);
        events::container(
            containers.root(),
            &c.config,
            "kill",
            &[("signal", first.to_string())],
        );
        // A paused container gets the signal when it thaws, as Docker's.
        let _ = crate::ops::pause::thaw(containers, id);
        if !p.wait_timeout(Some(Duration::from_secs(secs as u64))) {
            let _ = p.signal(Signal::SIGKILL as i32);
            let kill = ("signal", (Signal::SIGKILL as i32).to_string());
            events::container(containers.root(), &c.config, "kill", &[kill]);
            p.wait_timeout(Some(Duration::from_secs(10)));
        }
    }
    let stopped = wait_monitor(containers, &c, Duration::from_secs(10));
    events::container(containers.root(), &c.config, "stop", &[]);
    stopped
}

/// Sends `signal` to a running container's first process.
pub fn kill(containers: &Containers, id: &str, signal: i32) -> Result<()> {
    let c = reconcile(containers, id)?;
    let p = match ProcessHandle::open(c.state.pid, c.state.pid_start) {
        Some(p) if c.state.status == Status::Running => p,
        _ => {
            return Err(Error::Conflict(format!(
                "cannot kill container {}: container is not running",
                c.config.name
            )))
        }
    };
    if signal == Signal::SIGKILL as i32 && !mark_stopped_by_user(containers, id)? {
        return Ok(());
    }
    p.signal(signal).map_err(Error::PlainIo)?;
    events::container(
        containers.root(),
        &c.config,
        "kill",
        &[("signal", signal.to_string())],
    );
    let _ = crate::ops::pause::thaw(containers, id);
    if signal == Signal::SIGKILL as i32 {
        wait_monitor(containers, &c, Duration::from_secs(10))?;
    }
    Ok(())
}

/// Removes a container; a running one only with `force` (it is killed first). With
/// `volumes`, its anonymous volumes go too (named volumes never go with a container).
pub fn remove(containers: &Containers, id: &str, force: bool, volumes: bool) -> Result<()> {
    let c = settle(containers, id)?;
    let joiners = crate::ops::namespaces::running_joiners(containers, id)?;
    if !joiners.is_empty() {
        return Err(Error::Conflict(format!(
            "cannot remove container \"/{}\": {} joined its namespaces: stop or remove {} first",
            c.config.name,
            joiners.join(", "),
            if joiners.len() == 1 { "it" } else { "them" }
        )));
    }
    if c.state.is_running() {
        if !force {
            return Err(Error::Conflict(format!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                c.config.name
            )));
        }
        if !mark_stopped_by_user(containers, id)? {
            return Ok(());
        }
        if let Some(p) = ProcessHandle::open(c.state.pid, c.state.pid_start) {
            let _ = p.signal(Signal::SIGKILL as i32);
        }
        let _ = crate::ops::pause::thaw(containers, id);
        if let Some(m) = ProcessHandle::open(c.state.monitor_pid, c.state.monitor_start) {
            if c.state.status == Status::Restarting {
                let _ = m.signal(Signal::SIGTERM as i32);
            }
            if !m.wait_timeout(Some(Duration::from_secs(10))) {
                let _ = m.signal(Signal::SIGKILL as i32);
                m.wait_timeout(Some(Duration::from_secs(5)));
            }
        }
    }
    // The monitor of a --rm container may have removed it already.
    let Some(_lock) = unless_gone(containers, id, containers.lock(id))? else {
        return Ok(());
    };
    let Some(config) = unless_gone(containers, id, containers.read_config(id))? else {
        return Ok(());
    };
    let published = containers
        .read_state(id)
        .map(|s| s.ports)
        .unwrap_or_default();
    teardown::run(containers, &config, &published, &containers.dir(id))?;
    containers.remove_files(id)?;
    crate::host::net::release(containers, &config);
    events::container(containers.root(), &config, "destroy", &[]);
    if volumes {
        remove_anonymous_volumes(containers, &config)?;
    }
    Ok(())
}

/// Removes the anonymous volumes of a removed container that no other container uses.
pub fn remove_anonymous_volumes(
    containers: &Containers,
    config: &crate::model::container::ContainerConfig,
) -> Result<()> {
    containers.remove_anonymous_volumes(config)
}

/// Waits until a container is not running; returns its exit code.
pub fn wait(containers: &Containers, id: &str) -> Result<i32> {
    loop {
        let c = reconcile(containers, id)?;
        if !c.state.is_running() {
            return Ok(c.state.exit_code);
        }
        match ProcessHandle::open(c.state.monitor_pid, c.state.monitor_start) {
            Some(m) => {
                // The monitor outlives each run; look at the state between runs too.
                m.wait_timeout(Some(Duration::from_millis(200)));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
