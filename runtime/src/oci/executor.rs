//! What runs inside the container's first process right before the workload: checks
//! that the command exists (so `run` can exit 127 or 126 as Docker does), resets what a
//! Rust process changes (SIGPIPE ignored, signals blocked), then execs it.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::Spec;

/// Marks a validation message for a command that doesn't exist.
pub const NOT_FOUND: &str = "rbox-command-not-found:";
/// Marks a validation message for a command that can't be executed.
pub const NOT_EXECUTABLE: &str = "rbox-command-not-executable:";

/// The workload executor of rbox containers.
#[derive(Clone)]
pub struct RboxExecutor {
    /// Whether the process dies (SIGKILL) when its parent, the monitor, dies.
    pub die_with_parent: bool,
    /// The compiled seccomp filter to load right before exec (see `seccomp::compiled`).
    pub seccomp: Option<Vec<u8>>,
    /// CAP_SYS_ADMIN is held only to load the filter: dropped from the effective and
    /// permitted sets once it is loaded (the bounding set never has it).
    pub drop_sys_admin: bool,
}

fn lookup(name: &str, path_var: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name)
            .symlink_metadata()
            .is_ok()
            .then(|| PathBuf::from(name));
    }
    path_var
        .split(':')
        .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file()) || p.metadata().is_ok())
}

fn args(spec: &Spec) -> Option<&Vec<String>> {
    spec.process().as_ref().and_then(|p| p.args().as_ref())
}

impl Executor for RboxExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let Some(args) = args(spec).filter(|a| !a.is_empty()) else {
            return Err(ExecutorValidationError::ArgValidationError(
                "no command specified".into(),
            ));
        };
        let path_var = spec
            .process()
            .as_ref()
            .and_then(|p| p.env().as_ref())
            .and_then(|env| env.iter().find_map(|e| e.strip_prefix("PATH=")))
            .unwrap_or(crate::oci::spec::DEFAULT_PATH)
            .to_owned();
        let name = &args[0];
        match lookup(name, &path_var) {
            None => Err(ExecutorValidationError::ArgValidationError(format!(
                "{NOT_FOUND}{name}"
            ))),
            Some(p) => match p.metadata() {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
                Ok(_) => Err(ExecutorValidationError::ArgValidationError(format!(
                    "{NOT_EXECUTABLE}{name}"
                ))),
                // A dangling symlink: not found, as execve would say.
                Err(_) => Err(ExecutorValidationError::ArgValidationError(format!(
                    "{NOT_FOUND}{name}"
                ))),
            },
        }
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let args = args(spec).ok_or(ExecutorError::InvalidArg)?;
        // Rust ignores SIGPIPE, and the monitor blocks signals for its signalfd: neither
        // may reach the workload (an ignored disposition survives exec).
        // SAFETY: resetting a disposition to the default installs no handler.
        unsafe {
            let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        if self.die_with_parent {
            let _ = nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL));
        }
        if let Some(bpf) = &self.seccomp {
            if let Err(e) = crate::oci::seccomp::load(bpf) {
                eprintln!("loading the seccomp profile failed: {e}");
                // SAFETY: as below.
                unsafe { nix::libc::_exit(126) }
            }
        }
        if self.drop_sys_admin {
            let dropped = [caps::CapSet::Effective, caps::CapSet::Permitted]
                .into_iter()
                .try_for_each(|set| caps::drop(None, set, caps::Capability::CAP_SYS_ADMIN));
            if let Err(e) = dropped {
                eprintln!("dropping CAP_SYS_ADMIN failed: {e}");
                // SAFETY: as below.
                unsafe { nix::libc::_exit(126) }
            }
        }
        let c_args: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
            .collect();
        let err = nix::unistd::execvp(&c_args[0], &c_args).unwrap_err();
        let code = match err {
            nix::errno::Errno::ENOENT => 127,
            _ => 126,
        };
        eprintln!("exec {}: {}", args[0], err.desc());
        // SAFETY: exiting the process without running destructors of the parent's state.
        unsafe { nix::libc::_exit(code) }
    }
}
