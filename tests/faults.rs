//! Faults and load: rbox killed with SIGKILL at random points of pull, build, import, run
//! and rm must leave a store and a container list that work as they are; builds and pulls
//! of images sharing layers, and many containers, at once on one root must all succeed.

mod harness;

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{busybox_tarball, cgroups_of, mounts_under, processes_under, Registry, TestRoot};

/// xorshift64*: a small seeded generator, so a failing run can be repeated exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Random bytes (incompressible), from `seed`.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A build context: `Dockerfile` and a file `f` of `size` random bytes.
fn context(dockerfile: &str, size: usize, seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("f"), random_bytes(size, seed)).unwrap();
    dir
}

fn build(t: &TestRoot, tag: &str, ctx: &Path) {
    t.ok([
        OsStr::new("build"),
        OsStr::new("-q"),
        OsStr::new("-t"),
        OsStr::new(tag),
        ctx.as_os_str(),
    ]);
}

/// What the store and the container list look like after a fault: every listing works,
/// every blob is named by its digest, every image is whole, `system check` finds nothing.
fn assert_consistent(t: &TestRoot, after: &str) {
    for args in [
        &["images"][..],
        &["ps", "-a"],
        &["volume", "ls"],
        &["system", "df"],
    ] {
        let r = t.run(args);
        assert_eq!(r.code, 0, "after {after}: rbox {args:?}: {}", r.stderr);
    }
    t.assert_blobs_match_digests();
    for id in t.ok(["images", "-q", "--no-trunc"]).lines() {
        let r = t.run(["image", "inspect", id]);
        assert_eq!(r.code, 0, "after {after}: image {id}: {}", r.stderr);
    }
    let r = t.run(["system", "check"]);
    assert_eq!(
        r.code, 0,
        "after {after}: system check:\n{}{}",
        r.stdout, r.stderr
    );
    for snap in t.snapshots() {
        assert!(
            t.path()
                .join("snapshots")
                .join(&snap)
                .join("info.json")
                .exists(),
            "after {after}: half snapshot {snap}"
        );
    }
}

/// The operations killed, in turn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Import,
    Build,
    Pull,
    Run,
    Rm,
}

const OPS: [Op; 5] = [Op::Import, Op::Build, Op::Pull, Op::Run, Op::Rm];

