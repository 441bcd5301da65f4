//! Container tools as a Docker user types them: cp (both ways, running and stopped
//! containers, and never out through a symlink), top, stats, container prune, system df
//! and system prune.

mod harness;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use harness::{busybox, mounts_under, TestRoot};

/// Removes the named containers when dropped, so a failed assertion leaves nothing
/// running under the test root either.
struct Removal<'a> {
    t: &'a TestRoot,
    names: Vec<&'static str>,
}

impl<'a> Removal<'a> {
    fn of(t: &'a TestRoot, names: &[&'static str]) -> Removal<'a> {
        Removal {
            t,
            names: names.to_vec(),
        }
    }

    /// Removes them now, asserting it works.
    fn finish(mut self) {
        let names = std::mem::take(&mut self.names);
        let mut args = vec!["rm", "-f"];
        args.extend(names);
        self.t.ok(args);
    }
}

impl Drop for Removal<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.t.run(["rm", "-f", n]);
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `stat -c FORMAT PATH` inside the container.
fn stat_in(t: &TestRoot, c: &str, format: &str, path: &str) -> String {
    t.ok(["exec", c, "stat", "-c", format, path])
        .trim()
        .to_owned()
}

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["inspect", name])).unwrap();
    v[0].clone()
}

/// Table rows split on runs of three or more spaces (cells may hold single spaces).
fn rows(listing: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn cp_copies_both_ways_keeping_content_modes_times_and_links() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["web"]);
    t.ok(["run", "-d", "--name", "web", "busybox", "sleep", "60"]);
    let host = tempfile::tempdir().unwrap();

    // A host file into a container directory: same bytes, mode and mtime, owned by root.
    let f = host.path().join("notes.txt");
    fs::write(&f, "hello from the host\n").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    t.ok(["cp", s(&f), "web:/tmp/"]);
    assert_eq!(
        t.ok(["exec", "web", "cat", "/tmp/notes.txt"]),
        "hello from the host\n"
    );
    assert_eq!(
        stat_in(&t, "web", "%a %u %g %Y", "/tmp/notes.txt"),
        "640 0 0 1000000000"
    );

    // A host directory, recursively, with its modes; to a new name it is renamed.
    let d = host.path().join("conf");
    fs::create_dir_all(d.join("private")).unwrap();
    fs::write(d.join("private/key"), "k").unwrap();
    fs::set_permissions(d.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    t.ok(["cp", s(&d), "web:/etc"]);
    assert_eq!(t.ok(["exec", "web", "cat", "/etc/conf/private/key"]), "k");
    assert_eq!(stat_in(&t, "web", "%a", "/etc/conf/private"), "700");
    t.ok(["cp", s(&d), "web:/renamed"]);
    assert_eq!(t.ok(["exec", "web", "cat", "/renamed/private/key"]), "k");

    // Out of the container: a directory with a file and a symlink (copied as a link).
    t.ok([
        "exec",
        "web",
        "sh",
        "-c",
        "mkdir /out && echo made inside > /out/a && chmod 604 /out/a && chown 5:6 /out/a \
         && ln -s /etc/passwd /out/link",
    ]);
    let got = host.path().join("got");
    t.ok(["cp", "web:/out", s(&got)]);
    assert_eq!(fs::read_to_string(got.join("a")).unwrap(), "made inside\n");
    let m = fs::metadata(got.join("a")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o604);
    // As docker: without -a the invoking user owns what lands on the host.
    assert_eq!((m.uid(), m.gid()), (0, 0));
    assert_eq!(
        fs::read_link(got.join("link")).unwrap(),
        Path::new("/etc/passwd")
    );
    // -a keeps the numeric owner.
    t.ok(["cp", "-a", "web:/out/a", s(&host.path().join("a-archived"))]);
    let m = fs::metadata(host.path().join("a-archived")).unwrap();
    assert_eq!((m.uid(), m.gid()), (5, 6));

    // SRC/. copies a directory's contents into an existing directory.
    let into = host.path().join("into");
    fs::create_dir(&into).unwrap();
    t.ok(["cp", "web:/out/.", s(&into)]);
    assert!(into.join("a").is_file() && !into.join("out").exists());

    // Errors name the path as the user wrote it.
    let (code, err) = t.fails(["cp", "web:/nope", s(&host.path().join("x"))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no such file or directory: web:/nope"),
        "{err}"
    );
    let (_, err) = t.fails(["cp", s(&f), "web:/no/such/dir/"]);
    assert!(err.contains("web:/no/such"), "{err}");
    let (_, err) = t.fails(["cp", "web:/out", "web:/tmp"]);
    assert!(err.contains("not supported"), "{err}");
    cleanup.finish();
}

#[test]
fn cp_works_on_stopped_containers_and_leaves_nothing_mounted() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["job"]);
    t.ok(["create", "--name", "job", "busybox", "cat", "/greeting"]);
    let host = tempfile::tempdir().unwrap();
    let f = host.path().join("greeting");
    fs::write(&f, "hi from cp\n").unwrap();

    // Into a container that never ran: the file is there when it starts.
    t.ok(["cp", s(&f), "job:/greeting"]);
    assert!(
        mounts_under(t.path()).is_empty(),
        "cp left {:?} mounted",
        mounts_under(t.path())
    );
    assert_eq!(t.ok(["start", "-a", "job"]), "hi from cp\n");

    // Out of the exited container: its changes and the image's files.
    t.ok(["cp", "job:/greeting", s(&host.path().join("back"))]);
    assert_eq!(
        fs::read_to_string(host.path().join("back")).unwrap(),
        "hi from cp\n"
    );
    t.ok(["cp", "job:/etc/passwd", s(host.path())]);
    assert!(fs::read_to_string(host.path().join("passwd"))
        .unwrap()
        .starts_with("root:"));
    // Hard links stay links (busybox's applets are one file), not one copy each.
    t.ok(["cp", "job:/bin", s(&host.path().join("bin"))]);
    let ino = |p: &str| fs::metadata(host.path().join(p)).unwrap().ino();
    assert_eq!(ino("bin/sh"), ino("bin/ls"));
    assert!(mounts_under(t.path()).is_empty());
    let (_, err) = t.fails(["cp", "job:/missing", s(host.path())]);
    assert!(
        err.contains("no such file or directory: job:/missing"),
        "{err}"
    );
    assert!(mounts_under(t.path()).is_empty());
    cleanup.finish();
}

