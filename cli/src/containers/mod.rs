//! Container commands, one file per group: run and create ([`run`]), start, stop, restart,
//! kill, pause, unpause, rm, wait, rename ([`lifecycle`]), ps ([`ps`]), logs ([`logs`]), inspect and port
//! ([`inspect`]), exec ([`exec`]), update ([`update`]). Each is its arguments over a call into rbox-runtime.

mod attach;
mod exec;
mod inspect;
mod lifecycle;
mod logs;
mod ps;
mod run;
mod update;

use std::io;
use std::process::ExitCode;

use rbox_runtime::Containers;

pub use attach::{attach, AttachArgs};
pub use exec::{exec, ExecArgs};
pub use inspect::{container_inspect, inspect, port, ContainerInspectArgs, InspectArgs, PortArgs};
pub use lifecycle::{
    kill, pause, rename, restart, rm, start, stop, unpause, wait, KillArgs, PauseArgs, RenameArgs,
    RmArgs, StartArgs, StopArgs, WaitArgs,
};
pub use logs::{logs, LogsArgs};
pub use ps::{ps, status_text, PsArgs};
pub use run::{create, run, CreateArgs, RunArgs};
pub use update::{update, UpdateArgs};

use crate::{CliError, CliResult};

/// Exits as `docker run` does for an error before the container runs.
fn run_failure(e: rbox_runtime::Error) -> CliResult {
    eprintln!("rbox: {e}");
    Ok(ExitCode::from(e.run_exit_code()))
}

/// Refuses a terminal for a standard input that is not one (`-it` with a pipe or a file),
/// as docker does: the container would wait on a terminal that never comes.
fn check_tty(interactive: bool, tty: bool) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if interactive && tty && !io::stdin().is_terminal() {
        return Err(CliError::Failed("the input device is not a TTY".into()));
    }
    Ok(())
}

/// Runs `f` on each named container (by its id) and prints what it returns, as
/// [`crate::each::print_each`].
fn each_printing(
    containers: &Containers,
    names: &[String],
    mut f: impl FnMut(&str) -> Result<String, CliError>,
) -> CliResult {
    crate::each::print_each(names, |n| {
        let id = containers.resolve(n)?;
        f(&id).map(Some)
    })
}

/// Runs `f` on each named container, printing each name as docker does.
fn each(
    containers: &Containers,
    names: &[String],
    mut f: impl FnMut(&str) -> Result<(), CliError>,
) -> CliResult {
    crate::each::print_each(names, |n| {
        let id = containers.resolve(n)?;
        f(&id).map(|()| Some(n.to_owned()))
    })
}
