//! Host processes: liveness checked against start time (a pid can be reused), and
//! waiting for a process that is not our child.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3 (state); field 22 is index 19, and field 3 is a zombie 'Z'.
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process `pid` that started at `start` is still alive (not a zombie).
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && start_time(pid) == Some(start)
}

/// A handle on a process that stays valid when the pid is reused.
pub struct ProcessHandle {
    fd: OwnedFd,
}

impl ProcessHandle {
    /// Opens a handle on `pid` if it is the process that started at `start`.
    pub fn open(pid: i32, start: u64) -> Option<ProcessHandle> {
        let fd = pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
        // Checked after opening: if it is the right process now, the fd refers to it.
        alive(pid, start).then_some(ProcessHandle { fd })
    }

    /// Waits until the process exits or `timeout` passes; true if it exited.
    pub fn wait_timeout(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ts = left.map(|l| Timespec {
                tv_sec: l.as_secs() as i64,
                tv_nsec: l.subsec_nanos() as i64,
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, ts.as_ref()) {
                Ok(n) if n > 0 => return true,
                Ok(_) => return false,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) -> std::io::Result<()> {
        let sig = rustix::process::Signal::from_named_raw(signal)
            .ok_or_else(|| std::io::Error::from_raw_os_error(nix::libc::EINVAL))?;
        Ok(rustix::process::pidfd_send_signal(&self.fd, sig)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_alive_and_a_bogus_start_time_is_not() {
        let me = std::process::id() as i32;
        let st = start_time(me).unwrap();
        assert!(alive(me, st));
        assert!(!alive(me, st + 1));
        assert!(!alive(0, 0));
    }

    #[test]
    fn waiting_sees_an_exit() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let h = ProcessHandle::open(pid, start_time(pid).unwrap()).unwrap();
        assert!(!h.wait_timeout(Some(Duration::from_millis(10))));
        // A zombie's pidfd reads as exited.
        assert!(h.wait_timeout(Some(Duration::from_secs(5))));
        child.wait().unwrap();
    }
}
