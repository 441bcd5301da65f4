//! The resolver process of one network: made on demand by [`ensure`] (forked, detached, in
//! its own session, out of the caller's container cgroups), serving UDP on the gateway's
//! port 53 until its network has no names left, then gone.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{fork, setsid, ForkResult};

use super::codec::{self, Query};
use super::Names;
use crate::store::Network;

/// How long an answer may be cached (seconds): names change as containers come and go.
const TTL: u32 = 5;

/// How many names standing for outside ones are asked of the upstream servers at once;
/// a query beyond them is answered SERVFAIL.
const MAX_FORWARDS: usize = 16;

/// How often an idle resolver looks whether its network still has names.
const IDLE_CHECK: Duration = Duration::from_millis(500);

fn lock_path(root: &Path, net: &Network) -> PathBuf {
    root.join("networks").join(format!("{}.dns.lock", net.id))
}

fn pid_path(root: &Path, net: &Network) -> PathBuf {
    root.join("networks").join(format!("{}.dns.pid", net.id))
}

fn lock(root: &Path, net: &Network) -> io::Result<Flock<File>> {
    let path = lock_path(root, net);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| e.into())
}

/// A process's start time (clock ticks since boot), to tell it from a later one with its pid.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The resolver of `net` that runs, if one does: its pid.
pub fn running(root: &Path, net: &Network) -> Option<i32> {
    let text = fs::read_to_string(pid_path(root, net)).ok()?;
    let (pid, start) = text.trim().split_once(' ')?;
    let (pid, start): (i32, u64) = (pid.parse().ok()?, start.parse().ok()?);
    (start_time(pid) == Some(start)).then_some(pid)
}

/// Makes sure `net`'s resolver runs (its names registered first: a resolver with none
/// ends at once). Returns once it listens.
pub fn ensure(root: &Path, net: &Network) -> io::Result<()> {
    let _lock = lock(root, net)?;
    if running(root, net).is_some() {
        return Ok(());
    }
    spawn(root, net)
}

/// Moves the calling process out of the cgroups of a container (`/rbox/…`) into each
/// hierarchy's root, so that a container's cgroups can be removed while it runs.
fn leave_container_cgroups() {
    let Ok(text) = fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    let pid = std::process::id().to_string();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        if !path.starts_with("/rbox") {
            continue;
        }
        let mount = match controllers {
            "" => PathBuf::from("/sys/fs/cgroup"),
            c => PathBuf::from("/sys/fs/cgroup").join(c.strip_prefix("name=").unwrap_or(c)),
        };
        let _ = fs::write(mount.join("cgroup.procs"), &pid);
    }
}

/// Closes every descriptor but `keep` (the child's copy of locks and pipes of its parent
/// must not outlive it), with standard input and outputs on /dev/null.
fn close_inherited(keep: i32) {
    let fds: Vec<i32> = fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        if fd > 2 && fd != keep {
            let _ = nix::unistd::close(fd);
        }
    }
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
        }
    }
}

fn spawn(root: &Path, net: &Network) -> io::Result<()> {
    let (r, w) = nix::unistd::pipe()?;
    // SAFETY: the child only makes system calls and plain Rust until it execs nothing and
    // exits with _exit; the caller (a container's monitor) is single-threaded.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            drop(w);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut f = File::from(r);
            let mut said = String::new();
            let _ = f.read_to_string(&mut said);
            match said.strip_prefix("ok") {
                Some(_) => Ok(()),
                None if said.is_empty() => Err(io::Error::other("the resolver did not start")),
                None => Err(io::Error::other(said)),
            }
        }
        ForkResult::Child => {
            drop(r);
            let _ = setsid();
            // SAFETY: as above.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {}
                _ => unsafe { nix::libc::_exit(0) },
            }
            close_inherited(w.as_raw_fd());
            leave_container_cgroups();
            let _ = std::env::set_current_dir("/");
            let code = serve_child(root, net, File::from(w));
            unsafe { nix::libc::_exit(code) }
        }
    }
}

fn serve_child(root: &Path, net: &Network, mut ready: File) -> i32 {
    let _ = nix::sys::prctl::set_name(c"rbox-dns");
    let addr = SocketAddrV4::new(net.gateway, 53);
    let sock = match UdpSocket::bind(addr) {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(ready, "network {}: the resolver on {addr}: {e}", net.name);
            return 1;
        }
    };
    let me = std::process::id();
    let pid_file = pid_path(root, net);
    let record = format!("{me} {}\n", start_time(me as i32).unwrap_or(0));
    if let Err(e) = fs::write(&pid_file, record) {
        let _ = write!(ready, "{}: {e}", pid_file.display());
        return 1;
    }
    let _ = ready.write_all(b"ok");
    drop(ready);
    serve(root, net, &sock, &super::forward::upstreams(root));
    0
}