#[test]
fn cp_never_follows_a_containers_symlink_out_of_its_rootfs() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["evil"]);
    t.ok(["run", "-d", "--name", "evil", "busybox", "sleep", "60"]);
    let host = tempfile::tempdir().unwrap();
    let secret = host.path().join("secret");
    fs::write(&secret, "host secret").unwrap();
    let f = host.path().join("payload");
    fs::write(&f, "payload").unwrap();
    let hostdir = host.path().display().to_string();
    // Links a hostile container could plant, to the host's / and to the secret.
    t.ok([
        "exec",
        "evil",
        "sh",
        "-c",
        &format!(
            "ln -s / /escape && ln -s ../../../../../../../.. /up \
             && ln -s {hostdir}/secret /leak && ln -s {hostdir}/victim /tmp/victim"
        ),
    ]);

    // Writing through them lands inside the rootfs.
    let unique = format!("rbox-escape-{}", std::process::id());
    for via in ["escape", "up"] {
        let name = format!("{unique}-{via}");
        t.ok(["cp", s(&f), &format!("evil:/{via}/tmp/{name}")]);
        assert!(
            !Path::new("/tmp").join(&name).exists(),
            "cp wrote /tmp/{name} on the host"
        );
        assert_eq!(
            t.ok(["exec", "evil", "cat", &format!("/tmp/{name}")]),
            "payload"
        );
    }
    // A dangling link at the destination is replaced, not written through.
    t.ok(["cp", s(&f), "evil:/tmp/victim"]);
    assert!(!host.path().join("victim").exists());
    assert_eq!(t.ok(["exec", "evil", "cat", "/tmp/victim"]), "payload");

    // Reading through them never reaches the host's files.
    let out = host.path().join("out");
    let (_, err) = t.fails(["cp", "-L", "evil:/leak", s(&out)]);
    assert!(
        err.contains("no such file or directory: evil:/leak"),
        "{err}"
    );
    let (_, err) = t.fails(["cp", &format!("evil:/escape{hostdir}/secret"), s(&out)]);
    assert!(err.contains("no such file or directory"), "{err}");
    assert!(!out.exists());

    // A directory copied in over a planted link to / fails instead of writing through it.
    let d = host.path().join("d");
    fs::create_dir_all(d.join("sub")).unwrap();
    fs::write(d.join("sub/planted"), "x").unwrap();
    t.ok([
        "exec",
        "evil",
        "sh",
        "-c",
        "mkdir /tmp/d && ln -s / /tmp/d/sub",
    ]);
    let (_, err) = t.fails(["cp", s(&d), "evil:/tmp/"]);
    assert!(err.contains("cannot overwrite non-directory"), "{err}");
    assert!(t.run(["exec", "evil", "test", "-e", "/planted"]).code != 0);
    assert!(!Path::new("/planted").exists());
    cleanup.finish();
}

