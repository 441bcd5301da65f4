//! Attacks from the security review (issue: an image must never reach the host), build side:
//! each test performs one attack end to end with the real binary and asserts it fails.

mod harness;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{raw_tar, write_file, TestRoot};

fn busybox() -> TestRoot {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    t
}

/// A build context with `files` (path, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let p = d.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    d
}

fn build(t: &TestRoot, ctx: &Path, args: &[&str]) -> (i32, String, String) {
    let mut full: Vec<&OsStr> = vec![OsStr::new("build")];
    full.extend(args.iter().map(OsStr::new));
    full.push(ctx.as_os_str());
    t.status(full)
}

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
        let (code, out, err) = build(&t, ctx.path(), &["-t", &tag]);
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
    let (code, _, err) = build(&t, ctx.path(), &["-t", "from-image:1"]);
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
    let (code, out, err) = build(&t, ctx.path(), &["-t", "trigger:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let ctx = context(&[("Dockerfile", "FROM trigger:1\nRUN cat /x; true\n")]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "triggered:1"]);
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
        let (code, out, err) = build(&t, c, &["-t", &format!("ign:{i}")]);
        assert_ne!(code, 0, "{copy} built:\n{out}");
        assert!(
            err.contains("Dockerfile:2:") && err.contains("excluded by .dockerignore"),
            "{copy}: {err}"
        );
        assert!(!store_holds(&t, &env_secret) && !store_holds(&t, &key_secret));
    }
    // The whole context: links are copied as links, the excluded files are not there.
    std::fs::write(c.join("Dockerfile"), "FROM busybox\nCOPY . /all\n").unwrap();
    let (code, out, err) = build(&t, c, &["-t", "ign:all"]);
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
