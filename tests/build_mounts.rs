//! `RUN --mount` (cache, bind, tmpfs, secret, ssh), `RUN --security`, build secrets, and
//! what a built image's config and layers hold, end to end with the real binary.

mod harness;

use std::fs;
use std::path::Path;

use harness::{busybox, context, mounts_under, TestRoot};

/// `cat FILE` in a container of `image`.
fn cat(t: &TestRoot, image: &str, file: &str) -> String {
    t.ok(["run", "--rm", image, "cat", file])
}

/// Whether `path` exists in `image`.
fn exists(t: &TestRoot, image: &str, path: &str) -> bool {
    t.run(["run", "--rm", image, "test", "-e", path]).code == 0
}

/// What a failed build must not leave: new blobs, snapshots, containers, mounts, tmp files.
struct StoreState {
    blobs: Vec<String>,
    snapshots: Vec<String>,
}

impl StoreState {
    fn of(t: &TestRoot) -> StoreState {
        StoreState {
            blobs: t.blobs(),
            snapshots: t.snapshots(),
        }
    }

    fn assert_unchanged(&self, t: &TestRoot, what: &str) {
        assert_eq!(t.blobs(), self.blobs, "{what}: blobs left");
        assert_eq!(t.snapshots(), self.snapshots, "{what}: snapshots left");
        assert!(t.container_ids().is_empty(), "{what}: containers left");
        assert!(mounts_under(t.path()).is_empty(), "{what}: mounts left");
        assert!(
            t.leftovers().is_empty(),
            "{what}: {:?} in tmp",
            t.leftovers()
        );
    }
}

/// Every file under `dir` holding `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            out.extend(files_holding(&p, needle));
        } else if m.is_file() {
            if let Ok(bytes) = fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(p.display().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn a_cache_mount_survives_between_builds_and_is_not_in_the_image() {
    let t = busybox();
    let df = "FROM busybox\nARG N\nRUN --mount=type=cache,target=/var/cache/app echo $N >> /var/cache/app/log && cp /var/cache/app/log /seen\n";
    let ctx = context(&[("Dockerfile", df)]);
    let build = |n: &str, tag: &str| {
        let (code, out, err) = t.build(
            ctx.path(),
            &["-q", "-t", tag, "--build-arg", &format!("N={n}")],
        );
        assert_eq!(code, 0, "{out}{err}");
    };
    // `system df`'s Build Cache row: caches, those in use, what pruning frees.
    let cache_row = || {
        let out = t.ok([
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}} {{.Reclaimable}}",
        ]);
        let row = out.lines().find(|l| l.starts_with("Build Cache"));
        row.expect("a Build Cache row").to_owned()
    };
    assert_eq!(cache_row(), "Build Cache 0 0 0B");
    build("1", "c:1");
    build("2", "c:2");
    assert_eq!(cat(&t, "c:2", "/seen"), "1\n2\n");
    let row = cache_row();
    assert!(
        row.starts_with("Build Cache 1 0 ") && !row.ends_with(" 0B"),
        "{row}"
    );
    // Neither the cache's content nor its mount point is in the image.
    assert!(!exists(&t, "c:2", "/var/cache/app"));
    assert!(exists(&t, "c:2", "/var"), "the image's own /var is kept");
    // Another id is another cache; `builder prune` empties them.
    let other =
        "FROM busybox\nRUN --mount=type=cache,target=/c,id=other,sharing=locked ls /c > /seen\n";
    let ctx2 = context(&[("Dockerfile", other)]);
    t.build_ok(ctx2.path(), "c:other");
    assert_eq!(cat(&t, "c:other", "/seen"), "");
    assert!(
        cache_row().starts_with("Build Cache 2 0 "),
        "{}",
        cache_row()
    );
    t.ok(["builder", "prune", "-f"]);
    assert_eq!(cache_row(), "Build Cache 0 0 0B");
    build("3", "c:3");
    assert_eq!(cat(&t, "c:3", "/seen"), "3\n");
    // `system prune` clears them too.
    t.ok(["system", "prune", "-f"]);
    build("4", "c:4");
    assert_eq!(cat(&t, "c:4", "/seen"), "4\n");
    // mode, uid and gid make the cache's directory; a private one is another instance
    // only when this one is in use.
    let owned = "FROM busybox\nRUN --mount=type=cache,target=/c,id=o,mode=0700,uid=1000,gid=1001,sharing=private stat -c '%a %u %g' /c > /seen\n";
    let ctx3 = context(&[("Dockerfile", owned)]);
    t.build_ok(ctx3.path(), "c:owned");
    assert_eq!(cat(&t, "c:owned", "/seen"), "700 1000 1001\n");
    // A cache mount seeded from a stage.
    let seeded = "FROM busybox AS seed\nRUN mkdir /s && echo seeded > /s/f\nFROM busybox\nRUN --mount=type=cache,target=/c,id=seeded,from=seed,source=/s cat /c/f > /seen\n";
    let ctx4 = context(&[("Dockerfile", seeded)]);
    t.build_ok(ctx4.path(), "c:seeded");
    assert_eq!(cat(&t, "c:seeded", "/seen"), "seeded\n");
}

