//! `rbuild`: Dockerfiles as users write them, built and then run, with the cache,
//! .dockerignore, multi-stage builds, whiteouts, reproducibility and bad input.

mod harness;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use harness::{rbox_bin, TestRoot};

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

fn config(t: &TestRoot, image: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", image])).unwrap();
    v[0]["Config"].clone()
}

#[test]
fn a_hello_world_script_is_copied_made_executable_and_run() {
    let t = busybox();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY hello.sh /hello.sh\nRUN chmod +x /hello.sh\nCMD [\"/hello.sh\"]\n",
        ),
        ("hello.sh", "#!/bin/sh\necho Hello from a built image\n"),
    ]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "hello:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("STEP 1/4: FROM busybox") && out.contains("Successfully tagged hello:1"),
        "{out}"
    );
    assert_eq!(
        t.ok(["run", "--rm", "hello:1"]),
        "Hello from a built image\n"
    );
    // Two layers on top of busybox's, and the history says which step made what.
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["image", "inspect", "hello:1"])).unwrap();
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 3);
    let hist = t.ok(["history", "hello:1"]);
    assert!(
        hist.contains("RUN chmod +x /hello.sh") && hist.contains("CMD [\"/hello.sh\"]"),
        "{hist}"
    );
    // Other OCI tools accept the image.
    let layout = t.path().join("images");
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!(
            "oci:{}:docker.io/library/hello:1",
            layout.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("oci-image-tool")
        .args([
            "validate",
            "--type",
            "image",
            "--ref",
            "name=docker.io/library/hello:1",
        ])
        .arg(&layout)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn workdir_expose_entrypoint_cmd_env_and_user_become_the_config() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nENV GREETING=hello NAME=world\nARG SUFFIX=!\nWORKDIR /app\nWORKDIR sub\nEXPOSE 8080 53/udp\nLABEL org.example.tier=\"web tier\"\nUSER nobody\nSTOPSIGNAL SIGUSR1\nENTRYPOINT [\"sh\", \"-c\"]\nCMD [\"echo $GREETING $NAME from $(pwd) as $(id -un)\"]\n",
    )]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "cfg:1", "--build-arg", "SUFFIX=?"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        t.ok(["run", "--rm", "cfg:1"]),
        "hello world from /app/sub as nobody\n"
    );
    let c = config(&t, "cfg:1");
    assert_eq!(c["WorkingDir"], "/app/sub");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["StopSignal"], "SIGUSR1");
    assert!(
        c["ExposedPorts"]["8080/tcp"].is_object() && c["ExposedPorts"]["53/udp"].is_object(),
        "{c}"
    );
    assert_eq!(c["Labels"]["org.example.tier"], "web tier");
    assert_eq!(c["Entrypoint"], serde_json::json!(["sh", "-c"]));
    // A command replaces CMD; the entrypoint stays.
    assert_eq!(t.ok(["run", "--rm", "cfg:1", "echo $NAME"]), "world\n");
}

#[test]
fn a_data_volume_image_gives_its_containers_a_volume() {
    let t = busybox();
    let ctx = context(&[("Dockerfile", "FROM busybox\nRUN mkdir -p /var/lib/mysql && echo seed > /var/lib/mysql/seed\nVOLUME /var/lib/mysql\nCMD [\"/bin/true\"]\n")]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "datavol:1"]);
    assert_eq!(code, 0, "{out}{err}");
    t.ok(["create", "--name", "store", "datavol:1"]);
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--volumes-from",
            "store",
            "busybox",
            "cat",
            "/var/lib/mysql/seed"
        ]),
        "seed\n"
    );
    t.ok(["rm", "-v", "store"]);
}

