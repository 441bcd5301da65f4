//! Known attacks that must fail, and hostile input that must be refused: each test is one
//! attack run for real against the real binary (docs/SECURITY.md lists which test covers
//! which class, here and in the other test files).

mod harness;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{busybox, busybox_tarball, raw_tar, rbox_bin, write_file, TestRoot};
use sha2::Digest;

fn sha256_file(p: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// A name no other test or process uses.
fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "rbox-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Removes the named containers on drop, so a failing test leaves nothing running.
struct Containers<'a>(&'a TestRoot, Vec<String>);

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        if !self.1.is_empty() {
            let _ = self
                .0
                .cmd(
                    ["rm".to_string(), "-f".into()]
                        .into_iter()
                        .chain(self.1.clone()),
                )
                .output();
        }
    }
}

/// Asserts the store holds nothing after a refused command.
fn assert_store_empty(t: &TestRoot) {
    assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
    assert!(
        t.snapshots().is_empty(),
        "snapshots left: {:?}",
        t.snapshots()
    );
    assert!(t.leftovers().is_empty(), "tmp left: {:?}", t.leftovers());
    assert_eq!(t.ok(["images", "-q"]), "");
}

// ---------------------------------------------------------------------------------------
// CVE-2019-5736: overwriting the runtime's binary through /proc/PID/exe.

#[test]
fn a_container_cannot_overwrite_rbox_through_proc_exe() {
    let t = busybox();
    let bin = rbox_bin();
    let before = sha256_file(&bin);
    let _c = Containers(&t, vec!["exe".into()]);
    // The attacker: every process of the container whose binary is not busybox (the
    // runtime entering the container for `rbox exec`) has its binary opened and kept; then
    // each kept binary is written through /proc/self/fd, as the runc exploit did once runc
    // had exited. Writes that succeed are counted.
    let attacker = r#"
        mkdir -p /grab; n=0
        while [ ! -e /stop ]; do
            for p in /proc/[0-9]*; do
                e=$(readlink $p/exe 2>/dev/null) || continue
                [ $p/exe -ef /bin/busybox ] && continue
                n=$((n+1)); cat $p/exe > /grab/$n 2>/dev/null && echo "$e" >> /grab/names
                (exec 7< $p/exe && echo pwned >> /proc/self/fd/7 && echo WROTE $e >> /grab/wrote) 2>/dev/null
                (echo pwned >> $p/exe && echo WROTE $e >> /grab/wrote) 2>/dev/null
            done
        done
        touch /done; sleep 60"#;
    t.ok([
        "run", "-d", "--name", "exe", "busybox", "sh", "-c", attacker,
    ]);
    // rbox entering the container again and again, with a binary that re-executes
    // whatever /proc/self/exe is (the exploit's `#!/proc/self/exe`).
    t.ok([
        "exec",
        "exe",
        "sh",
        "-c",
        "printf '#!/proc/self/exe\\n' > /evil && chmod +x /evil",
    ]);
    for _ in 0..40 {
        // The interpreter can't be found: rbox's binary is not reachable from inside.
        let r = t.run(["exec", "exe", "/evil"]);
        assert_eq!(r.code, 127, "{}{}", r.stdout, r.stderr);
        let _ = t.run(["exec", "exe", "true"]);
    }
    t.ok(["exec", "exe", "touch", "/stop"]);
    assert!(harness::eventually(20, || t
        .run(["exec", "exe", "test", "-e", "/done"])
        .code
        == 0));
    let wrote = t.run(["exec", "exe", "cat", "/grab/wrote"]).stdout;
    assert_eq!(wrote, "", "a write through /proc/PID/exe succeeded");
    assert_eq!(sha256_file(&bin), before, "the rbox binary changed");
    // What the container could reach of rbox was a copy that can't be written.
    let grabbed = t.run(["exec", "exe", "cat", "/grab/names"]).stdout;
    eprintln!("binaries the container grabbed: {grabbed:?}");
}

