//! The stdio relay between a container's process and its watchers: output to the log
//! and to an attached caller, a terminal's (or a pipe's) input to the process, window
//! sizes, signals. The monitor runs it for the container's first process, `exec` for its
//! own.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::model::detach_keys::DetachKeys;
use crate::store::logs::{LogWriter, Stream};
use crate::supervise::attach_server::AttachServer;
use crate::supervise::health::Prober;
use crate::supervise::protocol::Attach;

/// How long the monitor waits with nothing to do before it gives memory back.
const IDLE_RELEASE: Duration = Duration::from_secs(2);
/// Gives back what starting the container needed and waiting for it doesn't: free heap,
/// and the resident pages of program text (read-only and file-backed, so dropping them
/// loses nothing: what the wait loop runs faults back in). The monitor stays small for the
/// container's whole life.
pub(crate) fn release_startup_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // Each mapping: a header line ("start-end perms offset dev inode path") then fields.
    let mut current: Option<(usize, usize, bool)> = None;
    let mut droppable = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = f.next().unwrap_or("");
            let path = f.nth(3).unwrap_or("");
            // Read-only, private, backed by a file: program text and constants.
            let candidate = (perms == "r-xp" || perms == "r--p") && path.starts_with('/');
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(s), Ok(e)) if candidate => Some((s, e, true)),
                _ => None,
            };
        } else if first == "Anonymous:" {
            // A page written once (relocated data made read-only afterwards) exists only
            // in memory: such a mapping is kept whole.
            if let Some((s, e, true)) = current {
                if f.next() == Some("0") {
                    droppable.push((s, e));
                }
                current = None;
            }
        }
    }
    for (start, end) in droppable {
        if let Some(ptr) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) {
            // SAFETY: a private, read-only, file-backed mapping none of whose pages was
            // ever written: its pages are re-read from the file on the next access. Random
            // access also stops the kernel from mapping neighbours with each page faulted.
            unsafe {
                let _ = nix::sys::mman::madvise(
                    ptr,
                    end - start,
                    nix::sys::mman::MmapAdvise::MADV_DONTNEED,
                );
                let _ = nix::sys::mman::madvise(
                    ptr,
                    end - start,
                    nix::sys::mman::MmapAdvise::MADV_RANDOM,
                );
            }
        }
    }
}

/// Reaps every child that has exited: (pid, exit code or 128 + signal).
pub(crate) fn reap_all() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) => out.push((p.as_raw(), c)),
            Ok(WaitStatus::Signaled(p, s, _)) => out.push((p.as_raw(), 128 + s as i32)),
            Ok(WaitStatus::StillAlive) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

/// Receives the pty master libcontainer sends over the console socket.
pub(crate) fn receive_fd(listener: &UnixListener) -> io::Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (stream, _) = listener.accept()?;
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: SCM_RIGHTS gave us a new fd that nothing else owns.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(io::Error::other(
        "no terminal received on the console socket",
    ))
}

pub(crate) fn copy_winsize(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(from) {
        let _ = rustix::termios::tcsetwinsize(to, ws);
    }
}

/// The caller a relay is attached to (an attached `run` or `start -a`, an `exec`): which
/// of the process's streams it gets, the keys that detach it, and the pipe it learns of
/// that on (its other end closed: the caller is gone, and is detached as well).
pub(crate) struct Caller {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
    pub(crate) keys: DetachKeys,
    pub(crate) detach: Option<OwnedFd>,
}

impl Caller {
    /// Every stream, and no detaching (an `exec`).
    pub(crate) fn whole() -> Caller {
        Caller {
            stdin: true,
            stdout: true,
            stderr: true,
            keys: DetachKeys::default(),
            detach: None,
        }
    }

    /// An attached monitor's caller, as `spawn` described it.
    pub(crate) fn attached(a: Attach, detach: OwnedFd) -> Caller {
        Caller {
            stdin: a.stdin,
            stdout: a.stdout,
            stderr: a.stderr,
            keys: DetachKeys::new(a.detach_keys),
            detach: Some(detach),
        }
    }
}

