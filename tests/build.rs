//! `rbuild`: Dockerfiles as users write them, built and then run, with the cache,
//! .dockerignore, multi-stage builds, whiteouts, reproducibility and bad input.

mod harness;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use harness::{busybox, context, rbox_bin, TestRoot};

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
    let (code, out, err) = t.build(ctx.path(), &["-t", "hello:1"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "cfg:1", "--build-arg", "SUFFIX=?"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "datavol:1"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "multi:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("exit 1"), "the unused stage ran: {out}");
    assert_eq!(t.ok(["run", "--rm", "multi:1"]), "built-artifact\n");
    // --target builds only up to that stage.
    let (code, out, err) = t.build(ctx.path(), &["-t", "multi:build", "--target", "build"]);
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
    let (code, out, _) = t.build(ctx.path(), &["-t", "cached:1"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Using cache"), "{out}");
    let first = t.ok(["images", "-q", "--no-trunc", "cached:1"]);
    let (code, out, _) = t.build(ctx.path(), &["-t", "cached:2"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    // Touching a file (same content) keeps the cache: content, not times.
    std::fs::write(ctx.path().join("a.txt"), "first\n").unwrap();
    let (_, out, _) = t.build(ctx.path(), &["-t", "cached:3"]);
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    // New content reruns from the COPY on, and only from there.
    std::fs::write(ctx.path().join("a.txt"), "second\n").unwrap();
    let (code, out, _) = t.build(ctx.path(), &["-t", "cached:4"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("Using cache").count(), 1, "{out}");
    assert_eq!(
        t.ok(["run", "--rm", "cached:4", "cat", "/copy"]),
        "second\n"
    );
    assert_ne!(first, t.ok(["images", "-q", "--no-trunc", "cached:4"]));
    // --no-cache runs everything.
    let (_, out, _) = t.build(ctx.path(), &["--no-cache", "-t", "cached:5"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "ignore:1"]);
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
        let (code, out, err) = t.build(ctx.path(), &["-t", "bad:1"]);
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
    let (code, _, err) = t.build(ctx.path(), &["--check"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "broken:1"]);
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
    let (code, out, _) = t.build(fixed.path(), &["-t", "broken:1"]);
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
    let (code, out, err) = t.build(ctx.path(), &["-t", "heredoc:1"]);
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

/// The entry names of layer blob `diff_id` (stored uncompressed: its digest is the diff ID).
fn layer_entries(t: &TestRoot, diff_id: &str) -> Vec<String> {
    let blob = t
        .path()
        .join("images/blobs/sha256")
        .join(diff_id.trim_start_matches("sha256:"));
    let mut ar = tar::Archive::new(std::fs::File::open(blob).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

#[test]
fn commit_makes_a_layer_of_a_containers_changes() {
    let t = busybox();
    t.ok([
        "run",
        "--name",
        "changer",
        "-e",
        "FROM_RUN=yes",
        "busybox",
        "sh",
        "-c",
        "echo committed > /new && rm -r /var/www",
    ]);
    let id = t.ok([
        "commit",
        "-m",
        "added /new",
        "-a",
        "Jane Doe <jane@example.com>",
        "-c",
        r#"CMD ["cat","/new"]"#,
        "-c",
        "ENV LEVEL=2",
        "changer",
        "committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // The file is there, the deleted directory is gone, CMD applies.
    assert_eq!(t.ok(["run", "--rm", "committed:1"]), "committed\n");
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "committed:1",
            "sh",
            "-c",
            "test -e /var/www && echo there || echo gone; echo $FROM_RUN $LEVEL"
        ]),
        "gone\nyes 2\n"
    );
    let hist = t.ok(["history", "committed:1"]);
    assert!(hist.contains("added /new"), "{hist}");
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["image", "inspect", "committed:1"])).unwrap();
    assert_eq!(v[0]["Author"], "Jane Doe <jane@example.com>");
    let layers = v[0]["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    // One layer with the changes only: not the runtime's /etc mount points.
    let entries = layer_entries(&t, layers[1].as_str().unwrap());
    assert_eq!(entries, vec!["new", "var", "var/.wh.www"], "{entries:?}");
    // The container keeps its changes.
    let ids = t.container_ids();
    let upper = t.path().join("containers").join(&ids[0]).join("upper");
    assert!(upper.join("new").is_file() && upper.join("etc/hostname").is_file());

    // A running container is committed live, its command kept as the image's.
    t.ok([
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo live > /live; exec sleep 60",
    ]);
    assert!(harness::eventually(10, || t
        .run(["exec", "live", "test", "-e", "/live"])
        .code
        == 0));
    t.ok(["container", "commit", "live", "live:1"]);
    assert_eq!(t.ok(["run", "--rm", "live:1", "cat", "/live"]), "live\n");
    assert_eq!(
        config(&t, "live:1")["Cmd"],
        serde_json::json!(["sh", "-c", "echo live > /live; exec sleep 60"])
    );
    t.ok(["rm", "-f", "live"]);

    // Only metadata instructions may change the config.
    let (_, err) = t.fails(["commit", "-c", "RUN rm -rf /", "changer", "bad:1"]);
    assert!(err.contains("RUN is not one of"), "{err}");
    let (_, err) = t.fails(["commit", "nosuchcontainer", "bad:1"]);
    assert!(err.contains("nosuchcontainer"), "{err}");
    t.ok(["rm", "changer"]);
}

/// A tiny HTTP server on 127.0.0.1 for ADD's URLs: `GET path` answers the body given for
/// it (404 otherwise), one request per connection; it counts the requests and stops when
/// dropped.
struct FileServer {
    port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    fn start(files: &[(&str, &str)]) -> FileServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_string()))
            .collect();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                r.fetch_add(1, Ordering::SeqCst);
                let target = first.split(' ').nth(1).unwrap_or_default();
                let path = target.split('?').next().unwrap_or_default();
                let reply = match files.iter().find(|(p, _)| p == path) {
                    Some((_, body)) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
                };
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        FileServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn add_fetches_urls_and_verifies_their_checksum() {
    use sha2::Digest;
    let t = busybox();
    let body = "fetched over http\n";
    let sum = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let server = FileServer::start(&[("/files/app.conf", body)]);
    let url = server.url("/files/app.conf");
    let ctx = context(&[(
        "Dockerfile",
        &format!(
            "FROM busybox\nADD {url} /etc/\nADD --checksum=sha256:{sum} {url} /opt/renamed.conf\nADD {url}?v=1 /srv/\n"
        ),
    )]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "fetched:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.requests(), 3);
    // Mode 0600, root's, the URL's name in a directory, the server's time.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "fetched:1",
            "stat",
            "-c",
            "%a %u:%g %Y %n",
            "/etc/app.conf",
            "/opt/renamed.conf",
            "/srv/app.conf"
        ]),
        "600 0:0 1700000000 /etc/app.conf\n600 0:0 1700000000 /opt/renamed.conf\n600 0:0 1700000000 /srv/app.conf\n"
    );
    assert_eq!(
        t.ok(["run", "--rm", "fetched:1", "cat", "/opt/renamed.conf"]),
        body
    );
    // Rebuilt: with a checksum, a cache hit fetches nothing; without one, the content is
    // fetched again to know whether it changed (it didn't: a hit too).
    let (code, out, err) = t.build(ctx.path(), &["-t", "fetched:2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    assert_eq!(server.requests(), 5);
    // A wrong checksum is refused, naming the line; so is a missing file.
    let wrong = "0".repeat(64);
    for (dockerfile, needle) in [
        (
            format!("FROM busybox\nADD --checksum=sha256:{wrong} {url} /x\n"),
            "checksum mismatch",
        ),
        (
            format!("FROM busybox\nADD {} /x\n", server.url("/nosuch")),
            "404",
        ),
    ] {
        let ctx = context(&[("Dockerfile", &dockerfile)]);
        let (code, out, err) = t.build(ctx.path(), &["-t", "bad:1"]);
        assert_ne!(code, 0, "{out}");
        assert!(
            err.contains("Dockerfile:2:") && err.contains(needle),
            "{err}"
        );
    }
    assert!(
        t.leftovers().iter().all(|l| !l.starts_with("build-")),
        "{:?}",
        t.leftovers()
    );
}

#[test]
fn onbuild_triggers_run_in_the_child_build_and_are_not_inherited() {
    let t = busybox();
    let parent = context(&[(
        "Dockerfile",
        "FROM busybox\nONBUILD RUN echo triggered > /onbuild\nONBUILD COPY note.txt /note.txt\nONBUILD ENV CHILD=yes\n",
    )]);
    let (code, out, err) = t.build(parent.path(), &["-t", "parent:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        config(&t, "parent:1")["OnBuild"].as_array().unwrap().len(),
        3
    );
    let (code, _, _) = t.status(["run", "--rm", "parent:1", "test", "-e", "/onbuild"]);
    assert_ne!(code, 0, "the triggers ran in the parent's own build");
    // The child's context gives the trigger's COPY its file.
    let child = context(&[
        (
            "Dockerfile",
            "FROM parent:1\nRUN cat /onbuild /note.txt > /both\n",
        ),
        ("note.txt", "from the child's context\n"),
    ]);
    let (code, out, err) = t.build(child.path(), &["-t", "child:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ONBUILD trigger"), "{out}");
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "child:1",
            "sh",
            "-c",
            "cat /both; echo $CHILD"
        ]),
        "triggered\nfrom the child's context\nyes\n"
    );
    let c = config(&t, "child:1");
    assert!(
        c.get("OnBuild")
            .is_none_or(|o| o.is_null() || o == &serde_json::json!([])),
        "{c}"
    );
    // A grandchild runs nothing more.
    let grandchild = context(&[("Dockerfile", "FROM child:1\nCMD [\"true\"]\n")]);
    let (code, out, err) = t.build(grandchild.path(), &["-t", "grandchild:1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("ONBUILD trigger"), "{out}");
    // A failing trigger names the FROM line.
    let broken = context(&[("Dockerfile", "FROM busybox\nONBUILD RUN exit 4\n")]);
    let (code, out, err) = t.build(broken.path(), &["-t", "broken-parent:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let child = context(&[("Dockerfile", "# a comment\nFROM broken-parent:1\n")]);
    let (code, _, err) = t.build(child.path(), &["-t", "bad:1"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("Dockerfile:2:")
            && err.contains("ONBUILD trigger")
            && err.contains("exited with 4"),
        "{err}"
    );
}

/// Every entry under `root`, by path: type, mode, owner, link target, content digest
/// (times left out).
fn tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    fn walk(root: &Path, rel: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        let mut names: Vec<_> = std::fs::read_dir(root.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let r = rel.join(&n);
            let p = root.join(&r);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let what = if ft.is_symlink() {
                format!("link -> {}", std::fs::read_link(&p).unwrap().display())
            } else if ft.is_dir() {
                "dir".to_owned()
            } else if ft.is_file() {
                format!(
                    "file {}",
                    hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()))
                )
            } else {
                format!("special {:o} {}", m.mode() & 0o170000, m.rdev())
            };
            out.insert(
                r.display().to_string(),
                format!("{what} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
            );
            if ft.is_dir() {
                walk(root, &r, out);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// A read-only overlay mount, unmounted when dropped.
struct Overlay(std::path::PathBuf);

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn umoci_unpacks_a_built_image_to_the_tree_a_container_sees() {
    let t = busybox();
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN mkdir -p /data/sub /data/gone && echo one > /data/a && echo two > /data/sub/b && ln -s a /data/link && chmod 640 /data/a && touch /data/gone/x\nRUN rm /data/sub/b /bin/vi && echo three > /data/c && rm -rf /home /data/gone && mkdir /data/gone && echo fresh > /data/gone/y && chown 1:2 /data/c\nCOPY --chmod=0751 f /data/f\n",
        ),
        ("f", "copied\n"),
    ]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "layers:1"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["image", "inspect", "layers:1"])).unwrap();
    let diff_ids: Vec<String> = v[0]["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(diff_ids.len(), 4);

    // umoci's unpacking of the layout.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!(
            "{}:docker.io/library/layers:1",
            t.path().join("images").display()
        ))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = tree(&bundle.join("rootfs"));

    // rbox's snapshots stacked as a container's overlay (read-only, no upper).
    let mut chain: Vec<String> = Vec::new();
    for d in &diff_ids {
        use sha2::Digest;
        let id = match chain.last() {
            None => d.clone(),
            Some(p) => format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(format!("{p} {d}").as_bytes()))
            ),
        };
        chain.push(id);
    }
    let lowers: Vec<String> = chain
        .iter()
        .rev()
        .map(|c| {
            t.path()
                .join("snapshots")
                .join(c.trim_start_matches("sha256:"))
                .join("fs")
                .display()
                .to_string()
        })
        .collect();
    let merged = dir.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    let st = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!("ro,lowerdir={}", lowers.join(":")))
        .arg(&merged)
        .status()
        .unwrap();
    assert!(st.success(), "mounting the overlay failed");
    let mount = Overlay(merged.clone());
    let ours = tree(&merged);
    drop(mount);

    for p in ["data/a", "data/link", "data/c", "data/f", "data/gone/y"] {
        assert!(ours.contains_key(p), "{p} is missing from the overlay");
    }
    for p in ["data/sub/b", "home", "bin/vi", "data/gone/x"] {
        assert!(!ours.contains_key(p), "{p} was deleted but is there");
    }
    let only_ours: Vec<_> = ours
        .iter()
        .filter(|(k, v)| theirs.get(*k) != Some(v))
        .collect();
    let only_theirs: Vec<_> = theirs
        .iter()
        .filter(|(k, v)| ours.get(*k) != Some(v))
        .collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "the trees differ:\nrbox: {only_ours:?}\numoci: {only_theirs:?}"
    );
    assert!(harness::mounts_under(dir.path()).is_empty());
}

#[test]
fn a_missing_base_image_is_pulled_and_a_failed_pull_names_the_line() {
    let t = busybox();
    // A registry that isn't there: a closed loopback port.
    let ctx = context(&[(
        "Dockerfile",
        "# base\nFROM 127.0.0.1:1/nosuch:1\nRUN true\n",
    )]);
    let (code, out, err) = t.build(ctx.path(), &["-t", "bad:1"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("Unable to find image '127.0.0.1:1/nosuch:1' locally"),
        "{err}"
    );
    assert!(
        err.contains("Dockerfile:2:") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    // A name that is no reference is not pulled.
    let ctx = context(&[("Dockerfile", "FROM Not_A_Reference\n")]);
    let (code, _, err) = t.build(ctx.path(), &["-t", "bad:1"]);
    assert_ne!(code, 0);
    assert!(
        !err.contains("Unable to find image") && err.contains("Dockerfile:1:"),
        "{err}"
    );
}
