//! Health checks as data: a container's check (the image's HEALTHCHECK with `--health-*`
//! over it), its health as `inspect` shows it, and Docker's rule for what a probe's result
//! does to it. The monitor runs the probes (`supervise::health`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Docker's defaults: a probe every 30 s, killed after 30 s, unhealthy after 3 failures in a
/// row, every 5 s during the start period.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// The entries of the log `inspect` shows.
pub const MAX_LOG_ENTRIES: usize = 5;
/// A probe's output kept, in bytes.
pub const MAX_OUTPUT: usize = 4096;

/// A container's health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD", arg…]` or `["CMD-SHELL", line]`.
    pub test: Vec<String>,
    /// Between probes.
    pub interval: Duration,
    /// A probe's longest run.
    pub timeout: Duration,
    /// Failures in a row that make it unhealthy.
    pub retries: u32,
    /// After a start, failures during this long don't count.
    pub start_period: Duration,
    /// Between probes during the start period.
    pub start_interval: Duration,
    /// What the monitor does when this check turns unhealthy.
    #[serde(default, skip_serializing_if = "OnFailure::is_none")]
    pub on_failure: OnFailure,
    /// Probes only until the first success, then no more (a startup check standing alone).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub until_healthy: bool,
    /// A check run first and alone: the others begin once it has succeeded, and it is not
    /// run again in that run; its own `retries` failures are acted on by its `on_failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Box<HealthConfig>>,
    /// A check run beside this one, with a streak of its own, acted on by its own
    /// `on_failure`; the container's health status stays this one's (a liveness check
    /// next to a readiness check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Box<HealthConfig>>,
}

/// What the monitor does when a check turns unhealthy (`--health-on-failure`, Podman's
/// flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Nothing: the status says it.
    #[default]
    None,
    /// SIGKILL to the container's process; its restart policy then applies as to any exit.
    Kill,
    /// Stopped as `rbox stop` does (its stop signal, SIGKILL after its stop timeout); its
    /// restart policy no longer applies.
    Stop,
}

impl OnFailure {
    pub fn is_none(&self) -> bool {
        *self == OnFailure::None
    }

    /// `--health-on-failure`'s value.
    pub fn parse(s: &str) -> Result<OnFailure> {
        match s {
            "none" => Ok(OnFailure::None),
            "kill" => Ok(OnFailure::Kill),
            "stop" => Ok(OnFailure::Stop),
            "restart" => Err(Error::InvalidOption {
                flag: "--health-on-failure".into(),
                reason: "restart is not supported: kill, with --restart on-failure or always, restarts it".into(),
            }),
            _ => Err(Error::InvalidOption {
                flag: "--health-on-failure".into(),
                reason: format!("{s:?} is none of none, kill, stop"),
            }),
        }
    }
}

/// `--health-*` and `--no-healthcheck` as given.
#[derive(Debug, Clone, Default)]
pub struct HealthFlags {
    /// `--health-cmd` (run by the container's shell, as Docker's CMD-SHELL).
    pub cmd: Option<String>,
    /// `--health-interval`.
    pub interval: Option<String>,
    /// `--health-timeout`.
    pub timeout: Option<String>,
    /// `--health-retries`.
    pub retries: Option<u32>,
    /// `--health-start-period`.
    pub start_period: Option<String>,
    /// `--health-start-interval`.
    pub start_interval: Option<String>,
    /// `--no-healthcheck`.
    pub disable: bool,
    /// `--health-on-failure`: none (the default), kill or stop.
    pub on_failure: Option<String>,
    /// Probe only until the first success ([`HealthConfig::until_healthy`]).
    pub until_healthy: bool,
    /// A startup check before the others ([`HealthConfig::startup`]); its `cmd` is needed.
    pub startup: Option<Box<HealthFlags>>,
    /// A liveness check beside the check ([`HealthConfig::liveness`]); its `cmd` is needed.
    pub liveness: Option<Box<HealthFlags>>,
}

impl HealthFlags {
    fn tunes(&self) -> Option<&'static str> {
        [
            (self.interval.is_some(), "--health-interval"),
            (self.timeout.is_some(), "--health-timeout"),
            (self.retries.is_some(), "--health-retries"),
            (self.start_period.is_some(), "--health-start-period"),
            (self.start_interval.is_some(), "--health-start-interval"),
            (self.on_failure.is_some(), "--health-on-failure"),
        ]
        .into_iter()
        .find_map(|(set, flag)| set.then_some(flag))
    }
}

/// A duration flag: Go's form (`1m30s`, `500ms`), at least 1 ms where it is given, as
/// Docker requires (0 keeps the default).
fn duration_flag(v: &Option<String>, flag: &str) -> Result<Option<Duration>> {
    let Some(s) = v else { return Ok(None) };
    let ns = crate::model::options::duration_ns(s).ok_or_else(|| Error::InvalidOption {
        flag: flag.into(),
        reason: format!("invalid duration {s:?} (e.g. 30s, 1m30s, 500ms)"),
    })?;
    if ns != 0 && ns < 1_000_000 {
        return Err(Error::InvalidOption {
            flag: flag.into(),
            reason: "must be at least 1ms".into(),
        });
    }
    Ok((ns != 0).then(|| Duration::from_nanos(ns)))
}

