//! A container's life: create/start, exec, changes that survive stop/start, restart
//! policies, kill, wait, rename, ps filters, truthful state after its monitor dies, and
//! many containers leaving nothing behind.

mod harness;

use std::time::Duration;

use harness::{busybox, cgroups_of, eventually, inspect, mounts_under, processes_under, TestRoot};

/// The runtime directory rbox uses for this root (on a tmpfs).
fn runtime_dir(t: &TestRoot) -> std::path::PathBuf {
    harness::runtime_dir(t.path()).expect("a runtime directory")
}

fn state(t: &TestRoot, name: &str) -> serde_json::Value {
    inspect(t, name)["State"].clone()
}

#[test]
fn create_then_start_and_start_attached() {
    let t = busybox();
    let id = t.ok([
        "create",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "echo ran; exit 4",
    ]);
    assert_eq!(state(&t, "later")["Status"], "created");
    assert!(t.ok(["ps", "-a"]).contains("Created"));
    let (code, out, _) = t.status(["start", "-a", "later"]);
    assert_eq!((code, out.as_str()), (4, "ran\n"));
    assert_eq!(state(&t, "later")["ExitCode"], 4);
    assert_eq!(t.ok(["start", id.trim()]), format!("{}\n", id.trim()));
    assert_eq!(t.ok(["wait", "later"]), "4\n");
    assert_eq!(t.ok(["logs", "later"]), "ran\nran\n");
    t.ok(["rm", "later"]);
}

#[test]
fn exec_runs_in_the_running_container() {
    let t = busybox();
    t.ok([
        "run", "-d", "--name", "host1", "-e", "BASE=1", "busybox", "sleep", "300",
    ]);
    let out = t.ok([
        "exec",
        "-e",
        "EXTRA=2",
        "-w",
        "/tmp",
        "host1",
        "sh",
        "-c",
        "echo $BASE $EXTRA $(pwd); ps -o pid,comm",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1 2 /tmp"));
    let ps: Vec<&str> = lines.collect();
    assert!(ps.iter().any(|l| l.trim() == "1 sleep"), "{ps:?}");
    assert_eq!(t.status(["exec", "host1", "sh", "-c", "exit 9"]).0, 9);
    assert_eq!(
        t.ok(["exec", "-u", "nobody", "host1", "id", "-u"]),
        "65534\n"
    );
    let (code, _, err) = t.status(["exec", "host1", "nosuch"]);
    assert_eq!(code, 127, "{err}");
    // A detached exec leaves its process running in the container.
    t.ok(["exec", "-d", "host1", "sleep", "77"]);
    assert!(eventually(5, || t
        .ok(["exec", "host1", "ps"])
        .contains("sleep 77")));
    t.ok(["stop", "-t", "0", "host1"]);
    let (code, _, err) = t.status(["exec", "host1", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not running"), "{err}");
    t.ok(["rm", "host1"]);
}

#[test]
fn changes_survive_stop_and_start_and_vanish_with_rm() {
    let t = busybox();
    t.ok([
        "run",
        "--name",
        "keeper",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data.txt; rm /bin/vi",
    ]);
    let (code, out, _) = t.status(["start", "-a", "keeper"]);
    assert_eq!(
        code, 1,
        "the second run sees the first run's changes: {out}"
    );
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /data.txt 2>&1; ls /bin/vi",
    ]);
    assert!(
        out.contains("No such file") && out.contains("/bin/vi"),
        "{out}"
    );
    // The image itself was not changed: the file lives in the container's upper layer.
    let id = inspect(&t, "keeper")["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(t.path().join("containers").join(&id).join("upper/data.txt"))
            .unwrap(),
        "kept\n"
    );
    t.ok(["rm", "keeper"]);
    assert!(!t.path().join("containers").join(&id).exists());
}

#[test]
fn on_failure_restarts_up_to_its_limit() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo try; exit 3",
    ]);
    assert!(
        eventually(20, || {
            let s = inspect(&t, "flaky");
            s["State"]["Status"] == "exited" && s["RestartCount"] == 2
        }),
        "{}",
        inspect(&t, "flaky")
    );
    assert_eq!(state(&t, "flaky")["ExitCode"], 3);
    assert_eq!(t.ok(["logs", "flaky"]), "try\ntry\ntry\n");
    t.ok(["rm", "flaky"]);
}

