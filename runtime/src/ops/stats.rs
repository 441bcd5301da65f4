//! `rbox stats`: a container's resource usage from its cgroup counters, with CPU usage
//! as the change between two samples.

use std::time::Instant;

use crate::host::cgroup::Cgroup;
use crate::store::containers::Container;
use crate::store::process;

/// A container's counters at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// Whether the container was running (else every counter is 0).
    pub running: bool,
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, without inactive page cache.
    pub memory: u64,
    /// The memory limit: the cgroup's, or the host's memory when that is smaller.
    pub memory_limit: u64,
    /// Bytes received and sent on its network interfaces (loopback aside).
    pub net: (u64, u64),
    /// Bytes read from and written to block devices.
    pub block: (u64, u64),
    /// Processes and threads.
    pub pids: u64,
}

/// A container's usage as `docker stats` shows it.
#[derive(Debug, Clone)]
pub struct Usage {
    /// CPU use over the sampling interval, in percent of one CPU (may exceed 100).
    pub cpu_percent: f64,
    /// Memory in use.
    pub memory: u64,
    /// The memory limit.
    pub memory_limit: u64,
    /// `memory` in percent of `memory_limit`.
    pub memory_percent: f64,
    /// Bytes received and sent.
    pub net: (u64, u64),
    /// Bytes read and written.
    pub block: (u64, u64),
    /// Processes and threads.
    pub pids: u64,
}

impl Sample {
    /// Samples container `c`; a container that isn't running has every counter at 0.
    pub fn take(c: &Container) -> Sample {
        let at = Instant::now();
        let zero = Sample {
            at,
            running: false,
            cpu_ns: 0,
            memory: 0,
            memory_limit: 0,
            net: (0, 0),
            block: (0, 0),
            pids: 0,
        };
        if !c.state.is_running() {
            return zero;
        }
        let Some(cg) = Cgroup::of(c.id()) else {
            return zero;
        };
        let (memory, limit) = cg.memory();
        let host = host_memory();
        let memory_limit = match (limit, host) {
            (Some(l), Some(h)) => l.min(h),
            (Some(l), None) => l,
            (None, Some(h)) => h,
            (None, None) => 0,
        };
        // With the host's network there are no interfaces of its own to count (as docker).
        let net = if c.config.host.network_mode == "host"
            || !process::alive(c.state.pid, c.state.pid_start)
        {
            (0, 0)
        } else {
            net_dev(c.state.pid)
        };
        Sample {
            at,
            running: true,
            cpu_ns: cg.cpu_usage_ns().unwrap_or(0),
            memory,
            memory_limit,
            net,
            block: cg.block_io(),
            pids: cg.pids_current().unwrap_or(cg.procs().len() as u64),
        }
    }

    /// The usage between `earlier` and this sample.
    pub fn usage_since(&self, earlier: &Sample) -> Usage {
        let wall = self.at.saturating_duration_since(earlier.at).as_nanos() as f64;
        let cpu = self.cpu_ns.saturating_sub(earlier.cpu_ns) as f64;
        let cpu_percent = if wall > 0.0 && earlier.running && self.running {
            cpu / wall * 100.0
        } else {
            0.0
        };
        let memory_percent = if self.memory_limit > 0 {
            self.memory as f64 / self.memory_limit as f64 * 100.0
        } else {
            0.0
        };
        Usage {
            cpu_percent,
            memory: self.memory,
            memory_limit: self.memory_limit,
            memory_percent,
            net: self.net,
            block: self.block,
            pids: self.pids,
        }
    }
}

/// The host's memory (MemTotal), in bytes.
fn host_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Bytes received and sent on the interfaces of `pid`'s network namespace, loopback
/// aside.
fn net_dev(pid: i32) -> (u64, u64) {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|s| parse_net_dev(&s))
        .unwrap_or((0, 0))
}

fn parse_net_dev(s: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in s.lines().skip(2) {
        let Some((iface, counters)) = l.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = counters
            .split_whitespace()
            .map(|n| n.parse().unwrap_or(0))
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_counts_all_but_loopback() {
        let s = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                 lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
                 eth0:    1500      10    0    0    0     0          0         0      648       5    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(s), (1500, 648));
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time() {
        let t0 = Instant::now();
        let s = |at: Instant, cpu_ns: u64| Sample {
            at,
            running: true,
            cpu_ns,
            memory: 50,
            memory_limit: 200,
            net: (0, 0),
            block: (0, 0),
            pids: 1,
        };
        let a = s(t0, 1_000);
        let b = s(t0 + std::time::Duration::from_millis(100), 50_001_000);
        let u = b.usage_since(&a);
        assert!((u.cpu_percent - 50.0).abs() < 1e-6, "{}", u.cpu_percent);
        assert!((u.memory_percent - 25.0).abs() < 1e-6);
    }
}
