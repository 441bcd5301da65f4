//! `rbox top`: the processes of a running container, found through its cgroup and shown
//! as the host's `ps -ef` shows them (or, given `ps` options, by the host's `ps` with
//! those options, keeping the container's rows, as docker does).

use std::collections::HashMap;
use std::fs;

use chrono::{DateTime, Datelike, Local};

use crate::error::{Error, Result};
use crate::host::cgroup::Cgroup;
use crate::model::container::Status;
use crate::store::containers::Containers;
use crate::store::process;

/// Rows of processes under column titles.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    /// Column titles (`UID`, `PID`, ...).
    pub titles: Vec<String>,
    /// One row per process, as many cells as titles.
    pub processes: Vec<Vec<String>>,
}

/// The processes of container `id`, `ps -ef` style, or with `ps_args` from the host's `ps`.
pub fn top(containers: &Containers, id: &str, ps_args: &[String]) -> Result<ProcessTable> {
    let c = crate::ops::lifecycle::reconcile(containers, id)?;
    if c.state.status != Status::Running {
        return Err(Error::Conflict(format!(
            "container {} is not running",
            c.config.name
        )));
    }
    let mut pids = pids(id);
    if pids.is_empty() && process::alive(c.state.pid, c.state.pid_start) {
        pids.push(c.state.pid);
    }
    if ps_args.is_empty() {
        Ok(ps_ef(&pids))
    } else {
        host_ps(&pids, ps_args)
    }
}

/// The host pids of the processes in container `id`'s cgroup.
pub fn pids(id: &str) -> Vec<i32> {
    Cgroup::of(id).map(|cg| cg.procs()).unwrap_or_default()
}

/// What `/proc/PID/stat` and friends say about one process.
struct ProcInfo {
    ppid: i32,
    tty_nr: u64,
    cpu_ticks: u64,
    start_ticks: u64,
    euid: u32,
    command: String,
}

fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    // From field 3 (state) on; the command name before may hold spaces.
    let f: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(ProcInfo {
        ppid: f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0),
        tty_nr: num(4),
        cpu_ticks: num(11) + num(12),
        start_ticks: num(19),
        euid,
        // As ps: a process without arguments (a kernel thread, a zombie) shows [comm].
        command: if args.is_empty() {
            format!("[{comm}]")
        } else {
            args.join(" ")
        },
    })
}

/// `ps -ef`'s columns, read from /proc: UID PID PPID C STIME TTY TIME CMD.
fn ps_ef(pids: &[i32]) -> ProcessTable {
    let hz = clock_ticks();
    let boot = boot_time();
    let uptime = uptime();
    let users = host_users();
    let now = Local::now();
    let mut t = ProcessTable {
        titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
            .map(String::from)
            .to_vec(),
        processes: Vec::new(),
    };
    for &pid in pids {
        // Gone since the cgroup was read.
        let Some(p) = proc_info(pid) else { continue };
        let started = p.start_ticks as f64 / hz;
        let life = uptime - started;
        let cpu_secs = p.cpu_ticks as f64 / hz;
        let c = if life >= 1.0 {
            ((cpu_secs * 100.0 / life) as u64).min(99)
        } else {
            0
        };
        let user = users
            .get(&p.euid)
            .map(|n| user_column(n))
            .unwrap_or_else(|| p.euid.to_string());
        let stime = DateTime::from_timestamp(boot + started as i64, 0)
            .map(|t| stime(&t.with_timezone(&Local), &now))
            .unwrap_or_else(|| "?".into());
        t.processes.push(vec![
            user,
            pid.to_string(),
            p.ppid.to_string(),
            c.to_string(),
            stime,
            tty_name(p.tty_nr),
            cpu_time(p.cpu_ticks / hz as u64),
            p.command,
        ]);
    }
    t
}

/// Runs the host's `ps` with `args` and keeps the rows of `pids`.
fn host_ps(pids: &[i32], args: &[String]) -> Result<ProcessTable> {
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .map_err(|e| Error::Runtime(format!("running ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::Runtime(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ps(&String::from_utf8_lossy(&out.stdout), pids)
}

/// Keeps the rows of `pids` in `ps` output, whose PID column it finds by its title.
fn parse_ps(out: &str, pids: &[i32]) -> Result<ProcessTable> {
    let mut lines = out.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Runtime("couldn't find PID field in ps output".into()))?;
    let mut t = ProcessTable {
        titles,
        processes: Vec::new(),
    };
    let n = t.titles.len();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < n {
            continue;
        }
        let Ok(pid) = f[col].parse::<i32>() else {
            continue;
        };
        if pids.contains(&pid) {
            // The last column (the command) may hold spaces.
            let mut row: Vec<String> = f[..n - 1].iter().map(|s| s.to_string()).collect();
            row.push(f[n - 1..].join(" "));
            t.processes.push(row);
        }
    }
    Ok(t)
}

/// As procps prints a user: its name, cut to 7 characters and `+` beyond 8.
fn user_column(name: &str) -> String {
    if name.chars().count() > 8 {
        format!("{}+", name.chars().take(7).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// `HH:MM` today, `MonDD` this year, else the year (as procps's STIME).
fn stime(t: &DateTime<Local>, now: &DateTime<Local>) -> String {
    if t.year() != now.year() {
        t.format("%Y").to_string()
    } else if t.ordinal() != now.ordinal() {
        t.format("%b%d").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

/// CPU time as `[DD-]HH:MM:SS`.
fn cpu_time(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// The terminal of a `tty_nr` (pts/N, ttyN, ttySN), `?` for none.
fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        _ => "?".into(),
    }
}

/// Clock ticks per second, the unit of /proc/PID/stat's times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let hz = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// When the host booted, in seconds since the epoch.
fn boot_time() -> i64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Seconds since boot.
fn uptime() -> f64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// The host's user names by uid (as the host's ps shows them).
fn host_users() -> HashMap<u32, String> {
    fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_kept_by_pid_with_the_command_whole() {
        let out = "  PID TTY          TIME CMD\n    1 ?        00:00:02 init --x y\n   42 pts/0    00:00:00 sleep 60\n";
        let t = parse_ps(out, &[42]).unwrap();
        assert_eq!(t.titles, ["PID", "TTY", "TIME", "CMD"]);
        assert_eq!(t.processes, [["42", "pts/0", "00:00:00", "sleep 60"]]);
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn columns_read_like_procps() {
        assert_eq!(cpu_time(3 * 3600 + 62), "03:01:02");
        assert_eq!(cpu_time(2 * 86400 + 5), "2-00:00:05");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        assert_eq!(user_column("systemd-network"), "systemd+");
        assert_eq!(user_column("root"), "root");
    }

    #[test]
    fn our_own_process_is_described() {
        let me = std::process::id() as i32;
        let t = ps_ef(&[me]);
        assert_eq!(t.processes.len(), 1);
        assert_eq!(t.processes[0][1], me.to_string());
        assert_eq!(t.processes[0].len(), t.titles.len());
    }
}
