//! What runs inside the container's first process right before the workload: checks
//! that the command exists (so `run` can exit 127 or 126 as Docker does), resets what a
//! Rust process changes (SIGPIPE ignored, signals blocked), then execs it.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::Spec;

/// What is wrong with a container's command, found inside the container before exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandProblem {
    /// No such file in the container, or not on its PATH (`run` exits 127).
    NotFound,
    /// A file that can't be executed (`run` exits 126).
    NotExecutable,
}

impl CommandProblem {
    fn code(self) -> u8 {
        match self {
            CommandProblem::NotFound => 1,
            CommandProblem::NotExecutable => 2,
        }
    }
}

/// The caller's end of the pipe on which the executor reports a [`CommandProblem`]: the
/// error crossing back from the container's process is only text, and this is known
/// without reading it. The executor's end is close-on-exec: the workload never holds it.
pub struct Verdict {
    read: OwnedFd,
}

impl Verdict {
    /// A verdict pipe: the caller keeps the [`Verdict`], the executor gets the other end.
    pub fn pipe() -> nix::Result<(Verdict, Arc<OwnedFd>)> {
        use nix::fcntl::OFlag;
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        Ok((Verdict { read }, Arc::new(write)))
    }

    /// The problem the executor reported, if it reported one.
    pub fn problem(&self) -> Option<CommandProblem> {
        let mut b = [0u8; 1];
        match nix::unistd::read(self.read.as_raw_fd(), &mut b) {
            Ok(1) => [CommandProblem::NotFound, CommandProblem::NotExecutable]
                .into_iter()
                .find(|p| p.code() == b[0]),
            _ => None,
        }
    }
}

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
    /// Where a [`CommandProblem`] is reported ([`Verdict::pipe`]).
    pub verdict: Option<Arc<OwnedFd>>,
}

impl RboxExecutor {
    fn refuse(&self, problem: CommandProblem, name: &str) -> ExecutorValidationError {
        if let Some(fd) = &self.verdict {
            let _ = nix::unistd::write(fd.as_fd(), &[problem.code()]);
        }
        ExecutorValidationError::ArgValidationError(match problem {
            CommandProblem::NotFound => format!("{name}: executable file not found"),
            CommandProblem::NotExecutable => format!("{name}: permission denied"),
        })
    }
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
            None => Err(self.refuse(CommandProblem::NotFound, name)),
            Some(p) => match p.metadata() {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
                Ok(_) => Err(self.refuse(CommandProblem::NotExecutable, name)),
                // A dangling symlink: not found, as execve would say.
                Err(_) => Err(self.refuse(CommandProblem::NotFound, name)),
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