#[test]
fn the_init_binary_lent_to_a_container_cannot_be_overwritten() {
    // --init puts the host's tini in the container as its pid 1: /proc/1/exe and the
    // mount are the host's file, and both must stay unwritable.
    let t = busybox();
    let tini = PathBuf::from("/usr/bin/tini-static");
    assert!(tini.exists(), "apt-get install tini");
    let before = sha256_file(&tini);
    let out = t.ok([
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "readlink /proc/1/exe; \
         (echo pwned >> /proc/1/exe) 2>/dev/null && echo wrote-exe; \
         (echo pwned >> /sbin/docker-init) 2>/dev/null && echo wrote-init; \
         (exec 7< /proc/1/exe && echo pwned >> /proc/self/fd/7) 2>/dev/null && echo wrote-fd; \
         mount -o remount,rw /sbin/docker-init 2>/dev/null && echo remounted; true",
    ]);
    assert_eq!(out, "/sbin/docker-init\n", "{out}");
    assert_eq!(sha256_file(&tini), before, "the host's tini changed");
}

// ---------------------------------------------------------------------------------------
// CVE-2024-21626: a leaked directory fd or working directory as a way out.

#[test]
fn a_working_directory_through_a_leaked_fd_stays_inside() {
    let t = busybox();
    // A marker in the host's /tmp: reachable only from outside the container's root.
    let marker = unique("host-marker");
    let marker_path = Path::new("/tmp").join(&marker);
    std::fs::write(&marker_path, "host").unwrap();
    let _rm = scopeguard(&marker_path);
    let probe = format!(
        "cd -P ../../../../../../../.. 2>/dev/null; ls tmp 2>/dev/null | grep -c {marker}; \
         cat /proc/self/mountinfo | grep -c ' / / ' ; true"
    );
    let _c = Containers(&t, vec!["fdc".into()]);
    t.ok(["run", "-d", "--name", "fdc", "busybox", "sleep", "60"]);
    for fd in 3..12 {
        let wd = format!("/proc/self/fd/{fd}");
        for args in [
            vec!["run", "--rm", "-w", &wd, "busybox", "sh", "-c", &probe],
            vec!["exec", "-w", &wd, "fdc", "sh", "-c", &probe],
        ] {
            let r = t.run(&args);
            // Either refused, or run inside: the host's /tmp never reached.
            assert!(
                r.code != 0 || r.stdout.starts_with("0\n"),
                "{args:?} reached the host: {}{}",
                r.stdout,
                r.stderr
            );
        }
    }
    // Nor a build's RUN step under such a WORKDIR.
    for fd in 3..10 {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!(
                "FROM busybox\nWORKDIR /proc/self/fd/{fd}\n\
                 RUN cd -P ../../../../../../../.. 2>/dev/null; \
                 ls tmp 2>/dev/null | grep -c {marker} > /found; true\n"
            ),
        )
        .unwrap();
        let tag = format!("wd{fd}:1");
        let r = t.run([
            OsStr::new("build"),
            OsStr::new("-q"),
            OsStr::new("-t"),
            OsStr::new(&tag),
            ctx.path().as_os_str(),
        ]);
        if r.code == 0 {
            assert_eq!(
                t.ok(["run", "--rm", &tag, "cat", "/found"]),
                "0\n",
                "WORKDIR fd {fd}"
            );
        }
    }
    // exec gets no fd of rbox either.
    let out = t.ok([
        "exec",
        "fdc",
        "sh",
        "-c",
        "ls /proc/self/fd | sort -n | tr '\\n' ' '",
    ]);
    let fds: Vec<u32> = out.split_whitespace().map(|f| f.parse().unwrap()).collect();
    assert!(fds.iter().all(|f| *f <= 3), "exec's fds: {out}");
    let cwd = t.ok(["exec", "fdc", "readlink", "/proc/self/cwd"]);
    assert_eq!(cwd, "/\n");
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn scopeguard(p: &Path) -> RemoveOnDrop {
    RemoveOnDrop(p.to_path_buf())
}

// ---------------------------------------------------------------------------------------
// Symlink races: a container swapping a directory for a link to / while rbox works in it.

/// Starts a container named `name` that swaps `/w/d` between a directory and a symlink to
/// `/` as fast as it can, until /stop exists.
fn swapper(t: &TestRoot, name: &str, extra: &[&str]) {
    let script = "mkdir -p /w /w/real; ln -s / /w/link0; \
        while [ ! -e /stop ]; do \
          ln -sfn / /w/l; mv -T /w/l /w/d 2>/dev/null; \
          rm -f /w/d 2>/dev/null; mkdir -p /w/d 2>/dev/null; \
          rmdir /w/d 2>/dev/null; \
        done";
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend(["busybox", "sh", "-c", script]);
    t.ok(&args);
}

