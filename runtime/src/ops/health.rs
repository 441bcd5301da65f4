//! Health checks from the verbs' side: the probe the monitor starts (`rbox __probe`), which
//! runs the check inside the container as `exec` does and kills it at its timeout, and
//! `wait --condition healthy`.

use std::io::Write;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::health::HealthStatus;
use crate::ops::exec::{exec, ExecOptions};
use crate::store::containers::Containers;

/// The probe of container `id`: its check run once (the startup or liveness check when
/// the monitor's `RBOX_PROBE_CHECK` names one); returns the check's exit code (125 when it
/// could not run, with the reason on stderr, which the check's output is too). The calling
/// process must run from a sealed copy of rbox and be single-threaded.
pub fn probe_main(containers: &Containers, id: &str) -> i32 {
    let run = || -> Result<i32> {
        let c = containers.load(id)?;
        let which = std::env::var(crate::supervise::health::CHECK_ENV).ok();
        let check = c
            .config
            .config
            .healthcheck
            .as_ref()
            .and_then(|h| match which.as_deref() {
                Some("startup") => h.startup.as_deref(),
                Some("liveness") => h.liveness.as_deref(),
                _ => Some(h),
            });
        let Some(check) = check else {
            return Err(Error::Conflict(format!(
                "container {} has no {}health check",
                c.config.name,
                which.map(|w| format!("{w} ")).unwrap_or_default()
            )));
        };
        exec(
            containers,
            id,
            &ExecOptions {
                command: check.argv(),
                timeout: Some(check.timeout),
                ..Default::default()
            },
        )
    };
    match run() {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            125
        }
    }
}

/// Waits until container `name` is healthy (an unhealthy one may recover); an error when
/// it has no health check, stops running, or `timeout` passes (with the last probe's
/// output).
pub fn wait_healthy(containers: &Containers, name: &str, timeout: Option<Duration>) -> Result<()> {
    let id = containers.resolve(name)?;
    let until = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let c = crate::ops::lifecycle::reconcile(containers, &id)?;
        if c.config.config.healthcheck.is_none() {
            return Err(Error::Conflict(format!(
                "container {} has no health check",
                c.config.name
            )));
        }
        if !c.state.is_running() {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.config.name
            )));
        }
        let health = c.state.health.as_ref();
        if health.map(|h| h.status) == Some(HealthStatus::Healthy) {
            return Ok(());
        }
        if until.is_some_and(|u| std::time::Instant::now() >= u) {
            let (status, last) = health.map_or(("starting", String::new()), |h| {
                (
                    h.status.as_str(),
                    h.log
                        .last()
                        .map(|r| r.output.trim().to_owned())
                        .unwrap_or_default(),
                )
            });
            return Err(Error::Conflict(format!(
                "container {} is {status}, not healthy: {last}",
                c.config.name
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
