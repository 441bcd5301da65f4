//! Reading a container's cgroup: its processes and its counters, on cgroup v1 (one
//! hierarchy per controller, as on this project's hybrid hosts) or v2.
//!
//! The container's cgroup is `/rbox/<id>` in every hierarchy (the spec's `cgroupsPath`).

use std::fs;
use std::path::{Path, PathBuf};

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup of one container.
#[derive(Debug, Clone)]
pub enum Cgroup {
    /// cgroup v1: the container's directory in each controller's hierarchy.
    V1 {
        /// The container's id.
        id: String,
    },
    /// cgroup v2: one directory.
    V2 {
        /// The directory.
        dir: PathBuf,
    },
}

impl Cgroup {
    /// The cgroup of container `id`, if it has one (it exists while the container runs).
    pub fn of(id: &str) -> Option<Cgroup> {
        let root = Path::new(CGROUP_ROOT);
        let rel = Path::new("rbox").join(id);
        // Pure v2: the hierarchy is mounted at the top.
        if root.join("cgroup.controllers").exists() {
            let dir = root.join(&rel);
            return dir.is_dir().then_some(Cgroup::V2 { dir });
        }
        let v1 = Cgroup::V1 { id: id.to_owned() };
        if v1.controller_dir("pids").is_some() || v1.controller_dir("memory").is_some() {
            return Some(v1);
        }
        // Hybrid hosts where the container went to the v2 hierarchy only.
        let dir = root.join("unified").join(&rel);
        dir.is_dir().then_some(Cgroup::V2 { dir })
    }

    /// The container's directory in the v1 hierarchy holding `controller` (which may be
    /// mounted alone, `memory`, or with others, `cpu,cpuacct`).
    fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        let Cgroup::V1 { id } = self else {
            return None;
        };
        let mounts = fs::read_dir(CGROUP_ROOT).ok()?;
        mounts
            .flatten()
            .filter(|m| {
                m.file_name()
                    .to_str()
                    .is_some_and(|n| n.split(',').any(|c| c == controller))
            })
            .map(|m| m.path().join("rbox").join(id))
            .find(|d| d.is_dir())
    }

    /// Reads the file `v1` of the v1 `controller`, or `v2` on v2.
    fn read(&self, controller: &str, v1: &str, v2: &str) -> Option<String> {
        let path = match self {
            Cgroup::V1 { .. } => self.controller_dir(controller)?.join(v1),
            Cgroup::V2 { dir } => dir.join(v2),
        };
        fs::read_to_string(path).ok()
    }

    /// The processes in the cgroup (and its children), as host pids, in ascending order.
    pub fn procs(&self) -> Vec<i32> {
        let dir = match self {
            Cgroup::V1 { .. } => ["pids", "memory", "cpuacct", "freezer", "devices", "cpu"]
                .iter()
                .find_map(|c| self.controller_dir(c)),
            Cgroup::V2 { dir } => Some(dir.clone()),
        };
        let mut pids = Vec::new();
        if let Some(d) = dir {
            collect_procs(&d, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// CPU time used by the cgroup's processes, in nanoseconds.
    pub fn cpu_usage_ns(&self) -> Option<u64> {
        match self {
            Cgroup::V1 { .. } => self
                .read("cpuacct", "cpuacct.usage", "")?
                .trim()
                .parse()
                .ok(),
            Cgroup::V2 { .. } => {
                key_value(&self.read("", "", "cpu.stat")?, "usage_usec").map(|us| us * 1000)
            }
        }
    }

    /// Memory in use less the inactive page cache (docker's figure), and the limit
    /// (`None` when unlimited).
    pub fn memory(&self) -> (u64, Option<u64>) {
        let (usage, stat, limit, inactive_key) = match self {
            Cgroup::V1 { .. } => (
                self.read("memory", "memory.usage_in_bytes", ""),
                self.read("memory", "memory.stat", ""),
                self.read("memory", "memory.limit_in_bytes", ""),
                "total_inactive_file",
            ),
            Cgroup::V2 { .. } => (
                self.read("", "", "memory.current"),
                self.read("", "", "memory.stat"),
                self.read("", "", "memory.max"),
                "inactive_file",
            ),
        };
        let usage: u64 = usage.and_then(|u| u.trim().parse().ok()).unwrap_or(0);
        let inactive = stat.and_then(|s| key_value(&s, inactive_key)).unwrap_or(0);
        let usage = if inactive < usage {
            usage - inactive
        } else {
            usage
        };
        // v2 says "max"; v1 says a number near 2^63 rounded to pages.
        let limit = limit
            .and_then(|l| l.trim().parse::<u64>().ok())
            .filter(|l| *l < (1 << 62));
        (usage, limit)
    }

    /// The number of processes (and threads) in the cgroup.
    pub fn pids_current(&self) -> Option<u64> {
        self.read("pids", "pids.current", "pids.current")?
            .trim()
            .parse()
            .ok()
    }

    /// Bytes read from and written to block devices.
    pub fn block_io(&self) -> (u64, u64) {
        match self {
            Cgroup::V1 { .. } => {
                // The throttle counters see every device; the scheduler ones (cfq, bfq)
                // only devices that scheduler runs.
                for f in [
                    "blkio.throttle.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes",
                    "blkio.io_service_bytes_recursive",
                    "blkio.bfq.io_service_bytes_recursive",
                ] {
                    if let Some(s) = self.read("blkio", f, "") {
                        return blkio_v1(&s);
                    }
                }
                (0, 0)
            }
            Cgroup::V2 { .. } => self
                .read("", "", "io.stat")
                .map(|s| io_stat_v2(&s))
                .unwrap_or((0, 0)),
        }
    }
}

/// Adds the pids of `dir`'s `cgroup.procs` and of its child cgroups'.
fn collect_procs(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_procs(&e.path(), out);
            }
        }
    }
}

