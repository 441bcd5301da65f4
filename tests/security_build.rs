//! Attacks from the security review (issue: an image must never reach the host), build side:
//! each test performs one attack end to end with the real binary and asserts it fails.

mod harness;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{busybox, context, raw_tar, write_file, TestRoot};

/// A random token to find (or not) in what a build stored.
fn token(what: &str) -> String {
    let hex: String = harness::random_bytes(12)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{what}-{hex}")
}

/// Whether any blob of the store (layers are plain tars) or any snapshot file holds `needle`.
fn store_holds(t: &TestRoot, needle: &str) -> bool {
    let st = std::process::Command::new("grep")
        .args(["-r", "-F", "-q", "--no-messages", "--", needle])
        .arg(t.path().join("images"))
        .arg(t.path().join("snapshots"))
        .status()
        .unwrap();
    st.success()
}

/// `rbox build` of `dockerfile` in an empty context with its address space limited to
/// 1 GiB; returns its exit status (`None`: killed by a signal), stderr and how long it took.
fn build_limited(t: &TestRoot, dockerfile: &str) -> (Option<i32>, String, Duration) {
    let ctx = context(&[("Dockerfile", dockerfile)]);
    let mut c = t.cmd([OsStr::new("build"), "-t".as_ref(), "bomb".as_ref()]);
    c.arg(ctx.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    unsafe {
        c.pre_exec(|| {
            let gib = 1 << 30;
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, gib, gib)
                .map_err(std::io::Error::from)
        });
    }
    let started = Instant::now();
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn expansion_nested_fifty_thousand_deep_is_refused_not_a_crash() {
    let t = busybox();
    let n = 50_000;
    let word = format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
    let (code, err, took) = build_limited(&t, &format!("FROM busybox\nENV a={word}\n"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Dockerfile:2:") && err.contains("nested more than 64 deep"),
        "{err}"
    );
    assert!(
        err.len() < 2000,
        "the error quotes the whole word: {}",
        err.len()
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!t.ok(["images"]).contains("bomb"));
}

#[test]
fn a_variable_doubled_line_after_line_is_refused_at_the_size_limit() {
    let t = busybox();
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(100));
    for _ in 0..24 {
        df.push_str("ENV A=${A}${A}\n");
    }
    df.push_str("RUN true\n");
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    // 100 × 2^14 bytes is the first value over 1 MiB: line 2 + 14.
    assert!(
        err.contains("Dockerfile:16:") && err.contains("expanded word is over"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // The same through ARG, and many variables of just under the limit each.
    let mut df = format!("FROM busybox\nARG A={}\n", "a".repeat(1000));
    for _ in 0..24 {
        df.push_str("ARG A=${A}${A}\n");
    }
    let (code, err, _) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("expanded word is over"), "{err}");
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..10 {
        df.push_str("ENV A=${A}${A}\n");
    }
    for i in 0..40 {
        df.push_str(&format!("ENV B{i}=${{A}}\n"));
    }
    let (code, err, _) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ENV and ARG values would take"), "{err}");
}

#[test]
fn a_growing_replacement_repeated_is_refused_quickly() {
    let t = busybox();
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..12 {
        df.push_str("ENV A=${A//a/aaaaaaaa}\n");
    }
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    // 1000 × 8^3 is under 1 MiB, × 8^4 over: line 2 + 4.
    assert!(
        err.contains("Dockerfile:6:") && err.contains("expanded word is over"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // A pattern that costs the square of the value's length is stopped as well.
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..7 {
        df.push_str("ENV A=${A}${A}\n");
    }
    df.push_str("ENV B=${A//*b/c}\n");
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Dockerfile:10:") && err.contains("pattern matching"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// A host directory holding a secret file; returns the directory and the secret.
fn host_secret() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let secret = token("host-secret");
    std::fs::write(dir.path().join("secret.txt"), &secret).unwrap();
    (dir, secret)
}

#[test]
fn copy_from_a_stage_never_follows_its_links_onto_the_host() {
    let t = busybox();
    let (host, secret) = host_secret();
    let h = host.path().display().to_string();
    let up = format!("../../../../../../../..{h}");
    for (i, copy) in [
        "COPY --from=a /leak/secret.txt /x".to_owned(),
        "COPY --from=a /leak /x".to_owned(),
        "COPY --from=a /leak/ /x/".to_owned(),
        "COPY --from=a /up/secret.txt /x".to_owned(),
        "COPY --from=a /le* /x/".to_owned(),
        "COPY --from=a /dir/ /x/".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let df = format!(
            "FROM busybox AS a\nRUN ln -s {h} /leak && ln -s {up} /up && mkdir /dir && ln -s {h}/secret.txt /dir/s\nFROM busybox\n{copy}\nRUN cat /x /x/* /x/*/* 2>/dev/null; true\n"
        );
        let ctx = context(&[("Dockerfile", &df)]);
        let tag = format!("leak:{i}");
        let (code, out, err) = t.build(ctx.path(), &["-t", &tag]);
        assert!(
            !out.contains(&secret),
            "{copy}: the RUN read the host's file:\n{out}"
        );
        assert!(
            !store_holds(&t, &secret),
            "{copy}: the host's file is in the store"
        );
        if code == 0 {
            // Resolved inside the stage: a link is copied as a link.
            let listing = t.ok([
                "run",
                "--rm",
                &tag,
                "sh",
                "-c",
                "ls -lR /x; cat /x /x/* 2>&1; true",
            ]);
            assert!(!listing.contains(&secret), "{copy}: {listing}");
        } else {
            assert!(err.contains("Dockerfile:4:"), "{copy}: {err}");
        }
    }
}

#[test]
fn copy_from_an_image_or_an_onbuild_trigger_never_follows_its_links_onto_the_host() {
    let t = busybox();
    let (host, secret) = host_secret();
    let h = host.path().display().to_string();
    // An image as a registry could serve it: /leak is a link to the host's directory.
    let tar = raw_tar(&[(tar::EntryType::Symlink, "leak", &h, b"")]);
    let dir = tempfile::tempdir().unwrap();
    let tarball = write_file(dir.path(), "leak.tar", &tar);
    t.ok([
        OsStr::new("import"),
        tarball.as_os_str(),
        OsStr::new("leaky:1"),
    ]);
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nCOPY --from=leaky:1 /leak/secret.txt /x\n",
    )]);
    let (code, _, err) = t.build(ctx.path(), &["-t", "from-image:1"]);
    assert_ne!(code, 0, "the host's file was copied");
    assert!(
        err.contains("Dockerfile:2:") && err.contains("not found"),
        "{err}"
    );
    assert!(!store_holds(&t, &secret));
    // The same from a base image's ONBUILD trigger.
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nONBUILD COPY --from=leaky:1 /leak/secret.txt /x\n",
    )]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "trigger:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let ctx = context(&[("Dockerfile", "FROM trigger:1\nRUN cat /x; true\n")]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "triggered:1"]);
    assert_ne!(code, 0, "the host's file was copied: {out}");
    assert!(
        err.contains("ONBUILD trigger") && err.contains("not found"),
        "{err}"
    );
    assert!(!store_holds(&t, &secret));
}

