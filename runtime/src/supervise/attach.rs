//! An attached `rbox run` or `rbox start -a`: the terminal in raw mode for `-t`, and the
//! signals it receives passed on to the container while it waits for the monitor.

use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use std::io;
use std::os::fd::AsFd;

pub use crate::supervise::monitor::Attach;
use crate::supervise::monitor::Spawned;

/// Signals an attached client passes on, as Docker's `--sig-proxy`.
const PROXIED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The terminal in raw mode until dropped.
pub struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Puts standard input's terminal in raw mode, if it is a terminal.
    pub fn enable() -> Option<RawTerminal> {
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = tcsetattr(io::stdin().as_fd(), OptionalActions::Now, &self.saved);
    }
}

/// Blocks the signals an attached client handles, before the monitor is started (so that
/// none is lost), and returns the fd they arrive on.
pub fn catch_signals() -> io::Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(*s);
    }
    set.add(Signal::SIGWINCH);
    set.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?)
}

/// How an attached wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The monitor exited with this code, the container's.
    Exited(i32),
    /// The detach keys were typed: the container runs on.
    Detached,
    /// Without `--sig-proxy`, this signal ended the wait (the container runs on).
    Signalled(i32),
}

/// Waits for the monitor to exit or detach, passing signals on to the container's process
/// `pid` with `sig_proxy` (without, a terminating signal ends the wait and leaves the
/// container running, as docker's) and window size changes to the monitor.
pub fn wait(mut spawned: Spawned, pid: i32, signals: &SignalFd, sig_proxy: bool) -> Waited {
    let monitor = Pid::from_raw(spawned.child.id() as i32);
    let mut detached = spawned.detached.take();
    loop {
        if let Ok(Some(status)) = spawned.child.try_wait() {
            return Waited::Exited(status.code().unwrap_or(125));
        }
        let mut fds = vec![PollFd::new(signals, PollFlags::IN)];
        if let Some(d) = &detached {
            fds.push(PollFd::new(d, PollFlags::IN));
        }
        // SIGCHLD wakes us when the monitor exits; the timeout is only a safety net.
        let _ = poll(
            &mut fds,
            Some(&rustix::event::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            }),
        );
        let said = fds.get(1).is_some_and(|f| !f.revents().is_empty());
        drop(fds);
        if said {
            let mut b = [0u8; 1];
            match detached.as_ref().map(|d| rustix::io::read(d, &mut b)) {
                Some(Ok(1)) => return Waited::Detached,
                // The monitor is gone: its exit status comes next.
                _ => detached = None,
            }
        }
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH => {
                    let _ = kill(monitor, sig);
                }
                s if sig_proxy && pid > 0 => {
                    let _ = kill(Pid::from_raw(pid), s);
                }
                Signal::SIGINT | Signal::SIGTERM | Signal::SIGHUP | Signal::SIGQUIT => {
                    return Waited::Signalled(sig as i32);
                }
                _ => {}
            }
        }
    }
}
