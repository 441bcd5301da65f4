//! `rbox build`'s docker flags end to end: --iidfile, --pull (against a real registry on
//! loopback), --add-host, -o/--output, --progress (the live view on a real pseudo-terminal),
//! --platform; and `history --format` and `-H/--human`.

mod harness;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use harness::{busybox, context, rbox_bin, Registry, TestRoot};

/// The images of a root, by id.
fn image_ids(t: &TestRoot) -> String {
    t.ok(["images", "-q", "--no-trunc"])
}

/// `rbox build ARGS CONTEXT` with arguments that are paths.
fn build(t: &TestRoot, args: &[&OsStr], ctx: &Path) -> (i32, String, String) {
    let mut full: Vec<&OsStr> = vec![OsStr::new("build")];
    full.extend(args);
    full.push(ctx.as_os_str());
    t.status(full)
}

#[test]
fn iidfile_holds_the_image_id_as_docker_writes_it() {
    let t = busybox();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo one > /one\n")]);
    let dir = tempfile::tempdir().unwrap();
    let iid = dir.path().join("iid");
    let (code, out, err) = build(
        &t,
        &[
            "--iidfile".as_ref(),
            iid.as_os_str(),
            "-t".as_ref(),
            "iid:1".as_ref(),
        ],
        ctx.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let written = std::fs::read_to_string(&iid).unwrap();
    let id = t.ok(["image", "inspect", "-f", "{{.Id}}", "iid:1"]);
    assert_eq!(written, id.trim(), "the id, without a newline");
    assert!(
        written.starts_with("sha256:") && written.len() == 71,
        "{written}"
    );
    // A failed build leaves no id of an earlier one behind.
    let bad = context(&[("Dockerfile", "FROM busybox\nRUN exit 3\n")]);
    let (code, _, err) = build(&t, &["--iidfile".as_ref(), iid.as_os_str()], bad.path());
    assert_ne!(code, 0);
    assert!(err.contains("exited with 3"), "{err}");
    assert!(!iid.exists(), "the earlier build's id is still there");
    // Without an image there is no id to write: refused before anything is built.
    let before = image_ids(&t);
    let out_dir = dir.path().join("out");
    let (code, _, err) = build(
        &t,
        &[
            "--iidfile".as_ref(),
            iid.as_os_str(),
            "-o".as_ref(),
            out_dir.as_os_str(),
        ],
        ctx.path(),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("--iidfile") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out_dir.exists() && !iid.exists());
    assert_eq!(image_ids(&t), before);
}

/// Builds, in `publisher`, busybox with `/marker` holding `text`, and pushes it as `name`.
fn publish(publisher: &TestRoot, name: &str, text: &str) {
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nRUN echo {text} > /marker\n"),
    )]);
    let (code, out, err) = publisher.build(ctx.path(), &["--network", "none", "-t", name]);
    assert_eq!(code, 0, "{out}{err}");
    publisher.ok(["push", name]);
}