#[test]
fn kill_9_at_random_points_of_every_command_loses_nothing() {
    let seed: u64 = std::env::var("RBOX_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0008);
    let rounds: u64 = std::env::var("RBOX_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    eprintln!("kill test: seed {seed} (RBOX_CRASH_SEED), {rounds} rounds of each command");
    let mut rng = Rng(seed.max(1));
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let reg = Registry::start();
    let app = format!("{}/crash/app:1", reg.addr());
    // The image to pull: busybox and two more layers, one of 4 MiB.
    let ctx = context(
        "FROM busybox\nCOPY f /f\nRUN echo built > /built\n",
        4 << 20,
        seed,
    );
    build(&t, &app, ctx.path());
    t.ok(["push", "-q", &app]);
    t.ok(["rmi", &app]);
    // A build with its own 1 MiB and a RUN step.
    let bctx = context(
        "FROM busybox\nARG N\nCOPY f /f\nRUN echo $N > /n && cat /f > /g\n",
        1 << 20,
        seed + 1,
    );
    let gz = tempfile::tempdir().unwrap();
    let gz = gz.path().join("rootfs.tar.gz");
    assert!(Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -1 -c {} > {}",
            busybox_tarball().display(),
            gz.display()
        ))
        .status()
        .unwrap()
        .success());

    let args_of = |op: Op, i: u64| -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match op {
            Op::Import => s(&["import", &gz.display().to_string(), &format!("imp:{i}")]),
            Op::Build => s(&[
                "build",
                "-q",
                "--build-arg",
                &format!("N={i}"),
                "-t",
                &format!("built:{i}"),
                &bctx.path().display().to_string(),
            ]),
            Op::Pull => s(&["pull", "-q", &app]),
            Op::Run => s(&[
                "run",
                "--name",
                &format!("run{i}"),
                "-v",
                &format!("vol{i}:/data"),
                "busybox",
                "sh",
                "-c",
                "echo x > /data/x; echo y > /y",
            ]),
            Op::Rm => s(&["rm", "-f", "-v", &format!("rm{i}")]),
        }
    };
    // Before each: what the command will work on.
    let prepare = |op: Op, i: u64| match op {
        Op::Pull => {
            let _ = t.run(["rmi", "-f", &app]);
            t.ok(["image", "prune", "-f"]);
        }
        Op::Rm => {
            t.ok([
                "run",
                "-d",
                "--name",
                &format!("rm{i}"),
                "-v",
                "/anon",
                "busybox",
                "sleep",
                "60",
            ]);
        }
        _ => {}
    };

    // How long each takes when left alone, to spread the kill points over its life: the
    // shortest of three runs (a first run also pays for one-time work, such as making the
    // default network's bridge).
    let mut took = std::collections::HashMap::new();
    for op in OPS {
        for k in 1000..1003 {
            prepare(op, k);
            let start = Instant::now();
            let args = args_of(op, k);
            t.ok(&args);
            let d = start.elapsed();
            let best = took.entry(format!("{op:?}")).or_insert(d);
            *best = (*best).min(d);
        }
    }
    eprintln!("uninterrupted: {took:?}");

    let mut killed = 0;
    let mut finished = 0;
    let mut points = Vec::new();
    for i in 0..rounds * OPS.len() as u64 {
        let op = OPS[(i % OPS.len() as u64) as usize];
        prepare(op, i);
        let life = took[&format!("{op:?}")].as_micros() as u64;
        let delay = rng.below(life + life / 5);
        let mut child = t
            .cmd(args_of(op, i))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(delay));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let st = child.wait().unwrap();
        if st.signal() == Some(9) {
            killed += 1;
            points.push(format!("{op:?}@{}ms", delay / 1000));
        } else {
            finished += 1;
        }
        assert_consistent(&t, &format!("{op:?} killed after {delay} µs (seed {seed})"));
    }
    eprintln!(
        "{killed} commands killed midway, {finished} finished first; every check passed \
         after each: {points:?}"
    );
    assert!(
        killed as u64 >= rounds * OPS.len() as u64 / 2,
        "only {killed} commands were killed midway"
    );

    let last_kill = Instant::now();
    // The commands work again on the same names, and a prune leaves a clean store.
    t.ok(["pull", "-q", &app]);
    t.ok(["run", "--rm", &app, "cat", "/built"]);
    t.remove_all_containers();
    assert!(harness::eventually(10, || processes_under(t.path()).is_empty()));
    // A removal interrupted by a kill is finished by a prune once it is 10 s old (before
    // that, a `--rm` container's own cleanup may still be at work on it).
    std::thread::sleep(Duration::from_secs(11).saturating_sub(last_kill.elapsed()));
    t.ok(["system", "prune", "-a", "-f", "--volumes"]);
    let r = t.run(["volume", "ls", "-q"]);
    for v in r.stdout.lines() {
        let rr = t.run(["volume", "rm", v]);
        if rr.code != 0 {
            let ls = Command::new("ls")
                .arg("-laR")
                .arg(t.path().join("volumes"))
                .output()
                .unwrap();
            panic!(
                "volume rm {v}: {}\n{}",
                rr.stderr,
                String::from_utf8_lossy(&ls.stdout)
            );
        }
    }
    assert_eq!(t.ok(["images", "-q"]), "");
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
    assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
    assert!(
        t.snapshots().is_empty(),
        "snapshots left: {:?}",
        t.snapshots()
    );
    assert!(t.leftovers().is_empty(), "tmp left: {:?}", t.leftovers());
    let containers: Vec<_> = std::fs::read_dir(t.path().join("containers"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(containers.is_empty(), "containers left: {containers:?}");
    let volumes: Vec<_> = std::fs::read_dir(t.path().join("volumes"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(volumes.is_empty(), "volumes left: {volumes:?}");
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn four_builds_and_four_pulls_sharing_layers_at_once_into_one_root() {
    let src = TestRoot::new();
    src.busybox("busybox:latest");
    let reg = Registry::start();
    let base = format!("{}/conc/base:1", reg.addr());
    src.ok(["tag", "busybox:latest", &base]);
    src.ok(["push", "-q", &base]);
    // Four images in the registry sharing busybox's layer and a 2 MiB one.
    let shared = context("FROM busybox\nCOPY f /f\n", 2 << 20, 7);
    build(&src, "conc-shared:1", shared.path());
    let mut pulls = Vec::new();
    for k in 0..4 {
        let ctx = context(&format!("FROM conc-shared:1\nRUN echo {k} > /k\n"), 0, k);
        let name = format!("{}/conc/img{k}:1", reg.addr());
        build(&src, &name, ctx.path());
        src.ok(["push", "-q", &name]);
        pulls.push(name);
    }

    // Into an empty root, all at once: four builds FROM the registry's base (each pulls
    // it), four pulls of images on that base.
    let t = TestRoot::new();
    let contexts: Vec<_> = (0..4)
        .map(|k| {
            context(
                &format!("FROM {base}\nCOPY f /f\nRUN echo {k} > /k && cat /f | wc -c > /n\n"),
                1 << 20,
                100 + k,
            )
        })
        .collect();
    let mut children: Vec<(String, Child)> = Vec::new();
    for (k, ctx) in contexts.iter().enumerate() {
        let child = t
            .cmd([
                OsStr::new("build"),
                OsStr::new("-q"),
                OsStr::new("-t"),
                OsStr::new(&format!("b{k}:1")),
                ctx.path().as_os_str(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((format!("build b{k}"), child));
    }
    for name in &pulls {
        let child = t
            .cmd(["pull", "-q", name])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push((format!("pull {name}"), child));
    }
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listing = t.ok(["images"]);
    assert_eq!(listing.lines().count(), 1 + 4 + 4 + 1, "{listing}");
    for k in 0..4 {
        assert_eq!(
            t.ok(["run", "--rm", &format!("b{k}:1"), "cat", "/k", "/n"]),
            format!("{k}\n1048576\n")
        );
        assert_eq!(
            t.ok(["run", "--rm", &pulls[k as usize], "cat", "/k"]),
            format!("{k}\n")
        );
    }
    t.assert_blobs_match_digests();
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // One snapshot per distinct chain of layers: what the images share is unpacked once.
    let mut chains = std::collections::BTreeSet::new();
    for id in t.ok(["images", "-q", "--no-trunc"]).lines() {
        let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", id])).unwrap();
        let mut chain: Option<String> = None;
        for diff in v[0]["RootFS"]["Layers"].as_array().unwrap() {
            let diff = diff.as_str().unwrap().to_owned();
            let next = match chain {
                None => diff,
                Some(c) => {
                    use sha2::Digest;
                    format!(
                        "sha256:{}",
                        hex::encode(sha2::Sha256::digest(format!("{c} {diff}")))
                    )
                }
            };
            chains.insert(next.trim_start_matches("sha256:").to_owned());
            chain = Some(next);
        }
    }
    let snapshots: std::collections::BTreeSet<String> = t.snapshots().into_iter().collect();
    assert_eq!(snapshots, chains);
    // busybox, the shared layer, the four images' own and the builds' COPY and RUN layers.
    assert!(chains.len() >= 2 + 4 + 4, "{chains:?}");
    assert!(t.leftovers().is_empty(), "tmp left: {:?}", t.leftovers());
}

#[test]
fn fifty_containers_started_and_removed_at_once() {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let t = &t;
                s.spawn(move || {
                    let name = format!("p{i}");
                    let r = t.run([
                        "run",
                        "-d",
                        "--name",
                        &name,
                        "--network",
                        "none",
                        "busybox",
                        "sleep",
                        "60",
                    ]);
                    assert_eq!(r.code, 0, "run {name}: {}", r.stderr);
                    let id = r.stdout.trim().to_owned();
                    let r = t.run(["exec", &name, "cat", "/proc/1/cmdline"]);
                    assert_eq!(r.code, 0, "exec {name}: {}", r.stderr);
                    assert_eq!(r.stdout, "sleep\u{0}60\u{0}");
                    let r = t.run(["rm", "-f", &name]);
                    assert_eq!(r.code, 0, "rm {name}: {}", r.stderr);
                    id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 50);
    assert_eq!(t.ok(["ps", "-a", "-q"]), "");
    assert!(harness::eventually(10, || processes_under(t.path()).is_empty()));
    assert!(
        mounts_under(t.path()).is_empty(),
        "{:?}",
        mounts_under(t.path())
    );
    for id in &ids {
        assert!(cgroups_of(id).is_empty(), "{:?}", cgroups_of(id));
        assert!(!t.path().join("containers").join(id).exists());
    }
    let names: Vec<_> = std::fs::read_dir(t.path().join("names"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(names.is_empty(), "names left: {names:?}");
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}
