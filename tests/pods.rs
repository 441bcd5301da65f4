//! Pods end to end: containers sharing one network namespace (one address, localhost),
//! IPC and UTS, held by no process of their own.

mod harness;

use harness::{busybox, eventually, TestRoot};

/// Removes every pod of the root at the end, whatever the test did; then checks that no
/// pinned namespace of them is left.
struct Pods<'a> {
    t: &'a TestRoot,
}

impl Drop for Pods<'_> {
    fn drop(&mut self) {
        let ids: Vec<String> = self
            .t
            .run(["pod", "ls", "-q", "--no-trunc"])
            .stdout
            .lines()
            .map(str::to_owned)
            .collect();
        for id in &ids {
            let _ = self.t.run(["pod", "rm", "-f", id]);
        }
        if std::thread::panicking() {
            return;
        }
        for id in &ids {
            assert!(
                pinned(id).is_empty(),
                "pinned namespaces left: {:?}",
                pinned(id)
            );
        }
    }
}

/// The mounts of pod `id`'s pinned namespaces.
fn pinned(id: &str) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let short = &id[..16];
    mounts
        .lines()
        .filter(|l| l.contains(&format!("rbox-{short}")) || l.contains(&format!("/pods/{id}/")))
        .map(str::to_owned)
        .collect()
}

fn pod_id(t: &TestRoot, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["pod", "inspect", name])).unwrap();
    v[0]["Id"].as_str().unwrap().to_owned()
}