#[test]
fn a_secret_is_readable_in_run_and_nowhere_in_the_store() {
    let t = busybox();
    let secret = format!(
        "s3cr3t-{}",
        harness::random_bytes(16)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    fs::write(&file, &secret).unwrap();
    let df = "FROM busybox\n\
        RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && stat -c '%a %u' /run/secrets/tok > /mode\n\
        RUN --mount=type=secret,id=tok,target=/s,mode=0440,uid=7 stat -c '%a %u' /s > /mode2\n\
        RUN --mount=type=secret,id=env,env=TOKEN sh -c 'echo ${#TOKEN} > /envlen'\n\
        RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent\n";
    let ctx = context(&[("Dockerfile", df)]);
    let src = format!("id=tok,src={}", file.display());
    let mut cmd = t.cmd([
        "build",
        "-t",
        "s:1",
        "--secret",
        &src,
        "--secret",
        "id=env,env=THE_TOKEN",
    ]);
    cmd.arg(ctx.path()).env("THE_TOKEN", &secret);
    let out = cmd.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(
        !log.contains(&secret),
        "the secret is in the build's output"
    );
    let n = secret.len().to_string();
    assert_eq!(cat(&t, "s:1", "/len").trim(), n);
    assert_eq!(cat(&t, "s:1", "/envlen").trim(), n);
    assert_eq!(cat(&t, "s:1", "/mode"), "400 0\n");
    assert_eq!(cat(&t, "s:1", "/mode2"), "440 7\n");
    assert!(!exists(&t, "s:1", "/run/secrets"));
    assert!(!exists(&t, "s:1", "/s"));
    // Not in any layer, config, history, cache entry or record of the store.
    let found = files_holding(t.path(), secret.as_bytes());
    assert!(found.is_empty(), "the secret is in {found:?}");
    let history = t.ok(["history", "--no-trunc", "s:1"]);
    assert!(!history.contains(&secret));
    // The secret's value is not in the cache key: another value reuses every step.
    fs::write(&file, "another value").unwrap();
    let mut again = t.cmd([
        "build",
        "-t",
        "s:2",
        "--secret",
        &src,
        "--secret",
        "id=env,env=THE_TOKEN",
    ]);
    again.arg(ctx.path()).env("THE_TOKEN", "x");
    let out = again.output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("Using cache")
            .count(),
        4,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_bind_from_a_stage_is_read_only_and_its_writes_vanish() {
    let t = busybox();
    let df = "FROM busybox AS src\n\
        RUN mkdir /data && echo hello > /data/f && ln -s / /data/up\n\
        FROM busybox\n\
        RUN --mount=type=bind,from=src,source=/data,target=/m cat /m/f > /got && ! touch /m/x 2>/dev/null && echo ro > /ro\n\
        RUN --mount=type=bind,from=src,source=/data,target=/m,rw echo changed > /m/f && cat /m/f > /rw\n\
        RUN --mount=type=bind,from=src,source=/data,target=/m cat /m/f > /after\n\
        RUN --mount=type=bind,from=src,source=/data/up,target=/m ls /m > /up\n\
        RUN --mount=target=/ctx cat /ctx/file > /fromctx && test ! -e /ctx/ignored\n\
        RUN --mount=type=bind,source=file,target=/one/file cat /one/file > /single\n";
    let ctx = context(&[
        ("Dockerfile", df),
        ("file", "from the context\n"),
        ("ignored", "x"),
        (".dockerignore", "ignored\n"),
    ]);
    t.build_ok(ctx.path(), "b:1");
    assert_eq!(cat(&t, "b:1", "/got"), "hello\n");
    assert!(exists(&t, "b:1", "/ro"));
    assert_eq!(cat(&t, "b:1", "/rw"), "changed\n");
    assert_eq!(cat(&t, "b:1", "/after"), "hello\n");
    assert_eq!(cat(&t, "b:1", "/fromctx"), "from the context\n");
    assert_eq!(cat(&t, "b:1", "/single"), "from the context\n");
    // A link to / inside the stage is the stage's /, not the host's.
    let up = cat(&t, "b:1", "/up");
    let root_name = t.path().components().nth(1).unwrap();
    assert!(
        up.lines().any(|l| l == "data") && up.lines().any(|l| l == "bin"),
        "{up}"
    );
    assert!(
        !up.lines()
            .any(|l| l != "tmp" && Path::new(l) == Path::new(&root_name)),
        "{up}"
    );
    assert!(!exists(&t, "b:1", "/m"));
    assert!(!exists(&t, "b:1", "/ctx"));
    assert!(!exists(&t, "b:1", "/one"));
    // A bind's content is in the key: a changed context file runs the step again.
    fs::write(ctx.path().join("file"), "changed\n").unwrap();
    t.build_ok(ctx.path(), "b:2");
    assert_eq!(cat(&t, "b:2", "/fromctx"), "changed\n");
}

#[test]
fn tmpfs_and_ssh_mounts() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || {
        // One connection: answer what the step sends.
        if let Ok((mut c, _)) = listener.accept() {
            use std::io::{Read, Write};
            let mut buf = [0u8; 4];
            if c.read_exact(&mut buf).is_ok() && &buf == b"ping" {
                let _ = c.write_all(b"pong");
            }
        }
    });
    let df = "FROM busybox\n\
        RUN --mount=type=tmpfs,target=/t,size=1m sh -c 'echo x > /t/a && ! dd if=/dev/zero of=/t/big bs=1k count=2048 2>/dev/null' && echo ok > /tmpfs\n\
        RUN --mount=type=ssh,mode=0666 test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock && stat -c %a \"$SSH_AUTH_SOCK\" >> /sock\n";
    let ctx = context(&[("Dockerfile", df)]);
    let ssh = format!("default={}", sock.display());
    let (code, out, err) = t.build(ctx.path(), &["-q", "-t", "m:1", "--ssh", &ssh]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(cat(&t, "m:1", "/tmpfs"), "ok\n");
    assert_eq!(cat(&t, "m:1", "/sock"), "/run/buildkit/ssh_agent.0\n666\n");
    assert!(!exists(&t, "m:1", "/t"));
    assert!(!exists(&t, "m:1", "/run/buildkit"));
    // A required agent that was not given.
    let req = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh,required true\n",
    )]);
    let (code, _, err) = t.build(req.path(), &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Dockerfile:2:") && err.contains("--ssh"),
        "{err}"
    );
    drop(std::os::unix::net::UnixStream::connect(&sock));
    agent.join().unwrap();
}