#[test]
fn pull_takes_the_registrys_image_even_when_one_is_in_the_store() {
    let reg = Registry::start();
    let publisher = busybox();
    let base = format!("127.0.0.1:{}/example/base:1", reg.port);
    publish(&publisher, &base, "one");
    let t = TestRoot::new();
    let ctx = context(&[(
        "Dockerfile",
        &format!("FROM {base}\nRUN cp /marker /seen\n"),
    )]);
    let seen = |tag: &str| t.ok(["run", "--rm", "--network", "none", tag, "cat", "/seen"]);
    // Missing: pulled, with or without --pull.
    let (code, out, err) = t.build(ctx.path(), &["--network", "none", "-t", "app:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(seen("app:1"), "one\n");
    // The tag moves at the registry: a build without --pull keeps the image it has.
    publish(&publisher, &base, "two");
    let (code, out, err) = t.build(ctx.path(), &["--network", "none", "-t", "app:2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(seen("app:2"), "one\n");
    // --pull asks the registry again.
    let (code, out, err) = t.build(ctx.path(), &["--pull", "--network", "none", "-t", "app:3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Downloaded newer image"), "{err}");
    assert_eq!(seen("app:3"), "two\n");
    // Asked again with nothing new: up to date, and the step is the cached one.
    let (code, out, err) = t.build(
        ctx.path(),
        &["--pull=true", "--network", "none", "-t", "app:4"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("Image is up to date"), "{err}");
    assert!(out.contains("Using cache"), "{out}");
    assert_eq!(seen("app:4"), "two\n");
    // --pull=false is no pull.
    let (code, out, err) = t.build(ctx.path(), &["--pull=false", "--network", "none"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("Pulling from"), "{err}");
    // A base the registry doesn't have fails the build, even with a copy in the store.
    let gone = format!("127.0.0.1:{}/example/gone:1", reg.port);
    t.ok(["tag", "app:1", &gone]);
    let ctx = context(&[("Dockerfile", &format!("FROM {gone}\n"))]);
    let before = image_ids(&t);
    let (code, _, err) = t.build(ctx.path(), &["--pull", "-t", "never:1"]);
    assert_ne!(code, 0);
    assert!(err.contains("example/gone"), "{err}");
    assert_eq!(image_ids(&t), before);
}

#[test]
fn add_host_entries_are_in_every_runs_hosts() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN cp /etc/hosts /h1\nRUN cp /etc/hosts /h2\n",
    )]);
    let (code, out, err) = t.build(
        ctx.path(),
        &[
            "--add-host",
            "db:10.1.2.3",
            "--add-host",
            "v6=[fd00::1]",
            "--add-host",
            "gw:host-gateway",
            "-t",
            "hosts:1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let gateway = t.ok([
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        "bridge",
    ]);
    let gateway = gateway.trim();
    assert!(gateway.parse::<std::net::Ipv4Addr>().is_ok(), "{gateway}");
    for f in ["/h1", "/h2"] {
        let hosts = t.ok(["run", "--rm", "--network", "none", "hosts:1", "cat", f]);
        assert!(hosts.contains("\n10.1.2.3\tdb\n"), "{f}: {hosts}");
        assert!(hosts.contains("\nfd00::1\tv6\n"), "{f}: {hosts}");
        assert!(
            hosts.contains(&format!("\n{gateway}\tgw\n")),
            "{f}: {hosts}"
        );
    }
    // The entries are the steps', not the image's.
    let hosts = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "hosts:1",
        "cat",
        "/etc/hosts",
    ]);
    // (No host named db: the container's own name, a random hex id, may hold "db".)
    assert!(
        !hosts
            .lines()
            .any(|l| l.split_whitespace().skip(1).any(|n| n == "db")),
        "{hosts}"
    );
    // Other entries are other steps: not taken from the cache.
    let (code, out, err) = t.build(ctx.path(), &["--add-host", "db:10.9.9.9", "-t", "hosts:2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("Using cache"), "{out}");
    let hosts = t.ok(["run", "--rm", "--network", "none", "hosts:2", "cat", "/h2"]);
    assert!(
        hosts.contains("\n10.9.9.9\tdb\n") && !hosts.contains("10.1.2.3"),
        "{hosts}"
    );
    // With the host's network the entries are added to the host's own.
    let (code, out, err) = t.build(
        ctx.path(),
        &[
            "--network",
            "host",
            "--add-host",
            "db:10.1.2.3",
            "-t",
            "hosts:3",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let hosts = t.ok(["run", "--rm", "--network", "none", "hosts:3", "cat", "/h1"]);
    assert!(hosts.contains("10.1.2.3\tdb\n"), "{hosts}");
    // Bad input: one line naming the flag, nothing stored.
    let before = image_ids(&t);
    for bad in ["db", "db:not-an-ip", ":10.1.2.3"] {
        let (code, _, err) = t.build(ctx.path(), &["--add-host", bad, "-t", "bad:1"]);
        assert_ne!(code, 0);
        assert!(
            err.contains(&format!("--add-host {bad}")) && err.lines().count() == 1,
            "{err}"
        );
    }
    assert_eq!(image_ids(&t), before);
}

const EXPORTED: &str = "FROM busybox AS build\nRUN echo artifact > /artifact\n\nFROM busybox\nRUN echo x > /gone && mkdir -p /d/empty\nRUN rm /gone && echo data > /d/file && chmod 0640 /d/file && ln -s /d/file /link && chown 7:8 /d/file\nCOPY --from=build /artifact /artifact\n";

/// The entries of a tar archive: path, and mode, uid, gid and link target of each.
fn tar_entries(bytes: &[u8]) -> Vec<(String, u32, u64, u64, String)> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap() & 0o7777,
                h.uid().unwrap(),
                h.gid().unwrap(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn entry<'a>(
    entries: &'a [(String, u32, u64, u64, String)],
    path: &str,
) -> Option<&'a (String, u32, u64, u64, String)> {
    entries
        .iter()
        .find(|e| e.0.trim_start_matches("./").trim_end_matches('/') == path)
}

#[test]
fn output_exports_the_final_stages_files_and_stores_no_image() {
    use std::os::unix::fs::MetadataExt;
    let t = busybox();
    let ctx = context(&[("Dockerfile", EXPORTED)]);
    let dir = tempfile::tempdir().unwrap();
    let before = image_ids(&t);

    // type=local: the files, as the image has them.
    let out = dir.path().join("local");
    let spec = format!("type=local,dest={}", out.display());
    let (code, o, err) = t.build(ctx.path(), &["--output", &spec]);
    assert_eq!(code, 0, "{o}{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("artifact")).unwrap(),
        "artifact\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("d/file")).unwrap(),
        "data\n"
    );
    let m = std::fs::symlink_metadata(out.join("d/file")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 7, 8));
    assert_eq!(
        std::fs::read_link(out.join("link")).unwrap(),
        Path::new("/d/file")
    );
    assert!(out.join("d/empty").is_dir());
    assert!(out.join("bin/busybox").is_file(), "the base's files too");
    assert!(
        !out.join("gone").exists(),
        "a file removed in a later layer"
    );
    assert!(
        std::fs::read_dir(&out).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".wh.")),
        "no whiteouts"
    );
    assert_eq!(image_ids(&t), before, "no image is stored");

    // A bare DIR is type=local.
    let bare = dir.path().join("bare");
    let (code, o, err) = build(&t, &["-o".as_ref(), bare.as_os_str()], ctx.path());
    assert_eq!(code, 0, "{o}{err}");
    assert!(bare.join("artifact").is_file());

    // type=tar,dest=FILE: the same files in an archive.
    let file = dir.path().join("fs.tar");
    let spec = format!("type=tar,dest={}", file.display());
    let (code, o, err) = t.build(ctx.path(), &["-o", &spec]);
    assert_eq!(code, 0, "{o}{err}");
    let entries = tar_entries(&std::fs::read(&file).unwrap());
    let f = entry(&entries, "d/file").expect("d/file");
    assert_eq!((f.1, f.2, f.3), (0o640, 7, 8));
    assert_eq!(entry(&entries, "link").unwrap().4, "/d/file");
    assert!(entry(&entries, "artifact").is_some() && entry(&entries, "bin/busybox").is_some());
    assert!(entry(&entries, "gone").is_none());
    assert!(entries.iter().all(|e| !e.0.contains(".wh.")));

    // `-`: the archive on standard output, and nothing else there.
    let run = t
        .cmd(["build", "-o", "-"])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout_entries = tar_entries(&run.stdout);
    assert_eq!(stdout_entries, entries);
    assert!(String::from_utf8_lossy(&run.stderr).contains("STEP 1/"));
    assert_eq!(image_ids(&t), before, "no image is stored");
    // A step's own output goes to standard error too, not into the archive.
    let talking = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo said-on-the-way; echo err-too >&2\n",
    )]);
    let run = t
        .cmd(["build", "--network", "none", "-o", "-"])
        .arg(talking.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("said-on-the-way") && stderr.contains("err-too"),
        "{stderr}"
    );
    assert!(entry(&tar_entries(&run.stdout), "bin/busybox").is_some());
    assert!(!String::from_utf8_lossy(&run.stdout).contains("said-on-the-way"));

    // With type=image too, -t names the image stored besides the files.
    let both = dir.path().join("both");
    let (code, o, err) = build(
        &t,
        &[
            "-o".as_ref(),
            both.as_os_str(),
            "-o".as_ref(),
            "type=image".as_ref(),
            "-t".as_ref(),
            "exported:1".as_ref(),
        ],
        ctx.path(),
    );
    assert_eq!(code, 0, "{o}{err}");
    assert!(both.join("artifact").is_file());
    assert!(o.contains("Successfully tagged exported:1"), "{o}");
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--network",
            "none",
            "exported:1",
            "cat",
            "/artifact"
        ]),
        "artifact\n"
    );
    let (code, o, err) = t.build(ctx.path(), &["-o", "type=image,name=named:1"]);
    assert_eq!(code, 0, "{o}{err}");
    assert!(o.contains("Successfully tagged named:1"), "{o}");
    t.ok(["image", "inspect", "named:1"]);

    // Refused, naming the flag, before anything is built.
    let before = image_ids(&t);
    let nowhere = dir.path().join("nowhere");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "-t".into(),
                "x:1".into(),
                "-o".into(),
                nowhere.display().to_string(),
            ],
            "--tag",
        ),
        (
            vec!["-o".into(), "type=oci,dest=x".into()],
            "--output type=oci",
        ),
        (
            vec!["-o".into(), "type=local".into()],
            "dest=DIR is required",
        ),
        (
            vec!["-o".into(), "type=local,dest=x,foo=1".into()],
            "unknown field \"foo\"",
        ),
        (
            vec!["-o".into(), "-".into(), "-o".into(), "type=tar".into()],
            "one tar",
        ),
    ];
    for (args, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = t.build(ctx.path(), &args);
        assert_ne!(code, 0, "{args:?}");
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    assert!(!nowhere.exists());
    assert_eq!(image_ids(&t), before);
}

