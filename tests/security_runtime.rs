//! Attacks on the runtime from an image or a container's processes (docs/SECURITY.md,
//! "Security review"): each test performs one attack end to end with the real binary and
//! asserts that nothing outside was read, written or run.

mod harness;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{busybox, eventually, inspect, write_file, TestRoot};

fn build(t: &TestRoot, tag: &str, dir: &Path) {
    t.ok([
        "build".as_ref(),
        "-q".as_ref(),
        "-t".as_ref(),
        tag.as_ref(),
        dir.as_os_str(),
    ]);
}

fn host_file(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// An NSS module whose constructor records, inside the container, that it ran and with
/// which capabilities.
const NSS_MODULE: &str = r#"
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void) {
    char buf[4096]; int n = 0;
    int s = open("/proc/self/status", O_RDONLY);
    if (s >= 0) { n = read(s, buf, sizeof buf); close(s); }
    int f = open("/nss-ran", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (f >= 0) { if (n > 0) write(f, buf, n); close(f); }
}
"#;

#[test]
fn an_images_nss_module_never_runs_in_the_containers_init() {
    let t = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let src = write_file(ctx.path(), "evil.c", NSS_MODULE.as_bytes());
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(ctx.path().join("libnss_evil.so.2"))
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed to build the attack");
    assert!(st.success());
    write_file(
        ctx.path(),
        "nsswitch.conf",
        b"passwd: evil files\ngroup: evil files\n",
    );
    write_file(
        ctx.path(),
        "Dockerfile",
        b"FROM busybox\nCOPY nsswitch.conf /etc/nsswitch.conf\n\
          COPY libnss_evil.so.2 /lib/libnss_evil.so.2\n\
          COPY libnss_evil.so.2 /lib/x86_64-linux-gnu/libnss_evil.so.2\n\
          COPY libnss_evil.so.2 /usr/lib/libnss_evil.so.2\nENV HOME=\"\"\n",
    );
    build(&t, "evil", ctx.path());
    let core_pattern = host_file("/proc/sys/kernel/core_pattern");

    // run: the module never ran, and HOME comes from the image's passwd.
    let out = t.ok([
        "run",
        "--name",
        "e",
        "evil",
        "sh",
        "-c",
        "cat /nss-ran 2>/dev/null; echo HOME=$HOME",
    ]);
    assert_eq!(
        out.trim(),
        "HOME=/root",
        "the image's NSS module ran: {out}"
    );
    // exec, also with an empty HOME asked for.
    t.ok(["start", "e"]);
    t.ok(["run", "-d", "--name", "long", "evil", "sleep", "60"]);
    let out = t.ok([
        "exec",
        "-e",
        "HOME=",
        "long",
        "sh",
        "-c",
        "cat /nss-ran 2>/dev/null; echo HOME=$HOME",
    ]);
    assert_eq!(
        out.trim(),
        "HOME=/root",
        "the NSS module ran in exec: {out}"
    );
    // A build's RUN on top of it.
    let child = tempfile::tempdir().unwrap();
    write_file(
        child.path(),
        "Dockerfile",
        b"FROM evil\nRUN test ! -e /nss-ran && echo clean > /result\n",
    );
    build(&t, "evil-child", child.path());
    let out = t.ok(["run", "--rm", "evil-child", "cat", "/result"]);
    assert_eq!(out.trim(), "clean");
    assert_eq!(host_file("/proc/sys/kernel/core_pattern"), core_pattern);
    t.ok(["rm", "-f", "long", "e"]);
}

/// The host's cgroup v1 hierarchies that bear only a name (`name=systemd`).
fn named_hierarchies() -> Vec<String> {
    let info = host_file("/proc/self/mountinfo");
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split(' ');
            (r.next()? == "cgroup").then_some(())?;
            let opts = r.nth(1)?;
            let controllers = opts
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro" | "xattr") && !o.starts_with("name="))
                .count();
            (opts.contains("name=") && controllers == 0)
                .then(|| left.split(' ').nth(4).unwrap().to_owned())
        })
        .collect()
}

