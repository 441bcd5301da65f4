//! The options a container is made from (`rbox run`, `rbox create`), and Docker's
//! parsers for sizes and signals.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The options of `rbox run` and `rbox create`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The image, as the user named it.
    pub image: String,
    /// The command and its arguments (replacing the image's CMD).
    pub command: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--entrypoint` (empty string: none).
    pub entrypoint: Option<String>,
    /// `-e KEY=value` or `-e KEY` (taken from this environment).
    pub env: Vec<String>,
    /// `--env-file`.
    pub env_files: Vec<PathBuf>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--network`: `bridge` (the default), `none`, `host` or a network's name.
    pub network: Option<String>,
    /// `--network-alias`.
    pub network_aliases: Vec<String>,
    /// `--pod`: the pod whose namespaces it joins.
    pub pod: Option<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `-p`.
    pub publish: Vec<String>,
    /// `-P`.
    pub publish_all: bool,
    /// `--expose`: ports (or ranges, `7000-7002/udp`) exposed beside the image's.
    pub expose: Vec<String>,
    /// `--memory`, e.g. `64m`.
    pub memory: Option<String>,
    /// `--memory-swap`: memory and swap together (`-1`: unlimited swap).
    pub memory_swap: Option<String>,
    /// `--memory-reservation`: the soft limit (`memory.low`, v1's `memory.soft_limit_in_bytes`).
    pub memory_reservation: Option<String>,
    /// `--cpuset-cpus`: the CPUs it may run on (`0-2,4`).
    pub cpuset_cpus: Option<String>,
    /// `--cpus`, e.g. `0.5`.
    pub cpus: Option<String>,
    /// `--cpu-shares`: relative CPU weight (1024 is the default share).
    pub cpu_shares: Option<u64>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: Option<String>,
    /// `--rm`.
    pub rm: bool,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `--label K=V`.
    pub labels: Vec<String>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<String>,
    /// `-v SRC:DST[:ro]` or `-v DST`.
    pub volumes: Vec<String>,
    /// `--mount type=…,src=…,dst=…`.
    pub mounts: Vec<String>,
    /// `--tmpfs DST[:opts]`.
    pub tmpfs: Vec<String>,
    /// `--volumes-from CONTAINER[:ro]`.
    pub volumes_from: Vec<String>,
    /// `--log-driver` (json-file only).
    pub log_driver: Option<String>,
    /// `--log-opt KEY=VALUE`.
    pub log_opts: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `--sysctl KEY=VALUE`.
    pub sysctls: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMS]`.
    pub devices: Vec<String>,
    /// `--shm-size`.
    pub shm_size: Option<String>,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// `--security-opt`.
    pub security_opts: Vec<String>,
    /// `--cgroupns host|private`.
    pub cgroupns: Option<String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--platform`: checked against the image's.
    pub platform: Option<String>,
    /// `--label-file`.
    pub label_files: Vec<PathBuf>,
    /// `--ipc`.
    pub ipc: Option<String>,
    /// `--pid`.
    pub pid: Option<String>,
    /// `--uts`.
    pub uts: Option<String>,
    /// `--health-*`, `--no-healthcheck`.
    pub health: crate::model::health::HealthFlags,
}

/// `30s`, `1m30s`, `500ms` as nanoseconds (Go's syntax: [`crate::model::duration`]).
pub fn duration_ns(s: &str) -> Option<u64> {
    crate::model::duration::parse_duration(s)
        .ok()
        .map(|d| d.as_nanos() as u64)
}

/// `--memory`: a size of at least 6 MB, as Docker requires.
pub fn parse_memory(s: &str) -> Result<i64> {
    let m = parse_bytes(s, "--memory")?;
    if m < 6 * 1024 * 1024 {
        return Err(Error::InvalidOption {
            flag: "--memory".into(),
            reason: "minimum memory limit allowed is 6MB".into(),
        });
    }
    Ok(m)
}

/// `--memory-swap`: memory and swap together, at least `--memory` (`memory`), which it
/// needs; `-1` for unlimited swap.
pub fn parse_memory_swap(s: &str, memory: Option<i64>) -> Result<i64> {
    let Some(memory) = memory else {
        return Err(Error::InvalidOption {
            flag: "--memory-swap".into(),
            reason: "you should always set the memory limit when using the memory-swap limit"
                .into(),
        });
    };
    if s == "-1" {
        return Ok(-1);
    }
    let total = parse_bytes(s, "--memory-swap")?;
    if total < memory {
        return Err(Error::InvalidOption {
            flag: "--memory-swap".into(),
            reason: "minimum memory-swap limit should be larger than the memory limit".into(),
        });
    }
    Ok(total)
}

/// `--cpus`: a number of CPUs from 0.01 to this host's, as nanocpus.
pub fn parse_cpus(c: &str) -> Result<i64> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    c.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.01 && *v <= cores as f64)
        .map(|v| (v * 1e9) as i64)
        .ok_or_else(|| Error::InvalidOption {
            flag: "--cpus".into(),
            reason: format!("{c:?}: range of CPUs is from 0.01 to {cores}"),
        })
}

/// `--pids-limit`: positive, or -1 for none.
pub fn check_pids_limit(p: i64) -> Result<()> {
    if p == 0 || p < -1 {
        return Err(Error::InvalidOption {
            flag: "--pids-limit".into(),
            reason: format!("{p}: a positive number, or -1 for no limit"),
        });
    }
    Ok(())
}

/// Parses a size as Docker does: a number with an optional `b`, `k`, `m`, `g`, `t` unit.
pub fn parse_bytes(s: &str, flag: &str) -> Result<i64> {
    let bad = || Error::InvalidOption {
        flag: flag.into(),
        reason: format!("invalid size: {s:?}"),
    };
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower
        .strip_suffix('b')
        .filter(|r| !r.is_empty() && !r.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(&lower);
    let (num, mult): (&str, i64) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        Some('b') => (&lower[..lower.len() - 1], 1),
        _ => (lower, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    // NaN and negative sizes are both refused.
    if n.is_nan() || n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as i64)
}

/// Parses a signal name or number (`SIGTERM`, `term`, `15`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| Error::InvalidOption {
            flag: "signal".into(),
            reason: format!("invalid signal: {s}"),
        })
}

/// A CPU list as the kernel's cpuset takes it (`0-2,4`), checked against this host's CPUs.
pub fn parse_cpuset(s: &str) -> Result<String> {
    let bad = |why: String| Error::InvalidOption {
        flag: "--cpuset-cpus".into(),
        reason: why,
    };
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => return Err(bad(format!("invalid value {s:?} for cpuset cpus"))),
        };
        if b >= n {
            return Err(bad(format!(
                "requested CPUs are not available - requested {a}-{b}, available: 0-{}",
                n - 1
            )));
        }
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_ns("500ms"), Some(500_000_000));
        assert_eq!(duration_ns("5"), None);
    }
}
