//! The health checks run by the container's own monitor: no daemon, and no process per
//! container beyond the monitor but the probe's own while it runs. A probe is rbox run
//! again (`__probe`, see `ops::health`) running a check inside the container as `exec`
//! does and killing it at its timeout; the monitor reads its output, reaps it, applies
//! Docker's rule ([`Health::record`]), writes the container's health to its state and, when
//! a check turns unhealthy, does what its `on_failure` says.
//!
//! A container has one check, and may have a startup check before it and a liveness check
//! beside it ([`HealthConfig::startup`], [`HealthConfig::liveness`]). One probe runs at a
//! time: while one runs, a check that falls due waits for it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::model::health::{
    output_text, Health, HealthConfig, HealthResult, HealthStatus, OnFailure, MAX_OUTPUT,
};
use crate::store::containers::Containers;

/// The command line of a probe: `rbox __probe --root ROOT ID`.
pub const PROBE_VERB: &str = "__probe";

/// Which of the container's checks a probe runs (`startup`, `liveness`; absent: the
/// check itself), in the probe's environment.
pub const CHECK_ENV: &str = "RBOX_PROBE_CHECK";

/// Past its timeout, the probe kills the check itself; a probe still there this much
/// later is killed by the monitor.
const GRACE: Duration = Duration::from_secs(5);

/// A probe running.
struct Probe {
    /// The check it runs (an index into `Prober::checks`).
    check: usize,
    pid: i32,
    output: OwnedFd,
    bytes: Vec<u8>,
    start: String,
    began: Instant,
    killed: bool,
}

/// What a check is to the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Run first and alone, until it succeeds.
    Startup,
    /// The container's health.
    Main,
    /// Beside the main check, acting on its own.
    Liveness,
}

impl Role {
    /// Its name in [`CHECK_ENV`].
    pub fn name(self) -> Option<&'static str> {
        match self {
            Role::Startup => Some("startup"),
            Role::Main => None,
            Role::Liveness => Some("liveness"),
        }
    }
}

/// One check of a run, and where it is.
struct Check {
    role: Role,
    config: HealthConfig,
    health: Health,
    next: Instant,
    /// No more probes (a startup check that succeeded, or one that stops when healthy).
    done: bool,
}

/// The health checks of one run of a container.
pub(crate) struct Prober {
    checks: Vec<Check>,
    containers: Containers,
    id: String,
    started: Instant,
    probe: Option<Probe>,
    /// A stop under way (`on_failure: stop`): when its SIGKILL is due.
    kill_at: Option<Instant>,
}

impl Prober {
    /// The checks of a run that started now: health `starting`, written to the state.
    pub(crate) fn new(containers: &Containers, id: &str, mut config: HealthConfig) -> Prober {
        let now = Instant::now();
        let mut checks = Vec::new();
        let mut add = |role: Role, config: HealthConfig| {
            checks.push(Check {
                role,
                next: now + config.next_wait(Duration::ZERO),
                config,
                health: Health::default(),
                done: false,
            })
        };
        let startup = config.startup.take();
        let liveness = config.liveness.take();
        if let Some(s) = startup {
            add(Role::Startup, *s);
        }
        add(Role::Main, config);
        if let Some(l) = liveness {
            add(Role::Liveness, *l);
        }
        let p = Prober {
            checks,
            containers: containers.clone(),
            id: id.to_owned(),
            started: now,
            probe: None,
            kill_at: None,
        };
        p.save();
        p
    }

    /// The container's health: the main check's, with the others' beside it.
    fn health(&self) -> Health {
        let of = |role: Role| {
            self.checks
                .iter()
                .find(|c| c.role == role)
                .map(|c| c.health.clone())
        };
        let mut h = of(Role::Main).unwrap_or_default();
        h.startup = of(Role::Startup).map(Box::new);
        h.liveness = of(Role::Liveness).map(Box::new);
        h
    }

    fn save(&self) {
        let health = self.health();
        if let Err(e) = self
            .containers
            .update_state(&self.id, |s| s.health = Some(health))
        {
            tracing::warn!(error = %e, "writing the container's health");
        }
    }

