//! Docker's command line as users type it: the management-command forms, `=true|false` on
//! boolean flags, docker's flags (done, docker's no-ops, or refused by name), the verbs
//! `version`, `info`, `diff`, `export`, `search`, bad input as docker reports it, images
//! made by other tools (umoci, pushed by skopeo), and the busybox fixture as Docker Hub's.

mod harness;

use std::path::Path;
use std::process::{Command, Stdio};

use harness::{busybox, busybox_tarball, Registry, TestRoot};

#[test]
fn management_forms_and_short_forms_are_one_verb() {
    let t = busybox();
    t.ok(["container", "create", "--name", "a", "busybox", "true"]);
    t.ok(["create", "--name", "b", "busybox", "true"]);
    let ls = t.ok(["container", "ls", "-a", "--format", "{{.Names}}"]);
    let ps = t.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ls, ps);
    assert_eq!(
        t.ok(["container", "list", "--all=true", "-q"])
            .lines()
            .count(),
        2
    );
    assert_eq!(t.ok(["image", "ls", "-q"]), t.ok(["images", "-q"]));
    assert_eq!(
        t.ok(["image", "history", "-q", "busybox"]),
        t.ok(["history", "-q", "busybox"])
    );
    t.ok(["image", "tag", "busybox", "bb:2"]);
    t.ok(["image", "rm", "bb:2"]);
    t.ok(["container", "start", "-a", "a"]);
    t.ok(["container", "wait", "a"]);
    t.ok(["container", "rm", "a", "b"]);
}

#[test]
fn boolean_flags_take_true_and_false() {
    let t = busybox();
    t.ok([
        "run",
        "--name",
        "kept",
        "--rm=false",
        "busybox",
        "echo",
        "kept",
    ]);
    t.ok(["run", "--rm=true", "busybox", "true"]);
    // Only `kept` is left: --rm=true removed the other.
    assert_eq!(
        t.ok(["ps", "--all=true", "--format", "{{.Names}}"]),
        "kept\n"
    );
    assert_eq!(t.ok(["ps", "--all=false", "-q"]), "");
    assert_eq!(
        t.ok(["logs", "--follow=false", "--timestamps=false", "kept"]),
        "kept\n"
    );
    let (code, err) = t.fails(["ps", "--all=maybe"]);
    assert_eq!(code, 125);
    assert!(err.contains("--all"), "{err}");
    t.ok(["rm", "--force=true", "kept"]);
}