#[test]
fn dockerignore_holds_whatever_link_reaches_an_excluded_file() {
    let t = busybox();
    let env_secret = token("dotenv");
    let key_secret = token("key");
    let ctx = context(&[
        (".dockerignore", ".env\nsecrets\n"),
        (".env", &env_secret),
        ("secrets/key", &key_secret),
        ("public.txt", "public\n"),
    ]);
    let c = ctx.path();
    std::os::unix::fs::symlink(".env", c.join("alias-env")).unwrap();
    std::os::unix::fs::symlink("secrets", c.join("alias-secrets")).unwrap();
    std::os::unix::fs::symlink("./secrets/key", c.join("alias-key")).unwrap();
    std::fs::create_dir(c.join("sub")).unwrap();
    std::os::unix::fs::symlink("../.env", c.join("sub/up-env")).unwrap();
    for (i, copy) in [
        "COPY alias-env /e",
        "COPY alias-key /k",
        "COPY alias-secrets /s",
        "COPY alias-secrets/key /k",
        "COPY alias-* /d/",
        "COPY sub/up-env /e",
        "COPY sub/../alias-env /e",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(c.join("Dockerfile"), format!("FROM busybox\n{copy}\n")).unwrap();
        let (code, out, err) = t.build(c, &["-t", &format!("ign:{i}")]);
        assert_ne!(code, 0, "{copy} built:\n{out}");
        assert!(
            err.contains("Dockerfile:2:") && err.contains("excluded by .dockerignore"),
            "{copy}: {err}"
        );
        assert!(!store_holds(&t, &env_secret) && !store_holds(&t, &key_secret));
    }
    // The whole context: links are copied as links, the excluded files are not there.
    std::fs::write(c.join("Dockerfile"), "FROM busybox\nCOPY . /all\n").unwrap();
    let (code, out, err) = t.build(c, &["-t", "ign:all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!store_holds(&t, &env_secret) && !store_holds(&t, &key_secret));
    let seen = t.ok([
        "run",
        "--rm",
        "ign:all",
        "sh",
        "-c",
        "for l in alias-env alias-secrets sub/up-env; do readlink /all/$l; done; ls -a /all; cat /all/public.txt",
    ]);
    assert!(
        seen.starts_with(".env\nsecrets\n../.env\n") && seen.contains("public\n"),
        "{seen}"
    );
    assert!(
        !seen.contains("\n.env\n") && !seen.contains("\nsecrets\n\n"),
        "{seen}"
    );
}

#[test]
fn commit_during_a_symlink_swap_never_reads_the_host() {
    let t = busybox();
    // The host directory has the same file names as the container's, so a walk that goes
    // through the link finds something to read at once.
    let host = tempfile::tempdir().unwrap();
    let secret = token("host-secret");
    for i in 1..=2000 {
        std::fs::write(host.path().join(format!("f{i}")), &secret).unwrap();
    }
    let h = host.path().display().to_string();
    let script = format!(
        "mkdir -p /x/d && for i in $(seq 2000); do echo inside > /x/d/f$i; done && touch /x/ready && \
         while :; do mv /x/d /x/hold; ln -s {h} /x/d; rm /x/d; mv /x/hold /x/d; done"
    );
    t.ok([
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "swapper",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    assert!(harness::eventually(30, || t
        .run(["exec", "swapper", "test", "-e", "/x/ready"])
        .code
        == 0));
    let mut committed = 0;
    for i in 0..30 {
        let r = t.run(["commit", "swapper", &format!("swapped:{i}")]);
        if r.code == 0 {
            committed += 1;
        }
        assert!(
            !store_holds(&t, &secret),
            "commit {i} stored the host's file"
        );
    }
    assert!(committed >= 20, "only {committed} of 30 commits succeeded");
    t.ok(["rm", "-f", "swapper"]);
    // What a commit stored: the link as a link, or the directory from inside.
    let seen = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "swapped:29",
        "sh",
        "-c",
        "ls -l /x | grep -v hold; cat /x/d/f1 2>/dev/null; true",
    ]);
    assert!(!seen.contains(&secret), "{seen}");
}

/// A TCP listener on the host's loopback and an abstract unix socket, both the test's own,
/// and whether anything connected to the listener.
struct HostServices {
    port: u16,
    abstract_name: String,
    touched: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _tcp: std::thread::JoinHandle<()>,
    _unix: std::os::unix::net::UnixListener,
}

fn host_services() -> HostServices {
    use std::os::linux::net::SocketAddrExt;
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let touched = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = touched.clone();
    let tcp = std::thread::spawn(move || {
        for s in tcp.incoming() {
            match s {
                Ok(mut s) => {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = std::io::Write::write_all(&mut s, b"host-loopback-service\n");
                }
                Err(_) => return,
            }
        }
    });
    let abstract_name = token("rbox-test-abstract");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name).unwrap();
    let unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    HostServices {
        port,
        abstract_name,
        touched,
        _tcp: tcp,
        _unix: unix,
    }
}

/// The veths attached to `bridge` on the host.
fn veths_on(bridge: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A RUN that reports what it can reach of the host.
fn probe(port: u16, name: &str) -> String {
    format!(
        "echo probe-start; if echo | nc -w 2 127.0.0.1 {port}; then echo TCP-REACHED; else echo tcp-refused; fi; \
         if grep -q {name} /proc/net/unix; then echo UNIX-SEEN; else echo unix-unseen; fi; \
         echo ifaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort); echo probe-end"
    )
}

/// Whether the output has `line` as a line of its own (the Dockerfile's text, shown in the
/// STEP lines, has the markers too).
fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line)
}

