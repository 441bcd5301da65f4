//! `rbox attach`: this terminal joined to a running, detached container through its
//! monitor's attach socket (`supervise::attach_server`): its output here, this input
//! there (unless `--no-stdin`), this terminal's size to its terminal, signals passed on
//! (`--sig-proxy`), and the detach keys (ctrl-p ctrl-q) leaving it running.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};

use crate::error::{Error, IoContext, Result};
use crate::model::container::Status;
use crate::store::containers::Containers;
use crate::supervise::attach::{catch_signals, RawTerminal};
use crate::supervise::attach_server::{frame, frames, RESIZE, SOCKET, STDERR, STDIN, STDOUT};

/// How to attach.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// `--no-stdin`: output only.
    pub no_stdin: bool,
    /// `--sig-proxy`: signals this process gets go to the container.
    pub sig_proxy: bool,
    /// `--detach-keys`, as bytes (ctrl-p ctrl-q by default).
    pub detach_keys: Vec<u8>,
}

impl Default for AttachOptions {
    fn default() -> AttachOptions {
        AttachOptions {
            no_stdin: false,
            sig_proxy: true,
            detach_keys: vec![0x10, 0x11],
        }
    }
}

/// How an attach ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The detach keys were typed: the container runs on.
    Detached,
}

/// Reads docker's `--detach-keys`: comma-separated `ctrl-<a-z@[\]^_>` or single characters.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let bad = || Error::InvalidOption {
        flag: "--detach-keys".into(),
        reason: format!("invalid detach keys {s:?} (e.g. ctrl-p,ctrl-q)"),
    };
    s.split(',')
        .map(|k| match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let b = c.as_bytes()[0].to_ascii_lowercase();
                match b {
                    b'a'..=b'z' => Ok(b - b'a' + 1),
                    b'@' => Ok(0),
                    b'[' => Ok(27),
                    b'\\' => Ok(28),
                    b']' => Ok(29),
                    b'^' => Ok(30),
                    b'_' => Ok(31),
                    _ => Err(bad()),
                }
            }
            None if k.len() == 1 => Ok(k.as_bytes()[0]),
            _ => Err(bad()),
        })
        .collect()
}

/// Attaches to container `name`.
pub fn attach(containers: &Containers, name: &str, o: &AttachOptions) -> Result<Ended> {
    let id = containers.resolve(name)?;
    let c = crate::ops::lifecycle::reconcile(containers, &id)?;
    if c.state.status != Status::Running {
        return Err(Error::Conflict(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    if c.state.paused {
        return Err(Error::Conflict(
            "You cannot attach to a paused container, unpause it first".into(),
        ));
    }
    let run = containers.run_path(&id);
    let prev = std::env::current_dir()?;
    std::env::set_current_dir(&run).at(&run)?;
    let connected = UnixStream::connect(SOCKET);
    std::env::set_current_dir(prev)?;
    let mut sock = connected.map_err(|e| {
        Error::Conflict(format!(
            "container {} takes no attach ({e}): it was started attached",
            c.config.name
        ))
    })?;
    let signals = catch_signals()?;
    let tty = c.config.config.tty;
    let with_stdin = !o.no_stdin && c.config.config.open_stdin;
    let _raw = (tty && with_stdin).then(RawTerminal::enable).flatten();
    let send_size = |sock: &mut UnixStream| {
        if let Ok(ws) = rustix::termios::tcgetwinsize(io::stdin().as_fd()) {
            let mut b = ws.ws_row.to_be_bytes().to_vec();
            b.extend(ws.ws_col.to_be_bytes());
            let _ = sock.write_all(&frame(RESIZE, &b));
        }
    };
    if tty {
        send_size(&mut sock);
    }
    let stdin = io::stdin();
    let mut stdin_open = with_stdin;
    let mut matched = 0usize;
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    let (mut out, mut err) = (io::stdout(), io::stderr());
    loop {
        let mut fds = vec![
            PollFd::new(&sock, PollFlags::IN),
            PollFd::new(&signals, PollFlags::IN),
        ];
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        if let Err(e) = poll(&mut fds, None) {
            if e == rustix::io::Errno::INTR {
                continue;
            }
            return Err(Error::PlainIo(e.into()));
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] {
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    for (kind, bytes) in frames(&mut pending).map_err(Error::PlainIo)? {
                        let _ = match kind {
                            STDOUT => out.write_all(&bytes).and_then(|_| out.flush()),
                            STDERR => err.write_all(&bytes).and_then(|_| err.flush()),
                            _ => Ok(()),
                        };
                    }
                }
            }
        }
        if ready[1] {
            while let Ok(Some(info)) = signals.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    Signal::SIGWINCH if tty => send_size(&mut sock),
                    Signal::SIGWINCH | Signal::SIGCHLD => {}
                    s if o.sig_proxy && !tty => {
                        let _ = kill(Pid::from_raw(c.state.pid), s);
                    }
                    _ => {}
                }
            }
        }
        if stdin_open && ready.get(2).copied().unwrap_or(false) {
            let n = match rustix::io::read(&stdin, &mut buf) {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    continue;
                }
                Ok(n) => n,
            };
            // The detach keys, typed in a row, are not sent; a partial match that
            // breaks off is sent as it was typed.
            let mut data = Vec::with_capacity(n);
            for &b in &buf[..n] {
                if !o.detach_keys.is_empty() && b == o.detach_keys[matched] {
                    matched += 1;
                    if matched == o.detach_keys.len() {
                        let _ = sock.write_all(&frame(STDIN, &data));
                        return Ok(Ended::Detached);
                    }
                    continue;
                }
                data.extend_from_slice(&o.detach_keys[..matched]);
                matched = 0;
                data.push(b);
            }
            if !data.is_empty() && sock.write_all(&frame(STDIN, &data)).is_err() {
                break;
            }
        }
    }
    // The container's output is over: its exit, as the monitor records it.
    crate::ops::lifecycle::wait(containers, &id).map(Ended::Exited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_read_as_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@").unwrap(), [0]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("alt-p").is_err());
    }
}