#[test]
fn cp_during_a_symlink_swap_never_touches_the_host() {
    let t = busybox();
    let _c = Containers(&t, vec!["race".into()]);
    swapper(&t, "race", &[]);
    let host = tempfile::tempdir().unwrap();
    let payload = write_file(host.path(), "payload", b"payload");
    let name = unique("cp-race");
    let secret = host.path().join("secret");
    std::fs::write(&secret, "host secret").unwrap();
    let out = host.path().join("out");
    let mut landed_inside = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tries = 0;
    while tries < 60 && Instant::now() < deadline {
        tries += 1;
        // In: through /w/d, which is a link to / half of the time.
        if t.run([
            OsStr::new("cp"),
            payload.as_os_str(),
            format!("race:/w/d/tmp/{name}").as_ref(),
        ])
        .code
            == 0
        {
            landed_inside += 1;
        }
        assert!(
            !Path::new("/tmp").join(&name).exists(),
            "cp wrote /tmp/{name} on the host"
        );
        // Out: the host's secret through the same link.
        let _ = std::fs::remove_file(&out);
        let _ = t.run([
            OsStr::new("cp"),
            format!("race:/w/d{}", secret.display()).as_ref(),
            out.as_os_str(),
        ]);
        assert!(
            std::fs::read(&out).map_or(true, |b| b != b"host secret"),
            "cp read the host's file through the container's link"
        );
    }
    t.ok(["exec", "race", "touch", "/stop"]);
    eprintln!("{tries} copies in during the swap, {landed_inside} landed (inside)");
    assert!(tries >= 20, "only {tries} tries");
}

#[test]
fn volume_copy_up_during_a_symlink_swap_never_touches_the_host() {
    // A new, empty volume is filled with the image's content at its mount point when a
    // container starts. Another container holding the same volume keeps planting a link
    // to / where that content goes: the fill must never write through it.
    let t = busybox();
    let name = unique("copyup");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM busybox\nRUN mkdir -p /data/d/tmp && echo x > /data/d/tmp/{name}\n"),
    )
    .unwrap();
    t.ok([
        OsStr::new("build"),
        OsStr::new("-q"),
        OsStr::new("-t"),
        OsStr::new("seeded:1"),
        ctx.path().as_os_str(),
    ]);
    let _c = Containers(&t, vec!["planter".into()]);
    t.ok([
        "run",
        "-d",
        "--name",
        "planter",
        "-v",
        "racevol:/v",
        "busybox",
        "sh",
        "-c",
        "while true; do rm -rf /v/d /v/lost 2>/dev/null; ln -s / /v/d 2>/dev/null; done",
    ]);
    let mut started = 0;
    for _ in 0..25 {
        let r = t.run(["run", "--rm", "-v", "racevol:/data", "seeded:1", "true"]);
        if r.code == 0 {
            started += 1;
        }
        assert!(
            !Path::new("/tmp").join(&name).exists(),
            "the volume fill wrote /tmp/{name} on the host"
        );
    }
    // Killed, not told to stop: a `touch /stop` exec'd in would race its own container's
    // end (the loop exits, its pid 1 goes, and the exec is killed with the namespace).
    t.ok(["rm", "-f", "planter"]);
    assert!(started > 0, "no container started");
    // And the volume's own content holds the link as a link, never its target's copy.
    let data = t.path().join("volumes/racevol/_data");
    if let Ok(m) = std::fs::symlink_metadata(data.join("d")) {
        assert!(m.is_symlink() || m.is_dir());
    }
}

// ---------------------------------------------------------------------------------------
// A layer with a symlink and then a file through it, by every way a layer comes in.

