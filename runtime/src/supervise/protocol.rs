//! The spawn protocol between a verb and the monitor it starts: the monitor's command
//! line and environment, and how it reports the start (`Started`, one line on a pipe,
//! encoded and decoded by the same type on both ends).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::{IoContext, Result};
use crate::host::sealed;

/// The hidden verb the CLI maps to [`main`].
pub const MONITOR_VERB: &str = "__monitor";
/// The environment variable naming the fd the monitor reports its start on.
pub(crate) const SYNC_ENV: &str = "_RBOX_MONITOR_SYNC";
/// Set when the monitor relays the container's stdio to its own (`rbox run` attached):
/// [`Attach::encode`]d.
pub(crate) const ATTACH_ENV: &str = "_RBOX_MONITOR_ATTACH";

/// How an attached monitor relays to its caller (`rbox run` in the foreground, `start
/// -a`): which of the container's streams reach it (`-a`), and the keys that detach it,
/// leaving the container running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// The caller's input goes to the container's (with `-i`).
    pub stdin: bool,
    /// The container's output is written to the caller's.
    pub stdout: bool,
    /// The container's errors are written to the caller's.
    pub stderr: bool,
    /// `--detach-keys` (none: they are not looked for).
    pub detach_keys: Vec<u8>,
}

impl Default for Attach {
    fn default() -> Attach {
        Attach {
            stdin: true,
            stdout: true,
            stderr: true,
            detach_keys: crate::model::detach_keys::DEFAULT.to_vec(),
        }
    }
}

impl Attach {
    /// The environment value: `STREAMS KEYS FD` (`ioe 1011 7`: streams as letters, keys
    /// in hex, `-` for none; the fd the monitor says it detached on).
    fn encode(&self, fd: RawFd) -> String {
        let streams: String = [(self.stdin, 'i'), (self.stdout, 'o'), (self.stderr, 'e')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
        let keys: String = self
            .detach_keys
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let or_dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
        format!("{} {} {fd}", or_dash(streams), or_dash(keys))
    }

    /// Reads [`Attach::encode`]'s value back.
    pub(crate) fn decode(s: &str) -> Option<(Attach, RawFd)> {
        let mut f = s.split(' ');
        let (streams, keys, fd) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
        let keys = if keys == "-" {
            Vec::new()
        } else {
            (0..keys.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(keys.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?
        };
        Some((
            Attach {
                stdin: streams.contains('i'),
                stdout: streams.contains('o'),
                stderr: streams.contains('e'),
                detach_keys: keys,
            },
            fd,
        ))
    }
}

/// A started monitor, as its starter sees it.
pub struct Spawned {
    /// The monitor process.
    pub child: Child,
    sync: File,
    /// Attached: a byte comes here when the monitor detached from this caller (the
    /// detach keys were typed); end of file when the monitor is gone.
    pub detached: Option<File>,
}

/// How a start went, as the monitor reports it.
#[derive(Debug)]
pub enum Started {
    /// Running, with the container's first process's host pid.
    Running(i32),
    /// Failed, with the exit code `run` should end with and the reason.
    Failed(u8, String),
}

/// What a monitor reports: how its start went, or that it made none because the monitor
/// of another command (its pid) is starting the container.
#[derive(Debug)]
pub enum Report {
    Started(Started),
    Busy(i32),
}

impl Report {
    fn encode(&self) -> String {
        match self {
            Report::Started(s) => s.encode(),
            Report::Busy(pid) => format!("busy {pid}\n"),
        }
    }

    fn decode(msg: &str) -> Report {
        match msg
            .trim_end()
            .strip_prefix("busy ")
            .and_then(|p| p.parse().ok())
        {
            Some(pid) => Report::Busy(pid),
            None => Report::Started(Started::decode(msg)),
        }
    }

    /// Reports this on the sync pipe `sync`.
    pub fn send(&self, sync: &mut File) {
        let _ = sync.write_all(self.encode().as_bytes());
    }
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
    /// Waits for the monitor to report that the container runs (or why it doesn't): a
    /// start another command's monitor is making reads as a failure that says so.
    pub fn wait_started(&mut self) -> Started {
        match self.wait_report() {
            Report::Busy(pid) => Started::Failed(
                125,
                format!(
                    "the container is being started by another command (its monitor is pid {pid})"
                ),
            ),
            Report::Started(s) => s,
        }
    }

    /// [`Spawned::wait_started`], with a start another command is making told apart.
    pub fn wait_report(&mut self) -> Report {
        let mut msg = String::new();
        let _ = self.sync.read_to_string(&mut msg);
        Report::decode(&msg)
    }
}

/// Starts a monitor for container `id`. Attached, it inherits this process's stdio and
/// relays the container's to it as `attach` says; detached, its stdio is /dev/null.
pub fn spawn(root: &Path, id: &str, attach: Option<&Attach>) -> Result<Spawned> {
    let exe = sealed::protected_exe()?;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let detach_pipe = match attach {
        Some(_) => Some(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?),
        None => None,
    };
    let mut cmd = Command::new(sealed::exec_path(&exe));
    cmd.arg0("rbox")
        .arg(MONITOR_VERB)
        .arg("--root")
        .arg(root)
        .arg(id)
        .env(SYNC_ENV, w.as_raw_fd().to_string());
    let detach_w = detach_pipe.as_ref().map(|(_, w)| w.as_raw_fd());
    if let (Some(a), Some(fd)) = (attach, detach_w) {
        cmd.env(ATTACH_ENV, a.encode(fd));
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
            // The sync and detach pipes cross exec; everything else stays close-on-exec.
            for fd in std::iter::once(wfd).chain(detach_w) {
                let flags = nix::libc::fcntl(fd, nix::libc::F_GETFD);
                nix::libc::fcntl(fd, nix::libc::F_SETFD, flags & !nix::libc::FD_CLOEXEC);
            }
            Ok(())
        });
    }
    let child = cmd.spawn().at("rbox monitor")?;
    drop(w);
    drop(exe);
    Ok(Spawned {
        child,
        sync: File::from(r),
        detached: detach_pipe.map(|(r, _)| File::from(r)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_report_reads_back_as_it_was_sent() {
        assert!(matches!(Report::decode("busy 77\n"), Report::Busy(77)));
        assert!(matches!(
            Report::decode(&Report::Started(Started::Running(5)).encode()),
            Report::Started(Started::Running(5))
        ));
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

    #[test]
    fn how_to_attach_reads_back_as_it_was_sent() {
        for a in [
            Attach::default(),
            Attach {
                stdin: false,
                stdout: true,
                stderr: false,
                detach_keys: Vec::new(),
            },
        ] {
            assert_eq!(Attach::decode(&a.encode(7)), Some((a.clone(), 7)));
        }
        assert_eq!(Attach::decode("ioe 1 7"), None);
    }
}
