//! Defects a Docker user hits on day one, cli side: each test is the command as typed.

mod harness;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{busybox, eventually, TestRoot};

fn openpty() -> (std::fs::File, std::fs::File) {
    let p = nix::pty::openpty(None, None).unwrap();
    (std::fs::File::from(p.master), std::fs::File::from(p.slave))
}

/// Everything written to the terminal `master` until its last writer closes it (or 20 s).
fn read_terminal(master: &std::fs::File) -> std::thread::JoinHandle<String> {
    let fd = nix::unistd::dup(master.as_raw_fd()).unwrap();
    std::thread::spawn(move || {
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
    })
}

#[test]
fn command_line_errors_exit_125_with_their_hints() {
    let t = TestRoot::new();
    // An unknown flag, with clap's suggestion and the usage.
    let (code, _, err) = t.status(["ps", "--al"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("--al"), "{err}");
    assert!(err.contains("similar argument exists: '--all'"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
    // An unknown command, with its suggestion.
    let (code, _, err) = t.status(["rmii", "busybox"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("similar subcommands exist") && err.contains("'rmi'"),
        "{err}"
    );
    // A bad flag value.
    let (code, _, err) = t.status(["run", "--pids-limit", "many", "busybox", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("invalid value 'many'") && err.contains("--pids-limit"),
        "{err}"
    );
    // A flag without its value, and a missing argument.
    let (code, _, err) = t.status(["logs", "--tail"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("--tail"), "{err}");
    let (code, _, err) = t.status(["stop"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("required") && err.contains("Usage:"), "{err}");
    // Nothing was made.
    assert!(t.container_ids().is_empty());
    // Help and version are not errors.
    let (code, out, _) = t.status(["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage:"), "{out}");
    assert_eq!(t.status(["run", "--help"]).0, 0);
    assert_eq!(t.status(["ps", "-h"]).0, 0);
    let (code, out, _) = t.status(["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("rbox "), "{out}");
}

#[test]
fn stop_kill_and_rm_f_of_an_rm_container_report_success() {
    let t = busybox();
    for verb in [&["stop", "-t", "1"][..], &["kill"], &["rm", "-f"]] {
        for _ in 0..3 {
            t.ok([
                "run", "--rm", "-d", "--name", "x", "busybox", "sleep", "100",
            ]);
            let (code, out, err) = t.status(verb.iter().copied().chain(["x"]));
            assert_eq!((code, out.as_str()), (0, "x\n"), "rbox {verb:?} x: {err}");
            assert!(!err.contains("no such container"), "{err}");
            assert!(
                eventually(10, || t.container_ids().is_empty()),
                "--rm left {:?}",
                t.container_ids()
            );
        }
    }
    // By id, it prints the id given.
    let id = t.ok(["run", "--rm", "-d", "busybox", "sleep", "100"]);
    let short = &id.trim()[..12];
    let (code, out, err) = t.status(["stop", "-t", "1", short]);
    assert_eq!((code, out.trim()), (0, short), "{err}");
    assert!(eventually(10, || t.container_ids().is_empty()));
}

#[test]
fn it_without_a_terminal_is_refused_at_once() {
    let t = busybox();
    // `echo ls | rbox run -it busybox sh`
    let started = Instant::now();
    let mut child = t
        .cmd(["run", "-it", "busybox", "sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"ls\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rbox run -it with a pipe as its input hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the input device is not a TTY"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(t.container_ids().is_empty(), "a container was made");
    // Same for exec.
    t.ok(["run", "-d", "--name", "up", "busybox", "sleep", "100"]);
    let (code, _, err) = t.status(["exec", "-it", "up", "sh"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the input device is not a TTY"), "{err}");
    // -t alone, -i alone and -itd are fine without a terminal.
    let (code, out, err) = t.status(["exec", "-t", "up", "echo", "hi"]);
    assert_eq!((code, out.trim()), (0, "hi"), "{err}");
    let (code, out, err) = t.status(["run", "--rm", "-t", "busybox", "echo", "hi"]);
    assert_eq!((code, out.trim()), (0, "hi"), "{err}");
    let (code, _, err) = t.status(["run", "--rm", "-i", "busybox", "true"]);
    assert_eq!(code, 0, "{err}");
    t.ok(["run", "-itd", "--name", "bg", "busybox", "sh"]);
    t.ok(["rm", "-f", "up", "bg"]);
}

#[test]
fn warnings_are_plain_text_unless_stderr_is_a_terminal() {
    let t = busybox();
    let warning = "published ports are discarded with --network none";
    // Piped: no escapes.
    let (code, _, err) = t.status(["create", "--network", "none", "-p", "80", "busybox", "true"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(warning), "{err}");
    assert!(!err.contains('\x1b'), "escapes in a pipe: {err:?}");
    // On a terminal: colour, unless NO_COLOR says otherwise.
    for (no_color, coloured) in [(None, true), (Some(""), true), (Some("1"), false)] {
        let (master, slave) = openpty();
        let mut cmd = t.cmd(["create", "--network", "none", "-p", "80", "busybox", "true"]);
        cmd.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(slave).spawn().unwrap();
        drop(cmd);
        let reader = read_terminal(&master);
        assert!(child.wait().unwrap().success());
        let err = reader.join().unwrap();
        assert!(err.contains(warning), "{err:?}");
        assert_eq!(
            err.contains('\x1b'),
            coloured,
            "NO_COLOR={no_color:?}: {err:?}"
        );
    }
    t.remove_all_containers();
}

/// `rbox logs ARGS` with the local zone `tz`: (exit code, stdout, stderr).
fn logs_in_zone(t: &TestRoot, tz: &str, args: &[&str]) -> (i32, String, String) {
    let o = t
        .cmd(["logs"].iter().chain(args))
        .env("TZ", tz)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn logs_since_and_until_take_dockers_time_forms() {
    use chrono::{DateTime, Duration as Span, Utc};
    let t = busybox();
    t.ok(["run", "--name", "lg", "busybox", "echo", "one"]);
    let stamped = t.ok(["logs", "-t", "lg"]);
    let (time, text) = stamped.trim().split_once(' ').unwrap();
    assert_eq!(text, "one");
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339(time).unwrap().into();
    // Five hours east of UTC (POSIX sign convention: Etc/GMT-5 is UTC+5).
    let zone = "Etc/GMT-5";
    let local = |d: Span| {
        (at + Span::hours(5) + d)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    let shows = |args: &[&str]| {
        let (code, out, err) = logs_in_zone(&t, zone, args);
        assert_eq!(code, 0, "logs {args:?}: {err}");
        out == "one\n"
    };
    // A time without a zone is local time.
    assert!(shows(&["--since", &local(Span::seconds(-2)), "lg"]));
    assert!(!shows(&["--since", &local(Span::seconds(2)), "lg"]));
    assert!(shows(&["--until", &local(Span::seconds(2)), "lg"]));
    assert!(!shows(&["--until", &local(Span::seconds(-2)), "lg"]));
    // Minutes only, and a date alone (local midnight).
    let minutes = (at + Span::hours(5) - Span::minutes(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    assert!(shows(&["--since", &minutes, "lg"]));
    let today = (at + Span::hours(5)).format("%Y-%m-%d").to_string();
    let tomorrow = (at + Span::hours(29)).format("%Y-%m-%d").to_string();
    assert!(shows(&["--since", &today, "lg"]));
    assert!(!shows(&["--since", &tomorrow, "lg"]));
    // RFC 3339 with its zone.
    let zoned = |d: Span, fmt: &str| (at + d).format(fmt).to_string();
    assert!(shows(&[
        "--since",
        &zoned(Span::seconds(-2), "%Y-%m-%dT%H:%M:%SZ"),
        "lg"
    ]));
    assert!(!shows(&[
        "--since",
        &zoned(Span::seconds(2), "%Y-%m-%dT%H:%M:%S%.9fZ"),
        "lg"
    ]));
    let plus_one = (at + Span::hours(1) - Span::seconds(2))
        .format("%Y-%m-%dT%H:%M:%S+01:00")
        .to_string();
    assert!(shows(&["--since", &plus_one, "lg"]));
    // Unix times, with a fraction.
    let unix = |d: Span| (at + d).timestamp().to_string();
    assert!(shows(&["--since", &unix(Span::seconds(-2)), "lg"]));
    assert!(!shows(&[
        "--since",
        &format!("{}.5", unix(Span::seconds(2))),
        "lg"
    ]));
    assert!(shows(&["--since", "1733011200.5", "lg"]));
    assert!(!shows(&["--until", "1733011200", "lg"]));
    // Durations back from now.
    assert!(shows(&["--since", "10m", "lg"]));
    assert!(shows(&["--since", "1h30m", "lg"]));
    assert!(!shows(&["--until", "1h30m", "lg"]));
    assert!(shows(&["--since", "90s", "--until", "-1m", "lg"]));
    // Nonsense is refused, naming the flag.
    let (code, _, err) = logs_in_zone(&t, zone, &["--since", "yesterday", "lg"]);
    assert_eq!(code, 1);
    assert!(err.contains("since") && err.contains("yesterday"), "{err}");
    let (code, _, err) = logs_in_zone(&t, zone, &["--until", "2026-13-01", "lg"]);
    assert_eq!(code, 1);
    assert!(err.contains("until"), "{err}");
    // --follow of a running container stops at --until.
    t.ok([
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "while :; do echo x; sleep 1; done",
    ]);
    let started = Instant::now();
    let (code, out, err) = logs_in_zone(&t, zone, &["-f", "--until", "-2s", "talker"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with('x'), "{out}");
    assert!(started.elapsed() < Duration::from_secs(10));
    t.ok(["rm", "-f", "lg", "talker"]);
}

/// `rbox build ARGS -` with `input` as standard input and `tmp` as TMPDIR.
fn build_from_stdin(
    t: &TestRoot,
    tmp: &std::path::Path,
    args: &[&str],
    input: &[u8],
) -> (i32, String, String) {
    let mut child = t
        .cmd(["build"].iter().chain(args).chain(&["-"]))
        .env("TMPDIR", tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A tar archive of `files` (path, content), gzip'd if asked.
fn context_tar(files: &[(&str, &str)], gzip: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(c.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, p, c.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    if !gzip {
        return tar;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn build_reads_a_dockerfile_or_a_context_archive_from_stdin() {
    let t = busybox();
    let scratch = tempfile::tempdir().unwrap();
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let left = || std::fs::read_dir(&tmp).unwrap().count();

    // `rbox build -t fromstdin - < Dockerfile`: an empty context.
    let df = b"FROM busybox\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n";
    let (code, out, err) = build_from_stdin(&t, &tmp, &["-t", "fromstdin"], df);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("-/Dockerfile"), "{err}");
    assert_eq!(t.ok(["run", "--rm", "fromstdin"]), "built\n");
    // Nothing to COPY from an empty context.
    let (code, out, err) = build_from_stdin(&t, &tmp, &[], b"FROM busybox\nCOPY x /x\n");
    assert_ne!(code, 0, "{out}{err}");

    // `rbox build -t fromtar - < context.tar`.
    let files = [
        (
            "Dockerfile",
            "FROM busybox\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n",
        ),
        ("hello.txt", "hello from the archive\n"),
    ];
    let (code, out, err) =
        build_from_stdin(&t, &tmp, &["-t", "fromtar"], &context_tar(&files, false));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(t.ok(["run", "--rm", "fromtar"]), "hello from the archive\n");

    // gzip'd, with -f naming a Dockerfile inside the archive.
    let files = [
        (
            "sub/Other.dockerfile",
            "FROM busybox\nCOPY sub/data /data\nCMD [\"cat\", \"/data\"]\n",
        ),
        ("sub/data", "gzip'd context\n"),
    ];
    let gz = context_tar(&files, true);
    let (code, out, err) = build_from_stdin(
        &t,
        &tmp,
        &["-t", "fromgz", "-f", "sub/Other.dockerfile"],
        &gz,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(t.ok(["run", "--rm", "fromgz"]), "gzip'd context\n");
    // An archive without the Dockerfile asked for.
    let (code, _, err) = build_from_stdin(&t, &tmp, &[], &gz);
    assert_eq!(code, 1);
    assert!(
        err.contains("Cannot locate specified Dockerfile: Dockerfile"),
        "{err}"
    );

    // An archive climbing out of its directory is refused, and writes nothing outside.
    let hostile = harness::raw_tar(&[
        (tar::EntryType::Regular, "Dockerfile", "", b"FROM busybox\n"),
        (tar::EntryType::Regular, "../escaped", "", b"out"),
    ]);
    let (code, _, err) = build_from_stdin(&t, &tmp, &[], &hostile);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains(".."), "{err}");
    assert!(!scratch.path().join("escaped").exists());
    // Both from standard input: refused, as docker.
    let (code, _, err) = build_from_stdin(&t, &tmp, &["-f", "-"], df);
    assert_eq!(code, 1);
    assert!(err.contains("can't use stdin for both"), "{err}");
    // Every temporary context is gone.
    assert_eq!(left(), 0, "temporary contexts left");
}

#[test]
fn ps_quotes_and_cuts_the_command_as_docker() {
    let t = busybox();
    let (code, _, _) = t.status(["run", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    t.ok([
        "create",
        "--name",
        "long",
        "busybox",
        "sh",
        "-c",
        "echo hello world; exit 0",
    ]);
    t.ok([
        "create",
        "--name",
        "dq",
        "busybox",
        "sh",
        "-c",
        "echo \"hi there\"",
    ]);
    t.ok([
        "create", "--name", "plain", "busybox", "echo", "$HOME", "a\\b",
    ]);
    let command = |name: &str, full: bool| {
        let filter = format!("name={name}");
        let mut args = vec!["ps", "-a", "--filter", &filter, "--format", "{{.Command}}"];
        if full {
            args.push("--no-trunc");
        }
        t.ok(args).trim_end().to_owned()
    };
    assert_eq!(command("three", false), "\"sh -c 'exit 3'\"");
    assert_eq!(command("long", false), "\"sh -c 'echo hello w…\"");
    assert_eq!(
        command("long", true),
        "\"sh -c 'echo hello world; exit 0'\""
    );
    assert_eq!(command("dq", true), r#""sh -c 'echo \"hi there\"'""#);
    assert_eq!(command("plain", true), r#""echo $HOME a\\b""#);
    // The table shows the same.
    let table = t.ok(["ps", "-a", "--filter", "name=three"]);
    assert!(table.contains("\"sh -c 'exit 3'\""), "{table}");
    t.ok(["rm", "three", "long", "dq", "plain"]);
}

#[test]
fn inspect_writes_dockers_host_config() {
    let t = busybox();
    t.ok(["create", "--name", "plain", "busybox", "true"]);
    let c = harness::inspect(&t, "plain");
    assert_eq!(c["Platform"], "linux");
    let h = &c["HostConfig"];
    assert_eq!(h["Memory"], 0, "{h}");
    assert_eq!(h["NanoCpus"], 0, "{h}");
    assert!(h["Binds"].is_null(), "{h}");
    assert!(h["SecurityOpt"].is_null(), "{h}");
    assert!(h["CapAdd"].is_null() && h["CapDrop"].is_null(), "{h}");
    assert!(h["ExtraHosts"].is_null() && h["PidsLimit"].is_null(), "{h}");
    assert_eq!(h["Dns"], serde_json::json!([]), "{h}");
    assert_eq!(h["DnsOptions"], serde_json::json!([]), "{h}");
    assert_eq!(h["DnsSearch"], serde_json::json!([]), "{h}");
    assert_eq!(h["LogConfig"]["Type"], "json-file", "{h}");
    assert!(h["LogConfig"]["Config"].is_object(), "{h}");
    assert_eq!(h["RestartPolicy"]["MaximumRetryCount"], 0, "{h}");
    assert_eq!(h["PortBindings"], serde_json::json!({}), "{h}");
    assert_eq!(h["ShmSize"], 64 << 20, "{h}");
    assert_eq!(h["ContainerIDFile"], "", "{h}");
    assert!(h.get("Init").is_none() && h.get("Tmpfs").is_none(), "{h}");
    assert!(h.get("Networks").is_none(), "{h}");
    // With what rbox has set.
    let host_dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/host:ro", host_dir.path().display());
    t.ok([
        "create",
        "--name",
        "full",
        "-m",
        "32m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "--add-host",
        "db:10.0.0.2",
        "-v",
        &bind,
        "-v",
        "named:/data",
        "-v",
        "/anon",
        "--tmpfs",
        "/scratch:size=1m",
        "--init",
        "--restart",
        "on-failure:3",
        "-p",
        "8080:80",
        "--log-opt",
        "max-size=1m",
        "busybox",
        "true",
    ]);
    let h = harness::inspect(&t, "full")["HostConfig"].clone();
    assert_eq!(h["Memory"], 32 << 20, "{h}");
    assert_eq!(h["NanoCpus"], 500_000_000, "{h}");
    assert_eq!(h["PidsLimit"], 50, "{h}");
    assert_eq!(h["CapAdd"], serde_json::json!(["NET_ADMIN"]), "{h}");
    assert_eq!(h["CapDrop"], serde_json::json!(["CHOWN"]), "{h}");
    assert_eq!(h["ExtraHosts"], serde_json::json!(["db:10.0.0.2"]), "{h}");
    assert_eq!(h["Binds"], serde_json::json!([bind, "named:/data"]), "{h}");
    assert_eq!(h["Tmpfs"]["/scratch"], "size=1m", "{h}");
    assert_eq!(h["Init"], true, "{h}");
    assert_eq!(
        h["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3}),
        "{h}"
    );
    assert_eq!(
        h["PortBindings"]["80/tcp"],
        serde_json::json!([{"HostIp": "", "HostPort": "8080"}]),
        "{h}"
    );
    assert_eq!(h["LogConfig"]["Config"]["max-size"], "1m", "{h}");
    t.ok(["rm", "-v", "plain", "full"]);
    t.ok(["volume", "rm", "named"]);
}

#[test]
fn a_fully_cached_rebuild_is_the_same_image_and_leaves_nothing_dangling() {
    let t = busybox();
    let ctx = tempfile::tempdir().unwrap();
    harness::write_file(
        ctx.path(),
        "Dockerfile",
        b"FROM busybox\nCOPY app.txt /app.txt\nRUN echo built > /built\nENV MODE=prod\nCMD [\"cat\", \"/app.txt\"]\n",
    );
    harness::write_file(ctx.path(), "app.txt", b"one\n");
    let build = || {
        t.ok([
            "build".as_ref(),
            "-q".as_ref(),
            "-t".as_ref(),
            "app:1".as_ref(),
            ctx.path().as_os_str(),
        ])
        .trim()
        .to_owned()
    };
    let first = build();
    for _ in 0..3 {
        assert_eq!(build(), first, "a cached rebuild made another image");
    }
    let images = t.ok(["images"]);
    assert!(
        !images.contains("<none>"),
        "dangling images after cached rebuilds:\n{images}"
    );
    assert_eq!(
        t.ok(["images", "-q"]).lines().count(),
        2,
        "busybox and app:1"
    );
    // A change is a new image, and the old one is what dangles (as Docker's).
    harness::write_file(ctx.path(), "app.txt", b"two\n");
    let second = build();
    assert_ne!(second, first);
    assert_eq!(t.ok(["run", "--rm", "app:1"]), "two\n");
    // Going back to the first content finds the first image again.
    harness::write_file(ctx.path(), "app.txt", b"one\n");
    assert_eq!(build(), first);
}