#[test]
fn a_file_through_a_layers_symlink_is_refused_by_add_as_by_import() {
    let t = busybox();
    let host = tempfile::tempdir().unwrap();
    let target = host.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let link_target = target.display().to_string();
    let evil = ustar(&[
        (tar::EntryType::Symlink, "esc", &link_target, b""),
        (tar::EntryType::Regular, "esc/planted", "", b"x"),
    ]);
    let ctx = tempfile::tempdir().unwrap();
    write_file(ctx.path(), "evil.tar", &evil);
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nADD evil.tar /\n",
    )
    .unwrap();
    let (_, err) = t.fails([
        OsStr::new("build"),
        OsStr::new("-t"),
        OsStr::new("evil:1"),
        ctx.path().as_os_str(),
    ]);
    assert!(err.contains("esc/planted"), "{err}");
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    // Relative, through a parent link, and as a load of an archive holding such a layer.
    let evil = raw_tar(&[
        (tar::EntryType::Directory, "a/", "", b""),
        (tar::EntryType::Symlink, "a/up", "../../../../../../", b""),
        (tar::EntryType::Regular, "a/up/tmp/planted", "", b"x"),
    ]);
    let file = write_file(host.path(), "rel.tar", &evil);
    let (_, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("rel:1")]);
    assert!(err.contains("a/up"), "{err}");
}

/// Like [`raw_tar`], with ustar headers (what `ADD` recognizes as an archive).
fn ustar(entries: &[(tar::EntryType, &str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, path, link, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.as_ustar_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.as_ustar_mut().unwrap().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

// ---------------------------------------------------------------------------------------
// What only --privileged may do.

#[test]
fn kernel_modules_cannot_be_loaded_or_configured() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "printf '\\177ELF' > /tmp/x.ko; \
         insmod /tmp/x.ko 2>&1 | grep -q 'not permitted' && echo insmod-refused; \
         modprobe dummy 2>/dev/null && echo modprobe-worked; \
         for f in modprobe modules_disabled core_pattern; do \
           [ -e /proc/sys/kernel/$f ] || continue; \
           (echo '|/tmp/evil' > /proc/sys/kernel/$f) 2>/dev/null && echo wrote-$f; \
         done; true",
    ]);
    assert_eq!(out, "insmod-refused\n", "{out}");
    // The host's core_pattern (the classic way out through a crash handler) is untouched.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    assert!(!pattern.contains("/tmp/evil"), "{pattern}");
}

#[test]
fn mounting_and_kernel_memory_stay_out_of_reach() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mount -t proc proc /mnt 2>/dev/null && echo mounted-proc; \
         mount --bind / /mnt 2>/dev/null && echo bind-mounted; \
         mount -o remount,rw /proc/sys 2>/dev/null && echo remounted-sys; \
         umount /proc/kcore 2>/dev/null && echo unmasked-kcore; \
         head -c 16 /proc/kcore 2>/dev/null | wc -c; \
         head -c 16 /dev/mem 2>/dev/null | wc -c; \
         mknod /tmp/sda b 8 0 2>/dev/null && head -c 1 /tmp/sda >/dev/null 2>&1 && echo read-disk; \
         true",
    ]);
    assert_eq!(out, "0\n0\n", "{out}");
}

#[test]
fn limits_cannot_be_raised_from_inside() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "busybox",
        "sh",
        "-c",
        "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max \
                  /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do \
           (echo max > $f) 2>/dev/null && echo wrote $f; \
           (echo -1 > $f) 2>/dev/null && echo wrote $f; \
         done; \
         h=$(ulimit -H -n); ulimit -n $((h+1)) 2>/dev/null && echo raised-nofile; \
         ulimit -H -n unlimited 2>/dev/null && echo raised-hard; \
         echo nofile $h",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("nofile "), "{out}");
    // And the limit holds against a fork bomb that tried to lift it first, as the host's
    // cgroup shows it.
    let _c = Containers(&t, vec!["pl".into()]);
    t.ok([
        "run",
        "-d",
        "--name",
        "pl",
        "--pids-limit",
        "20",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = harness::inspect(&t, "pl")["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.ok([
        "exec",
        "-d",
        "pl",
        "sh",
        "-c",
        "echo max > /sys/fs/cgroup/pids/pids.max 2>/dev/null; \
         echo max > /sys/fs/cgroup/pids.max 2>/dev/null; \
         i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done",
    ]);
    let dir = ["/sys/fs/cgroup/pids/rbox", "/sys/fs/cgroup/rbox"]
        .iter()
        .map(|d| Path::new(d).join(&id))
        .find(|d| d.join("pids.max").exists())
        .expect("the container's pids cgroup");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let current = || -> u32 { read("pids.current").trim().parse().unwrap() };
    assert!(harness::eventually(10, || current() >= 20));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(read("pids.max"), "20\n");
    let current = current();
    assert!((2..=20).contains(&current), "{current} processes");
    t.ok(["rm", "-f", "pl"]);
}