fn ifaces(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("ifaces: "))
        .unwrap_or("?")
}

#[test]
fn run_steps_have_a_network_of_their_own_unless_the_build_grants_the_hosts() {
    let t = busybox();
    let svc = host_services();
    let p = probe(svc.port, &svc.abstract_name);
    let checked = |out: &str, err: &str, what: &str| {
        assert!(has_line(out, "probe-end"), "{what}: {out}{err}");
        assert!(
            has_line(out, "tcp-refused") && !has_line(out, "TCP-REACHED"),
            "{what}: reached the host's loopback: {out}"
        );
        assert!(
            has_line(out, "unix-unseen") && !has_line(out, "UNIX-SEEN"),
            "{what}: saw the host's abstract socket: {out}"
        );
        assert!(
            !out.contains(&t.bridge),
            "{what}: saw the host's bridge: {out}"
        );
        assert_eq!(veths_on(&t.bridge), "", "{what}: a veth is left");
    };
    // By default: the default bridge, as docker build.
    let ctx = context(&[("Dockerfile", &format!("FROM busybox\nRUN {p}\n"))]);
    let (code, out, err) = t.build(ctx.path(), &["--no-cache", "-t", "probe:1"]);
    assert_eq!(code, 0, "{out}{err}");
    checked(&out, &err, "default");
    assert_eq!(ifaces(&out), "eth0 lo", "{out}");
    // `--network none` and `RUN --network=none`: loopback only.
    let (code, out, err) = t.build(ctx.path(), &["--no-cache", "--network", "none"]);
    assert_eq!(code, 0, "{out}{err}");
    checked(&out, &err, "--network none");
    assert_eq!(ifaces(&out), "lo", "{out}");
    let ctx_none = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nRUN --network=none {p}\n"),
    )]);
    let (code, out, err) = t.build(ctx_none.path(), &["--no-cache"]);
    assert_eq!(code, 0, "{out}{err}");
    checked(&out, &err, "RUN --network=none");
    assert_eq!(ifaces(&out), "lo", "{out}");
    // A base image's ONBUILD RUN runs the same way.
    let base = context(&[("Dockerfile", &format!("FROM busybox\nONBUILD RUN {p}\n"))]);
    let (code, out, err) = t.build(base.path(), &["-t", "onbuild-probe:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let child = context(&[("Dockerfile", "FROM onbuild-probe:1\n")]);
    let (code, out, err) = t.build(child.path(), &["--no-cache"]);
    assert_eq!(code, 0, "{out}{err}");
    checked(&out, &err, "ONBUILD RUN");
    // The Dockerfile can't ask for the host's network by itself, nor can a trigger.
    for df in [
        format!("FROM busybox\nRUN --network=host {p}\n"),
        format!("FROM busybox\nONBUILD RUN --network=host {p}\n"),
    ] {
        let ctx = context(&[("Dockerfile", &df)]);
        let (code, out, err) = t.build(ctx.path(), &["--no-cache", "-t", "hostnet:1"]);
        if df.contains("ONBUILD") {
            assert_eq!(code, 0, "{out}{err}");
            let child = context(&[("Dockerfile", "FROM hostnet:1\n")]);
            let (code, out, err) = t.build(child.path(), &["--no-cache"]);
            assert_ne!(code, 0, "{out}");
            assert!(
                err.contains("ONBUILD trigger") && err.contains("--network host"),
                "{err}"
            );
        } else {
            assert_ne!(code, 0, "{out}");
            assert!(
                err.contains("Dockerfile:2:") && err.contains("--network host"),
                "{err}"
            );
        }
    }
    assert!(!svc.touched.load(std::sync::atomic::Ordering::SeqCst));
    let (code, _, err) = t.build(ctx.path(), &["--network", "mynet"]);
    assert_ne!(code, 0);
    assert!(err.contains("use default, none or host"), "{err}");
    // Granted on the command line, the host's network is what the step gets (which shows
    // the probe would see it).
    let (code, out, err) = t.build(ctx_none.path(), &["--no-cache", "--network", "host"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("tcp-refused"),
        "RUN --network=none is kept: {out}"
    );
    let (code, out, err) = t.build(ctx.path(), &["--no-cache", "--network", "host"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("TCP-REACHED") && out.contains("UNIX-SEEN"),
        "{out}"
    );
    assert!(svc.touched.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn a_run_step_on_the_bridge_reaches_out_through_the_gateway() {
    let t = busybox();
    // The default bridge exists once something ran on it; the test serves on its gateway.
    t.ok(["run", "--rm", "busybox", "true"]);
    let gateway = t.subnet.trim_end_matches("0/24").to_owned() + "1";
    let server = std::net::TcpListener::bind((gateway.as_str(), 0)).unwrap();
    let port = server.local_addr().unwrap().port();
    let serve = std::thread::spawn(move || {
        let (mut s, _) = server.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = std::io::Read::read(&mut s, &mut buf);
        let body = "served-on-the-bridge\n";
        let _ = std::io::Write::write_all(
            &mut s,
            format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    });
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nRUN wget -q -O /got http://{gateway}:{port}/ && cat /got\n"),
    )]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "fetched:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("served-on-the-bridge"), "{out}");
    serve.join().unwrap();
    assert_eq!(veths_on(&t.bridge), "");
}