#[test]
fn a_container_never_sees_a_named_cgroup_hierarchys_root() {
    let named = named_hierarchies();
    if named.is_empty() {
        eprintln!("this host mounts no named cgroup v1 hierarchy: nothing to attack");
        return;
    }
    let t = busybox();
    let agents: Vec<String> = named
        .iter()
        .map(|m| host_file(&format!("{m}/release_agent")))
        .collect();
    let id = t
        .ok(["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_owned();
    for m in &named {
        let inside = m.clone();
        let r = t.run([
            "exec",
            &id,
            "sh",
            "-c",
            &format!("cat {inside}/release_agent || echo absent; echo x > {inside}/release_agent"),
        ]);
        assert!(
            r.stdout.contains("absent"),
            "the hierarchy's root (release_agent) is visible at {m}: {}",
            r.stdout
        );
        // The container is in its own cgroup there.
        let procs = host_file(&format!("{m}/rbox/{id}/cgroup.procs"));
        assert!(!procs.trim().is_empty(), "no cgroup of its own in {m}");
    }
    t.ok(["rm", "-f", &id]);
    for (m, agent) in named.iter().zip(&agents) {
        assert_eq!(&host_file(&format!("{m}/release_agent")), agent);
        assert!(
            eventually(5, || !Path::new(&format!("{m}/rbox/{id}")).exists()),
            "the container's cgroup in {m} was left"
        );
    }
}

#[test]
fn an_image_whose_passwd_is_a_fifo_is_refused_at_once() {
    let t = busybox();
    let ctx = tempfile::tempdir().unwrap();
    write_file(
        ctx.path(),
        "Dockerfile",
        b"FROM busybox\nRUN rm /etc/passwd && mkfifo /etc/passwd\n",
    );
    build(&t, "fifo", ctx.path());
    let started = Instant::now();
    let (code, err) = t.fails(["run", "--name", "f", "fifo", "true"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    t.ok(["rm", "-f", "f"]);
    assert!(harness::processes_under(t.path()).is_empty());
}

#[test]
fn exec_and_run_never_hand_the_callers_files_to_the_container() {
    let t = busybox();
    let dir = tempfile::tempdir().unwrap();
    let victim = write_file(dir.path(), "victim", b"precious\n");
    let input = write_file(dir.path(), "input", b"precious input\n");
    t.ok(["run", "-d", "--name", "c", "busybox", "sleep", "60"]);
    let attack = "echo gone > /proc/self/fd/2; : > /proc/self/fd/1; echo x > /proc/self/fd/0";
    for args in [
        vec!["exec", "c", "sh", "-c", attack],
        vec!["exec", "-i", "c", "sh", "-c", attack],
        vec!["run", "--rm", "-i", "busybox", "sh", "-c", attack],
    ] {
        let st = t
            .cmd(&args)
            .stdin(std::fs::File::open(&input).unwrap())
            .stdout(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&victim)
                    .unwrap(),
            )
            .stderr(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&victim)
                    .unwrap(),
            )
            .status()
            .unwrap();
        assert!(st.code().is_some(), "{args:?}");
        let v = host_file(victim.to_str().unwrap());
        assert!(
            v.starts_with("precious\n"),
            "{args:?} truncated the host file: {v:?}"
        );
        assert_eq!(host_file(input.to_str().unwrap()), "precious input\n");
    }
    // Input still arrives, and its end is the process's end of input.
    let mut child = t
        .cmd(["exec", "-i", "c", "sh", "-c", "cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(out, "hello\ndone\n");
    t.ok(["rm", "-f", "c"]);
}

#[test]
fn two_creators_of_one_name_never_both_succeed() {
    let t = busybox();
    for round in 0..10 {
        let name = format!("race{round}");
        let spawn = || {
            t.cmd(["create", "--name", &name, "busybox", "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn(), spawn());
        let ok = [a.wait().unwrap(), b.wait().unwrap()]
            .iter()
            .filter(|s| s.success())
            .count();
        assert_eq!(ok, 1, "round {round}: {ok} creators got the name");
        assert_eq!(inspect(&t, &name)["Name"], format!("/{name}"));
    }
    let all = t.ok(["ps", "-aq"]);
    assert_eq!(all.lines().count(), 10, "{all}");
}

#[test]
fn container_output_is_capped_and_rotated_and_logs_read_across_files() {
    let t = busybox();
    // The default cap, as inspect shows it.
    t.ok(["create", "--name", "d", "busybox", "true"]);
    let lc = &inspect(&t, "d")["HostConfig"]["LogConfig"];
    assert_eq!(lc["Type"], "json-file");
    assert_eq!(lc["Config"]["max-size"], "20m", "{lc}");
    // `yes` for two seconds stays within max-size × max-file.
    t.ok([
        "run",
        "-d",
        "--name",
        "y",
        "--log-opt",
        "max-size=64k",
        "--log-opt",
        "max-file=3",
        "busybox",
        "sh",
        "-c",
        "timeout 2 yes; true",
    ]);
    t.ok(["wait", "y"]);
    let dir = t
        .path()
        .join("containers")
        .join(inspect(&t, "y")["Id"].as_str().unwrap());
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("container.log"))
        .collect();
    assert_eq!(logs.len(), 3, "max-file=3 keeps three files");
    let total: u64 = logs.iter().map(|e| e.metadata().unwrap().len()).sum();
    assert!(total <= 3 * 64 * 1024, "{total} bytes of log");
    for e in &logs {
        assert_eq!(
            e.metadata().unwrap().mode() & 0o077,
            0,
            "a log open to others"
        );
    }
    // `logs` reads every file kept, oldest first, and ends with the last line.
    t.ok([
        "run",
        "--name",
        "n",
        "--log-opt",
        "max-size=4k",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done",
    ]);
    let out = t.ok(["logs", "n"]);
    let n: Vec<u32> = out
        .lines()
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    assert_eq!(*n.last().unwrap(), 1999);
    assert!(n.len() > 100 && n.len() < 2000, "{} lines kept", n.len());
    assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "lines out of order");
    let tail = t.ok(["logs", "--tail", "2", "n"]);
    assert_eq!(tail, "line 1998\nline 1999\n");
    // Bad options name themselves, and nothing is made.
    let (code, err) = t.fails(["run", "--log-opt", "colour=red", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("colour"), "{err}");
    let (_, err) = t.fails(["run", "--log-driver", "syslog", "busybox", "true"]);
    assert!(err.contains("syslog"), "{err}");
    assert_eq!(t.ok(["ps", "-aq"]).lines().count(), 3);
    // The root's own defaults.
    write_file(
        t.path(),
        "defaults.json",
        br#"{"log-opts": {"max-file": "2"}}"#,
    );
    t.ok(["create", "--name", "r", "busybox", "true"]);
    assert_eq!(
        inspect(&t, "r")["HostConfig"]["LogConfig"]["Config"]["max-file"],
        "2"
    );
}

/// Runs `sh -c script` as the host's user `nobody`.
fn as_nobody(script: &str) -> std::process::Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .expect("setpriv (util-linux) runs")
}

#[test]
fn the_data_root_is_closed_to_other_users() {
    let t = TestRoot::new();
    // A root made by someone else with the usual 0755.
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t.busybox("busybox:latest");
    let mode = std::fs::metadata(t.path()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data root is {mode:o}");
    t.ok([
        "run",
        "--name",
        "s",
        "-e",
        "SECRET=hunter2",
        "busybox",
        "sh",
        "-c",
        "cp /bin/busybox /suid && chmod 4755 /suid && echo out",
    ]);
    let id = inspect(&t, "s")["Id"].as_str().unwrap().to_owned();
    let dir = t.path().join("containers").join(&id);
    for f in ["container.json", "container.log"] {
        let m = std::fs::metadata(dir.join(f)).unwrap().mode() & 0o777;
        assert_eq!(m, 0o600, "{f} is {m:o}");
    }
    // Opened up again by hand, the next command closes it.
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t.ok(["ps", "-a"]);
    assert_eq!(std::fs::metadata(t.path()).unwrap().mode() & 0o777, 0o700);
    let suid = dir.join("upper/suid");
    assert!(suid.exists());
    let out = as_nobody(&format!(
        "{s} id -u; cat {c}",
        s = suid.display(),
        c = dir.join("container.json").display()
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('0') && !text.contains("hunter2"), "{text}");
    // A root another user owns is refused.
    let theirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
    let r = Command::new(harness::rbox_bin())
        .arg("--root")
        .arg(theirs.path())
        .arg("images")
        .output()
        .unwrap();
    assert_ne!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stderr).contains("owned by uid 65534"));
}

#[test]
fn a_runtime_directory_made_first_by_another_user_is_replaced() {
    use sha2::Digest;
    let t = TestRoot::new();
    let root = std::fs::canonicalize(t.path()).unwrap();
    let key = hex::encode(sha2::Sha256::digest(root.as_os_str().as_encoded_bytes()));
    let tmpfs = |p: &str| {
        nix::sys::statfs::statfs(p)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC)
    };
    let base = if tmpfs("/run") { "/run" } else { "/dev/shm" };
    let dir = Path::new(base).join(format!("rbox-{}", &key[..16]));
    // What any local user could do in /dev/shm: the name first, open to all, with a link
    // inside that a careless root would follow.
    let canary = tempfile::tempdir().unwrap();
    write_file(canary.path(), "keep", b"keep");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(canary.path(), dir.join("libcontainer")).unwrap();
    std::os::unix::fs::lchown(dir.join("libcontainer"), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    t.busybox("busybox:latest");
    assert_eq!(t.ok(["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let m = std::fs::symlink_metadata(&dir).unwrap();
    assert!(m.is_dir() && m.uid() == 0 && m.mode() & 0o777 == 0o700);
    assert!(
        canary.path().join("keep").exists(),
        "a link in it was followed"
    );
}

/// The container's network namespace, by its id.
fn netns(id: &str) -> String {
    format!("rbox-{}", &id[..16])
}

/// From inside the namespace of container `id`, with the powers of root there (what a
/// container with raw sockets can do by writing frames), sends packets for 127.0.0.1 to
/// the gateway's MAC address; returns whether a TCP conversation with `port` completed.
fn reach_host_loopback_through_gateway(t: &TestRoot, id: &str, port: u16) -> bool {
    let gw = inspect(t, id)["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_owned();
    let script = format!(
        "sysctl -qw net.ipv4.conf.eth0.route_localnet=1 && \
         ip rule add pref 1000 lookup local && ip rule del pref 0 && \
         ip rule add to 127.0.0.1 lookup 100 pref 10 && \
         ip route add 127.0.0.1 via {gw} dev eth0 table 100 onlink && \
         timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && head -c 6 <&3'"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &netns(id), "sh", "-c", &script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("secret")
}

#[test]
fn containers_never_reach_services_on_the_hosts_loopback() {
    let t = busybox();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    server.set_nonblocking(true).unwrap();
    let subnet = harness::free_test_subnet();
    let net = format!("int{}", &t.bridge[3..9]);
    t.ok(["network", "create", "--internal", "--subnet", &subnet, &net]);
    let on_default = t.ok(["run", "-d", "busybox", "sleep", "60"]);
    let on_internal = t.ok(["run", "-d", "--network", &net, "busybox", "sleep", "60"]);
    let serve = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut accepted = 0;
        while Instant::now() < deadline {
            if let Ok((mut s, _)) = server.accept() {
                let _ = s.write_all(b"secret");
                accepted += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        accepted
    });
    for id in [on_default.trim(), on_internal.trim()] {
        assert!(
            !reach_host_loopback_through_gateway(&t, id, port),
            "a container reached a loopback-only host service"
        );
    }
    assert_eq!(serve.join().unwrap(), 0);
    // Published ports on the host's 127.0.0.1 still reach containers.
    let web = t.ok([
        "run",
        "-d",
        "-p",
        "127.0.0.1::8080",
        "busybox",
        "sh",
        "-c",
        "echo hi > /tmp/i; exec httpd -f -p 8080 -h /tmp",
    ]);
    let published = t.ok(["port", web.trim()]);
    let hostport = published.trim().rsplit(':').next().unwrap().to_owned();
    assert!(eventually(10, || Command::new("curl")
        .args(["-fsS", "-m", "2", &format!("http://127.0.0.1:{hostport}/i")])
        .output()
        .is_ok_and(|o| o.stdout == b"hi\n")));
    t.remove_all_containers();
    t.ok(["network", "rm", &net]);
}

#[test]
fn a_router_advertisement_from_a_container_never_configures_the_host() {
    let t = busybox();
    let id = t
        .ok(["run", "-d", "busybox", "sleep", "60"])
        .trim()
        .to_owned();
    let conf = format!("/proc/sys/net/ipv6/conf/{}", t.bridge);
    if !Path::new(&conf).exists() {
        eprintln!("no IPv6 in this kernel: nothing to attack");
        t.ok(["rm", "-f", &id]);
        return;
    }
    assert_eq!(host_file(&format!("{conf}/accept_ra")).trim(), "0");
    assert_eq!(host_file(&format!("{conf}/autoconf")).trim(), "0");
    // An RA for 2001:db8:66::/64 to all nodes, from the container's side of the bridge.
    let ra = r#"
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
idx = socket.if_nametoindex("eth0")
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
pi = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, "2001:db8:66::")
for _ in range(3):
    s.sendto(ra + pi, ("ff02::1", 0, 0, idx))
    time.sleep(0.2)
"#;
    // Link-local addresses take a moment (duplicate address detection).
    std::thread::sleep(Duration::from_secs(2));
    let out = Command::new("ip")
        .args(["netns", "exec", &netns(&id), "python3", "-c", ra])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(1));
    let addrs = Command::new("ip")
        .args(["-6", "addr", "show", "dev", &t.bridge])
        .output()
        .unwrap();
    let routes = Command::new("ip").args(["-6", "route"]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&addrs.stdout),
        String::from_utf8_lossy(&routes.stdout)
    );
    assert!(!all.contains("2001:db8:66"), "the host took the RA: {all}");
    t.ok(["rm", "-f", &id]);
}