/// The check of a new container: the image's (`image`) with the flags over it, field by
/// field as Docker merges them; `None` with `--no-healthcheck`, or when neither has one.
/// Tuning flags without a command to tune are refused.
pub fn resolve(
    image: Option<&rbox_image::config::Healthcheck>,
    flags: &HealthFlags,
) -> Result<Option<HealthConfig>> {
    let Some(mut check) = resolve_one(image, flags)? else {
        if flags.startup.is_some() || flags.liveness.is_some() {
            return Err(Error::InvalidOption {
                flag: "--health-cmd".into(),
                reason: "a startup or liveness check needs a health check beside it".into(),
            });
        }
        return Ok(None);
    };
    let sub = |f: &HealthFlags, what: &str| -> Result<Box<HealthConfig>> {
        if f.cmd.is_none() || f.startup.is_some() || f.liveness.is_some() {
            return Err(Error::InvalidOption {
                flag: "--health-cmd".into(),
                reason: format!(
                    "the {what} check needs a command of its own, and no checks inside it"
                ),
            });
        }
        Ok(Box::new(resolve_one(None, f)?.expect("a command is given")))
    };
    if let Some(f) = &flags.startup {
        check.startup = Some(sub(f, "startup")?);
    }
    if let Some(f) = &flags.liveness {
        check.liveness = Some(sub(f, "liveness")?);
    }
    Ok(Some(check))
}

/// One check of [`resolve`], without the checks beside it.
fn resolve_one(
    image: Option<&rbox_image::config::Healthcheck>,
    flags: &HealthFlags,
) -> Result<Option<HealthConfig>> {
    if flags.disable {
        if flags.cmd.is_some() {
            return Err(Error::InvalidOption {
                flag: "--no-healthcheck".into(),
                reason: "conflicts with --health-cmd".into(),
            });
        }
        return Ok(None);
    }
    let image_test = image
        .and_then(|h| h.test.clone())
        .filter(|t| t.first().is_some_and(|k| k != "NONE"));
    let test = match &flags.cmd {
        Some(c) if c.trim().is_empty() => {
            return Err(Error::InvalidOption {
                flag: "--health-cmd".into(),
                reason: "empty command".into(),
            })
        }
        Some(c) => vec!["CMD-SHELL".into(), c.clone()],
        None => match image_test {
            Some(t) => t,
            None => {
                return match flags.tunes() {
                    Some(flag) => Err(Error::InvalidOption {
                        flag: flag.into(),
                        reason: "the image has no HEALTHCHECK: give --health-cmd too".into(),
                    }),
                    None => Ok(None),
                }
            }
        },
    };
    if test.len() < 2 || !matches!(test[0].as_str(), "CMD" | "CMD-SHELL") {
        return Err(Error::InvalidOption {
            flag: "HEALTHCHECK".into(),
            reason: format!("the image's check {test:?} is neither CMD nor CMD-SHELL"),
        });
    }
    let from_image = |f: fn(&rbox_image::config::Healthcheck) -> Option<i64>| {
        image
            .and_then(f)
            .filter(|n| *n > 0)
            .map(|n| Duration::from_nanos(n as u64))
    };
    Ok(Some(HealthConfig {
        test,
        interval: duration_flag(&flags.interval, "--health-interval")?
            .or_else(|| from_image(|h| h.interval))
            .unwrap_or(DEFAULT_INTERVAL),
        timeout: duration_flag(&flags.timeout, "--health-timeout")?
            .or_else(|| from_image(|h| h.timeout))
            .unwrap_or(DEFAULT_TIMEOUT),
        retries: flags
            .retries
            .filter(|r| *r > 0)
            .or_else(|| {
                image
                    .and_then(|h| h.retries)
                    .filter(|r| *r > 0)
                    .map(|r| r as u32)
            })
            .unwrap_or(DEFAULT_RETRIES),
        start_period: duration_flag(&flags.start_period, "--health-start-period")?
            .or_else(|| from_image(|h| h.start_period))
            .unwrap_or_default(),
        start_interval: duration_flag(&flags.start_interval, "--health-start-interval")?
            .or_else(|| from_image(|h| h.start_interval))
            .unwrap_or(DEFAULT_START_INTERVAL),
        on_failure: match &flags.on_failure {
            Some(s) => OnFailure::parse(s)?,
            None => OnFailure::None,
        },
        until_healthy: flags.until_healthy,
        startup: None,
        liveness: None,
    }))
}

impl HealthConfig {
    /// The probe's command line: CMD's arguments, or the shell running CMD-SHELL's line.
    pub fn argv(&self) -> Vec<String> {
        match self.test[0].as_str() {
            "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), self.test[1].clone()],
            _ => self.test[1..].to_vec(),
        }
    }

    /// The wait before the next probe: the start interval while the start period lasts.
    pub fn next_wait(&self, since_start: Duration) -> Duration {
        if since_start < self.start_period {
            self.start_interval.min(self.interval)
        } else {
            self.interval
        }
    }
}

