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
use crate::model::detach_keys::DetachKeys;
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
            detach_keys: crate::model::detach_keys::DEFAULT.to_vec(),
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

pub use crate::model::detach_keys::parse as parse_detach_keys;

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
    let mut keys = DetachKeys::new(o.detach_keys.clone());
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
            let (data, detached) = keys.filter(&buf[..n]);
            if detached {
                let _ = sock.write_all(&frame(STDIN, &data));
                return Ok(Ended::Detached);
            }
            if !data.is_empty() && sock.write_all(&frame(STDIN, &data)).is_err() {
                break;
            }
        }
    }
    // The container's output is over: its exit, as the monitor records it.
    crate::ops::lifecycle::wait(containers, &id).map(Ended::Exited)
}
