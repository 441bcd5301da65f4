//! The runtime features applications rest on (pause, health checks, …), end to end.

mod harness;

use std::time::Duration;

use harness::{busybox, inspect, TestRoot};

/// The counter a container keeps in /tmp/c, read from its writable layer on the host.
fn counter(t: &TestRoot, name: &str) -> u64 {
    let id = inspect(t, name)["Id"].as_str().unwrap().to_owned();
    let p = t.path().join("containers").join(id).join("upper/tmp/c");
    std::fs::read_to_string(p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

const COUNTING: &str =
    "trap 'exit 7' TERM; i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.05; done";

#[test]
fn a_paused_container_stops_counting_and_goes_on_after_unpause() {
    let t = busybox();
    t.ok(["run", "-d", "--name", "c", "busybox", "sh", "-c", COUNTING]);
    assert!(harness::eventually(10, || counter(&t, "c") > 3));
    assert_eq!(t.ok(["pause", "c"]), "c\n");
    let frozen = counter(&t, "c");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(counter(&t, "c"), frozen, "a paused container kept running");
    let status = t.ok(["ps", "--format", "{{.Status}}"]);
    assert!(status.trim().ends_with("(Paused)"), "{status}");
    let s = &inspect(&t, "c")["State"];
    assert_eq!(
        (
            s["Status"].as_str(),
            s["Paused"].as_bool(),
            s["Running"].as_bool()
        ),
        (Some("paused"), Some(true), Some(true))
    );
    assert_eq!(
        t.ok(["ps", "-q", "--filter", "status=paused"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        t.ok(["ps", "-q", "--filter", "status=running"])
            .lines()
            .count(),
        0
    );
    // exec into a paused container, and pausing it again, are refused by name.
    let (_, err) = t.fails(["exec", "c", "true"]);
    assert!(err.contains("c is paused"), "{err}");
    let (_, err) = t.fails(["pause", "c"]);
    assert!(err.contains("already paused"), "{err}");
    assert_eq!(t.ok(["container", "unpause", "c"]), "c\n");
    assert!(harness::eventually(10, || counter(&t, "c") > frozen + 3));
    assert_eq!(inspect(&t, "c")["State"]["Paused"], false);
    let (_, err) = t.fails(["unpause", "c"]);
    assert!(err.contains("c is not paused"), "{err}");
    t.ok(["rm", "-f", "c"]);
}

#[test]
fn stop_kill_and_rm_of_a_paused_container_work_as_dockers() {
    let t = busybox();
    // stop: the stop signal reaches the process once it thaws (its trap answers).
    t.ok(["run", "-d", "--name", "s", "busybox", "sh", "-c", COUNTING]);
    assert!(harness::eventually(10, || counter(&t, "s") > 0));
    t.ok(["pause", "s"]);
    let started = std::time::Instant::now();
    assert_eq!(t.ok(["stop", "s"]), "s\n");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "stop waited for the kill"
    );
    assert_eq!(inspect(&t, "s")["State"]["ExitCode"], 7);
    assert_eq!(inspect(&t, "s")["State"]["Paused"], false);
    // kill and rm -f.
    t.ok(["run", "-d", "--name", "k", "busybox", "sleep", "300"]);
    t.ok(["pause", "k"]);
    t.ok(["kill", "k"]);
    assert!(harness::eventually(10, || inspect(&t, "k")["State"]
        ["Running"]
        == false));
    assert_eq!(inspect(&t, "k")["State"]["ExitCode"], 137);
    t.ok(["run", "-d", "--name", "r", "busybox", "sleep", "300"]);
    t.ok(["pause", "r"]);
    t.ok(["rm", "-f", "r"]);
    // A stopped container can't be paused; nothing is changed.
    let (_, err) = t.fails(["pause", "s"]);
    assert!(err.contains("s is not running"), "{err}");
    let (_, err) = t.fails(["pause", "nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    t.ok(["rm", "s", "k"]);
}

fn health(t: &TestRoot, name: &str) -> serde_json::Value {
    inspect(t, name)["State"]["Health"].clone()
}

fn status_of(t: &TestRoot, name: &str) -> String {
    health(t, name)["Status"].as_str().unwrap_or("").to_owned()
}

#[test]
fn health_goes_from_starting_to_unhealthy_to_healthy_as_a_file_appears() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "h",
        "--network",
        "none",
        "--health-cmd",
        "echo probing; test -e /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-start-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(status_of(&t, "h"), "starting");
    let ps = t.ok(["ps", "--format", "{{.Status}}"]);
    assert!(ps.contains("(health: starting)"), "{ps}");
    assert!(harness::eventually(10, || status_of(&t, "h") == "unhealthy"));
    let h = health(&t, "h");
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert_eq!(last["Output"], "probing\n", "{h}");
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());
    let ps = t.ok(["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");
    assert_eq!(
        t.ok(["ps", "-q", "--filter", "health=unhealthy"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        t.ok(["ps", "-q", "--filter", "health=healthy"])
            .lines()
            .count(),
        0
    );
    t.ok(["exec", "h", "touch", "/tmp/ok"]);
    assert_eq!(t.ok(["wait", "--condition", "healthy", "h"]), "h\n");
    assert_eq!(status_of(&t, "h"), "healthy");
    assert_eq!(health(&t, "h")["FailingStreak"], 0);
    let ps = t.ok(["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
    assert!(health(&t, "h")["Log"].as_array().unwrap().len() <= 5);
    // A check adds no process beyond the monitor but the probe while it runs.
    t.ok(["rm", "-f", "h"]);
}

#[test]
fn a_probe_that_hangs_is_killed_at_its_timeout_and_counts_as_a_failure() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "hang",
        "--network",
        "none",
        "--health-cmd",
        "sleep 30",
        "--health-interval",
        "5s",
        "--health-start-interval",
        "5s",
        "--health-timeout",
        "400ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(harness::eventually(15, || status_of(&t, "hang") == "unhealthy"));
    let last = health(&t, "hang")["Log"][0].clone();
    assert_eq!(last["ExitCode"], -1, "{last}");
    assert_eq!(last["Output"], "Health check exceeded timeout (400ms)");
    // The check's own process is gone from the container, not left behind.
    let ps = t.ok(["exec", "hang", "ps", "-o", "args"]);
    assert!(!ps.contains("sleep 30"), "{ps}");
    t.ok(["rm", "-f", "hang"]);
}

#[test]
fn the_images_healthcheck_runs_and_no_healthcheck_turns_it_off() {
    let t = busybox();
    let ctx = harness::context(&[(
        "Dockerfile",
        "FROM busybox\nHEALTHCHECK --interval=200ms --start-interval=200ms --retries=1 CMD [\"true\"]\n",
    )]);
    t.build_ok(ctx.path(), "checked:1");
    t.ok([
        "run",
        "-d",
        "--name",
        "img",
        "--network",
        "none",
        "checked:1",
        "sleep",
        "60",
    ]);
    assert!(harness::eventually(10, || status_of(&t, "img") == "healthy"));
    t.ok([
        "run",
        "-d",
        "--name",
        "off",
        "--network",
        "none",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "60",
    ]);
    assert!(inspect(&t, "off")["State"].get("Health").is_none());
    assert_eq!(
        t.ok(["ps", "-q", "--filter", "health=none"])
            .lines()
            .count(),
        1
    );
    // Health options that tune a check where there is none are refused, and nothing is
    // made.
    let (_, err) = t.fails([
        "run",
        "-d",
        "--name",
        "bad",
        "--health-interval",
        "1s",
        "busybox",
        "true",
    ]);
    assert!(
        err.contains("--health-interval") && err.contains("no HEALTHCHECK"),
        "{err}"
    );
    let (_, err) = t.fails([
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "true",
        "--health-timeout",
        "soon",
        "busybox",
        "true",
    ]);
    assert!(err.contains("--health-timeout"), "{err}");
    assert_eq!(t.container_ids().len(), 2, "a refused run left a container");
    // wait --condition healthy on a container without a check says so.
    let (_, err) = t.fails(["wait", "--condition", "healthy", "off"]);
    assert!(err.contains("no health check"), "{err}");
    t.ok(["rm", "-f", "img", "off"]);
}

#[test]
fn a_container_in_anothers_network_has_its_address_and_reaches_its_port_on_localhost() {
    let t = busybox();
    let subnet = harness::free_test_subnet();
    t.ok(["network", "create", "--subnet", &subnet, "shared"]);
    t.ok([
        "run",
        "-d",
        "--name",
        "owner",
        "--network",
        "shared",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo from-owner > /tmp/i; exec httpd -f -p 8080 -h /tmp",
    ]);
    let owner_ip = inspect(&t, "owner")["NetworkSettings"]["Networks"]["shared"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "container:owner",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/i && break; sleep 0.2; done; hostname",
    ]);
    assert!(out.contains(&format!("inet {owner_ip}/24")), "{out}");
    assert!(out.contains("from-owner"), "{out}");
    let owner_host = t.ok(["exec", "owner", "hostname"]);
    assert!(out.ends_with(&owner_host), "{out}");
    // PID and IPC namespaces joined too.
    let ps = t.ok([
        "run",
        "--rm",
        "--pid",
        "container:owner",
        "busybox",
        "ps",
        "-o",
        "args",
    ]);
    assert!(ps.contains("httpd -f -p 8080"), "{ps}");
    let ipc = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend(["busybox", "readlink", "/proc/self/ns/ipc"]);
        t.ok(a)
    };
    let owner_ipc = t.ok(["exec", "owner", "readlink", "/proc/self/ns/ipc"]);
    assert_eq!(ipc(&["--ipc", "container:owner"]), owner_ipc);
    assert_ne!(ipc(&[]), owner_ipc);
    // Published ports belong to the owner; a joined container keeps it from removal.
    let (_, err) = t.fails([
        "run",
        "--rm",
        "--network",
        "container:owner",
        "-p",
        "8081:80",
        "busybox",
        "true",
    ]);
    assert!(err.contains("--publish"), "{err}");
    t.ok([
        "run",
        "-d",
        "--name",
        "joined",
        "--network",
        "container:owner",
        "busybox",
        "sleep",
        "60",
    ]);
    let (_, err) = t.fails(["rm", "-f", "owner"]);
    assert!(err.contains("joined joined its namespaces"), "{err}");
    t.ok(["rm", "-f", "joined"]);
    t.ok(["stop", "-t", "1", "owner"]);
    // Joining a container that isn't running is refused, and nothing is made.
    let before = t.container_ids().len();
    let (_, err) = t.fails([
        "run",
        "--rm",
        "--network",
        "container:owner",
        "busybox",
        "true",
    ]);
    assert!(
        err.contains("owner") && err.contains("not running"),
        "{err}"
    );
    let (_, err) = t.fails([
        "run",
        "--rm",
        "--ipc",
        "container:nosuch",
        "busybox",
        "true",
    ]);
    assert!(err.contains("--ipc") && err.contains("nosuch"), "{err}");
    let (_, err) = t.fails(["run", "--rm", "--uts", "container:owner", "busybox", "true"]);
    assert!(err.contains("--uts"), "{err}");
    assert_eq!(t.container_ids().len(), before);
    t.ok(["rm", "owner"]);
    t.ok(["network", "rm", "shared"]);
}

#[test]
fn update_lowers_memory_at_once_and_the_next_large_allocation_is_oom_killed() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "u",
        "--network",
        "none",
        "--memory",
        "64m",
        "busybox",
        "sleep",
        "60",
    ]);
    let alloc = "x=$(head -c 30000000 /dev/zero | tr '\\0' a); echo survived";
    assert_eq!(t.ok(["exec", "u", "sh", "-c", alloc]), "survived\n");
    assert_eq!(
        t.ok([
            "update",
            "--memory",
            "16m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "--restart",
            "on-failure:2",
            "u"
        ]),
        "u\n"
    );
    let (code, out, _) = t.status(["exec", "u", "sh", "-c", alloc]);
    assert_eq!(
        code, 137,
        "the allocation over the new limit was not killed: {out}"
    );
    let id = inspect(&t, "u")["Id"].as_str().unwrap().to_owned();
    let pids = std::fs::read_to_string(format!("/sys/fs/cgroup/pids/rbox/{id}/pids.max"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/rbox/{id}/pids.max")))
        .unwrap();
    assert_eq!(pids.trim(), "50");
    let h = &inspect(&t, "u")["HostConfig"];
    assert_eq!(h["Memory"], 16 << 20);
    assert_eq!(h["NanoCpus"], 500_000_000);
    assert_eq!(h["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(h["RestartPolicy"]["MaximumRetryCount"], 2);
    // Bad updates name what is wrong and change nothing.
    let (_, err) = t.fails(["update", "u"]);
    assert!(err.contains("nothing to update"), "{err}");
    let (_, err) = t.fails(["update", "--memory", "1m", "u"]);
    assert!(err.contains("--memory") && err.contains("6MB"), "{err}");
    let (_, err) = t.fails(["update", "--memory", "32m", "--memory-swap", "16m", "u"]);
    assert!(err.contains("--memory-swap"), "{err}");
    let (_, err) = t.fails(["update", "--restart", "sometimes", "u"]);
    assert!(err.contains("--restart"), "{err}");
    let (_, err) = t.fails(["update", "--memory", "32m", "nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    assert_eq!(inspect(&t, "u")["HostConfig"]["Memory"], 16 << 20);
    // A stopped container's settings change for its next start.
    t.ok(["stop", "-t", "1", "u"]);
    t.ok(["update", "--memory", "32m", "u"]);
    t.ok(["start", "u"]);
    let limit = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/rbox/{id}/memory.limit_in_bytes"
    ))
    .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup/rbox/{id}/memory.max")))
    .unwrap();
    assert_eq!(limit.trim(), (32u64 << 20).to_string());
    t.ok(["rm", "-f", "u"]);
}

/// The events between two moments, as `events --since --until` prints them with `format`.
fn events_between(t: &TestRoot, since: &str, until: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["events", "--since", since, "--until", until];
    args.extend_from_slice(extra);
    t.ok(args).lines().map(str::to_owned).collect()
}

fn unix_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[test]
fn events_of_run_stop_rm_come_in_order_with_their_fields() {
    let t = busybox();
    let since = unix_now();
    t.ok([
        "run",
        "-d",
        "--name",
        "ev",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
    ]);
    t.ok(["pause", "ev"]);
    t.ok(["unpause", "ev"]);
    t.ok(["rename", "ev", "ev2"]);
    t.ok(["stop", "ev2"]);
    t.ok(["rm", "ev2"]);
    let (code, _, _) = t.status([
        "run",
        "--rm",
        "--name",
        "quick",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(code, 3);
    let until = unix_now();
    let fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}";
    let got = events_between(&t, &since, &until, &["--format", fmt]);
    let want = [
        "container create ev",
        "container start ev",
        "container pause ev",
        "container unpause ev",
        "container rename ev2",
        "container kill ev2",
        "container die ev2",
        "container stop ev2",
        "container destroy ev2",
        "container create quick",
        "container start quick",
        "container die quick",
        "container destroy quick",
    ];
    assert_eq!(got, want);
    // Docker's default line: time, type, action, id, (attributes).
    let lines = events_between(&t, &since, &until, &["--filter", "event=die"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let re_die = &lines[1];
    assert!(re_die.contains(" container die "), "{re_die}");
    assert!(
        re_die.ends_with("(exitCode=3, image=busybox, name=quick)"),
        "{re_die}"
    );
    let json = events_between(
        &t,
        &since,
        &until,
        &["--filter", "container=quick", "--format", "json"],
    );
    let first: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(first["Type"], "container");
    assert_eq!(first["status"], "create");
    assert_eq!(first["from"], "busybox");
    assert!(first["timeNano"].as_i64().unwrap() > 0);
    let renamed = events_between(
        &t,
        &since,
        &until,
        &[
            "--filter",
            "event=rename",
            "--format",
            "{{.Actor.Attributes.oldName}}",
        ],
    );
    assert_eq!(renamed, ["ev"]);
    let (_, err) = t.fails(["events", "--filter", "colour=red", "--until", &until]);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn run_options_people_use_reach_the_container() {
    let t = busybox();
    let run = |opts: &[&str], script: &str| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(opts);
        a.extend(["busybox", "sh", "-c", script]);
        t.ok(a)
    };
    assert_eq!(
        run(
            &[
                "--dns",
                "10.1.2.3",
                "--dns-search",
                "a.test",
                "--dns-option",
                "ndots:3"
            ],
            "grep -v '^#' /etc/resolv.conf"
        ),
        "nameserver 10.1.2.3\nsearch a.test\noptions ndots:3\n"
    );
    assert_eq!(
        run(&["--ulimit", "nofile=512:1024"], "ulimit -n; ulimit -Hn"),
        "512\n1024\n"
    );
    assert_eq!(
        run(
            &[
                "--sysctl",
                "net.ipv4.ip_forward=1",
                "--sysctl",
                "kernel.shmmax=123456789"
            ],
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax"
        ),
        "1\n123456789\n"
    );
    let shm = run(&["--shm-size", "128m"], "df -k /dev/shm | tail -1");
    assert!(shm.split_whitespace().nth(1) == Some("131072"), "{shm}");
    let groups = run(&["--group-add", "10", "--group-add", "daemon"], "id -G");
    let groups: Vec<&str> = groups.split_whitespace().collect();
    assert!(
        groups.contains(&"10") && groups.contains(&"1"),
        "{groups:?}"
    );
    assert_eq!(
        run(
            &["--security-opt", "no-new-privileges"],
            "grep NoNewPrivs /proc/self/status"
        ),
        "NoNewPrivs:\t1\n"
    );
    assert_eq!(
        run(
            &["--security-opt", "seccomp=unconfined"],
            "grep '^Seccomp:' /proc/self/status"
        ),
        "Seccomp:\t0\n"
    );
    assert_eq!(
        run(&[], "grep '^Seccomp:' /proc/self/status"),
        "Seccomp:\t2\n"
    );
    // A profile of docker's format: mkdir refused with EACCES, the rest allowed.
    let profile = t.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = run(&["--security-opt", &opt], "mkdir /tmp/x 2>&1; echo $?");
    assert!(out.contains("Permission denied"), "{out}");
    assert_eq!(
        run(
            &["--device", "/dev/null:/dev/mynull:rw"],
            "echo x > /dev/mynull && ls -l /dev/mynull | cut -c1"
        ),
        "c\n"
    );
    let host_cgroup = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert_eq!(
        run(&["--cgroupns", "host"], "readlink /proc/self/ns/cgroup").trim(),
        host_cgroup.to_str().unwrap()
    );
    assert_eq!(
        run(&["--oom-score-adj", "500"], "cat /proc/self/oom_score_adj"),
        "500\n"
    );
    let labels = t.path().join("labels");
    std::fs::write(&labels, "# a comment\ntier=web\nowner=ops\n").unwrap();
    let cid = t.path().join("cid");
    let id = t
        .ok([
            "create",
            "--label-file",
            labels.to_str().unwrap(),
            "-l",
            "owner=me",
            "--cidfile",
            cid.to_str().unwrap(),
            "busybox",
            "true",
        ])
        .trim()
        .to_owned();
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), id);
    let l = &inspect(&t, &id)["Config"]["Labels"];
    assert_eq!(
        (l["tier"].as_str(), l["owner"].as_str()),
        (Some("web"), Some("me"))
    );
    // Bad values name their flag, and nothing is made.
    let before = t.container_ids().len();
    for (opts, flag) in [
        (vec!["--security-opt", "apparmor=x"], "--security-opt"),
        (vec!["--sysctl", "kernel.panic=1"], "--sysctl"),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "--sysctl",
        ),
        (vec!["--ulimit", "nofile=1:99999999999"], "--ulimit"),
        (vec!["--platform", "linux/s390x"], "--platform"),
        (vec!["--device", "/etc/passwd"], "--device"),
        (vec!["--dns", "not-an-ip"], "--dns"),
        (vec!["--cgroupns", "shared"], "--cgroupns"),
        (vec!["--cidfile", cid.to_str().unwrap()], "--cidfile"),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(opts);
        a.extend(["busybox", "true"]);
        let (_, err) = t.fails(a);
        assert!(err.contains(flag), "{flag}: {err}");
    }
    assert_eq!(t.container_ids().len(), before);
    t.ok(["rm", &id]);
}

#[test]
fn boot_restarts_always_and_unless_stopped_after_a_faked_reboot_but_not_a_user_stopped_one() {
    let t = busybox();
    let long = ["busybox", "sleep", "600"];
    for (name, policy) in [
        ("a", "always"),
        ("u", "unless-stopped"),
        ("s", "unless-stopped"),
        ("n", "no"),
    ] {
        let mut args = vec![
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "--restart",
            policy,
        ];
        args.extend(long);
        t.ok(args);
    }
    t.ok(["stop", "-t", "1", "s"]);
    // The reboot: every monitor (and so every container) killed, the runtime tmpfs emptied.
    for name in ["a", "u", "n"] {
        let pid = inspect(&t, name)["State"]["MonitorPid"].as_i64().unwrap() as i32;
        assert!(pid > 0);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let run = harness::runtime_dir(t.path()).expect("a runtime dir");
    for e in std::fs::read_dir(&run).unwrap() {
        let p = e.unwrap().path();
        for m in harness::mounts_under(&p) {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let started = t.ok(["system", "boot"]);
    let mut started: Vec<&str> = started.lines().collect();
    started.sort();
    assert_eq!(started, ["a", "u"]);
    let running = t.ok(["ps", "--format", "{{.Names}}"]);
    let mut running: Vec<&str> = running.lines().collect();
    running.sort();
    assert_eq!(running, ["a", "u"]);
    assert_eq!(inspect(&t, "n")["State"]["Status"], "exited");
    assert_eq!(inspect(&t, "s")["State"]["Status"], "exited");
    // A second boot starts nothing more.
    assert_eq!(t.ok(["system", "boot"]), "");
    let ids: Vec<String> = ["a", "u", "s", "n"]
        .iter()
        .map(|n| inspect(&t, n)["Id"].as_str().unwrap().to_owned())
        .collect();
    t.ok(["rm", "-f", "a", "u", "s", "n"]);
    // Their cgroups go with them, the killed one's too, whose state the reboot took.
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in info.lines().filter(|l| l.contains(" - cgroup")) {
        let mount = line.split(' ').nth(4).unwrap();
        for id in &ids {
            let dir = std::path::Path::new(mount).join("rbox").join(id);
            assert!(!dir.exists(), "{} is left", dir.display());
        }
    }
}

/// Reads `master` until `want` has arrived (or 10 s pass); what was read.
fn read_until(master: &mut std::fs::File, want: &str) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut got = String::new();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !got.contains(want) && std::time::Instant::now() < until {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(100u16));
        if fds[0].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got
}

#[test]
fn attach_relays_a_terminal_and_detaches_with_ctrl_p_ctrl_q_leaving_it_running() {
    use std::io::Write;
    let t = busybox();
    t.ok([
        "run",
        "-dit",
        "--name",
        "tty",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo \"got $l\"; done",
    ]);
    let p = nix::pty::openpty(None, None).unwrap();
    let mut master = std::fs::File::from(p.master);
    let slave = std::fs::File::from(p.slave);
    let mut child = t
        .cmd(["attach", "tty"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"hello\r").unwrap();
    let got = read_until(&mut master, "got hello");
    assert!(got.contains("got hello"), "{got:?}");
    master.write_all(&[0x10, 0x11]).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(inspect(&t, "tty")["State"]["Running"], true);
    // Another client later: the container's output still comes.
    let out = t.ok(["logs", "tty"]);
    assert!(out.contains("got hello"), "{out}");
    t.ok(["rm", "-f", "tty"]);
}

#[test]
fn attach_without_a_terminal_relays_input_and_ends_with_the_containers_exit_code() {
    use std::io::Write;
    let t = busybox();
    t.ok([
        "run",
        "-di",
        "--name",
        "pipe",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "read l; echo \"read $l\"; echo oops >&2; exit 7",
    ]);
    let mut child = t
        .cmd(["attach", "pipe"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(b"line\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "read line\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "oops\n");
    // Attaching to what doesn't run says so.
    let (_, err) = t.fails(["attach", "pipe"]);
    assert!(err.contains("stopped container"), "{err}");
    t.ok(["rm", "pipe"]);
}

#[test]
fn image_volume_and_network_events_are_recorded_too() {
    let t = busybox();
    let since = unix_now();
    t.ok(["tag", "busybox", "other:1"]);
    t.ok(["rmi", "other:1"]);
    t.ok(["volume", "create", "evdata"]);
    t.ok(["volume", "rm", "evdata"]);
    let subnet = harness::free_test_subnet();
    t.ok(["network", "create", "--subnet", &subnet, "evnet"]);
    t.ok(["network", "rm", "evnet"]);
    let until = unix_now();
    let got = events_between(&t, &since, &until, &["--format", "{{.Type}} {{.Action}}"]);
    let want = [
        "image tag",
        "image untag",
        "volume create",
        "volume destroy",
        "network create",
        "network destroy",
    ];
    assert_eq!(got, want);
    let names = events_between(
        &t,
        &since,
        &until,
        &[
            "--filter",
            "type=network",
            "--filter",
            "type=image",
            "--format",
            "{{.Actor.Attributes.name}}",
        ],
    );
    assert_eq!(names, ["other:1", "other:1", "evnet", "evnet"]);
    let vols = events_between(
        &t,
        &since,
        &until,
        &["--filter", "type=volume", "--format", "{{.Actor.ID}}"],
    );
    assert_eq!(vols, ["evdata", "evdata"]);
}

/// A pseudo-terminal's master, and the slave as a command's stdio.
fn terminal_for(cmd: &mut std::process::Command) -> std::fs::File {
    let p = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(p.slave);
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    std::fs::File::from(p.master)
}

/// Waits up to 10 s for `child` to end.
fn ended(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn run_it_detaches_with_its_keys_and_can_be_attached_again() {
    use std::io::Write;
    let t = busybox();
    let mut cmd = t.cmd([
        "run",
        "-it",
        "--name",
        "fg",
        "--network",
        "none",
        "--detach-keys",
        "ctrl-x,x",
        "busybox",
        "sh",
        "-c",
        "while read l; do echo \"got $l\"; done",
    ]);
    let mut master = terminal_for(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"one\r").unwrap();
    let got = read_until(&mut master, "got one");
    assert!(got.contains("got one"), "{got:?}");
    master.write_all(&[0x18, b'x']).unwrap();
    let status = ended(&mut child).expect("run -it did not detach");
    assert!(status.success(), "{status:?}");
    assert_eq!(inspect(&t, "fg")["State"]["Running"], true);
    // Detached, it takes `attach` as a container started with -d does.
    let mut cmd = t.cmd(["attach", "fg"]);
    let mut master = terminal_for(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"two\r").unwrap();
    let got = read_until(&mut master, "got two");
    assert!(got.contains("got two"), "{got:?}");
    master.write_all(&[0x10, 0x11]).unwrap();
    assert!(ended(&mut child).expect("attach did not detach").success());
    let logs = t.ok(["logs", "fg"]);
    assert!(
        logs.contains("got one") && logs.contains("got two"),
        "{logs}"
    );
    let (code, err) = t.fails(["run", "--detach-keys", "alt-q", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--detach-keys"), "{err}");
    t.ok(["rm", "-f", "fg"]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
}

#[test]
fn run_attaches_only_the_streams_asked_for() {
    let t = busybox();
    let run = |stream: &str| {
        t.cmd([
            "run",
            "--rm",
            "-a",
            stream,
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
    };
    let o = run("stdout");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let o = run("STDERR");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    let (code, err) = t.fails(["run", "-a", "stdall", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--attach") && err.contains("stdall"), "{err}");
    let (code, err) = t.fails(["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("--attach") && err.contains("--detach"),
        "{err}"
    );
    assert_eq!(t.ok(["ps", "-aq"]), "");
}

#[test]
fn a_run_that_ends_without_its_container_lets_go_of_its_output() {
    use std::io::{BufRead, Read};
    let t = busybox();
    let script = "trap 'echo termed' TERM; echo up; while :; do sleep 0.1; done";
    use nix::sys::signal::Signal;
    for (name, how) in [("np", Signal::SIGTERM), ("killed", Signal::SIGKILL)] {
        let mut child = t
            .cmd([
                "run",
                "--sig-proxy=false",
                "--name",
                name,
                "--network",
                "none",
                "busybox",
                "sh",
                "-c",
                script,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "up\n");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), how).unwrap();
        let status = ended(&mut child).expect("run did not end");
        if how == Signal::SIGTERM {
            // Not passed on: this process ends, as docker's does.
            assert_eq!(status.code(), Some(143), "{status:?}");
        }
        // The monitor lets go of the caller's output: its end reads end of file.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            let _ = tx.send(rest);
        });
        let rest = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the monitor kept the caller's output");
        assert!(!rest.contains("termed"), "{rest}");
        assert_eq!(inspect(&t, name)["State"]["Running"], true);
        assert!(!t.ok(["logs", name]).contains("termed"));
    }
    t.ok(["rm", "-f", "np", "killed"]);
}