#[test]
fn network_none_cannot_reach_the_hosts_loopback() {
    let t = busybox();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        &format!(
            "echo hi | nc -w 2 127.0.0.1 {port} 2>/dev/null && echo connected; \
             cat /proc/net/dev | grep ':' | cut -d: -f1 | tr -d ' '; \
             ls /proc | grep -c '^[0-9]'"
        ),
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..lines.len() - 1], ["lo"], "{out}");
    // sh, ls and grep.
    let procs: u32 = lines[lines.len() - 1].parse().unwrap();
    assert!(procs <= 4, "{out}");
    assert!(
        listener.accept().is_err(),
        "the host's loopback listener got a connection"
    );
}

// ---------------------------------------------------------------------------------------
// Limits on what an image may make rbox read, write or hold.

#[test]
fn a_decompression_bomb_is_stopped_by_the_layer_size_limit() {
    let t = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    {
        let f = std::fs::File::create(&bomb).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(64 << 20);
        h.set_mode(0o644);
        b.append_data(&mut h, "zeros", std::io::repeat(0).take(64 << 20))
            .unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let r = {
        let mut c = t.cmd([OsStr::new("import"), bomb.as_os_str(), OsStr::new("bomb:1")]);
        c.env("RBOX_LAYER_MAX_SIZE", "16m");
        harness::Run::from(c.output().unwrap())
    };
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("over the limit of 16777216 bytes (RBOX_LAYER_MAX_SIZE)"),
        "{}",
        r.stderr
    );
    assert_store_empty(&t);
    // Under the default limit the same archive is an ordinary layer.
    t.ok([OsStr::new("import"), bomb.as_os_str(), OsStr::new("bomb:1")]);
}

#[test]
fn a_header_declaring_a_terabyte_is_refused_before_anything_is_written() {
    let t = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    // One header saying a file of 1 TiB follows, and 10 MiB of it.
    let mut h = tar::Header::new_gnu();
    h.set_path("huge").unwrap();
    h.set_size(1 << 40);
    h.set_mode(0o644);
    h.set_cksum();
    let mut bytes = h.as_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 10 << 20));
    let file = write_file(dir.path(), "huge.tar", &bytes);
    let start = Instant::now();
    let (code, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("huge:1")]);
    assert_eq!(code, 1);
    assert!(
        err.contains("tar entry \"huge\" declares 1099511627776 bytes"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_store_empty(&t);
    // A PAX header too large to hold in memory, and a flood of entries.
    let mut h = tar::Header::new_gnu();
    h.set_path("pax").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(4 << 30);
    h.set_cksum();
    let mut bytes = h.as_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(b'9', 4 << 20));
    let file = write_file(dir.path(), "pax.tar", &bytes);
    let (_, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("pax:1")]);
    assert!(err.contains("metadata header of 4294967296 bytes"), "{err}");
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..2000 {
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("f{i}"), &b""[..]).unwrap();
    }
    let file = write_file(dir.path(), "many.tar", &b.into_inner().unwrap());
    let r = {
        let mut c = t.cmd([OsStr::new("import"), file.as_os_str(), OsStr::new("many:1")]);
        c.env("RBOX_LAYER_MAX_ENTRIES", "1000");
        harness::Run::from(c.output().unwrap())
    };
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("over 1000 entries"), "{}", r.stderr);
    assert_store_empty(&t);
}

#[test]
fn an_oversized_index_in_an_archive_is_refused() {
    let t = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    for (name, size) in [("oci-layout", 30u64), ("index.json", 9 << 20)] {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        b.append_data(&mut h, name, std::io::repeat(b' ').take(size))
            .unwrap();
    }
    b.finish().unwrap();
    drop(b);
    let (_, err) = t.fails([OsStr::new("load"), OsStr::new("-i"), out.as_os_str()]);
    assert!(err.contains("over the limit of 8388608"), "{err}");
    assert_store_empty(&t);
}

