//! The runtime features applications rest on (pause and unpause so far), end to end.

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
