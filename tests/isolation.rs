//! Docker's security defaults and resource limits, checked from inside containers:
//! capabilities, seccomp, masked and read-only paths, namespaces, leaked fds, memory,
//! pids and CPU limits, and what --privileged lifts.

mod harness;

use harness::{busybox, inspect, TestRoot};

fn cap_eff(t: &TestRoot, flags: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["busybox", "grep", "CapEff", "/proc/self/status"]);
    t.ok(&args).split_whitespace().nth(1).unwrap().to_owned()
}

#[test]
fn capabilities_are_dockers_defaults_and_the_flags_change_them() {
    let t = busybox();
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
    // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
    assert_eq!(cap_eff(&t, &[]), "00000000a80425fb");
    assert_eq!(cap_eff(&t, &["--cap-add", "NET_ADMIN"]), "00000000a80435fb");
    assert_eq!(cap_eff(&t, &["--cap-drop", "CHOWN"]), "00000000a80425fa");
    assert_eq!(cap_eff(&t, &["--cap-drop", "ALL"]), "0000000000000000");
    // --privileged: every capability rbox holds (this host withholds CAP_SYS_RESOURCE).
    let host_bnd = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_owned()))
        .unwrap();
    assert_eq!(cap_eff(&t, &["--privileged"]), host_bnd);
    let bnd = t.ok([
        "run",
        "--rm",
        "busybox",
        "grep",
        "CapBnd",
        "/proc/self/status",
    ]);
    assert!(bnd.contains("00000000a80425fb"), "{bnd}");
}

#[test]
fn seccomp_denies_with_eperm_and_privileged_lifts_it() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(out.contains('2'), "{out}");
    // A user namespace needs no capability, but unshare(2) is not in the allowlist.
    let (code, _, err) = t.status(["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("Operation not permitted"), "{err}");
    let out = t.ok([
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "unshare -U true && echo ok",
    ]);
    assert_eq!(out, "ok\n");
    // With --privileged: no filter, and mount works.
    let out = t.ok([
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mount -t tmpfs none /tmp && echo mounted",
    ]);
    assert!(
        out.contains("Seccomp:\t0") && out.contains("mounted"),
        "{out}"
    );
    let (code, _, err) = t.status([
        "run", "--rm", "busybox", "mount", "-t", "tmpfs", "none", "/tmp",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("denied") || err.contains("not permitted"),
        "{err}"
    );
}

#[test]
fn masked_and_read_only_paths_are_unreadable_and_unwritable() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do \
           n=$(head -c 100 $p 2>/dev/null | wc -c); [ $n -gt 0 ] && echo readable $p; done; \
           ls /sys/firmware | wc -l; \
           echo 1 > /proc/sysrq-trigger 2>/dev/null && echo wrote-sysrq; \
           echo x > /proc/sys/kernel/domainname 2>/dev/null && echo wrote-sys; \
           touch /sys/x 2>/dev/null && echo wrote-sysfs; true",
    ]);
    assert_eq!(out, "0\n", "{out}");
    let out = t.ok([
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "head -c 100 /proc/timer_list | wc -c",
    ]);
    assert_eq!(out, "100\n", "--privileged unmasks /proc/timer_list");
}

#[test]
fn host_processes_and_network_are_invisible() {
    let t = busybox();
    let out = t.ok(["run", "--rm", "busybox", "ps", "-o", "pid,comm"]);
    let pids: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(pids, vec!["1"], "{out}");
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "ls /sys/class/net",
    ]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), vec!["lo"]);
    // --network host sees the host's interfaces.
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]);
    for ifname in &host {
        assert!(
            out.contains(&format!("{ifname}:")),
            "{ifname} missing: {out}"
        );
    }
    let c = t.ok(["create", "--network", "host", "busybox", "true"]);
    assert_eq!(inspect(&t, c.trim())["HostConfig"]["NetworkMode"], "host");
    t.ok(["rm", c.trim()]);
}