#[test]
fn two_containers_of_a_pod_talk_over_localhost_and_share_ipc_and_uts() {
    let t = busybox();
    let _g = Pods { t: &t };
    t.ok(["pod", "create", "--name", "web", "--hostname", "webhost"]);
    let id = pod_id(&t, "web");
    t.ok([
        "run",
        "-d",
        "--pod",
        "web",
        "--name",
        "server",
        "busybox",
        "sh",
        "-c",
        "echo hello-from-server > /tmp/index.html; exec httpd -f -p 8080 -h /tmp",
    ]);
    assert!(!pinned(&id).is_empty(), "the pod's namespaces are pinned");
    let out = t.run([
        "run", "--rm", "--pod", "web", "busybox", "sh", "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://localhost:8080/ && break; sleep 0.2; done; hostname",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("hello-from-server"), "{}", out.stdout);
    assert!(out.stdout.contains("webhost"), "UTS shared: {}", out.stdout);
    // One address for the pod: both see the same interfaces.
    let addr = |name: &str| t.ok(["exec", name, "ip", "-4", "-o", "addr", "show", "eth0"]);
    t.ok([
        "run", "-d", "--pod", "web", "--name", "second", "busybox", "sleep", "60",
    ]);
    let a = addr("server");
    assert!(a.contains("inet "), "{a}");
    assert_eq!(a, addr("second"));
    // IPC: the same namespace.
    let ipc = |name: &str| t.ok(["exec", name, "readlink", "/proc/self/ns/ipc"]);
    assert_eq!(ipc("server"), ipc("second"));
    let v: serde_json::Value = serde_json::from_str(&t.ok(["pod", "inspect", "web"])).unwrap();
    assert_eq!(v[0]["State"], "Running", "{v}");
    assert_eq!(v[0]["NumContainers"], 2);
    let ps = t.ok(["ps", "--pod"]);
    assert!(ps.contains("PODNAME") && ps.contains(&id[..12]), "{ps}");
    assert_eq!(
        ps.lines()
            .filter(|l| l.trim_end().ends_with(" web"))
            .count(),
        2,
        "{ps}"
    );
    // No process holds the pod: only the containers' monitors and their processes.
    let ls = t.ok(["pod", "ls"]);
    assert!(ls.contains("web") && ls.contains("Running"), "{ls}");
    t.ok(["pod", "stop", "-t", "1", "web"]);
    assert!(pinned(&id).is_empty(), "a stopped pod holds nothing");
    let ls = t.ok(["pod", "ls"]);
    assert!(ls.contains("Exited"), "{ls}");
    t.ok(["pod", "start", "web"]);
    assert!(eventually(10, || t
        .run([
            "exec",
            "second",
            "wget",
            "-q",
            "-O",
            "-",
            "http://localhost:8080/"
        ])
        .stdout
        .contains("hello-from-server")));
    let (code, err) = t.fails(["pod", "rm", "web"]);
    assert_ne!(code, 0);
    assert!(err.contains("running"), "{err}");
    t.ok(["pod", "rm", "-f", "web"]);
    assert!(pinned(&id).is_empty());
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
    assert_eq!(t.ok(["pod", "ls", "-q"]), "");
}

#[test]
fn a_pod_publishes_ports_and_its_members_take_no_network_flags() {
    let t = busybox();
    let _g = Pods { t: &t };
    let net = "podnet";
    t.ok([
        "network",
        "create",
        "--subnet",
        &harness::free_test_subnet(),
        net,
    ]);
    t.ok([
        "pod",
        "create",
        "--name",
        "p",
        "--network",
        net,
        "--add-host",
        "db.test:10.1.2.3",
        "--label",
        "tier=web",
    ]);
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    t.ok([
        "pod",
        "create",
        "--name",
        "pub",
        "--network",
        net,
        "-p",
        &format!("{port}:8080"),
    ]);
    t.ok([
        "run",
        "-d",
        "--pod",
        "pub",
        "--name",
        "srv",
        "busybox",
        "sh",
        "-c",
        "echo via-the-pod > /tmp/index.html; exec httpd -f -p 8080 -h /tmp",
    ]);
    let get = || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .ok()?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    assert!(eventually(10, || get().is_some_and(|b| b.contains("via-the-pod"))));
    let v: serde_json::Value = serde_json::from_str(&t.ok(["pod", "inspect", "pub"])).unwrap();
    assert_eq!(v[0]["Ports"][0]["HostPort"], port, "{v}");
    t.ok(["pod", "rm", "-f", "pub"]);
    assert!(get().is_none(), "the port goes with the pod");
    let (code, err) = t.fails(["run", "--pod", "p", "-p", "8081:80", "busybox", "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("--publish") && err.contains("--pod"), "{err}");
    let hosts = t.ok(["run", "--rm", "--pod", "p", "busybox", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.1.2.3\tdb.test"), "{hosts}");
    let v: serde_json::Value = serde_json::from_str(&t.ok(["pod", "inspect", "p"])).unwrap();
    let ip = v[0]["IPAddress"].as_str().unwrap().to_owned();
    assert!(hosts.contains(&format!("{ip}\tp")), "{hosts}");
    assert_eq!(v[0]["Labels"]["tier"], "web");
    // A share of net only: each container its own UTS namespace.
    t.ok([
        "pod",
        "create",
        "--name",
        "q",
        "--share",
        "net",
        "--network",
        "none",
    ]);
    let (code, err) = t.fails(["pod", "create", "--name", "r", "--share", "pid"]);
    assert_ne!(code, 0);
    assert!(err.contains("--share"), "{err}");
    t.ok(["pod", "rm", "p", "q"]);
    t.ok(["network", "rm", net]);
}

#[test]
fn pod_verbs_act_on_every_member() {
    let t = busybox();
    let _g = Pods { t: &t };
    t.ok(["pod", "create", "--name", "w"]);
    for n in ["a", "b"] {
        t.ok([
            "run",
            "-d",
            "--pod",
            "w",
            "--name",
            n,
            "busybox",
            "sh",
            "-c",
            &format!("echo log-of-{n}; exec sleep 60"),
        ]);
    }
    assert!(eventually(5, || {
        let l = t.ok(["pod", "logs", "w"]);
        l.contains("a log-of-a") && l.contains("b log-of-b")
    }));
    assert_eq!(t.ok(["pod", "logs", "-c", "b", "w"]), "log-of-b\n");
    let top = t.ok(["pod", "top", "w"]);
    assert!(
        top.lines().filter(|l| l.contains("sleep 60")).count() == 2,
        "{top}"
    );
    let stats = t.ok(["pod", "stats", "w"]);
    assert!(stats.contains("a") && stats.lines().count() == 3, "{stats}");
    t.ok(["pod", "pause", "w"]);
    assert!(t.ok(["pod", "ls"]).contains("Paused"));
    t.ok(["pod", "unpause", "w"]);
    t.ok(["pod", "restart", "-t", "1", "w"]);
    assert!(t.ok(["pod", "ls"]).contains("Running"));
    t.ok(["pod", "kill", "w"]);
    assert!(eventually(5, || t.ok(["pod", "ls"]).contains("Exited")));
    t.ok(["pod", "rm", "w"]);
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
}

/// `RestartCount` and status of container `name`.
fn restarts_and_status(t: &TestRoot, name: &str) -> (u64, String) {
    let c = harness::inspect(t, name);
    (
        c["RestartCount"].as_u64().unwrap(),
        c["State"]["Status"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_member_whose_check_fails_is_killed_or_stopped_as_health_on_failure_says() {
    let t = busybox();
    let _g = Pods { t: &t };
    t.ok(["pod", "create", "--name", "h"]);
    let check = [
        "--health-cmd",
        "test ! -e /tmp/sick",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
    ];
    // Sick 1 s after each start: killed, and made again by its restart policy.
    let mut run = vec![
        "run",
        "-d",
        "--pod",
        "h",
        "--name",
        "k",
        "--restart",
        "always",
    ];
    run.extend(check);
    run.extend(["--health-on-failure", "kill", "busybox", "sh", "-c"]);
    run.push("rm -f /tmp/sick; sleep 1; touch /tmp/sick; exec sleep 60");
    t.ok(run);
    // Stopped: its restart policy no longer applies.
    let mut run = vec![
        "run",
        "-d",
        "--pod",
        "h",
        "--name",
        "s",
        "--restart",
        "always",
    ];
    run.extend(["--stop-timeout", "1"]);
    run.extend(check);
    run.extend(["--health-on-failure", "stop", "busybox", "sh", "-c"]);
    run.push("touch /tmp/sick; exec sleep 60");
    t.ok(run);
    // The default does nothing but say it.
    let mut run = vec!["run", "-d", "--pod", "h", "--name", "n"];
    run.extend(check);
    run.extend(["busybox", "sh", "-c", "touch /tmp/sick; exec sleep 60"]);
    t.ok(run);
    assert!(
        eventually(20, || restarts_and_status(&t, "k").0 >= 2),
        "{:?}",
        restarts_and_status(&t, "k")
    );
    assert!(
        eventually(10, || restarts_and_status(&t, "s").1 == "exited"),
        "{:?}",
        restarts_and_status(&t, "s")
    );
    assert_eq!(restarts_and_status(&t, "s").0, 0);
    let n = harness::inspect(&t, "n");
    assert_eq!(
        n["State"]["Health"]["Status"], "unhealthy",
        "{}",
        n["State"]
    );
    assert_eq!(restarts_and_status(&t, "n"), (0, "running".into()));
    // Bad values are refused by name, nothing made.
    let (code, err) = t.fails([
        "run",
        "-d",
        "--pod",
        "h",
        "--name",
        "x",
        "--health-cmd",
        "true",
        "--health-on-failure",
        "reboot",
        "busybox",
        "true",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--health-on-failure"), "{err}");
    let (_, err) = t.fails([
        "run",
        "-d",
        "--health-on-failure",
        "kill",
        "busybox",
        "true",
    ]);
    assert!(err.contains("--health-on-failure"), "{err}");
    assert!(!t.ok(["ps", "-a", "--format", "{{.Names}}"]).contains('x'));
    t.ok(["pod", "rm", "-f", "h"]);
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
}

#[test]
fn a_pod_on_the_host_network_has_its_members_in_the_hosts_network_namespace() {
    let t = busybox();
    let _g = Pods { t: &t };
    let (code, err) = t.fails([
        "pod",
        "create",
        "--network",
        "host",
        "-p",
        "8080",
        "--name",
        "x",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("--publish"), "{err}");
    t.ok(["pod", "create", "--network", "host", "--name", "h"]);
    for n in ["a", "b"] {
        t.ok([
            "run", "-d", "--pod", "h", "--name", n, "busybox", "sleep", "60",
        ]);
    }
    let host = std::fs::read_link("/proc/self/ns/net")
        .unwrap()
        .display()
        .to_string();
    for n in ["a", "b"] {
        let ns = t.ok(["exec", n, "readlink", "/proc/self/ns/net"]);
        assert_eq!(ns.trim(), host, "{n}");
    }
    // IPC is still the pod's own, shared by both.
    let ipc: Vec<String> = ["a", "b"]
        .iter()
        .map(|n| t.ok(["exec", n, "readlink", "/proc/self/ns/ipc"]))
        .collect();
    assert_eq!(ipc[0], ipc[1]);
    assert_ne!(
        ipc[0].trim(),
        std::fs::read_link("/proc/self/ns/ipc")
            .unwrap()
            .display()
            .to_string()
    );
    t.ok(["pod", "rm", "-f", "h"]);
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
}