#[test]
fn insecure_runs_only_when_allowed() {
    let t = busybox();
    let df = "FROM busybox\nRUN --security=insecure mkdir -p /x && mount -t tmpfs none /x && umount /x && echo done > /done\n";
    let ctx = context(&[("Dockerfile", df)]);
    let (code, _, err) = t.build(ctx.path(), &["-q"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Dockerfile:2:") && err.contains("--allow security.insecure"),
        "{err}"
    );
    let (code, out, err) = t.build(
        ctx.path(),
        &["-q", "-t", "i:1", "--allow", "security.insecure"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(cat(&t, "i:1", "/done"), "done\n");
    let bad = context(&[("Dockerfile", "FROM busybox\nRUN --security=lax true\n")]);
    let (code, _, err) = t.build(bad.path(), &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Dockerfile:2:") && err.contains("sandbox or insecure"),
        "{err}"
    );
}

#[test]
fn bad_mounts_fail_with_the_line_and_leave_nothing() {
    let t = busybox();
    let before = StoreState::of(&t);
    for (run, says) in [
        (
            "RUN --mount=type=volume,target=/x true",
            "unknown mount type",
        ),
        (
            "RUN --mount=type=cache,target=/x,colour=red true",
            "unknown option \"colour\"",
        ),
        (
            "RUN --mount=type=cache,target=/x,id=../../.. true",
            "climbs out",
        ),
        (
            "RUN --mount=type=secret,id=nope,required=true true",
            "secret nope is required",
        ),
        (
            "RUN --mount=type=bind,from=nowhere,target=/x true",
            "no such stage or image",
        ),
        (
            "ARG T=tmpfs\nRUN --mount=type=$T,target=/x,id=a true",
            "unknown option \"id\"",
        ),
        (
            "ARG I=../up\nRUN --mount=type=cache,target=/x,id=$I true",
            "climbs out",
        ),
    ] {
        let df = format!("FROM busybox\n{run}\n");
        let line = if run.starts_with("ARG") { 3 } else { 2 };
        let ctx = context(&[("Dockerfile", &df)]);
        let (code, out, err) = t.build(ctx.path(), &[]);
        assert_ne!(code, 0, "{run}: {out}");
        assert!(
            err.contains(&format!("Dockerfile:{line}:")) && err.contains(says),
            "{run}: {err}"
        );
        before.assert_unchanged(&t, run);
    }
    // No cache directory was made for the refused id.
    let mounts = t.path().join("build-cache/mounts");
    assert!(
        fs::read_dir(&mounts).map_or(true, |d| d.count() == 0),
        "a cache mount was made"
    );
}

#[test]
fn an_image_from_a_base_without_path_gets_dockers_default_path() {
    let t = busybox();
    harness::image_with_config(&t, "busybox", "nopath", serde_json::json!({"Env": null}));
    let ctx = context(&[("Dockerfile", "FROM nopath\nRUN true\n")]);
    t.build_ok(ctx.path(), "p:1");
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", "p:1"])).unwrap();
    assert_eq!(
        v[0]["Config"]["Env"],
        serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    );
    // FROM scratch too, and a base's own PATH is kept.
    let ctx = context(&[("Dockerfile", "FROM scratch\nENV A=1\n")]);
    t.build_ok(ctx.path(), "p:2");
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", "p:2"])).unwrap();
    assert_eq!(
        v[0]["Config"]["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "A=1"
        ])
    );
    harness::image_with_config(
        &t,
        "busybox",
        "ownpath",
        serde_json::json!({"Env": ["PATH=/opt"]}),
    );
    let ctx = context(&[("Dockerfile", "FROM ownpath\nENV B=2\n")]);
    t.build_ok(ctx.path(), "p:3");
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", "p:3"])).unwrap();
    assert_eq!(
        v[0]["Config"]["Env"],
        serde_json::json!(["PATH=/opt", "B=2"])
    );
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let t = busybox();
    let stage = |name: &str| {
        format!(
            "FROM busybox AS {name}\nRUN cut -d' ' -f1 /proc/uptime > /start && sleep 2 && cut -d' ' -f1 /proc/uptime > /end && echo {name} done\n"
        )
    };
    let df = format!(
        "{}{}FROM busybox\nCOPY --from=one /start /one.start\nCOPY --from=one /end /one.end\nCOPY --from=two /start /two.start\nCOPY --from=two /end /two.end\n",
        stage("one"),
        stage("two")
    );
    let ctx = context(&[("Dockerfile", &df)]);
    let started = std::time::Instant::now();
    let (code, out, err) = t.build(ctx.path(), &["-t", "par:1"]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    let secs = |f: &str| -> f64 { cat(&t, "par:1", f).trim().parse().unwrap() };
    let (a0, a1, b0, b1) = (
        secs("/one.start"),
        secs("/one.end"),
        secs("/two.start"),
        secs("/two.end"),
    );
    assert!(
        a0 < b1 && b0 < a1,
        "the stages did not overlap: one {a0}..{a1}, two {b0}..{b1} ({took:?})\n{out}"
    );
    eprintln!("two stages of sleep 2 built in {took:?}");
    // Each stage's lines carry its prefix, in order within the stage.
    assert!(out.contains("#1 [one 2/2] STEP"), "{out}");
    assert!(out.contains("#2 [two 2/2] STEP"), "{out}");
    assert!(out.lines().any(|l| l == "#1 one done"), "{out}");
    assert!(out.lines().any(|l| l == "#2 two done"), "{out}");
    let one: Vec<&str> = out.lines().filter(|l| l.starts_with("#1 ")).collect();
    let step = one.iter().position(|l| l.contains("RUN cut")).unwrap();
    let done = one.iter().position(|l| *l == "#1 one done").unwrap();
    assert!(step < done, "{out}");
    // A failure names its stage and line.
    let bad = format!("{}FROM busybox AS two\nRUN false\nFROM busybox\nCOPY --from=one /start /a\nCOPY --from=two /etc/passwd /b\n", stage("one"));
    let ctx = context(&[("Dockerfile", &bad)]);
    let (code, out, err) = t.build(ctx.path(), &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("Dockerfile:4: [two] RUN false: exited with 1"),
        "{err}"
    );
}

#[test]
fn a_rebuild_after_one_file_changed_is_the_image_a_cold_build_makes() {
    let t = busybox();
    let mut files: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("data/d{}/f{i}.txt", i % 7),
                format!("file {i}\n").repeat(i % 50 + 1),
            )
        })
        .collect();
    // Big files first in the layer's order: its hash has checkpoints before the changes.
    for k in 0..3 {
        files.push((
            format!("data/d0/big{k}.bin"),
            format!("{k} big\n").repeat(200_000),
        ));
    }
    files.push((
        "Dockerfile".into(),
        "FROM busybox\nCOPY data /data\nADD data /added/\nCOPY --chmod=600 data/d1 /one\nCMD [\"/bin/sh\"]\n".into(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let ctx = context(&refs);
    let build = |args: &[&str]| {
        let mut cmd = t.cmd(["build", "-t", "inc:1"]);
        cmd.args(args)
            .arg(ctx.path())
            .env("SOURCE_DATE_EPOCH", "1700000000");
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (text.lines().last().unwrap().to_owned(), text)
    };
    build(&[]);
    fs::write(ctx.path().join("data/d1/f8.txt"), "changed\n").unwrap();
    let (incremental, log) = build(&[]);
    assert!(
        log.contains("--> 302 of 303 files unchanged since the last build"),
        "{log}"
    );
    assert!(
        log.contains("--> 42 of 43 files unchanged since the last build"),
        "{log}"
    );
    // Its layers are kept as ranges of the last build's and their own bytes, not copies.
    let spliced = t.path().join("images/blobs/spliced");
    let recipes = || fs::read_dir(&spliced).map_or(0, |d| d.count());
    assert!(recipes() >= 2, "no layer kept spliced");
    assert_eq!(cat(&t, "inc:1", "/data/d1/f8.txt"), "changed\n");
    assert_eq!(cat(&t, "inc:1", "/added/d1/f8.txt"), "changed\n");
    // The earlier images pruned, what the kept layers are made of stays; a save writes
    // them whole, and loads elsewhere as the same image.
    t.ok(["image", "prune", "-f"]);
    let check = t.run(["system", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let archive = tempfile::tempdir().unwrap();
    let tar = archive.path().join("inc.tar");
    t.ok([
        std::ffi::OsStr::new("save"),
        "-o".as_ref(),
        tar.as_os_str(),
        "inc:1".as_ref(),
    ]);
    let other = TestRoot::new();
    other.ok([std::ffi::OsStr::new("load"), "-i".as_ref(), tar.as_os_str()]);
    assert_eq!(cat(&other, "inc:1", "/data/d1/f8.txt"), "changed\n");
    other.assert_blobs_match_digests();
    assert_eq!(cat(&t, "inc:1", "/data/d2/f9.txt"), "file 9\n".repeat(10));
    let (cold, log) = build(&["--no-cache"]);
    assert!(
        !log.contains("unchanged since the last build"),
        "--no-cache builds cold, copying every file: {log}"
    );
    assert_eq!(incremental, cold, "the incremental build is another image");
    // Other changes, each built over the last build and then cold: a change of the same
    // size (the tars differ inside a file's content), a change of the layer's first file,
    // and the layer's last file removed (the new tar is the start of the old one).
    let d6 = ctx.path().join("data/d6");
    let last = fs::read_dir(&d6)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .max()
        .unwrap();
    for what in ["same size", "first file", "last file removed"] {
        match what {
            "same size" => fs::write(ctx.path().join("data/d2/f9.txt"), "FILE 9\n".repeat(10)),
            "first file" => fs::write(ctx.path().join("data/d0/big0.bin"), "0 changed\n"),
            _ => fs::remove_file(d6.join(&last)),
        }
        .unwrap();
        let (incremental, _) = build(&[]);
        let (cold, _) = build(&["--no-cache"]);
        assert_eq!(
            incremental, cold,
            "{what}: the incremental build is another image"
        );
    }
    assert_eq!(cat(&t, "inc:1", "/data/d2/f9.txt"), "FILE 9\n".repeat(10));
    assert_eq!(cat(&t, "inc:1", "/data/d0/big0.bin"), "0 changed\n");
    t.assert_blobs_match_digests();
    let check = t.run(["system", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

#[test]
fn of_two_sources_writing_one_path_the_later_wins_on_a_rebuild_too() {
    let t = busybox();
    let ctx = context(&[
        ("a/x", "same\n"),
        ("b/x", "same\n"),
        ("a/only", "a\n"),
        ("Dockerfile", "FROM busybox\nCOPY a/ b/ /d/\n"),
    ]);
    let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    let set = |f: &str| {
        fs::File::options()
            .write(true)
            .open(ctx.path().join(f))
            .unwrap()
            .set_modified(past)
            .unwrap()
    };
    set("a/x");
    set("b/x");
    let build = |args: &[&str]| {
        let (code, out, err) = t.build(ctx.path(), &[&["-q", "-t", "two:1"], args].concat());
        assert_eq!(code, 0, "{out}{err}");
        out.trim().to_owned()
    };
    build(&[]);
    assert_eq!(cat(&t, "two:1", "/d/x"), "same\n");
    // a/x is still what the last build left at /d/x; b/x, written after it, is not.
    fs::write(ctx.path().join("b/x"), "new\n").unwrap();
    let incremental = build(&[]);
    assert_eq!(cat(&t, "two:1", "/d/x"), "new\n");
    assert_eq!(cat(&t, "two:1", "/d/only"), "a\n");
    assert_eq!(incremental, build(&["--no-cache"]));
}

#[test]
fn copied_directories_keep_their_times_so_a_rebuild_makes_the_cold_builds_layer() {
    let t = busybox();
    let ctx = context(&[
        ("data/sub/f", "one\n"),
        ("data/sub/g", "two\n"),
        ("data/h", "three\n"),
        ("Dockerfile", "FROM busybox\nCOPY data /data\n"),
    ]);
    // Directory times long past, as a checkout's are.
    let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    let set = |dir: &str| {
        fs::File::open(ctx.path().join(dir))
            .unwrap()
            .set_modified(past)
            .unwrap()
    };
    set("data/sub");
    set("data");
    let layers = |args: &[&str]| {
        let (code, out, err) = t.build(ctx.path(), &[&["-q", "-t", "times:1"], args].concat());
        assert_eq!(code, 0, "{out}{err}");
        let v: serde_json::Value =
            serde_json::from_str(&t.ok(["image", "inspect", "times:1"])).unwrap();
        v[0]["RootFS"]["Layers"].clone()
    };
    layers(&[]);
    // As BuildKit: the directory copied into and those copied keep their source's times.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "times:1",
            "stat",
            "-c",
            "%Y",
            "/data",
            "/data/sub"
        ]),
        "1600000000\n1600000000\n"
    );
    // A file changes (its directory's time kept): the rebuild, made over the last layer,
    // and a cold build make the same layers, with no SOURCE_DATE_EPOCH.
    fs::write(ctx.path().join("data/sub/g"), "changed\n").unwrap();
    set("data/sub");
    let incremental = layers(&[]);
    assert_eq!(
        t.ok(["run", "--rm", "times:1", "stat", "-c", "%Y", "/data/sub"]),
        "1600000000\n"
    );
    assert_eq!(incremental, layers(&["--no-cache"]));
    assert_eq!(cat(&t, "times:1", "/data/sub/g"), "changed\n");
}

#[test]
fn named_build_contexts_and_unsupported_features() {
    let t = busybox();
    let other = context(&[("lib/f", "from the other context\n"), ("lib/.hidden", "h")]);
    let df = "FROM base\nCOPY --from=extra lib /lib2\nRUN --mount=from=extra,source=lib,target=/m cat /m/f > /seen\nCOPY --from=img /bin/busybox /bb\n";
    let ctx = context(&[("Dockerfile", df)]);
    let extra = format!("extra={}", other.path().display());
    let (code, out, err) = t.build(
        ctx.path(),
        &[
            "-q",
            "-t",
            "n:1",
            "--build-context",
            "base=docker-image://busybox:latest",
            "--build-context",
            &extra,
            "--build-context",
            "img=docker-image://busybox",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(cat(&t, "n:1", "/lib2/f"), "from the other context\n");
    assert_eq!(cat(&t, "n:1", "/seen"), "from the other context\n");
    assert!(exists(&t, "n:1", "/bb"));
    for (flag, says) in [
        (
            "x=git@github.com:a/b.git",
            "only a directory or docker-image://REF",
        ),
        ("x=/nonexistent", "is not a directory"),
        ("novalue", "NAME=DIR"),
    ] {
        let (code, _, err) = t.build(ctx.path(), &["--build-context", flag]);
        assert_ne!(code, 0);
        assert!(err.contains(says), "{flag}: {err}");
    }
    let before = StoreState::of(&t);
    for (ins, says) in [
        ("COPY --parents a/b /x/", "COPY --parents is not supported"),
        (
            "COPY --exclude=*.md . /x/",
            "COPY --exclude is not supported",
        ),
        (
            "ADD https://github.com/moby/buildkit.git /src",
            "adding a git repository is not supported",
        ),
        ("ADD --keep-git-dir https://h/r.git /src", "not supported"),
    ] {
        let ctx = context(&[("Dockerfile", &format!("FROM busybox\n{ins}\n"))]);
        let (code, _, err) = t.build(ctx.path(), &[]);
        assert_ne!(code, 0);
        assert!(
            err.contains("Dockerfile:2:") && err.contains(says),
            "{ins}: {err}"
        );
        before.assert_unchanged(&t, ins);
    }
}

#[test]
fn a_cache_exported_to_a_directory_is_used_by_another_root() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    let df = "FROM busybox\nCOPY f /f\nRUN echo built > /r\n";
    let ctx = context(&[("Dockerfile", df), ("f", "x\n")]);
    let to = format!("type=local,dest={}", dir.path().display());
    let (code, out, err) = t.build(ctx.path(), &["-t", "e:1", "--cache-to", &to]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.path().join("index.json").is_file());
    // Another machine with the same base image.
    let other = TestRoot::new();
    let archive = dir.path().join("busybox.tar");
    t.ok([
        std::ffi::OsStr::new("save"),
        "-o".as_ref(),
        archive.as_os_str(),
        "busybox".as_ref(),
    ]);
    other.ok([
        std::ffi::OsStr::new("load"),
        "-i".as_ref(),
        archive.as_os_str(),
    ]);
    let from = format!("type=local,src={}", dir.path().display());
    let (code, out, err) = other.build(ctx.path(), &["-t", "e:1", "--cache-from", &from]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("Using cache").count(), 2, "{out}");
    assert_eq!(cat(&other, "e:1", "/r"), "built\n");
    other.assert_blobs_match_digests();
    for (flag, v, says) in [
        ("--cache-from", "type=registry,ref=x", "not supported"),
        ("--cache-to", "type=local", "dest=DIR is required"),
        ("--cache-from", "src=/x", "type=local"),
    ] {
        let (code, _, err) = other.build(ctx.path(), &[flag, v]);
        assert_ne!(code, 0);
        assert!(err.contains(says), "{flag} {v}: {err}");
    }
}