/// The answer to `q` for a name that stands for `target`: a CNAME, then the target's
/// addresses — the network's own if it has them, else what `upstreams` say (A queries).
fn answer_for_another(
    names: &Names,
    network_id: &str,
    from: Ipv4Addr,
    q: &Query,
    target: &str,
    upstreams: &[std::net::SocketAddr],
) -> Vec<u8> {
    if q.qtype != codec::TYPE_A || q.qclass != codec::CLASS_IN {
        return codec::answer_cname(q, codec::NOERROR, target, &[], TTL);
    }
    let (rcode, ips) = match names.resolve(network_id, from, target) {
        Some(ips) => (codec::NOERROR, ips),
        None => super::forward::resolve(upstreams, target).unwrap_or((codec::SERVFAIL, vec![])),
    };
    codec::answer_cname(q, rcode, target, &ips, TTL)
}

/// The answer to one query from `from`.
pub fn respond(names: &Names, network_id: &str, from: Ipv4Addr, q: &Query, turn: usize) -> Vec<u8> {
    if q.opcode() != 0 {
        return codec::answer(q, codec::NOTIMP, &[], 0);
    }
    match names.resolve(network_id, from, &q.name) {
        Some(mut ips) if q.qtype == codec::TYPE_A && q.qclass == codec::CLASS_IN => {
            let n = ips.len();
            ips.rotate_left(turn % n);
            codec::answer(q, codec::NOERROR, &ips, TTL)
        }
        // A name we have, another type (AAAA …): no records of it.
        Some(_) => codec::answer(q, codec::NOERROR, &[], TTL),
        None => codec::answer(q, codec::REFUSED, &[], 0),
    }
}

/// Serves until `net` has no names (or is gone). A name standing for an outside one is
/// answered from a thread of its own (its upstream may be slow); the rest at once.
fn serve(root: &Path, net: &Network, sock: &UdpSocket, upstreams: &[std::net::SocketAddr]) {
    let names = Names::open(root);
    let _ = sock.set_read_timeout(Some(IDLE_CHECK));
    let mut buf = [0u8; 1500];
    let mut turn = 0usize;
    let mut checked = Instant::now();
    let in_flight = Arc::new(AtomicUsize::new(0));
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, std::net::SocketAddr::V4(from))) => {
                let query = codec::parse(&buf[..n]);
                let target = query
                    .as_ref()
                    .filter(|q| q.opcode() == 0)
                    .and_then(|q| names.cname(&net.id, &q.name));
                if let (Some(q), Some(target)) = (&query, target) {
                    if in_flight.load(Ordering::Relaxed) >= MAX_FORWARDS {
                        let _ = sock.send_to(&codec::answer(q, codec::SERVFAIL, &[], TTL), from);
                        continue;
                    }
                    let (root, id, ups) = (root.to_owned(), net.id.clone(), upstreams.to_vec());
                    let (q, in_flight) = (q.clone(), in_flight.clone());
                    if let Ok(sock) = sock.try_clone() {
                        in_flight.fetch_add(1, Ordering::Relaxed);
                        std::thread::spawn(move || {
                            let names = Names::open(&root);
                            let reply =
                                answer_for_another(&names, &id, *from.ip(), &q, &target, &ups);
                            let _ = sock.send_to(&reply, from);
                            in_flight.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    continue;
                }
                let reply = match query {
                    Some(q) => {
                        if q.qtype == codec::TYPE_A {
                            turn = turn.wrapping_add(1);
                        }
                        respond(&names, &net.id, *from.ip(), &q, turn)
                    }
                    None if n >= 12 && buf[2] & 0x80 == 0 => {
                        let mut r = buf[..12].to_vec();
                        r[2] = 0x80 | (buf[2] & 0x79);
                        r[3] = codec::FORMERR;
                        r[4..12].fill(0);
                        r
                    }
                    None => continue,
                };
                let _ = sock.send_to(&reply, from);
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
        if checked.elapsed() >= IDLE_CHECK {
            checked = Instant::now();
            let gone = !root
                .join("networks")
                .join(format!("{}.json", net.name))
                .exists();
            if gone || names.is_empty(&net.id) {
                // Under the lock: a container registering now either sees this resolver
                // gone and starts another, or is seen here.
                let Ok(_l) = lock(root, net) else { continue };
                if gone || names.is_empty(&net.id) {
                    let _ = fs::remove_file(pid_path(root, net));
                    if gone {
                        let _ = fs::remove_file(lock_path(root, net));
                    }
                    return;
                }
            }
        }
    }
}
