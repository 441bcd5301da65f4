//! exec: a command in a running container, from a sealed copy of rbox.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::Containers;

use super::check_tty;
use crate::CliResult;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Run the command in the background.
    #[arg(short, long)]
    detach: bool,
    /// Keep standard input open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE a line; KEY alone takes this
    /// process's value; `#` comments).
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// User: name or uid, with an optional :group or :gid.
    #[arg(short, long)]
    user: Option<String>,
    /// Give the command every capability (the container's seccomp profile stays).
    #[arg(long)]
    privileged: bool,
    /// The container.
    container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn exec(root: &Path, a: ExecArgs) -> CliResult {
    if !a.detach {
        check_tty(a.interactive, a.tty)?;
    }
    // Whatever enters a container runs from a sealed copy of rbox (CVE-2019-5736).
    if !rbox_runtime::sealed::running_protected() {
        let e = rbox_runtime::sealed::reexec_sealed();
        eprintln!("rbox: {e}");
        return Ok(ExitCode::from(126));
    }
    let containers = Containers::open(root)?;
    let id = match containers.resolve(&a.container) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("rbox: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(env_file(f)?);
    }
    env.extend(a.env);
    let opts = rbox_runtime::exec::ExecOptions {
        command: a.command,
        env,
        workdir: a.workdir,
        user: a.user,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        timeout: None,
    };
    match rbox_runtime::exec::exec(&containers, &id, &opts) {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Err(e) => {
            eprintln!("rbox: {e}");
            Ok(ExitCode::from(match e {
                rbox_runtime::Error::Conflict(_) => 1,
                e => e.run_exit_code(),
            }))
        }
    }
}

/// The variables of an env file as docker reads one: `KEY=VALUE` lines, `KEY` alone for this
/// process's value (left out when unset), blank lines and `#` comments skipped.
fn env_file(path: &std::path::Path) -> Result<Vec<String>, crate::CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::CliError::Failed(format!("open {}: {e}", path.display())))?;
    let mut env = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, _)) if k.is_empty() || k.contains(char::is_whitespace) => {
                return Err(crate::CliError::Failed(format!(
                    "{}: invalid variable name in {line:?}",
                    path.display()
                )));
            }
            Some(_) => env.push(line.to_owned()),
            None => {
                if let Ok(v) = std::env::var(line.trim_end()) {
                    env.push(format!("{}={v}", line.trim_end()));
                }
            }
        }
    }
    Ok(env)
}