/// Where a container's health is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No probe has succeeded yet, and not enough have failed.
    Starting,
    /// The last probe succeeded.
    Healthy,
    /// `retries` probes in a row failed.
    Unhealthy,
}

impl HealthStatus {
    /// Docker's word: `starting`, `healthy`, `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// What `ps` adds to "Up …": `(healthy)`, `(unhealthy)`, `(health: starting)`.
    pub fn ps_suffix(self) -> &'static str {
        match self {
            HealthStatus::Starting => "(health: starting)",
            HealthStatus::Healthy => "(healthy)",
            HealthStatus::Unhealthy => "(unhealthy)",
        }
    }
}

/// One probe's result, as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// When it started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// Its exit code; -1 when it was killed at its timeout.
    pub exit_code: i32,
    /// Its output (stdout and stderr), at most [`MAX_OUTPUT`] bytes.
    pub output: String,
}

/// A container's health, as `inspect`'s `.State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// Where it is.
    pub status: HealthStatus,
    /// Failed probes in a row.
    pub failing_streak: u32,
    /// The last [`MAX_LOG_ENTRIES`] results, oldest first.
    pub log: Vec<HealthResult>,
    /// The startup check's own health, for a container with one: until it is healthy, no
    /// other check runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Box<Health>>,
    /// The liveness check's own health, for a container with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Box<Health>>,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
            startup: None,
            liveness: None,
        }
    }
}

impl Health {
    /// Whether its startup check, if it has one, has succeeded.
    pub fn started(&self) -> bool {
        self.startup
            .as_ref()
            .is_none_or(|s| s.status == HealthStatus::Healthy)
    }

    /// Docker's rule for a probe's result: a success makes it healthy and ends the streak;
    /// a failure adds to the streak, unless it came within the start period while still
    /// starting, and `retries` failures in a row make it unhealthy. Returns whether the
    /// status changed.
    pub fn record(&mut self, result: HealthResult, retries: u32, in_start_period: bool) -> bool {
        let before = self.status;
        if result.exit_code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(in_start_period && self.status == HealthStatus::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.log.push(result);
        if self.log.len() > MAX_LOG_ENTRIES {
            self.log.drain(..self.log.len() - MAX_LOG_ENTRIES);
        }
        self.status != before
    }
}

/// A probe's output as kept: at most [`MAX_OUTPUT`] bytes.
pub fn output_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OUTPUT)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn results_move_health_as_dockers() {
        let mut h = Health::default();
        // Failures in the start period don't count while starting.
        assert!(!h.record(result(1), 2, true));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        assert!(!h.record(result(1), 2, false));
        assert_eq!(h.failing_streak, 1);
        assert!(h.record(result(1), 2, false));
        assert_eq!(h.status, HealthStatus::Unhealthy);
        assert!(h.record(result(0), 2, false));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        // Once healthy, a failure in the start period counts.
        h.record(result(1), 1, true);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        for _ in 0..10 {
            h.record(result(-1), 1, false);
        }
        assert_eq!(h.log.len(), MAX_LOG_ENTRIES);
    }

    #[test]
    fn flags_merge_over_the_image_field_by_field() {
        let image = rbox_image::config::Healthcheck {
            test: Some(vec!["CMD".into(), "true".into()]),
            interval: Some(5_000_000_000),
            retries: Some(7),
            ..Default::default()
        };
        let flags = HealthFlags {
            timeout: Some("2s".into()),
            ..Default::default()
        };
        let c = resolve(Some(&image), &flags).unwrap().unwrap();
        assert_eq!(c.argv(), ["true"]);
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.retries, 7);
        assert_eq!(c.start_interval, DEFAULT_START_INTERVAL);
        let flags = HealthFlags {
            cmd: Some("test -e /ok".into()),
            interval: Some("1m30s".into()),
            ..Default::default()
        };
        let c = resolve(None, &flags).unwrap().unwrap();
        assert_eq!(c.argv(), ["/bin/sh", "-c", "test -e /ok"]);
        assert_eq!(c.interval, Duration::from_secs(90));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        let none = HealthFlags {
            disable: true,
            ..Default::default()
        };
        assert_eq!(resolve(Some(&image), &none).unwrap(), None);
        assert_eq!(resolve(None, &HealthFlags::default()).unwrap(), None);
    }

    #[test]
    fn bad_health_flags_name_themselves() {
        let tune_only = HealthFlags {
            interval: Some("5s".into()),
            ..Default::default()
        };
        let e = resolve(None, &tune_only).unwrap_err().to_string();
        assert!(
            e.contains("--health-interval") && e.contains("no HEALTHCHECK"),
            "{e}"
        );
        let bad = HealthFlags {
            cmd: Some("true".into()),
            timeout: Some("soon".into()),
            ..Default::default()
        };
        let e = resolve(None, &bad).unwrap_err().to_string();
        assert!(e.contains("--health-timeout"), "{e}");
        let none_image = rbox_image::config::Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        };
        assert_eq!(
            resolve(Some(&none_image), &HealthFlags::default()).unwrap(),
            None
        );
    }
}