#[test]
fn multi_stage_builds_copy_from_an_earlier_stage_and_skip_unused_ones() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox AS build\nRUN echo built-artifact > /artifact\n\nFROM busybox AS unused\nRUN exit 1\n\nFROM busybox\nCOPY --from=build /artifact /opt/artifact\nCMD [\"cat\", \"/opt/artifact\"]\n",
    )]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "multi:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("exit 1"), "the unused stage ran: {out}");
    assert_eq!(t.ok(["run", "--rm", "multi:1"]), "built-artifact\n");
    // --target builds only up to that stage.
    let (code, out, err) = build(&t, ctx.path(), &["-t", "multi:build", "--target", "build"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        t.ok(["run", "--rm", "multi:build", "cat", "/artifact"]),
        "built-artifact\n"
    );
}

#[test]
fn the_cache_reuses_steps_until_a_source_changes() {
    let t = busybox();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\n",
        ),
        ("a.txt", "first\n"),
    ]);
    let (code, out, _) = build(&t, ctx.path(), &["-t", "cached:1"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Using cache"), "{out}");
    let first = t.ok(["images", "-q", "--no-trunc", "cached:1"]);
    let (code, out, _) = build(&t, ctx.path(), &["-t", "cached:2"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    // Touching a file (same content) keeps the cache: content, not times.
    std::fs::write(ctx.path().join("a.txt"), "first\n").unwrap();
    let (_, out, _) = build(&t, ctx.path(), &["-t", "cached:3"]);
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    // New content reruns from the COPY on, and only from there.
    std::fs::write(ctx.path().join("a.txt"), "second\n").unwrap();
    let (code, out, _) = build(&t, ctx.path(), &["-t", "cached:4"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 1, "{out}");
    assert_eq!(
        t.ok(["run", "--rm", "cached:4", "cat", "/copy"]),
        "second\n"
    );
    assert_ne!(first, t.ok(["images", "-q", "--no-trunc", "cached:4"]));
    // --no-cache runs everything.
    let (_, out, _) = build(&t, ctx.path(), &["--no-cache", "-t", "cached:5"]);
    assert!(!out.contains("Using cache"), "{out}");
}

#[test]
fn dockerignore_keeps_files_out_and_deletions_become_whiteouts() {
    let t = busybox();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /src\nRUN rm /src/doomed.txt\n",
        ),
        (".dockerignore", "*.log\nsecret/\n!keep.log\n"),
        ("app.txt", "app\n"),
        ("debug.log", "noise\n"),
        ("keep.log", "kept\n"),
        ("secret/key", "k\n"),
        ("doomed.txt", "bye\n"),
    ]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "ignore:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let listing = t.ok(["run", "--rm", "ignore:1", "ls", "-a", "/src"]);
    let names: Vec<&str> = listing
        .lines()
        .filter(|l| *l != "." && *l != "..")
        .collect();
    assert!(
        names.contains(&"app.txt") && names.contains(&"keep.log"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"debug.log") && !names.contains(&"secret"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"doomed.txt"),
        "the deleted file is still there: {names:?}"
    );
}

#[test]
fn builds_are_reproducible_with_source_date_epoch() {
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY f /f\nRUN echo deterministic > /g\nCMD [\"cat\", \"/g\"]\n",
        ),
        ("f", "same\n"),
    ]);
    // Two roots with the same base image (saved from one, loaded into the other).
    let a = busybox();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("busybox.tar");
    a.ok([
        OsStr::new("save"),
        OsStr::new("-o"),
        archive.as_os_str(),
        OsStr::new("busybox"),
    ]);
    let b = TestRoot::new();
    b.ok([OsStr::new("load"), OsStr::new("-i"), archive.as_os_str()]);
    let mut ids = Vec::new();
    for t in [&a, &b] {
        let out = t
            .cmd([
                OsStr::new("build"),
                OsStr::new("-q"),
                OsStr::new("-t"),
                OsStr::new("repro:1"),
                ctx.path().as_os_str(),
            ])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    assert_eq!(ids[0], ids[1], "the same build gave two images");
    let v: serde_json::Value =
        serde_json::from_str(&a.ok(["image", "inspect", "repro:1"])).unwrap();
    assert_eq!(v[0]["Created"], "2023-11-14T22:13:20Z");
}

#[test]
fn bad_dockerfiles_name_the_file_and_line() {
    let t = busybox();
    for (dockerfile, needle) in [
        ("FROM busybox\nFOO bar\n", ":2:"),
        ("RUN true\n", ":1:"),
        (
            "FROM busybox\nCOPY ../outside /x\n",
            "outside the build context",
        ),
        (
            "FROM busybox\nCOPY --from=nosuchstage /x /y\n",
            "nosuchstage",
        ),
        ("FROM busybox\nRUN <<EOF\necho never ends\n", ":2:"),
        ("FROM busybox\nCMD [\"unterminated\"\n", ""),
    ] {
        let ctx = context(&[("Dockerfile", dockerfile)]);
        let (code, out, err) = build(&t, ctx.path(), &["-t", "bad:1"]);
        assert_ne!(code, 0, "{dockerfile:?} built: {out}");
        assert!(
            err.contains("Dockerfile") && err.contains(needle),
            "{dockerfile:?}: {err}"
        );
        assert!(t
            .fails(["image", "inspect", "bad:1"])
            .1
            .contains("no such image"));
    }
    // --check reports without building.
    let ctx = context(&[("Dockerfile", "FROM busybox\nFOO bar\nBAR baz\n")]);
    let (code, _, err) = build(&t, ctx.path(), &["--check"]);
    assert_ne!(code, 0);
    assert!(err.contains(":2:") && err.contains(":3:"), "{err}");
}

#[test]
fn a_failing_run_keeps_no_image_but_keeps_the_cache_before_it() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo step1 > /s1\nRUN echo oops; exit 3\n",
    )]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "broken:1"]);
    assert_ne!(code, 0);
    assert!(
        err.contains(":3:") && err.contains("exited with 3"),
        "{err}"
    );
    assert!(out.contains("oops"), "the step's output is shown: {out}");
    assert!(t
        .fails(["image", "inspect", "broken:1"])
        .1
        .contains("no such image"));
    assert!(
        t.container_ids().is_empty(),
        "a build container was left: {:?}",
        t.container_ids()
    );
    let fixed = context(&[(
        "Dockerfile",
        "FROM busybox\nRUN echo step1 > /s1\nRUN echo fixed\n",
    )]);
    let (code, out, _) = build(&t, fixed.path(), &["-t", "broken:1"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 1, "{out}");
}

