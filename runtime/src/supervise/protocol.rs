//! The spawn protocol between a verb and the monitor it starts: the monitor's command
//! line and environment, and how it reports the start (`Started`, one line on a pipe,
//! encoded and decoded by the same type on both ends).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::{IoContext, Result};
use crate::host::sealed;

/// The hidden verb the CLI maps to [`main`].
pub const MONITOR_VERB: &str = "__monitor";
/// The environment variable naming the fd the monitor reports its start on.
pub(crate) const SYNC_ENV: &str = "_RBOX_MONITOR_SYNC";
/// Set when the monitor relays the container's stdio to its own (`rbox run` attached).
pub(crate) const ATTACH_ENV: &str = "_RBOX_MONITOR_ATTACH";

/// A started monitor, as its starter sees it.
pub struct Spawned {
    /// The monitor process.
    pub child: Child,
    sync: File,
}

/// How a start went, as the monitor reports it.
#[derive(Debug)]
pub enum Started {
    /// Running, with the container's first process's host pid.
    Running(i32),
    /// Failed, with the exit code `run` should end with and the reason.
    Failed(u8, String),
}

impl Started {
    /// The line the monitor writes on the sync pipe.
    pub fn encode(&self) -> String {
        match self {
            Started::Running(pid) => format!("ok {pid}\n"),
            Started::Failed(code, reason) => format!("err {code} {reason}\n"),
        }
    }

    /// What the starter reads: a monitor that died before it said anything failed.
    pub fn decode(msg: &str) -> Started {
        let msg = msg.trim_end();
        if let Some(pid) = msg.strip_prefix("ok ").and_then(|p| p.parse().ok()) {
            return Started::Running(pid);
        }
        if let Some(rest) = msg.strip_prefix("err ") {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            return Started::Failed(code.parse().unwrap_or(125), reason.to_owned());
        }
        Started::Failed(125, "the container's monitor died while starting it".into())
    }

    /// Reports this on the sync pipe `sync`.
    pub fn send(&self, sync: &mut File) {
        let _ = sync.write_all(self.encode().as_bytes());
    }
}

impl Spawned {
    /// Waits for the monitor to report that the container runs (or why it doesn't).
    pub fn wait_started(&mut self) -> Started {
        let mut msg = String::new();
        let _ = self.sync.read_to_string(&mut msg);
        Started::decode(&msg)
    }
}

/// Starts a monitor for container `id`. Attached, it inherits this process's stdio and
/// relays the container's to it; detached, its stdio is /dev/null.
pub fn spawn(root: &Path, id: &str, attached: bool) -> Result<Spawned> {
    let exe = sealed::protected_exe()?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut cmd = Command::new(sealed::exec_path(&exe));
    cmd.arg0("rbox")
        .arg(MONITOR_VERB)
        .arg("--root")
        .arg(root)
        .arg(id)
        .env(SYNC_ENV, w.as_raw_fd().to_string());
    if attached {
        cmd.env(ATTACH_ENV, "1");
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let wfd = w.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            // The sync pipe crosses exec; everything else stays close-on-exec.
            let flags = nix::libc::fcntl(wfd, nix::libc::F_GETFD);
            nix::libc::fcntl(wfd, nix::libc::F_SETFD, flags & !nix::libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn().at("rbox monitor")?;
    drop(w);
    drop(exe);
    Ok(Spawned {
        child,
        sync: File::from(r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_report_reads_back_as_it_was_sent() {
        for s in [
            Started::Running(4242),
            Started::Failed(
                127,
                "exec: \"x\": executable file not found in $PATH".into(),
            ),
        ] {
            let back = Started::decode(&s.encode());
            assert_eq!(format!("{back:?}"), format!("{s:?}"));
        }
        assert!(matches!(Started::decode(""), Started::Failed(125, _)));
        assert!(matches!(Started::decode("ok x"), Started::Failed(125, _)));
    }
}
