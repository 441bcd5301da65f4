//! `rbox run` as a Docker user runs it: exit codes, the image's and the flags' process
//! settings, a real terminal, --rm, and bad input.

mod harness;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{busybox, eventually, image_with_config, inspect};
use serde_json::json;

#[test]
fn exit_codes_are_dockers() {
    let t = busybox();
    assert_eq!(t.status(["run", "--rm", "busybox", "true"]).0, 0);
    assert_eq!(
        t.status(["run", "--rm", "busybox", "sh", "-c", "exit 3"]).0,
        3
    );
    let (code, _, err) = t.status(["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(code, 127, "{err}");
    assert!(
        err.contains("nosuchcommand") && err.contains("not found"),
        "{err}"
    );
    let (code, _, err) = t.status(["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code, 126, "{err}");
    assert!(err.contains("/etc/passwd"), "{err}");
    let (code, _, err) = t.status(["run", "--rm", "--pull", "never", "nosuchimage:1"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("no such image: nosuchimage:1"), "{err}");
    // Missing, it is pulled; from a registry that isn't there (a closed loopback port) that
    // fails with the registry named.
    let (code, _, err) = t.status(["run", "--rm", "localhost:1/nosuch:1"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("Unable to find image 'localhost:1/nosuch:1' locally"),
        "{err}"
    );
    assert!(err.contains("localhost:1"), "{err}");
    assert!(
        t.container_ids().is_empty(),
        "--rm left {:?}",
        t.container_ids()
    );
}

#[test]
fn output_and_input_are_relayed() {
    let t = busybox();
    let (code, out, err) = t.status([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "out\n", "err\n"));
    let mut child = t
        .cmd(["run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");
    // Without -i, standard input is empty.
    let mut child = t
        .cmd(["run", "--rm", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"ignored\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn env_workdir_user_and_hostname_follow_the_flags() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    let envfile = dir.path().join("env");
    std::fs::write(&envfile, "# comment\nFROM_FILE=yes\nFOO=file\n").unwrap();
    let out = t.ok([
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "--env-file",
        envfile.to_str().unwrap(),
        "-w",
        "/work/dir",
        "-u",
        "www-data",
        "--hostname",
        "box1",
        "busybox",
        "sh",
        "-c",
        "echo $FOO $FROM_FILE $(pwd) $(id -u):$(id -g) $HOME $(hostname) $HOSTNAME",
    ]);
    assert_eq!(out, "bar yes /work/dir 33:33 /var/www box1 box1\n");
    let out = t.ok(["run", "--rm", "-u", "1234:5678", "busybox", "id"]);
    // As runc: supplementary groups come from /etc/group membership only.
    assert_eq!(out, "uid=1234 gid=5678\n");
    let (code, _, err) = t.status(["run", "--rm", "-u", "nobody-here", "busybox", "true"]);
    assert_eq!(code, 125, "docker: 125 for an unknown user");
    assert!(err.contains("unable to find user nobody-here"), "{err}");
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo $PATH; cat /etc/hostname",
    ]);
    assert!(
        out.starts_with("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{out}"
    );
}

#[test]
fn the_images_settings_are_honoured() {
    let t = busybox();
    image_with_config(
        &t,
        "busybox",
        "configured:1",
        json!({
            "Env": ["GREETING=hello", "PATH=/bin:/usr/bin"],
            "Entrypoint": ["sh", "-c"],
            "Cmd": ["echo $GREETING from $(pwd) as $(id -un)"],
            "WorkingDir": "/srv/app",
            "User": "nobody",
            "StopSignal": "SIGUSR1",
        }),
    );
    assert_eq!(
        t.ok(["run", "--rm", "configured:1"]),
        "hello from /srv/app as nobody\n"
    );
    // A command replaces CMD and keeps ENTRYPOINT.
    assert_eq!(
        t.ok(["run", "--rm", "configured:1", "echo again"]),
        "again\n"
    );
    // --entrypoint replaces ENTRYPOINT and drops the image's CMD.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "configured:1",
            "x",
            "y"
        ]),
        "x y\n"
    );
    // Flags win over the image.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-u",
            "root",
            "-w",
            "/",
            "-e",
            "GREETING=hi",
            "configured:1"
        ]),
        "hi from / as root\n"
    );
    let id = t.ok(["create", "configured:1"]).trim().to_owned();
    let c = inspect(&t, &id);
    assert_eq!(c["Config"]["StopSignal"], "SIGUSR1");
    assert_eq!(c["Config"]["WorkingDir"], "/srv/app");
    assert_eq!(c["Path"], "sh");
    t.ok(["rm", &id]);
}

/// Opens a pty pair; returns (master, slave) as files.
fn openpty() -> (std::fs::File, std::fs::File) {
    let p = nix::pty::openpty(None, None).unwrap();
    (std::fs::File::from(p.master), std::fs::File::from(p.slave))
}

#[test]
fn a_terminal_is_a_real_pty() {
    let t = busybox();
    let (mut master, slave) = openpty();
    let mut child = t
        .cmd(["run", "--rm", "-it", "busybox", "sh"])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    master
        .write_all(b"tty; echo answer=$((6*7)); exit 5\n")
        .unwrap();
    let fd = nix::unistd::dup(master.as_raw_fd()).unwrap();
    // Read until the terminal closes (every writer gone) or a deadline.
    let reader = std::thread::spawn(move || {
        // SAFETY: `fd` is a fresh dup owned by this thread.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = child.wait().unwrap();
    let out = reader.join().unwrap();
    assert_eq!(status.code(), Some(5), "{out}");
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("answer=42"), "{out}");
}

#[test]
fn a_name_in_use_is_refused_and_nothing_is_left() {
    let t = busybox();
    t.ok(["create", "--name", "twin", "busybox", "true"]);
    let (code, _, err) = t.status(["run", "--name", "twin", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("\"/twin\" is already in use"), "{err}");
    assert_eq!(t.container_ids().len(), 1);
    let (code, _, err) = t.status(["run", "--name", "bad/name", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("invalid container name"), "{err}");
    t.ok(["rm", "twin"]);
}

#[test]
fn bad_flag_values_name_the_flag_and_leave_nothing() {
    let t = busybox();
    for (args, needle) in [
        (vec!["--memory", "12q"], "--memory"),
        (vec!["--cpus", "abc"], "--cpus"),
        (vec!["--restart", "sometimes"], "--restart"),
        (vec!["--cap-add", "FLYING"], "--cap-add"),
        (vec!["--stop-signal", "SIGNOPE"], "--stop-signal"),
        (vec!["--add-host", "nocolon"], "--add-host"),
        (vec!["-w", "relative/dir"], "--workdir"),
        (vec!["--network", "bridge0"], "--network"),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend(args.iter());
        full.extend(["busybox", "true"]);
        let (code, _, err) = t.status(&full);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    }
    assert!(t.container_ids().is_empty());
}

#[test]
fn detached_containers_log_and_stop() {
    let t = busybox();
    let id = t.ok([
        "run", "-d", "--name", "ticker", "busybox", "sh", "-c",
        "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(eventually(10, || t
        .ok(["logs", "ticker"])
        .contains("tick 3")));
    // logs -f follows until the container stops.
    let follower = t
        .cmd(["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ps = t.ok(["ps"]);
    assert!(ps.contains("ticker") && ps.contains("Up "), "{ps}");
    let start = Instant::now();
    t.ok(["stop", "ticker"]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "stop waited {:?}",
        start.elapsed()
    );
    let out = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tick 0") && text.trim_end().ends_with("bye"),
        "{text}"
    );
    let c = inspect(&t, "ticker");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 0);
    let ps = t.ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("ticker Exited (0)"), "{ps}");
    // --tail and -t.
    let tail = t.ok(["logs", "--tail", "2", "-t", "ticker"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(
        tail.lines().all(|l| l.contains('T') && l.contains('Z')),
        "{tail}"
    );
    t.ok(["rm", "ticker"]);
}

#[test]
fn stop_falls_back_to_sigkill_after_the_timeout() {
    let t = busybox();
    // sh as PID 1 ignores SIGTERM (no handler): only SIGKILL ends it.
    t.ok([
        "run", "-d", "--name", "stubborn", "busybox", "sleep", "1000",
    ]);
    let start = Instant::now();
    t.ok(["stop", "-t", "1", "stubborn"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let c = inspect(&t, "stubborn");
    assert_eq!(c["State"]["ExitCode"], 137);
    assert_eq!(c["State"]["Running"], false);
    t.ok(["rm", "stubborn"]);
}

#[test]
fn rm_leaves_nothing_behind() {
    let t = busybox();
    let id = t
        .ok(["run", "-d", "busybox", "sleep", "100"])
        .trim()
        .to_owned();
    let (code, _, err) = t.status(["rm", &id[..12]]);
    assert_eq!(code, 1);
    assert!(err.contains("container is running"), "{err}");
    t.ok(["rm", "-f", &id[..12]]);
    assert!(t.container_ids().is_empty());
    assert!(
        harness::cgroups_of(&id).is_empty(),
        "{:?}",
        harness::cgroups_of(&id)
    );
    assert!(harness::mounts_under(t.path()).is_empty());
    assert!(!t.path().join("run").join(&id).exists());
    let (code, _, err) = t.status(["rm", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such container: nosuch"), "{err}");
}