#[test]
fn heredocs_run_as_scripts_and_become_files() {
    let t = busybox();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nARG WHO=heredoc\nRUN <<EOF\necho line one > /from-run\necho line two >> /from-run\nEOF\nCOPY <<CONF /etc/app.conf\nname=$WHO\nCONF\nRUN cat <<EOF > /piped\npiped text\nEOF\n",
    )]);
    let (code, out, err) = build(&t, ctx.path(), &["-t", "heredoc:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        t.ok(["run", "--rm", "heredoc:1", "cat", "/from-run"]),
        "line one\nline two\n"
    );
    assert_eq!(
        t.ok(["run", "--rm", "heredoc:1", "cat", "/etc/app.conf"]),
        "name=heredoc\n"
    );
    assert_eq!(
        t.ok(["run", "--rm", "heredoc:1", "cat", "/piped"]),
        "piped text\n"
    );
}

#[test]
fn rbuild_is_rbox_build() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("rbuild");
    std::os::unix::fs::symlink(rbox_bin(), &link).unwrap();
    let ctx = context(&[(
        "Dockerfile",
        "FROM busybox\nCMD [\"echo\", \"via rbuild\"]\n",
    )]);
    let out = Command::new(&link)
        .env("RBOX_ROOT", t.path())
        .args(["-q", "-t", "viarbuild:1"])
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .trim()
        .starts_with("sha256:"));
    assert_eq!(t.ok(["run", "--rm", "viarbuild:1"]), "via rbuild\n");
}