#[test]
fn always_restarts_until_stopped_and_no_never_does() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2",
    ]);
    assert!(eventually(20, || inspect(&t, "phoenix")["RestartCount"]
        .as_u64()
        .unwrap_or(0)
        >= 2));
    t.ok(["stop", "-t", "1", "phoenix"]);
    let count = inspect(&t, "phoenix")["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(800));
    let after = inspect(&t, "phoenix");
    assert_eq!(after["RestartCount"], count, "restarted after stop");
    assert_eq!(after["State"]["Running"], false);
    t.ok(["rm", "phoenix"]);

    t.ok([
        "run",
        "-d",
        "--name",
        "once",
        "--restart",
        "no",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ]);
    assert!(eventually(10, || state(&t, "once")["Status"] == "exited"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inspect(&t, "once")["RestartCount"], 0);
    t.ok(["rm", "once"]);

    t.ok([
        "run",
        "-d",
        "--name",
        "unless",
        "--restart",
        "unless-stopped",
        "busybox",
        "sh",
        "-c",
        "sleep 0.2; exit 0",
    ]);
    assert!(eventually(20, || inspect(&t, "unless")["RestartCount"]
        .as_u64()
        .unwrap_or(0)
        >= 1));
    t.ok(["rm", "-f", "unless"]);
}

#[test]
fn kill_signals_and_wait_reports() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "target",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    // The trap must be set before the signal is sent (PID 1 ignores what it doesn't handle).
    assert!(eventually(10, || t
        .ok(["logs", "target"])
        .contains("ready")));
    t.ok(["kill", "-s", "USR1", "target"]);
    assert_eq!(t.ok(["wait", "target"]), "42\n");
    let (code, _, err) = t.status(["kill", "target"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not running"), "{err}");
    t.ok(["start", "target"]);
    t.ok(["kill", "target"]);
    assert_eq!(state(&t, "target")["ExitCode"], 137);
    t.ok(["rm", "target"]);
}

#[test]
fn rename_ps_filters_and_formats() {
    let t = busybox();
    t.ok([
        "run", "-d", "--name", "alpha", "--label", "tier=web", "busybox", "sleep", "300",
    ]);
    t.ok(["run", "--name", "beta", "busybox", "true"]);
    t.ok(["rename", "alpha", "gamma"]);
    assert_eq!(t.ok(["ps", "--format", "{{.Names}}"]), "gamma\n");
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}"
        ]),
        "beta\n"
    );
    assert_eq!(
        t.ok([
            "ps",
            "-a",
            "--filter",
            "label=tier=web",
            "--format",
            "{{.Names}}"
        ]),
        "gamma\n"
    );
    assert_eq!(t.ok(["ps", "-a", "-q"]).lines().count(), 2);
    let table = t.ok(["ps", "--format", "table {{.Names}}\\t{{.Image}}"]);
    // Aligned as docker's tabwriter: the widest cell plus three spaces, ten at least.
    assert_eq!(table, "NAMES     IMAGE\ngamma     busybox\n");
    let (code, _, err) = t.status(["rename", "gamma", "beta"]);
    assert_eq!(code, 1);
    assert!(err.contains("already in use"), "{err}");
    // The old name is free again.
    t.ok(["create", "--name", "alpha", "busybox", "true"]);
    let c = inspect(&t, "gamma");
    assert_eq!(c["Name"], "/gamma");
    assert_eq!(c["Config"]["Labels"]["tier"], "web");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 1);
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    t.ok(["rm", "-f", "gamma", "beta", "alpha"]);
}

#[test]
fn a_killed_monitor_never_leaves_a_ghost_running() {
    let t = busybox();
    t.ok(["run", "-d", "--name", "orphan", "busybox", "sleep", "300"]);
    let id = inspect(&t, "orphan")["Id"].as_str().unwrap().to_owned();
    let st = state(&t, "orphan");
    let monitor = st["MonitorPid"].as_i64().unwrap() as i32;
    let pid = st["Pid"].as_i64().unwrap() as i32;
    assert!(monitor > 0 && pid > 0, "{st}");
    // The monitor runs from a copy of rbox that can't be written (CVE-2019-5736): not
    // "text file busy" (a binary that is merely running), but a read-only mount or a
    // sealed memfd.
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{monitor}/exe"))
        .unwrap_err();
    assert!(
        matches!(
            err.raw_os_error(),
            Some(nix::libc::EROFS) | Some(nix::libc::EPERM)
        ),
        "{err}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The container's process dies with its monitor.
    assert!(eventually(5, || !std::path::Path::new(&format!(
        "/proc/{pid}"
    ))
    .exists()
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.contains(") Z"))));
    let ps = t.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("orphan Exited (137)"), "{ps}");
    assert_eq!(state(&t, "orphan")["Running"], false);
    // What the run left (mount, cgroup) is cleaned up.
    assert!(mounts_under(t.path()).is_empty());
    assert!(cgroups_of(&id).is_empty(), "{:?}", cgroups_of(&id));
    // And it starts again.
    t.ok(["start", "orphan"]);
    assert_eq!(state(&t, "orphan")["Running"], true);
    t.ok(["rm", "-f", "orphan"]);
}

#[test]
fn twenty_containers_leave_nothing_behind() {
    let t = busybox();
    let mut ids = Vec::new();
    for i in 0..20 {
        let id = t.ok([
            "run",
            "-d",
            "--name",
            &format!("c{i}"),
            "busybox",
            "sleep",
            "300",
        ]);
        ids.push(id.trim().to_owned());
    }
    assert_eq!(t.ok(["ps", "-q"]).lines().count(), 20);
    for i in 0..20 {
        t.ok(["rm", "-f", &format!("c{i}")]);
    }
    assert!(t.container_ids().is_empty());
    assert!(
        mounts_under(t.path()).is_empty(),
        "{:?}",
        mounts_under(t.path())
    );
    assert!(processes_under(t.path()).is_empty());
    for id in &ids {
        assert!(cgroups_of(id).is_empty(), "{:?}", cgroups_of(id));
    }
    // Nothing is left of their runs on the tmpfs either (but the compiled seccomp filter,
    // one per profile, kept for the next start).
    let runtime = runtime_dir(&t);
    let left: Vec<_> = std::fs::read_dir(&runtime)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "libcontainer" && n != "seccomp")
        .collect();
    let filters: Vec<_> = std::fs::read_dir(runtime.join("seccomp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        filters.len(),
        1,
        "twenty alike containers, one filter: {filters:?}"
    );
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        std::fs::read_dir(runtime.join("libcontainer"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_detached_auto_removed_container_removes_itself() {
    let t = busybox();
    let id = t.ok([
        "run",
        "-d",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 6",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert!(t.ok(["ps", "-q"]).contains(&id[..12]));
    assert!(
        eventually(10, || t.container_ids().is_empty()),
        "--rm left {:?}",
        t.container_ids()
    );
    // What the run left (cgroups, mounts) is cleaned up right after, by the monitor's child.
    assert!(eventually(5, || cgroups_of(id.trim()).is_empty()));
}