#[test]
fn docker_flags_work_or_name_themselves() {
    let t = busybox();
    t.ok(["tag", "busybox", "ux-web:1"]);
    t.ok(["tag", "busybox", "ux-db:1"]);
    t.ok(["tag", "busybox", "other:1"]);
    let names = |args: &[&str]| {
        let mut argv = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        argv.extend_from_slice(args);
        let mut v: Vec<String> = t.ok(argv).lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(names(&["ux-*"]), ["ux-db:1", "ux-web:1"]);
    assert_eq!(names(&["--filter", "reference=ux-w*"]), ["ux-web:1"]);
    assert_eq!(names(&["-f", "dangling=true"]), Vec::<String>::new());
    assert_eq!(names(&["--all", "other"]), ["other:1"]);
    let digests = t.ok(["images", "--digests", "other"]);
    assert!(
        digests.lines().next().unwrap().contains("DIGEST"),
        "{digests}"
    );
    t.ok(["rmi", "--no-prune", "other:1"]);

    t.ok(["create", "--name", "one", "busybox", "true"]);
    t.ok(["create", "--name", "two", "busybox", "true"]);
    assert_eq!(t.ok(["ps", "-n", "1", "--format", "{{.Names}}"]), "two\n");
    assert_eq!(t.ok(["ps", "--last=2", "-q"]).lines().count(), 2);
    assert_eq!(
        t.ok(["inspect", "--type", "image", "-f", "{{.Os}}", "busybox"]),
        "linux\n"
    );
    let (code, _) = t.fails(["inspect", "--type", "container", "busybox"]);
    assert_eq!(code, 1);
    let size = t.ok([
        "inspect",
        "--size",
        "-f",
        "{{.SizeRw}} {{gt .SizeRootFs 0}}",
        "one",
    ]);
    assert_eq!(size, "0 true\n");
    t.ok(["stop", "--timeout", "1", "one"]);

    // An exec with an env file.
    t.ok(["run", "-d", "--name", "svc", "busybox", "sleep", "60"]);
    let dir = tempfile::tempdir().unwrap();
    let env = harness::write_file(dir.path(), "env", b"# comment\nA=1\n\nB=two words\n");
    let got = t.ok([
        std::ffi::OsStr::new("exec"),
        "--env-file".as_ref(),
        env.as_os_str(),
        "svc".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "echo $A $B".as_ref(),
    ]);
    assert_eq!(got, "1 two words\n");
    t.ok(["run", "--name", "said", "busybox", "echo", "hi"]);
    assert_eq!(t.ok(["logs", "--details", "said"]), " hi\n");
    t.ok(["rm", "-f", "svc", "one", "two", "said"]);
}

#[test]
fn no_ops_and_refusals() {
    let t = busybox();
    // docker's no-ops: accepted, and say so in --help.
    let help = t.ok(["build", "--help"]);
    assert!(help.contains("--force-rm"), "{help}");
    assert!(help.contains("no effect"), "{help}");
    // Refused: one line naming the flag, exit 125.
    let (code, err) = t.fails(["run", "--gpus", "all", "busybox", "true"]);
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--gpus"), "{err}");
    assert!(t.ok(["ps", "-aq"]).is_empty());
    let (code, err) = t.fails(["build", "--progress=fancy", "."]);
    assert_eq!(code, 125);
    assert!(err.contains("'fancy'") && err.contains("plain"), "{err}");
    // Unknown flags and verbs name themselves and the nearest, exit 125.
    let (code, err) = t.fails(["ps", "--alll"]);
    assert_eq!(code, 125);
    assert!(err.contains("'--alll'") && err.contains("'--all'"), "{err}");
    let (code, err) = t.fails(["imagez"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("'imagez'") && err.contains("'images'"),
        "{err}"
    );
}

#[test]
fn version_and_info() {
    let t = TestRoot::new();
    let v = t.ok(["version"]);
    assert!(v.starts_with("Client:\n Version:"), "{v}");
    assert!(v.contains("\nServer: "), "{v}");
    let version = t.ok(["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(
        version.trim(),
        t.ok(["version", "-f", "{{.Client.Version}}"]).trim()
    );
    let info = t.ok(["info"]);
    assert!(info.contains(" Containers: 0\n"), "{info}");
    assert_eq!(
        t.ok(["system", "info", "-f", "{{.Containers}} {{.Images}}"]),
        "0 0\n"
    );
    let doc: serde_json::Value = serde_json::from_str(&t.ok(["info", "--format", "json"])).unwrap();
    assert_eq!(doc["DockerRootDir"], t.path().display().to_string());
}

#[test]
fn diff_and_export_read_a_containers_changes_and_filesystem() {
    let t = busybox();
    t.ok([
        "run",
        "--name",
        "changed",
        "busybox",
        "sh",
        "-c",
        "echo new > /tmp/new; rm /etc/group; mkdir /root/dir",
    ]);
    assert_eq!(
        t.ok(["diff", "changed"]),
        "C /etc\nD /etc/group\nC /root\nA /root/dir\nC /tmp\nA /tmp/new\n"
    );
    assert_eq!(
        t.ok(["container", "diff", "changed"]),
        t.ok(["diff", "changed"])
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fs.tar");
    t.ok([
        std::ffi::OsStr::new("export"),
        "-o".as_ref(),
        out.as_os_str(),
        "changed".as_ref(),
    ]);
    let listed = tar_names(&out);
    assert!(listed.iter().any(|n| n == "tmp/new"), "{listed:?}");
    assert!(listed.iter().any(|n| n == "bin/busybox"), "{listed:?}");
    assert!(!listed.iter().any(|n| n == "etc/group"), "{listed:?}");
    // To standard output too.
    let piped = t.cmd(["export", "changed"]).output().unwrap();
    assert!(piped.status.success());
    assert_eq!(piped.stdout, std::fs::read(&out).unwrap());
    t.ok(["rm", "changed"]);
}

fn tar_names(file: &Path) -> Vec<String> {
    let mut ar = tar::Archive::new(std::fs::File::open(file).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().display().to_string();
            p.trim_start_matches("./").trim_end_matches('/').to_owned()
        })
        .collect()
}

#[test]
fn busybox_runs_sh_as_docker_hubs() {
    let t = busybox();
    assert_eq!(
        t.ok(["image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox"]),
        "[\"sh\"]\n"
    );
    t.ok(["create", "--name", "bb", "busybox"]);
    t.ok(["start", "bb"]);
    assert_eq!(t.ok(["wait", "bb"]), "0\n");
    assert_eq!(t.ok(["inspect", "-f", "{{.Path}}", "bb"]), "sh\n");
    // -i: sh reads its commands from standard input.
    let mut child = t
        .cmd(["run", "-i", "--rm", "busybox"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo from-sh\nexit 3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-sh\n");
    assert_eq!(out.status.code(), Some(3));
    t.ok(["rm", "bb"]);
}

/// Runs a command that must succeed.
fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_image_from_umoci_pushed_by_skopeo_pulls_and_runs() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let bundle = work.path().join("bundle");
    let image = format!("{}:t", layout.display());
    sh(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    sh(Command::new("umoci").args(["new", "--image", &image]));
    sh(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    sh(Command::new("tar")
        .arg("-xf")
        .arg(busybox_tarball())
        .arg("-C")
        .arg(bundle.join("rootfs")));
    sh(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    // `umoci insert … /` writes a layer whose entries are `/`, `/etc/`, `/etc/motd`.
    let extra = work.path().join("extra");
    std::fs::create_dir_all(extra.join("etc")).unwrap();
    std::fs::write(extra.join("etc/motd"), "made by umoci\n").unwrap();
    sh(Command::new("umoci")
        .args(["insert", "--image", &image])
        .arg(&extra)
        .arg("/"));
    sh(Command::new("umoci").args(["config", "--image", &image, "--config.cmd", "sh"]));
    let name = format!("127.0.0.1:{}/umoci/busybox:1", reg.port);
    sh(Command::new("skopeo").args([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("oci:{image}"),
        &format!("docker://{name}"),
    ]));
    let t = TestRoot::new();
    t.ok(["pull", "-q", &name]);
    assert_eq!(
        t.ok(["run", "--rm", &name, "cat", "/etc/motd"]),
        "made by umoci\n"
    );
    assert!(t
        .ok(["run", "--rm", &name, "cat", "/etc/passwd"])
        .starts_with("root:"));
    assert!(
        !Path::new("/etc/motd").exists()
            || std::fs::read_to_string("/etc/motd").unwrap() != "made by umoci\n"
    );
}

#[test]
fn search_reads_a_registrys_catalog() {
    let reg = Registry::start();
    let t = busybox();
    for name in ["team/web-app", "team/db", "web-tools"] {
        let r = format!("127.0.0.1:{}/{name}:1", reg.port);
        t.ok(["tag", "busybox", &r]);
        t.ok(["push", "-q", &r]);
    }
    let host = format!("127.0.0.1:{}", reg.port);
    let table = t.ok(["search", &format!("{host}/web")]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    assert!(
        lines[0].contains("STARS") && lines[0].contains("OFFICIAL"),
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");
    let names = t.ok(["search", "--format", "{{.Name}}", &format!("{host}/web")]);
    assert_eq!(names, format!("{host}/team/web-app\n{host}/web-tools\n"));
    let one = t.ok([
        "search",
        "--limit",
        "1",
        "--format",
        "{{.Name}}",
        &format!("{host}/"),
    ]);
    assert_eq!(one, format!("{host}/team/db\n"));
    let none = t.ok([
        "search",
        "--filter",
        "is-official=true",
        "--format",
        "{{.Name}}",
        &format!("{host}/web"),
    ]);
    assert_eq!(none, "");
}

#[test]
fn search_says_when_a_registry_has_no_catalog() {
    use std::io::{Read, Write};
    // A registry that has the v2 API and no catalog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let status = if req.starts_with("GET /v2/ ") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 2\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{}}"
            );
        }
    });
    let t = TestRoot::new();
    let (code, err) = t.fails(["search", &format!("127.0.0.1:{port}/x")]);
    assert_eq!(code, 1);
    assert!(err.contains("no catalog"), "{err}");
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = server.join();
}

#[test]
fn completions_and_man_pages_come_from_the_command_tree() {
    let t = TestRoot::new();
    let bash = t.ok(["completion", "bash"]);
    assert!(
        bash.contains("rbox__container__ls") || bash.contains("container"),
        "bash"
    );
    assert!(bash.contains("--memory"), "bash");
    let zsh = t.ok(["completion", "zsh"]);
    assert!(
        zsh.starts_with("#compdef rbox"),
        "{}",
        &zsh[..80.min(zsh.len())]
    );
    let fish = t.ok(["completion", "fish"]);
    assert!(fish.contains("complete -c rbox"), "fish");
    let (code, err) = t.fails(["completion", "tcsh"]);
    assert_eq!(code, 125);
    assert!(err.contains("tcsh"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    t.ok([std::ffi::OsStr::new("__man"), dir.path().as_os_str()]);
    for page in [
        "rbox.1",
        "rbox-run.1",
        "rbox-container-ls.1",
        "rbox-image-build.1",
        "rbox-system-df.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    assert!(!dir.path().join("rbox-__monitor.1").exists());
}

#[test]
fn cp_reads_and_writes_tar_streams() {
    let t = busybox();
    t.ok(["run", "-d", "--name", "box", "busybox", "sleep", "60"]);
    let out = t.cmd(["cp", "box:/etc/passwd", "-"]).output().unwrap();
    assert!(out.status.success());
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["passwd"]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    b.append_data(&mut h, "in/hello.txt", &b"hello\n"[..])
        .unwrap();
    let bytes = b.into_inner().unwrap();
    let mut child = t
        .cmd(["cp", "-", "box:/tmp"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(t.ok(["exec", "box", "cat", "/tmp/in/hello.txt"]), "hello\n");
    t.ok(["rm", "-f", "box"]);
}

#[test]
fn volume_and_network_listings_filter() {
    let t = busybox();
    t.ok(["volume", "create", "--label", "tier=db", "data"]);
    t.ok(["volume", "create", "scratch"]);
    t.ok([
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ]);
    assert_eq!(
        t.ok(["volume", "ls", "-q", "--filter", "label=tier=db"]),
        "data\n"
    );
    assert_eq!(
        t.ok(["volume", "ls", "-q", "-f", "dangling=true"]),
        "scratch\n"
    );
    assert_eq!(t.ok(["volume", "ls", "-q", "-f", "name=scr"]), "scratch\n");
    let (code, err) = t.fails(["volume", "ls", "-f", "colour=red"]);
    assert_eq!(code, 1);
    assert!(err.contains("colour"), "{err}");
    let net = format!("parity-{}", std::process::id());
    t.ok(["network", "create", "--label", "k=v", &net]);
    let names = t.ok(["network", "ls", "--format", "{{.Name}}", "-f", "label=k"]);
    assert_eq!(names, format!("{net}\n"));
    let builtin = t.ok([
        "network",
        "ls",
        "--format",
        "{{.Name}}",
        "-f",
        "type=builtin",
    ]);
    assert!(!builtin.contains(&net), "{builtin}");
    t.ok(["network", "rm", &net]);
    t.ok(["network", "rm", "-f", &net]);
    t.ok(["rm", "user"]);
    t.ok(["volume", "rm", "data", "scratch"]);
}

#[test]
fn push_and_pull_every_tag() {
    let reg = Registry::start();
    let a = busybox();
    let repo = format!("127.0.0.1:{}/tags/bb", reg.port);
    for tag in ["1", "2", "latest"] {
        a.ok(["tag", "busybox", &format!("{repo}:{tag}")]);
    }
    a.ok(["push", "--all-tags", "-q", &repo]);
    let (code, err) = a.fails(["push", "-a", &format!("{repo}:1")]);
    assert_eq!(code, 1);
    assert!(err.contains("--all-tags"), "{err}");
    let b = TestRoot::new();
    b.ok(["pull", "-a", "-q", &repo]);
    let tags = b.ok(["images", "--format", "{{.Tag}}", &repo]);
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1", "2", "latest"]);
}

#[test]
fn system_df_verbose_lists_each_object() {
    let t = busybox();
    t.ok([
        "run",
        "--name",
        "sized",
        "-v",
        "vol:/data",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    let out = t.ok(["system", "df", "-v"]);
    assert!(
        out.starts_with("Images space usage:\n\nREPOSITORY"),
        "{out}"
    );
    assert!(
        out.contains("\nContainers space usage:\n\nCONTAINER ID"),
        "{out}"
    );
    assert!(
        out.contains("\nLocal Volumes space usage:\n\nVOLUME NAME"),
        "{out}"
    );
    let sized = out
        .lines()
        .find(|l| l.ends_with(" sized"))
        .expect("the container's line");
    assert!(sized.contains("Exited (0)"), "{sized}");
    let vol = out
        .lines()
        .find(|l| l.starts_with("vol "))
        .expect("the volume's line");
    assert!(vol.split_whitespace().nth(1) == Some("1"), "{vol}");
    t.ok(["rm", "sized"]);
    t.ok(["volume", "rm", "vol"]);
}

#[test]
fn memory_reservation_is_the_cgroups_soft_limit() {
    let t = busybox();
    let low = t.ok([
        "run",
        "--rm",
        "--memory-reservation=32m",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory.low 2>/dev/null || cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
    ]);
    assert_eq!(low.trim(), (32u64 << 20).to_string());
    let (code, err) = t.fails([
        "run",
        "--rm",
        "-m",
        "16m",
        "--memory-reservation",
        "32m",
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("--memory-reservation"), "{err}");
    t.ok([
        "create",
        "--name",
        "soft",
        "--memory-reservation",
        "8m",
        "busybox",
    ]);
    assert_eq!(
        t.ok(["inspect", "-f", "{{.HostConfig.MemoryReservation}}", "soft"]),
        "8388608\n"
    );
    t.ok(["rm", "soft"]);
}

#[test]
fn cpuset_cpus_pins_the_container() {
    let t = busybox();
    let allowed = t.ok([
        "run",
        "--rm",
        "--cpuset-cpus=0",
        "busybox",
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(allowed.split_whitespace().last(), Some("0"), "{allowed}");
    let (code, err) = t.fails(["run", "--rm", "--cpuset-cpus", "0-4096", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--cpuset-cpus"), "{err}");
    let (code, _) = t.fails(["create", "--cpuset-cpus", "x", "busybox"]);
    assert_eq!(code, 125);
    t.ok([
        "create",
        "--name",
        "pinned",
        "--cpuset-cpus",
        "0",
        "busybox",
    ]);
    assert_eq!(
        t.ok(["inspect", "-f", "{{.HostConfig.CpusetCpus}}", "pinned"]),
        "0\n"
    );
    t.ok(["rm", "pinned"]);
    // update changes both at once on a running container.
    t.ok(["run", "-d", "--name", "live", "busybox", "sleep", "60"]);
    t.ok([
        "update",
        "--cpuset-cpus",
        "0",
        "--memory-reservation",
        "16m",
        "live",
    ]);
    let inside = t.ok([
        "exec",
        "live",
        "sh",
        "-c",
        "grep Cpus_allowed_list /proc/self/status; cat /sys/fs/cgroup/memory.low 2>/dev/null || cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
    ]);
    assert!(
        inside.ends_with(&format!("\t0\n{}\n", 16u64 << 20)),
        "{inside}"
    );
    t.ok(["rm", "-f", "live"]);
}

#[test]
fn expose_adds_ports_that_publish_all_publishes() {
    let t = busybox();
    let id = t.ok([
        "run",
        "-d",
        "-P",
        "--expose",
        "7000-7001/udp",
        "--expose=80",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = id.trim();
    let exposed = t.ok([
        "inspect",
        "-f",
        "{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}",
        id,
    ]);
    assert_eq!(exposed.trim(), "7000/udp 7001/udp 80/tcp");
    // -P gives each its own free host port.
    let ports = t.ok(["port", id]);
    for p in ["80/tcp", "7000/udp", "7001/udp"] {
        assert!(ports.contains(&format!("{p} -> 0.0.0.0:")), "{p}: {ports}");
    }
    t.ok(["rm", "-f", id]);
    let (code, err) = t.fails(["run", "--expose", "http", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("--expose") && err.contains("http"), "{err}");
    assert_eq!(t.ok(["ps", "-aq"]), "");
}

#[test]
fn stop_sends_the_signal_asked_for_and_exec_can_be_privileged() {
    let t = busybox();
    // The container ends on SIGUSR1 only (its trap), and ignores SIGTERM.
    t.ok([
        "run",
        "-d",
        "--name",
        "sig",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' USR1; trap '' TERM; while :; do sleep 0.1; done",
    ]);
    let began = std::time::Instant::now();
    t.ok(["stop", "-s", "USR1", "-t", "20", "sig"]);
    assert!(began.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(t.ok(["inspect", "-f", "{{.State.ExitCode}}", "sig"]), "7\n");
    t.ok(["start", "sig"]);
    t.ok(["restart", "--signal=SIGUSR1", "-t", "20", "sig"]);
    assert_eq!(
        t.ok(["inspect", "-f", "{{.State.Status}}", "sig"]),
        "running\n"
    );
    let (code, err) = t.fails(["stop", "-s", "SIGNOPE", "sig"]);
    assert_ne!(code, 0);
    assert!(err.contains("SIGNOPE"), "{err}");
    // exec --privileged: every capability; a plain exec the container's own.
    let caps = |extra: &[&str]| {
        let mut argv = vec!["exec"];
        argv.extend_from_slice(extra);
        argv.extend(["sig", "sh", "-c", "grep CapEff /proc/self/status"]);
        let line = t.ok(argv);
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let plain = caps(&[]);
    let privileged = caps(&["--privileged"]);
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_NET_ADMIN: u64 = 1 << 12;
    assert_eq!(plain & (CAP_SYS_ADMIN | CAP_NET_ADMIN), 0, "{plain:x}");
    assert_eq!(privileged & plain, plain, "{privileged:x}");
    assert_ne!(privileged & CAP_SYS_ADMIN, 0, "{privileged:x}");
    assert_ne!(privileged & CAP_NET_ADMIN, 0, "{privileged:x}");
    t.ok(["rm", "-f", "sig"]);
}

#[test]
fn prune_filters_choose_what_goes() {
    let t = busybox();
    t.ok([
        "create", "--name", "old", "--label", "tier=web", "busybox", "true",
    ]);
    t.ok([
        "create", "--name", "kept", "--label", "keep", "busybox", "true",
    ]);
    t.ok(["create", "--name", "plain", "busybox", "true"]);
    // Nothing was created before an hour ago.
    t.ok(["container", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(t.ok(["ps", "-aq"]).lines().count(), 3);
    t.ok(["container", "prune", "-f", "--filter", "label=tier=web"]);
    let left = t.ok(["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!left.contains("old") && left.contains("kept"), "{left}");
    t.ok(["container", "prune", "-f", "--filter", "label!=keep"]);
    assert_eq!(t.ok(["ps", "-a", "--format", "{{.Names}}"]), "kept\n");
    // until in the future admits everything left.
    t.ok([
        "container",
        "prune",
        "-f",
        "--filter",
        "until=2099-01-01T00:00:00Z",
    ]);
    assert_eq!(t.ok(["ps", "-aq"]), "");
    // Volumes by label (no until for volumes, as docker's).
    t.ok(["volume", "create", "--label", "scratch", "va"]);
    t.ok(["volume", "create", "vb"]);
    t.ok(["volume", "prune", "-a", "-f", "--filter", "label=scratch"]);
    assert_eq!(t.ok(["volume", "ls", "-q"]), "vb\n");
    let (code, err) = t.fails(["volume", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(code, 1);
    assert!(err.contains("until"), "{err}");
    t.ok(["volume", "rm", "vb"]);
    // Networks by label.
    let net = |n: &str| format!("prune{n}-{}", std::process::id());
    t.ok(["network", "create", "--label", "tmp", &net("a")]);
    t.ok(["network", "create", &net("b")]);
    t.ok(["network", "prune", "-f", "--filter", "label=tmp"]);
    let nets = t.ok(["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !nets.contains(&net("a")) && nets.contains(&net("b")),
        "{nets}"
    );
    t.ok(["network", "rm", &net("b")]);
    // Images by label: a dangling-free, tagged image goes with -a only when it matches.
    t.ok(["tag", "busybox", "other:1"]);
    t.ok(["image", "prune", "-a", "-f", "--filter", "label=nope"]);
    assert!(t.ok(["images", "-q", "other:1"]).trim().len() > 1);
    let (code, err) = t.fails(["system", "prune", "-f", "--filter", "colour=red"]);
    assert_eq!(code, 1);
    assert!(err.contains("colour"), "{err}");
}