    /// The checks that may run now: the startup check alone until it has succeeded.
    fn active(&self) -> impl Iterator<Item = usize> + '_ {
        let starting = self
            .checks
            .iter()
            .any(|c| c.role == Role::Startup && !c.done);
        self.checks
            .iter()
            .enumerate()
            .filter(move |(_, c)| !c.done && (!starting || c.role == Role::Startup))
            .map(|(i, _)| i)
    }

    /// When the monitor must wake for the checks next.
    pub(crate) fn wake_at(&self) -> Instant {
        let probe = match &self.probe {
            Some(p) => {
                let timeout = self.checks[p.check].config.timeout;
                Some(if p.killed {
                    p.began + timeout + GRACE * 2
                } else {
                    p.began + timeout + GRACE
                })
            }
            None => self.active().map(|i| self.checks[i].next).min(),
        };
        // With nothing left to probe, an hour (the relay has other reasons to wake).
        [probe, self.kill_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
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

    /// Starts a probe when one is due (not while the container is paused), kills a probe
    /// that outlived its own timeout, and ends a stop whose time is up. Returns whether it
    /// started a probe.
    pub(crate) fn tick(&mut self, now: Instant) -> bool {
        if self.kill_at.is_some_and(|t| now >= t) {
            self.kill_at = None;
            self.signal_container(Signal::SIGKILL as i32);
        }
        if let Some(p) = &mut self.probe {
            let timeout = self.checks[p.check].config.timeout;
            if !p.killed && now >= p.began + timeout + GRACE {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                p.killed = true;
            }
            return false;
        }
        let Some(due) = self
            .active()
            .filter(|i| self.checks[*i].next <= now)
            .min_by_key(|i| self.checks[*i].next)
        else {
            return false;
        };
        let interval = self.checks[due].config.interval;
        let paused = self
            .containers
            .read_state(&self.id)
            .map(|s| s.paused)
            .unwrap_or(false);
        if paused {
            for i in self.active().collect::<Vec<_>>() {
                self.checks[i].next = self.checks[i].next.max(now + interval);
            }
            return false;
        }
        match self.spawn(due) {
            Ok(p) => {
                self.probe = Some(p);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "starting a health probe");
                self.checks[due].next = now + interval;
                false
            }
        }
    }

    fn spawn(&self, check: usize) -> std::io::Result<Probe> {
        use nix::fcntl::OFlag;
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK)?;
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg0("rbox")
            .arg(PROBE_VERB)
            .arg("--root")
            .arg(self.containers.root())
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w.try_clone()?))
            .stderr(Stdio::from(w));
        match self.checks[check].role.name() {
            Some(name) => cmd.env(CHECK_ENV, name),
            None => cmd.env_remove(CHECK_ENV),
        };
        let child = cmd.spawn()?;
        Ok(Probe {
            check,
            pid: child.id() as i32,
            output: r,
            bytes: Vec::new(),
            start: crate::now(),
            began: Instant::now(),
            killed: false,
        })
    }

    /// Takes the exit of child `pid` if it is the probe's: records its result, acts on a
    /// check turned unhealthy, and schedules the next. Returns whether it was.
    pub(crate) fn reaped(&mut self, pid: i32, code: i32) -> bool {
        if self.probe.as_ref().map(|p| p.pid) != Some(pid) {
            return false;
        }
        self.read_output();
        let p = self.probe.take().expect("checked above");
        let started = self.started;
        let c = &mut self.checks[p.check];
        let took = p.began.elapsed();
        let timed_out = p.killed || took >= c.config.timeout;
        let result = HealthResult {
            start: p.start,
            end: crate::now(),
            exit_code: if timed_out { -1 } else { code },
            output: if timed_out {
                format!(
                    "Health check exceeded timeout ({})",
                    go_duration(c.config.timeout)
                )
            } else {
                output_text(&p.bytes)
            },
        };
        let since = p.began.saturating_duration_since(started);
        let in_start_period = since < c.config.start_period;
        let changed = c.health.record(result, c.config.retries, in_start_period);
        let status = c.health.status;
        let (role, on_failure) = (c.role, c.config.on_failure);
        c.next = Instant::now() + c.config.next_wait(started.elapsed());
        if status == HealthStatus::Healthy && (role == Role::Startup || c.config.until_healthy) {
            c.done = true;
        }
        if changed && role == Role::Main {
            if let Ok(cfg) = self.containers.read_config(&self.id) {
                let action = format!("health_status: {}", status.as_str());
                crate::store::events::container(self.containers.root(), &cfg, &action, &[]);
            }
        }
        if changed && status == HealthStatus::Unhealthy {
            self.act(on_failure);
        }
        self.save();
        true
    }

    /// What a check turned unhealthy asks for.
    fn act(&mut self, on_failure: OnFailure) {
        match on_failure {
            OnFailure::None => {}
            OnFailure::Kill => {
                tracing::debug!("a failing check kills the container");
                self.signal_container(Signal::SIGKILL as i32);
            }
            OnFailure::Stop if self.kill_at.is_none() => {
                let Ok(cfg) = self.containers.read_config(&self.id) else {
                    return;
                };
                let _ = self
                    .containers
                    .update_state(&self.id, |s| s.stopped_by_user = true);
                let signal = cfg
                    .config
                    .stop_signal
                    .as_deref()
                    .and_then(|s| crate::model::options::parse_signal(s).ok())
                    .unwrap_or(Signal::SIGTERM as i32);
                let secs = cfg.config.stop_timeout.unwrap_or(10);
                self.signal_container(signal);
                self.kill_at = Some(Instant::now() + Duration::from_secs(secs as u64));
            }
            OnFailure::Stop => {}
        }
    }

    /// Sends `signal` to the container's first process (the monitor's to reap: its pid
    /// can't have been reused while the run lasts).
    fn signal_container(&self, signal: i32) {
        let Ok(state) = self.containers.read_state(&self.id) else {
            return;
        };
        if state.pid > 0 {
            let sig = Signal::try_from(signal).unwrap_or(Signal::SIGKILL);
            let _ = kill(Pid::from_raw(state.pid), sig);
            if let Ok(cfg) = self.containers.read_config(&self.id) {
                let sig = ("signal", signal.to_string());
                crate::store::events::container(self.containers.root(), &cfg, "kill", &[sig]);
            }
        }
    }

    /// The container's run is over: a running probe is killed.
    pub(crate) fn stop(&mut self) {
        self.kill_at = None;
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