#[test]
fn top_lists_the_containers_processes() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["topbox", "idle"]);
    t.ok(["run", "-d", "--name", "topbox", "busybox", "sleep", "61"]);
    t.ok(["exec", "-d", "topbox", "sleep", "62"]);
    let pid = inspect(&t, "topbox")["State"]["Pid"].as_i64().unwrap();
    let out = t.ok(["top", "topbox"]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{out}"
    );
    let first = lines
        .iter()
        .find(|l| l.ends_with(&["sleep", "61"]))
        .unwrap_or_else(|| panic!("no sleep 61 in:\n{out}"));
    assert_eq!(first[0], "root");
    assert_eq!(first[1], pid.to_string());
    assert!(
        lines.iter().any(|l| l.ends_with(&["sleep", "62"])),
        "the exec'd process is missing:\n{out}"
    );
    // Docker's alignment: columns at least 20 wide.
    assert!(
        out.starts_with(&format!("UID{}PID", " ".repeat(17))),
        "{out}"
    );

    // ps options go to the host's ps; only the container's rows are kept.
    let out = t.ok(["container", "top", "topbox", "-o", "pid,comm"]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["PID", "COMMAND"], "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1..].iter().all(|l| l[1] == "sleep"), "{out}");

    t.ok(["create", "--name", "idle", "busybox", "true"]);
    let (code, err) = t.fails(["top", "idle"]);
    assert_eq!(code, 1);
    assert!(err.contains("container idle is not running"), "{err}");
    let (_, err) = t.fails(["top", "nosuch"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
    cleanup.finish();
}

#[test]
fn stats_shows_each_containers_usage() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["statsbox", "capped", "stopped"]);
    t.ok(["run", "-d", "--name", "statsbox", "busybox", "sleep", "60"]);
    t.ok([
        "run",
        "-d",
        "--name",
        "capped",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "sleep 60 & sleep 60 & wait",
    ]);
    t.ok(["create", "--name", "stopped", "busybox", "true"]);
    let id = inspect(&t, "statsbox")["Id"].as_str().unwrap().to_owned();
    // The shell forks its two sleeps after `run -d` returns.
    let pids = |name: &str| {
        t.ok(["stats", "--no-stream", "--format", "{{.PIDs}}", name])
            .trim()
            .to_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids("capped") != "3" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }

    let out = t.ok(["stats", "--no-stream"]);
    let r = rows(&out);
    assert_eq!(
        r[0],
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{out}"
    );
    // Running containers only, by default.
    assert_eq!(r.len(), 3, "{out}");
    let row = r.iter().find(|r| r[1] == "statsbox").expect(&out);
    assert_eq!(row[0], id[..12]);
    assert!(row[2].ends_with('%'), "{out}");
    assert!(row[3].contains(" / ") && row[3].contains("iB"), "{out}");
    assert_eq!(row[7], "1", "{out}");
    let capped = r.iter().find(|r| r[1] == "capped").expect(&out);
    assert!(capped[3].ends_with("/ 64MiB"), "{out}");
    assert_eq!(capped[7], "3", "{out}");

    // Named containers, stopped ones included (at zero), in a format.
    let out = t.ok([
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.MemUsage}}",
        "statsbox",
        "stopped",
    ]);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("statsbox 1 ") && first.contains(" / "),
        "{out}"
    );
    assert_eq!(out.lines().nth(1), Some("stopped 0 0B / 0B"), "{out}");
    let (_, err) = t.fails(["stats", "--no-stream", "nosuch"]);
    assert!(err.contains("no such container: nosuch"), "{err}");
    cleanup.finish();
}

