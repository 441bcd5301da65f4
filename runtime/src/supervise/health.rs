//! The health check run by the container's own monitor: no daemon, and no process per
//! container beyond the monitor but the probe's own while it runs. A probe is rbox run
//! again (`__probe`, see `ops::health`) running the check inside the container as `exec`
//! does and killing it at its timeout; the monitor reads its output, reaps it, applies
//! Docker's rule ([`Health::record`]) and writes the container's health to its state.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::model::health::{output_text, Health, HealthConfig, HealthResult, MAX_OUTPUT};
use crate::store::containers::Containers;

/// The command line of a probe: `rbox __probe --root ROOT ID`.
pub const PROBE_VERB: &str = "__probe";

/// Past its timeout, the probe kills the check itself; a probe still there this much
/// later is killed by the monitor.
const GRACE: Duration = Duration::from_secs(5);

/// A probe running.
struct Probe {
    pid: i32,
    output: OwnedFd,
    bytes: Vec<u8>,
    start: String,
    began: Instant,
    killed: bool,
}

/// The health check of one run of a container.
pub(crate) struct Prober {
    config: HealthConfig,
    containers: Containers,
    id: String,
    started: Instant,
    next: Instant,
    probe: Option<Probe>,
    health: Health,
}

impl Prober {
    /// The check of a run that started now: health `starting`, written to the state.
    pub(crate) fn new(containers: &Containers, id: &str, config: HealthConfig) -> Prober {
        let now = Instant::now();
        let p = Prober {
            next: now + config.next_wait(Duration::ZERO),
            config,
            containers: containers.clone(),
            id: id.to_owned(),
            started: now,
            probe: None,
            health: Health::default(),
        };
        p.save();
        p
    }

    fn save(&self) {
        let health = self.health.clone();
        if let Err(e) = self
            .containers
            .update_state(&self.id, |s| s.health = Some(health))
        {
            tracing::warn!(error = %e, "writing the container's health");
        }
    }

    /// When the monitor must wake for the check next.
    pub(crate) fn wake_at(&self) -> Instant {
        match &self.probe {
            Some(p) if p.killed => p.began + self.config.timeout + GRACE * 2,
            Some(p) => p.began + self.config.timeout + GRACE,
            None => self.next,
        }
    }

    /// The running probe's output, to poll.
    pub(crate) fn output(&self) -> Option<BorrowedFd<'_>> {
        self.probe.as_ref().map(|p| p.output.as_fd())
    }

    /// Reads what the probe wrote (kept up to [`MAX_OUTPUT`] bytes).
    pub(crate) fn read_output(&mut self) {
        let Some(p) = &mut self.probe else { return };
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(&p.output, &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let room = MAX_OUTPUT.saturating_sub(p.bytes.len());
                    p.bytes.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }

    /// Starts a probe when one is due (not while the container is paused), and kills a
    /// probe that outlived its own timeout. Returns whether it started one.
    pub(crate) fn tick(&mut self, now: Instant) -> bool {
        if let Some(p) = &mut self.probe {
            if !p.killed && now >= p.began + self.config.timeout + GRACE {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                p.killed = true;
            }
            return false;
        }
        if now < self.next {
            return false;
        }
        let paused = self
            .containers
            .read_state(&self.id)
            .map(|s| s.paused)
            .unwrap_or(false);
        if paused {
            self.next = now + self.config.interval;
            return false;
        }
        match self.spawn() {
            Ok(p) => {
                self.probe = Some(p);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "starting a health probe");
                self.next = now + self.config.interval;
                false
            }
        }
    }

    fn spawn(&self) -> std::io::Result<Probe> {
        use nix::fcntl::OFlag;
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK)?;
        let child = Command::new("/proc/self/exe")
            .arg0("rbox")
            .arg(PROBE_VERB)
            .arg("--root")
            .arg(self.containers.root())
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w.try_clone()?))
            .stderr(Stdio::from(w))
            .spawn()?;
        Ok(Probe {
            pid: child.id() as i32,
            output: r,
            bytes: Vec::new(),
            start: crate::now(),
            began: Instant::now(),
            killed: false,
        })
    }

    /// Takes the exit of child `pid` if it is the probe's: records its result and
    /// schedules the next. Returns whether it was.
    pub(crate) fn reaped(&mut self, pid: i32, code: i32) -> bool {
        if self.probe.as_ref().map(|p| p.pid) != Some(pid) {
            return false;
        }
        self.read_output();
        let p = self.probe.take().expect("checked above");
        let took = p.began.elapsed();
        let timed_out = p.killed || took >= self.config.timeout;
        let result = HealthResult {
            start: p.start,
            end: crate::now(),
            exit_code: if timed_out { -1 } else { code },
            output: if timed_out {
                format!(
                    "Health check exceeded timeout ({})",
                    go_duration(self.config.timeout)
                )
            } else {
                output_text(&p.bytes)
            },
        };
        let since = p.began.saturating_duration_since(self.started);
        let in_start_period = since < self.config.start_period;
        if self
            .health
            .record(result, self.config.retries, in_start_period)
        {
            if let Ok(c) = self.containers.read_config(&self.id) {
                let action = format!("health_status: {}", self.health.status.as_str());
                crate::store::events::container(self.containers.root(), &c, &action, &[]);
            }
        }
        self.save();
        self.next = Instant::now() + self.config.next_wait(self.started.elapsed());
        true
    }

    /// The container's run is over: a running probe is killed.
    pub(crate) fn stop(&mut self) {
        if let Some(p) = self.probe.take() {
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
    }
}

/// A duration as Go prints one: `2s`, `1m30s`, `500ms`.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        (ms % 60_000) as f64 / 1000.0,
    );
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_gos() {
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }
}