#[test]
fn no_file_descriptor_or_directory_of_rbox_leaks_in() {
    let t = busybox();
    // Only stdio (and ls's own directory fd) are open; the cwd is the container's root.
    let out = t.ok(["run", "--rm", "busybox", "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; readlink /proc/self/cwd; readlink /proc/1/root"]);
    let mut lines = out.lines();
    let fds: Vec<u32> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert!(fds.iter().all(|f| *f <= 3), "{out}");
    assert_eq!(lines.next(), Some("/"));
    assert_eq!(lines.next(), Some("/"));
    let exe = t.ok(["run", "--rm", "busybox", "readlink", "/proc/1/exe"]);
    assert_eq!(exe, "/bin/readlink\n");
}

#[test]
fn the_rootfs_can_be_read_only() {
    let t = busybox();
    let (code, _, err) = t.status(["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    // /tmp-like mounts of its own stay writable.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--read-only",
            "busybox",
            "sh",
            "-c",
            "touch /dev/shm/x && echo ok"
        ]),
        "ok\n"
    );
}

#[test]
fn a_container_over_its_memory_limit_is_oom_killed() {
    let t = busybox();
    // tail buffers a line that never ends: its memory grows until the limit.
    let (code, _, _) = t.status([
        "run",
        "--name",
        "hog",
        "--memory",
        "32m",
        "busybox",
        "tail",
        "/dev/zero",
    ]);
    assert_eq!(code, 137);
    let c = inspect(&t, "hog");
    assert_eq!(c["State"]["OOMKilled"], true);
    assert_eq!(c["State"]["ExitCode"], 137);
    assert_eq!(c["HostConfig"]["Memory"], 32 << 20);
    t.ok(["rm", "hog"]);
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    let t = busybox();
    let bomb = "for i in $(seq 20); do sleep 10 & done; echo survived";
    let (code, out, err) = t.status([
        "run",
        "--rm",
        "--pids-limit",
        "8",
        "busybox",
        "sh",
        "-c",
        bomb,
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("can't fork"), "{err}");
    assert!(!out.contains("survived"), "{out}");
    // Without the limit the same script completes.
    let out = t.ok(["run", "--rm", "busybox", "sh", "-c", bomb]);
    assert_eq!(out, "survived\n");
}

#[test]
fn cpus_throttle_the_container() {
    let t = busybox();
    let id = t.ok([
        "run",
        "-d",
        "--cpus",
        "0.2",
        "busybox",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let id = id.trim();
    let cg = ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"]
        .iter()
        .map(|d| format!("{d}/rbox/{id}"))
        .find(|p| std::path::Path::new(p).is_dir());
    std::thread::sleep(std::time::Duration::from_millis(1500));
    match cg {
        Some(dir) => {
            let quota = std::fs::read_to_string(format!("{dir}/cpu.cfs_quota_us")).unwrap();
            assert_eq!(quota.trim(), "20000");
            let stat = std::fs::read_to_string(format!("{dir}/cpu.stat")).unwrap();
            let throttled: u64 = stat
                .lines()
                .find_map(|l| l.strip_prefix("nr_throttled "))
                .unwrap()
                .parse()
                .unwrap();
            assert!(throttled > 0, "{stat}");
        }
        None => {
            let max = std::fs::read_to_string(format!("/sys/fs/cgroup/rbox/{id}/cpu.max")).unwrap();
            assert!(max.starts_with("20000 "), "{max}");
        }
    }
    t.ok(["rm", "-f", id]);
}

#[test]
fn init_reaps_and_forwards_signals() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert!(out.starts_with("/sbin/docker-init -- sh"), "{out}");
    // Under an init, SIGTERM reaches sh as an ordinary process and ends it at once.
    t.ok([
        "run", "-d", "--init", "--name", "inited", "busybox", "sleep", "300",
    ]);
    // Once the init has started its child (a signal sent before it runs would be one no PID 1
    // handles yet):
    assert!(harness::eventually(5, || t
        .ok(["exec", "inited", "ps", "-o", "comm"])
        .lines()
        .any(|l| l.trim() == "sleep")));
    let start = std::time::Instant::now();
    t.ok(["stop", "inited"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(inspect(&t, "inited")["State"]["ExitCode"], 143);
    t.ok(["rm", "inited"]);
}