/// Runs `rbox ARGS` on a pseudo-terminal (`script`), its standard input none; returns
/// everything the terminal got.
fn on_a_terminal(t: &TestRoot, args: &str) -> (bool, String) {
    let cmd = format!("{} {args}", rbox_bin().display());
    let out = Command::new("timeout")
        .args(["120", "script", "-qec", &cmd, "/dev/null"])
        .env("RBOX_ROOT", t.path())
        .env("RBOX_BRIDGE", &t.bridge)
        .env("RBOX_BRIDGE_SUBNET", &t.subnet)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The last frame the view drew: from its last header on.
fn last_frame(screen: &str) -> &str {
    &screen[screen.rfind("[+] Building").expect("a frame")..]
}

#[test]
fn progress_tty_is_a_live_view_whose_finished_steps_collapse() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9; do echo tick-$i; sleep 0.3; done\nRUN echo done-here\n",
    )]);
    let (ok, screen) = on_a_terminal(
        &t,
        &format!(
            "build --progress tty --network none -t tty:1 {}",
            ctx.path().display()
        ),
    );
    assert!(ok, "{screen}");
    // While the loop ran, its step showed its last lines below it, the newest last, and
    // the timers moved.
    let running: Vec<&str> = screen.split("[+] Building").collect();
    assert!(
        running
            .iter()
            .any(|f| f.contains(" => => # tick-9") && !f.contains("# tick-3")),
        "{screen}"
    );
    assert!(
        running.iter().any(|f| f.contains(" => => # tick-2")),
        "{screen}"
    );
    assert!(
        running.len() > 10,
        "a frame per change and per tick: {}",
        running.len()
    );
    // The last frame: every step with its time, no output left, FINISHED.
    let last = last_frame(&screen);
    assert!(
        last.starts_with("[+] Building") && last.contains("(3/3) FINISHED"),
        "{last}"
    );
    assert!(!last.contains(" => => #"), "collapsed: {last}");
    let step = last
        .lines()
        .find(|l| l.contains("[2/3] RUN for i in"))
        .expect("the RUN step's line");
    let secs: f64 = step
        .replace("\x1b[K", "")
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a time at the end: {step:?}"));
    assert!(secs >= 2.5, "{step:?}");
    assert!(last.contains(" => [1/3] FROM busybox"), "{last}");
    assert!(last.contains("Successfully tagged tty:1"), "{last}");
    // auto is the view on a terminal too; a cached step says so.
    let (ok, screen) = on_a_terminal(
        &t,
        &format!("build --network none {}", ctx.path().display()),
    );
    assert!(ok, "{screen}");
    assert!(
        last_frame(&screen).contains(" => CACHED [2/3] RUN for i in"),
        "{screen}"
    );
    // plain on a terminal is the steps' own lines.
    let (ok, screen) = on_a_terminal(
        &t,
        &format!(
            "build --progress plain --network none {}",
            ctx.path().display()
        ),
    );
    assert!(ok, "{screen}");
    assert!(
        screen.contains("STEP 2/3: RUN for i in") && !screen.contains("[+] Building"),
        "{screen}"
    );

    // A failed step is marked, and its output printed below the view.
    let bad = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo about-to-fail; exit 4\n",
    )]);
    let (ok, screen) = on_a_terminal(
        &t,
        &format!(
            "build --progress tty --network none {}",
            bad.path().display()
        ),
    );
    assert!(!ok, "{screen}");
    let last = last_frame(&screen);
    assert!(
        last.contains(" => ERROR [2/2] RUN echo about-to-fail; exit 4"),
        "{last}"
    );
    assert!(
        last.contains(" > [2/2] RUN echo about-to-fail; exit 4:\r\nabout-to-fail\r\n"),
        "{last}"
    );
    assert!(last.contains("exited with 4"), "{last}");
}