/// Copies the container's output to its log (and to an attached caller), and an attached
/// terminal's input to the container.
pub(crate) struct Relay {
    pub(crate) log: Option<LogWriter>,
    pub(crate) caller: Option<Caller>,
    pub(crate) stdin_to: Option<OwnedFd>,
    /// The container's health check, run while it does.
    pub(crate) health: Option<Prober>,
    /// When the process is killed (an exec with a timeout: a health probe's check).
    pub(crate) deadline: Option<Instant>,
    /// The attach socket of a detached container's run (`rbox attach`).
    pub(crate) attach: Option<AttachServer>,
}

impl Relay {
    /// Relays until the process `pid` exits and its output is drained; returns its code.
    pub(crate) fn run(
        &mut self,
        pid: i32,
        mut outputs: Vec<(OwnedFd, Stream)>,
        sigfd: &SignalFd,
    ) -> i32 {
        for (fd, _) in &outputs {
            let _ = rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK);
        }
        let stdin = io::stdin();
        // Only an attached caller's own input is read (a detached container's input comes
        // from attach clients).
        let mut stdin_open =
            self.caller.as_ref().is_some_and(|c| c.stdin) && self.stdin_to.is_some();
        let mut status: Option<i32> = None;
        let mut drain_until: Option<Instant> = None;
        let mut released = false;
        let mut release_due = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if status.is_some()
                && (outputs.is_empty() || drain_until.is_some_and(|d| Instant::now() >= d))
            {
                break;
            }
            // After a quiet spell the monitor gives back what the last burst of work
            // paged in (a long-running container's monitor should stay small).
            let idle = Timespec {
                tv_sec: IDLE_RELEASE.as_secs() as i64,
                tv_nsec: 0,
            };
            let wake = [
                drain_until,
                self.deadline,
                self.health.as_ref().map(Prober::wake_at),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = wake
                .map(|d| {
                    let left = d.saturating_duration_since(Instant::now());
                    Timespec {
                        tv_sec: left.as_secs() as i64,
                        tv_nsec: left.subsec_nanos() as i64,
                    }
                })
                .or((!released).then_some(idle));
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(outputs.len() + 3);
            fds.push(PollFd::new(sigfd, PollFlags::IN));
            for (fd, _) in &outputs {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            if stdin_open {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
            let probe_output = self.health.as_ref().and_then(Prober::output);
            let probing = probe_output.is_some();
            if let Some(fd) = &probe_output {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            let attach_at = fds.len();
            let attach_fds = self
                .attach
                .as_ref()
                .filter(|_| status.is_none())
                .map(AttachServer::fds)
                .unwrap_or_default();
            for fd in &attach_fds {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            // The caller's end of the detach pipe closed (it is gone) shows as an error.
            let caller_at = fds.len();
            if let Some(fd) = self.caller.as_ref().and_then(|c| c.detach.as_ref()) {
                fds.push(PollFd::new(fd, PollFlags::empty()));
            }
            // Memory due back goes back last, just before the wait: what the round's
            // work paged in is dropped, and only the wait itself faults back in.
            if release_due {
                release_startup_memory();
                release_due = false;
            }
            if let Err(e) = poll(&mut fds, timeout.as_ref()) {
                if e != rustix::io::Errno::INTR {
                    break;
                }
                continue;
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            drop(attach_fds);
            if ready.get(caller_at).copied().unwrap_or(false) {
                self.detach_caller(&mut stdin_open);
            }
            if let Some(a) = &mut self.attach {
                if ready.len() > attach_at {
                    let tty = self.stdin_to.as_ref().is_some_and(|f| !is_pipe(f.as_fd()));
                    a.serve(&ready[attach_at..], self.stdin_to.as_ref(), tty);
                }
            }
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                self.deadline = None;
            }
            if probing && ready.get(attach_at - 1).copied().unwrap_or(false) {
                if let Some(h) = &mut self.health {
                    h.read_output();
                }
            }
            let probe_started = self
                .health
                .as_mut()
                .filter(|_| status.is_none())
                .is_some_and(|h| h.tick(now));
            let quiet = !ready.iter().any(|r| *r);
            if !quiet {
                released = false;
            }
            // Memory goes back after a quiet spell, and after a probe starts (what starting
            // it paged in), once each.
            if probe_started || (quiet && drain_until.is_none() && !released) {
                release_due = true;
                released = true;
            }
            if ready[0] {
                while let Ok(Some(info)) = sigfd.read_signal() {
                    let sig = info.ssi_signo as i32;
                    if sig == Signal::SIGCHLD as i32 {
                        for (p, code) in reap_all() {
                            if p == pid {
                                status = Some(code);
                                drain_until = Some(Instant::now() + Duration::from_millis(500));
                                if let Some(h) = &mut self.health {
                                    h.stop();
                                }
                            } else if let Some(h) = &mut self.health {
                                // What a probe's round paged in is given back at once:
                                // a container with a check keeps a small monitor.
                                if h.reaped(p, code) {
                                    release_due = true;
                                    released = true;
                                }
                            }
                        }
                    } else if sig == Signal::SIGWINCH as i32 {
                        if let Some(m) = &self.stdin_to {
                            copy_winsize(stdin.as_fd(), m.as_fd());
                        }
                    } else if let Ok(s) = Signal::try_from(sig) {
                        let _ = kill(Pid::from_raw(pid), s);
                    }
                }
            }
            let stdin_ready = stdin_open && ready.get(outputs.len() + 1).copied().unwrap_or(false);
            let mut closed = Vec::new();
            for (i, (fd, stream)) in outputs.iter().enumerate() {
                if !ready[i + 1] {
                    continue;
                }
                loop {
                    match rustix::io::read(fd, &mut buf) {
                        Ok(0) => {
                            closed.push(i);
                            break;
                        }
                        Ok(n) => self.output(*stream, &buf[..n]),
                        Err(rustix::io::Errno::AGAIN) => break,
                        Err(rustix::io::Errno::INTR) => continue,
                        // A pty's master reads EIO once every slave is closed.
                        Err(_) => {
                            closed.push(i);
                            break;
                        }
                    }
                }
            }
            for i in closed.into_iter().rev() {
                outputs.remove(i);
            }
            if stdin_ready {
                match rustix::io::read(&stdin, &mut buf) {
                    Ok(0) | Err(_) => {
                        stdin_open = false;
                        // A pipe's end closed is the process's EOF; a terminal's master
                        // is also its output and stays.
                        if self.stdin_to.as_ref().is_some_and(|m| is_pipe(m.as_fd())) {
                            self.stdin_to = None;
                        }
                    }
                    Ok(n) => {
                        let (data, detached) = match &mut self.caller {
                            Some(c) => c.keys.filter(&buf[..n]),
                            None => (buf[..n].to_vec(), false),
                        };
                        if let Some(m) = &self.stdin_to {
                            if write_all(m.as_fd(), &data).is_err() {
                                // The process closed its input: stop reading ours.
                                stdin_open = false;
                                self.stdin_to = None;
                            }
                        }
                        if detached {
                            self.detach_caller(&mut stdin_open);
                        }
                    }
                }
            }
        }
        if let Some(log) = &mut self.log {
            let _ = log.flush_partial();
        }
        status.unwrap_or(137)
    }

    /// The caller typed the detach keys, or is gone: it is told (if it is there), this
    /// process's stdio becomes /dev/null (the caller's terminal is its own again), and
    /// `rbox attach` can join the container from now on, as one started detached.
    fn detach_caller(&mut self, stdin_open: &mut bool) {
        let Some(c) = self.caller.take() else {
            return;
        };
        *stdin_open = false;
        if let Some(fd) = &c.detach {
            let _ = rustix::io::write(fd, b"d");
        }
        if let Ok(null) = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            for fd in 0..=2 {
                let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
            }
        }
        if self.attach.is_none() {
            match AttachServer::bind() {
                Ok(a) => self.attach = Some(a),
                Err(e) => tracing::warn!(error = %e, "the attach socket after a detach"),
            }
        }
    }

    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        if let Some(log) = &mut self.log {
            let _ = log.write(stream, bytes);
        }
        if let Some(a) = &mut self.attach {
            a.broadcast(stream, bytes);
        }
        if let Some(c) = &self.caller {
            let fd = match stream {
                Stream::Stdout if c.stdout => 1,
                Stream::Stderr if c.stderr => 2,
                _ => return,
            };
            // SAFETY: fds 1 and 2 are the monitor's inherited stdio, open for its whole life.
            let _ = write_all(unsafe { BorrowedFd::borrow_raw(fd) }, bytes);
        }
    }
}

fn is_pipe(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    })
}

pub(crate) fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut f = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = poll(&mut f, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