#[test]
fn container_prune_removes_stopped_containers_only() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["up"]);
    t.ok(["run", "-d", "--name", "up", "busybox", "sleep", "60"]);
    t.ok([
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo data > /file",
    ]);
    t.ok(["create", "--name", "fresh", "busybox", "true"]);
    let id = |n: &str| inspect(&t, n)["Id"].as_str().unwrap().to_owned();
    let (done, fresh) = (id("done"), id("fresh"));

    // Without -f it asks, and an empty answer is no.
    let r = t.run(["container", "prune"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("WARNING! This will remove all stopped containers.")
            && r.stderr.contains("[y/N]"),
        "{}",
        r.stderr
    );
    assert_eq!(t.ok(["ps", "-aq"]).lines().count(), 3);

    // "y" on standard input goes ahead.
    let mut child = t
        .cmd(["container", "prune"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    let listed: Vec<&str> = out.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    let mut expected = vec![done.as_str(), fresh.as_str()];
    expected.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, expected, "{out}");
    assert!(
        out.ends_with("B\n") && out.contains("\nTotal reclaimed space: "),
        "{out}"
    );
    assert_eq!(t.ok(["ps", "-a", "--format", "{{.Names}}"]), "up\n");
    assert!(t.run(["inspect", "done"]).code != 0);

    // Nothing left to prune: only the total.
    assert_eq!(
        t.ok(["container", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    cleanup.finish();
}

/// Imports a one-file image as `name`.
fn tiny_image(t: &TestRoot, name: &str, content: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let tar = harness::raw_tar(&[(tar::EntryType::Regular, "hello.txt", "", content)]);
    let p = harness::write_file(dir.path(), "tiny.tar", &tar);
    t.ok(["import", s(&p), name]);
}

#[test]
fn system_df_and_prune_account_for_containers_and_images() {
    let t = busybox();
    let cleanup = Removal::of(&t, &["keep"]);
    tiny_image(&t, "tiny:1", b"first");
    let first = inspect(&t, "tiny:1")["Id"].as_str().unwrap().to_owned();
    // Retagging leaves the first image dangling.
    tiny_image(&t, "tiny:1", b"second");
    tiny_image(&t, "other:1", b"third");
    t.ok(["run", "-d", "--name", "keep", "busybox", "sleep", "60"]);
    t.ok([
        "run",
        "--name",
        "gone",
        "busybox",
        "sh",
        "-c",
        "echo 12345 > /f",
    ]);

    let out = t.ok(["system", "df"]);
    let r = rows(&out);
    assert_eq!(
        r[0],
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{out}"
    );
    assert_eq!(r[1][..3], ["Images", "4", "1"], "{out}");
    assert_eq!(r[2][..3], ["Containers", "2", "1"], "{out}");
    assert!(r[2][4].ends_with("%)"), "{out}");
    assert_eq!(r[3], ["Local Volumes", "0", "0", "0B", "0B"], "{out}");
    assert_eq!(r[4], ["Build Cache", "0", "0", "0B", "0B"], "{out}");

    // Stopped containers and dangling images; tagged images stay.
    let out = t.ok(["system", "prune", "-f"]);
    assert!(inspect(&t, "keep")["State"]["Running"].as_bool().unwrap());
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(
        out.contains(&format!("Deleted Images:\ndeleted: {first}\n")),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert!(t.run(["inspect", "gone"]).code != 0);
    let listing = t.ok(["images"]);
    assert!(
        listing.contains("tiny") && listing.contains("other"),
        "{listing}"
    );

    // -a: every image no container uses; busybox is used by "keep".
    let out = t.ok(["system", "prune", "-a", "-f"]);
    assert!(
        out.contains("untagged: tiny:1\n") && out.contains("untagged: other:1\n"),
        "{out}"
    );
    let listing = t.ok(["images"]);
    assert!(
        listing.contains("busybox") && !listing.contains("tiny") && !listing.contains("other"),
        "{listing}"
    );
    let r = rows(&t.ok(["system", "df"]));
    assert_eq!(r[1][..3], ["Images", "1", "1"]);
    assert_eq!(r[2][..3], ["Containers", "1", "1"]);
    cleanup.finish();
}