/// A registry that answers `GET /v2/` and serves one manifest document for every
/// `/manifests/` request; `blob_requests` counts what else was asked.
struct FakeRegistry {
    port: u16,
    stop: Arc<AtomicBool>,
    blob_requests: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRegistry {
    /// `manifest`: the headers and body to send (the body may claim any length).
    fn start(manifest: impl Fn(&mut TcpStream) + Send + 'static) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let blob_requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, blob_requests) = (stop.clone(), blob_requests.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((mut conn, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    conn.set_nonblocking(false).unwrap();
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
                    let mut first = String::new();
                    let mut r = BufReader::new(conn.try_clone().unwrap());
                    if r.read_line(&mut first).is_err() {
                        continue;
                    }
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                    }
                    if first.contains("/manifests/") {
                        manifest(&mut conn);
                    } else if first.starts_with("GET /v2/ ") {
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                        );
                    } else {
                        blob_requests.fetch_add(1, Ordering::SeqCst);
                        let _ = conn.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                }
            })
        };
        FakeRegistry {
            port,
            stop,
            blob_requests,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_oversized_manifest_or_config_from_a_registry_is_refused_before_it_is_read() {
    let t = TestRoot::new();
    // A manifest reply announcing 1 GiB and sending zeros for as long as it is read.
    let sent = Arc::new(AtomicUsize::new(0));
    let reg = {
        let sent = sent.clone();
        FakeRegistry::start(move |conn| {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                  Content-Length: 1073741824\r\nConnection: close\r\n\r\n",
            );
            let chunk = [b' '; 64 * 1024];
            while conn.write_all(&chunk).is_ok() {
                if sent.fetch_add(chunk.len(), Ordering::SeqCst) > 1 << 30 {
                    break;
                }
            }
        })
    };
    let start = Instant::now();
    let (_, err) = t.fails(["pull", &format!("127.0.0.1:{}/big/manifest:1", reg.port)]);
    assert!(err.contains("over the limit of 8388608"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(
        sent.load(Ordering::SeqCst) < 64 << 20,
        "{} bytes of the manifest were read",
        sent.load(Ordering::SeqCst)
    );
    drop(reg);
    // A small manifest whose config says it is 100 MiB: not fetched at all.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)),
            "size": 100u64 << 20,
        },
        "layers": [],
    })
    .to_string();
    let reg = FakeRegistry::start(move |conn| {
        let _ = conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{manifest}",
                manifest.len()
            )
            .as_bytes(),
        );
    });
    let (_, err) = t.fails(["pull", &format!("127.0.0.1:{}/big/config:1", reg.port)]);
    assert!(
        err.contains("the image config is 104857600 bytes, over the limit of 8388608"),
        "{err}"
    );
    assert_eq!(reg.blob_requests.load(Ordering::SeqCst), 0);
    assert_store_empty(&t);
}

#[test]
fn system_check_finds_and_repairs_a_corrupted_store() {
    let t = TestRoot::new();
    let tar = busybox_tarball();
    t.ok([OsStr::new("import"), tar.as_os_str(), OsStr::new("a:1")]);
    let small = raw_tar(&[(tar::EntryType::Regular, "f", "", b"b")]);
    let dir = tempfile::tempdir().unwrap();
    let f = write_file(dir.path(), "b.tar", &small);
    t.ok([OsStr::new("import"), f.as_os_str(), OsStr::new("b:1")]);
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no problem"), "{}", r.stderr);
    // The busybox layer gets one byte flipped, as a failing disk would.
    let layer = t
        .blobs()
        .into_iter()
        .max_by_key(|b| {
            std::fs::metadata(t.path().join("images/blobs/sha256").join(b))
                .unwrap()
                .len()
        })
        .unwrap();
    let p = t.path().join("images/blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains(&format!(
            "blob {layer}: its content does not match its name"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("image docker.io/library/a:1: blob sha256:"),
        "{}",
        r.stdout
    );
    let r = t.run(["system", "check", "--repair"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listing = t.ok(["images"]);
    let names: Vec<String> = listing
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(":"))
        .collect();
    assert_eq!(names, ["b:1"], "{listing}");
    let r = t.run(["system", "check"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    t.assert_blobs_match_digests();
    // The rest of a: its config, manifest and snapshot, went with it.
    assert_eq!(t.blobs().len(), 3);
    assert_eq!(t.snapshots().len(), 1);
}
