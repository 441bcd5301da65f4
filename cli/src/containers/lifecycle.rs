//! start, stop, restart, kill, rm, wait, rename.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::create::parse_signal;
use rbox_runtime::lifecycle;
use rbox_runtime::Containers;

use super::run::start_container;
use super::{check_tty, each, each_printing};
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and exit with its code.
    #[arg(short, long)]
    attach: bool,
    /// Attach standard input.
    #[arg(short, long)]
    interactive: bool,
    /// The keys that detach from the container, leaving it running (ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    /// Containers to start.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(root: &Path, a: StartArgs) -> CliResult {
    let containers = Containers::open(root)?;
    if a.attach {
        if a.containers.len() > 1 {
            return Err(CliError::Failed(
                "you cannot start and attach multiple containers at once".into(),
            ));
        }
        let id = containers.resolve(&a.containers[0])?;
        let c = lifecycle::reconcile(&containers, &id)?;
        check_tty(a.interactive, c.config.config.tty)?;
        let attach = super::run::attach_streams(&[], a.interactive, a.detach_keys.as_deref())?;
        return start_container(
            &containers,
            &id,
            Some(attach),
            c.config.config.tty,
            false,
            true,
        );
    }
    each(&containers, &a.containers, |id| {
        Ok(rbox_runtime::ops::run::start_detached(&containers, id)?)
    })
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short = 't', long = "timeout", visible_alias = "time")]
    time: Option<u32>,
    /// Signal to send first (the container's stop signal, SIGTERM unless set, by default).
    #[arg(short, long)]
    signal: Option<String>,
    /// Containers to stop.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, a: StopArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let sig = a.signal.as_deref().map(parse_signal).transpose()?;
    each(&containers, &a.containers, |id| {
        lifecycle::stop_with(&containers, id, a.time, sig)?;
        Ok(())
    })
}

pub fn restart(root: &Path, a: StopArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let sig = a.signal.as_deref().map(parse_signal).transpose()?;
    each(&containers, &a.containers, |id| {
        Ok(rbox_runtime::ops::run::restart(
            &containers,
            id,
            a.time,
            sig,
        )?)
    })
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Containers to signal.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, a: KillArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let sig = parse_signal(&a.signal)?;
    each(&containers, &a.containers, |id| {
        lifecycle::kill(&containers, id, sig)?;
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill and remove running containers.
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes too.
    #[arg(short, long)]
    volumes: bool,
    /// Containers to remove.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, a: RmArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        lifecycle::remove(&containers, id, a.force, a.volumes)?;
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// What to wait for: not-running (the default: print the exit code), or healthy (an
    /// rbox extension: until the health check passes; fails if the container stops, or
    /// after --timeout).
    #[arg(long, default_value = "not-running", value_parser = ["not-running", "healthy"])]
    condition: String,
    /// With --condition healthy: give up after this long (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Containers to wait for.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, a: WaitArgs) -> CliResult {
    let containers = Containers::open(root)?;
    if a.condition == "healthy" {
        let timeout = match &a.timeout {
            None => None,
            Some(t) => Some(std::time::Duration::from_nanos(
                rbox_runtime::model::options::duration_ns(t).ok_or_else(|| {
                    CliError::Failed(format!("--timeout: invalid duration {t:?}"))
                })?,
            )),
        };
        return crate::each::print_each(&a.containers, |name| {
            rbox_runtime::ops::health::wait_healthy(&containers, name, timeout)
                .map(|()| Some(name.to_owned()))
        });
    }
    if a.timeout.is_some() {
        return Err(CliError::Failed(
            "--timeout goes with --condition healthy".into(),
        ));
    }
    each_printing(&containers, &a.containers, |id| {
        Ok(lifecycle::wait(&containers, id)?.to_string())
    })
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// Containers to pause (or unpause).
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Freezes every process of each container (the cgroup freezer).
pub fn pause(root: &Path, a: PauseArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        Ok(rbox_runtime::ops::pause::pause(&containers, id)?)
    })
}

/// Thaws each paused container.
pub fn unpause(root: &Path, a: PauseArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        Ok(rbox_runtime::ops::pause::unpause(&containers, id)?)
    })
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The container.
    container: String,
    /// Its new name.
    new_name: String,
}

pub fn rename(root: &Path, a: RenameArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    containers.rename(&id, &a.new_name)?;
    Ok(ExitCode::SUCCESS)
}