/// The value of `key` in a `key value` per line file (memory.stat, cpu.stat).
fn key_value(s: &str, key: &str) -> Option<u64> {
    s.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sums `MAJ:MIN Read N` and `MAJ:MIN Write N` lines.
fn blkio_v1(s: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in s.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, n] = f[..] {
            let n: u64 = n.parse().unwrap_or(0);
            match op.to_ascii_lowercase().as_str() {
                "read" => r += n,
                "write" => w += n,
                _ => {}
            }
        }
    }
    (r, w)
}

/// Sums `rbytes=` and `wbytes=` over the devices of io.stat.
fn io_stat_v2(s: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for field in s.split_whitespace() {
        if let Some(n) = field.strip_prefix("rbytes=") {
            r += n.parse().unwrap_or(0);
        } else if let Some(n) = field.strip_prefix("wbytes=") {
            w += n.parse().unwrap_or(0);
        }
    }
    (r, w)
}

/// Takes the kernel's cgroup migration lock once, on a thread of its own, so that the
/// container's first process, moved into its cgroup a few milliseconds later, finds it
/// warm. The first migration after a quiet spell waits for an RCU grace period (4–11 ms
/// measured here); migrations soon after it don't. Moving this process into the cgroup it
/// is already in changes nothing else. Only for processes that are allowed threads: never
/// the monitor, nor `exec` (libcontainer clones them).
pub fn prime_migration() {
    static PRIMED: std::sync::Once = std::sync::Once::new();
    PRIMED.call_once(|| {
        std::thread::spawn(prime);
    });
}

fn prime() {
    {
        let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
            return;
        };
        let pid = std::process::id().to_string();
        for line in own.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let mount = match controllers.split(',').next() {
                Some("") => "/sys/fs/cgroup".to_owned(),
                Some(c) => format!("/sys/fs/cgroup/{}", c.trim_start_matches("name=")),
                None => continue,
            };
            let procs = format!("{mount}{path}/cgroup.procs");
            if std::fs::write(procs, &pid).is_ok() {
                return;
            }
        }
    }
}