#[test]
fn progress_values_quiet_and_bad_ones() {
    let t = busybox();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo from-the-step\n")]);
    // Not on a terminal: auto is plain, tty an error.
    let (code, out, err) = t.build(ctx.path(), &["--network", "none"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("STEP 2/2: RUN echo from-the-step\nfrom-the-step\n"),
        "{out}"
    );
    let (code, _, err) = t.build(ctx.path(), &["--progress", "tty"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--progress tty") && err.contains("not a terminal"),
        "{err}"
    );
    // quiet: nothing; -q: the id alone.
    let (code, out, err) = t.build(
        ctx.path(),
        &["--progress", "quiet", "--no-cache", "-t", "q:1"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "");
    t.ok(["image", "inspect", "q:1"]);
    let (code, out, err) = t.build(ctx.path(), &["-q", "--progress", "plain", "-t", "q:2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        t.ok(["image", "inspect", "-f", "{{.Id}}", "q:2"]).trim()
    );
    // An unknown value names itself and the values there are.
    let (code, err) = t.fails(["build", "--progress", "fancy", "."]);
    assert_eq!(code, 125);
    assert!(
        err.contains("'fancy'") && err.contains("tty") && err.contains("quiet"),
        "{err}"
    );
}

#[test]
fn platform_is_checked_against_the_base_image() {
    let t = busybox();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN echo built > /b\n")]);
    let arch = t.ok(["image", "inspect", "-f", "{{.Architecture}}", "busybox"]);
    let arch = arch.trim();
    let (code, out, err) = t.build(
        ctx.path(),
        &[
            "--platform",
            &format!("linux/{arch}"),
            "--network",
            "none",
            "-t",
            "p:1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    let before = image_ids(&t);
    let wanted = format!("linux/{other}");
    let (code, _, err) = t.build(ctx.path(), &["--platform", &wanted, "-t", "p:2"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Dockerfile:1")
            && err.contains("FROM busybox")
            && err.contains(&format!("--platform {wanted}"))
            && err.contains(&format!("linux/{arch}")),
        "{err}"
    );
    // A stage of nothing is this host's platform.
    let scratch = context(&[("Dockerfile", "FROM scratch\nCOPY Dockerfile /\n")]);
    let (code, _, err) = t.build(scratch.path(), &["--platform", &wanted, "-t", "p:3"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("FROM scratch") && err.contains("--platform"),
        "{err}"
    );
    let (code, _, err) = t.build(ctx.path(), &["--platform", "a/b/c/d", "-t", "p:4"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--platform a/b/c/d") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(image_ids(&t), before);
}

#[test]
fn history_format_and_human() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN head -c 5000 /dev/zero > /z\nENV A=1\n",
    )]);
    let id = t.build_ok(ctx.path(), "h:1");
    let sizes = t.ok(["history", "--human=false", "--format", "{{.Size}}", "h:1"]);
    let sizes: Vec<u64> = sizes.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(sizes.len(), 4, "{sizes:?}");
    assert_eq!(sizes[0], 0, "ENV makes no layer");
    assert!(sizes[1] > 5000, "{sizes:?}");
    let human = t.ok(["history", "--format", "{{.Size}}", "h:1"]);
    assert!(human.lines().nth(1).unwrap().ends_with("kB"), "{human}");
    // Tables: docker's columns, the header named as docker names it.
    let table = t.ok([
        "history",
        "--format",
        "table {{.ID}}\t{{.CreatedBy}}",
        "h:1",
    ]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("IMAGE     "), "{table}");
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(&id.trim_start_matches("sha256:")[..12]),
        "{table}"
    );
    assert!(first.ends_with("ENV A=1"), "{table}");
    // -H=false: times as RFC 3339, sizes in bytes, in the default table too.
    let plain = t.ok(["history", "-H=false", "h:1"]);
    let row = plain.lines().nth(2).unwrap();
    assert!(row.contains(&sizes[1].to_string()), "{plain}");
    let created = row.split_whitespace().nth(1).unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}: {plain}"
    );
    // CreatedAt is RFC 3339 either way; json is an object a line.
    let at = t.ok(["history", "--format", "{{.CreatedAt}}", "h:1"]);
    assert!(
        chrono::DateTime::parse_from_rfc3339(at.lines().next().unwrap()).is_ok(),
        "{at}"
    );
    let json = t.ok(["history", "--format", "json", "--no-trunc", "h:1"]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["ID"], id.as_str());
    assert_eq!(first["CreatedBy"], "ENV A=1");
    // -q wins over --format, as docker's.
    let q = t.ok(["history", "-q", "--format", "{{.Size}}", "h:1"]);
    assert_eq!(
        q.lines().next().unwrap(),
        &id.trim_start_matches("sha256:")[..12]
    );
    // A template that names no field fails, naming it.
    let (code, err) = t.fails(["history", "--format", "{{.Nope}}", "h:1"]);
    assert_ne!(code, 0);
    assert!(err.contains("Nope"), "{err}");
}