/// The cgroup hierarchies of the mount table `mountinfo`: each one's mount point, file
/// system type (`cgroup` or `cgroup2`) and super options.
fn cgroup_mounts(mountinfo: &str) -> impl Iterator<Item = (PathBuf, &str, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split(' ');
        let (Some(fstype @ ("cgroup" | "cgroup2")), Some(_), Some(opts)) =
            (r.next(), r.next(), r.next())
        else {
            return None;
        };
        Some((PathBuf::from(left.split(' ').nth(4)?), fstype, opts))
    })
}

/// The mount points of the cgroup v1 hierarchies that bear no controller, only a name
/// (`name=systemd`), from the mount table `mountinfo`.
fn named_hierarchies(mountinfo: &str) -> Vec<PathBuf> {
    cgroup_mounts(mountinfo)
        .filter(|(_, fstype, opts)| {
            let mut named = false;
            let mut controller = false;
            for o in opts.split(',') {
                match o {
                    "rw" | "ro" | "xattr" | "noprefix" | "clone_children" | "none" => {}
                    o if o.starts_with("name=") => named = true,
                    o if o.starts_with("release_agent=") || o.starts_with("cpuset_v2") => {}
                    _ => controller = true,
                }
            }
            *fstype == "cgroup" && named && !controller
        })
        .map(|(point, ..)| point)
        .collect()
}

/// Puts this process (the container's monitor, before it makes the container) into
/// `/rbox/<id>` of each named v1 hierarchy. libcontainer places a container in the
/// controllers' hierarchies only; in a named one it would stay where its monitor is, often
/// the hierarchy's root, which its cgroup namespace would then show it, `release_agent`
/// (a program run as host root) included. In its own cgroup there, it sees only that.
pub fn enter_named(id: &str) -> std::io::Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    for mount in named_hierarchies(&info) {
        let dir = mount.join("rbox").join(id);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("cgroup.procs"), std::process::id().to_string())?;
    }
    Ok(())
}

/// Removes container `id`'s cgroup (`/rbox/<id>`) in every hierarchy, v1 and v2, where it
/// is empty; one with a process in it stays.
pub fn remove_empty(id: &str) {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for (mount, ..) in cgroup_mounts(&info) {
        let _ = fs::remove_dir(mount.join("rbox").join(id));
    }
}

/// Removes container `id`'s cgroups in the named v1 hierarchies (see `enter_named`),
/// moving this process out first if it is in one; a cgroup still in use stays.
pub fn remove_named(id: &str) {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let inside = format!("/rbox/{id}");
    for mount in named_hierarchies(&info) {
        let dir = mount.join("rbox").join(id);
        if !dir.is_dir() {
            continue;
        }
        let name = mount.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if own
            .lines()
            .any(|l| l.ends_with(&format!(":name={name}:{inside}")))
        {
            let _ = fs::write(mount.join("cgroup.procs"), std::process::id().to_string());
        }
        let _ = fs::remove_dir(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse() {
        assert_eq!(
            blkio_v1("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\n8:16 Read 4\nTotal 4612\n"),
            (4100, 512)
        );
        assert_eq!(
            io_stat_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"),
            (11, 22)
        );
        assert_eq!(
            key_value("cache 5\ntotal_inactive_file 42\n", "total_inactive_file"),
            Some(42)
        );
        assert_eq!(key_value("usage_usec 7\n", "user_usec"), None);
    }

    #[test]
    fn named_hierarchies_are_told_from_controllers() {
        let info =
            "41 30 0:37 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n\
            42 30 0:38 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
            43 30 0:39 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n\
            44 30 0:40 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        assert_eq!(
            named_hierarchies(info),
            vec![PathBuf::from("/sys/fs/cgroup/systemd")]
        );
        assert_eq!(
            cgroup_mounts(info).map(|m| m.0).collect::<Vec<_>>(),
            ["systemd", "memory", "unified", "cpu,cpuacct"]
                .map(|h| PathBuf::from("/sys/fs/cgroup").join(h))
        );
    }
}
