//! Networking as a Docker user meets it: the default bridge, published ports (TCP and UDP,
//! fixed and chosen, from loopback, from the host's other address and from another
//! container), user-defined networks with names, isolation, none and host, addresses under
//! load, and bad input that leaves nothing behind. Traffic only goes to loopback and to
//! addresses on the bridges these tests make.

mod harness;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use harness::{busybox, eventually, inspect, network_leftovers, TestRoot};

/// `GET /` at `addr`, the body if the server answered.
fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// Starts a busybox httpd on port 8080 serving `body`, detached.
fn web(t: &TestRoot, name: &str, body: &str, extra: &[&str]) -> String {
    let script = format!("echo {body} > /tmp/index.html && exec httpd -f -p 8080 -h /tmp");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    t.ok(args).trim().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first of `n` consecutive free TCP ports on 127.0.0.1.
fn free_range(n: u16) -> u16 {
    loop {
        let r = harness::random_bytes(2);
        let base = 20000 + u16::from_le_bytes([r[0], r[1]]) % 20000;
        let free = (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return base;
        }
    }
}

fn ip_of(t: &TestRoot, name: &str) -> String {
    let ip = t
        .ok(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name])
        .trim()
        .to_owned();
    assert_eq!(
        ip,
        inspect(t, name)["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
    );
    ip
}

#[test]
fn the_default_bridge_gives_an_address_a_route_and_host_files() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "--name",
        "probe",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf; hostname",
    ]);
    let prefix = t.subnet.trim_end_matches("0/24");
    assert!(out.contains(&format!("inet {prefix}")), "{out}");
    assert!(
        out.contains(&format!("default via {prefix}1 dev eth0")),
        "{out}"
    );
    let hostname = out.lines().last().unwrap();
    assert!(
        out.lines()
            .any(|l| l.starts_with(prefix) && l.ends_with(&format!("\t{hostname}"))),
        "{out}"
    );
    // The host's resolvers, without loopback ones.
    assert!(!out.contains("nameserver 127."), "{out}");
    // The bridge is the network's, with its gateway address.
    let link = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", &t.bridge])
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(link.contains(&format!("{prefix}1/24")), "{link}");
}

#[test]
fn published_ports_answer_on_loopback_other_addresses_and_from_containers() {
    let t = busybox();
    let fixed = free_port();
    let mapping = format!("{fixed}:8080");
    let id = web(&t, "web", "hello-web", &["-p", &mapping, "-p", "8080"]);
    let own = ip_of(&t, "web");
    let gateway = inspect(&t, "web")["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        eventually(10, || http_get(&format!("{own}:8080")).is_some()),
        "httpd never answered on its own address {own}"
    );
    assert_eq!(
        http_get(&format!("127.0.0.1:{fixed}")).as_deref(),
        Some("hello-web\n")
    );
    // The host's other addresses: the gateway is one of them.
    assert_eq!(
        http_get(&format!("{gateway}:{fixed}")).as_deref(),
        Some("hello-web\n")
    );
    // A chosen port, shown by `port`, `ps` and inspect.
    let port = t.ok(["port", "web", "8080/tcp"]);
    let chosen: Vec<u16> = port
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse().ok())
        .filter(|p| *p != fixed)
        .collect();
    assert_eq!(chosen.len(), 1, "{port}");
    assert_eq!(
        http_get(&format!("127.0.0.1:{}", chosen[0])).as_deref(),
        Some("hello-web\n")
    );
    let ps = t.ok(["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{fixed}->8080/tcp")), "{ps}");
    assert!(
        ps.contains(&format!("0.0.0.0:{}->8080/tcp", chosen[0])),
        "{ps}"
    );
    let ports = &inspect(&t, "web")["NetworkSettings"]["Ports"]["8080/tcp"];
    assert_eq!(ports.as_array().map(Vec::len), Some(2), "{ports}");
    // Hairpin: another container reaches it through the host's published port.
    let out = t.ok([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gateway} {fixed}"),
    ]);
    assert!(out.contains("hello-web"), "{out}");
    // Stopped, nothing answers there, and the port is free again.
    t.ok(["stop", "-t", "1", &id]);
    assert!(http_get(&format!("127.0.0.1:{fixed}")).is_none());
    assert!(std::net::TcpListener::bind(("0.0.0.0", fixed)).is_ok());
    // Started again, it answers again, on the same address.
    t.ok(["start", &id]);
    assert!(eventually(10, || http_get(&format!("127.0.0.1:{fixed}"))
        .is_some_and(|b| b == "hello-web\n")));
    assert_eq!(ip_of(&t, "web"), own);
    t.ok(["rm", "-f", &id]);
    let left = network_leftovers(&[], &[id]);
    assert!(left.is_empty(), "rm left {left:?}");
}

/// A UDP socket on `port` inside the network namespace of container `id` (busybox has no
/// UDP server): made on a thread of its own that enters the namespace and ends, so this
/// thread stays on the host.
fn udp_socket_in(id: &str, port: u16) -> UdpSocket {
    let ns = std::fs::File::open(format!("/run/netns/rbox-{}", &id[..16])).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        UdpSocket::bind(("0.0.0.0", port)).unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn udp_ports_are_published() {
    let t = busybox();
    let port = free_port();
    let mapping = format!("127.0.0.1:{port}:5353/udp");
    let id = t
        .ok(["run", "-d", "-p", &mapping, "busybox", "sleep", "60"])
        .trim()
        .to_owned();
    let server = udp_socket_in(&id, 5353);
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .send_to(b"ping-over-udp", ("127.0.0.1", port))
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, peer) = server.recv_from(&mut buf).expect("the datagram arrives");
    assert_eq!(&buf[..n], b"ping-over-udp");
    // The answer goes back through the same mapping.
    server.send_to(b"pong", peer).unwrap();
    let (n, from) = client.recv_from(&mut buf).expect("the answer arrives");
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from.port(), port);
    t.ok(["rm", "-f", &id]);
}

#[test]
fn a_user_network_resolves_names_and_aliases_and_is_isolated() {
    let t = busybox();
    let (a, b) = (harness::free_test_subnet(), harness::free_test_subnet());
    t.ok(["network", "create", "--subnet", &a, "front"]);
    t.ok(["network", "create", "--subnet", &b, "back"]);
    web(
        &t,
        "api",
        "hello-api",
        &["--network", "front", "--network-alias", "service"],
    );
    let api_ip = ip_of(&t, "api");
    assert!(api_ip.starts_with(a.trim_end_matches("0/24")), "{api_ip}");
    let fetch = "for i in 1 2 3 4 5 6 7 8 9 10; do \
                 printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $0 8080 && exit 0; \
                 sleep 0.3; done; exit 1";
    for name in ["api", "service"] {
        let out = t.ok([
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            fetch,
            name,
        ]);
        assert!(out.contains("hello-api"), "by {name}: {out}");
    }
    // A container that starts later is known to the ones already running.
    t.ok([
        "run",
        "-d",
        "--name",
        "late",
        "--network",
        "front",
        "busybox",
        "sleep",
        "60",
    ]);
    let hosts = t.ok(["exec", "api", "cat", "/etc/hosts"]);
    assert!(
        hosts.lines().any(|l| l.ends_with("\tlate")),
        "api's hosts: {hosts}"
    );
    // Another network neither knows the name nor reaches the address.
    let (code, out, _) = t.status([
        "run",
        "--rm",
        "--network",
        "back",
        "busybox",
        "sh",
        "-c",
        &format!("nc -w 2 {api_ip} 8080 </dev/null && echo REACHED"),
    ]);
    assert!(!out.contains("REACHED"), "{code} {out}");
    let (code, _, _) = t.status([
        "run",
        "--rm",
        "--network",
        "back",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "1",
        "api",
    ]);
    assert_ne!(code, 0);
    // In use, the network stays.
    let (_, err) = t.fails(["network", "rm", "front"]);
    assert!(err.contains("active endpoints"), "{err}");
    // connect: a running container joins, gets an interface and the names there.
    t.ok([
        "run",
        "-d",
        "--name",
        "walker",
        "--network",
        "back",
        "busybox",
        "sleep",
        "60",
    ]);
    t.ok(["network", "connect", "front", "walker"]);
    let out = t.ok(["exec", "walker", "sh", "-c", &fetch.replace("$0", "api")]);
    assert!(out.contains("hello-api"), "{out}");
    let links = t.ok(["exec", "walker", "ip", "-o", "link"]);
    assert!(links.contains("eth1"), "{links}");
    t.ok(["network", "disconnect", "front", "walker"]);
    let links = t.ok(["exec", "walker", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    let ls = t.ok(["network", "ls"]);
    assert!(
        ls.contains("front") && ls.contains("back") && ls.contains("bridge"),
        "{ls}"
    );
    t.remove_all_containers();
    t.ok(["network", "rm", "front", "back"]);
    assert!(!t.ok(["network", "ls"]).contains("front"));
}

#[test]
fn none_has_only_loopback_and_host_sees_the_hosts_interfaces() {
    let t = busybox();
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(str::trim))
        .collect();
    assert_eq!(names, ["lo"], "{out}");
    let host = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    let host_names: Vec<String> = host
        .lines()
        .filter_map(|l| {
            l.split(':')
                .nth(1)
                .map(|n| n.trim().split('@').next().unwrap().to_owned())
        })
        .collect();
    let out = t.ok([
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    for name in host_names.iter().filter(|n| !n.starts_with("rb")) {
        assert!(
            out.contains(&format!(": {name}")),
            "{name} missing in {out}"
        );
    }
}

#[test]
fn thirty_containers_at_once_get_distinct_addresses_all_released_after_rm() {
    let t = busybox();
    let subnet = harness::free_test_subnet();
    t.ok(["network", "create", "--subnet", &subnet, "crowd"]);
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..30)
            .map(|_| {
                s.spawn(|| {
                    t.ok(["run", "-d", "--network", "crowd", "busybox", "sleep", "120"])
                        .trim()
                        .to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ips: Vec<String> = ids.iter().map(|id| ip_of(&t, id)).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 30, "{ips:?}");
    let members = t.ok(["network", "inspect", "crowd"]);
    let v: serde_json::Value = serde_json::from_str(&members).unwrap();
    assert_eq!(v[0]["Containers"].as_object().map(|m| m.len()), Some(30));
    let mut rm = vec!["rm".to_string(), "-f".to_string()];
    rm.extend(ids.iter().cloned());
    t.ok(rm);
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["network", "inspect", "crowd"])).unwrap();
    assert_eq!(v[0]["Containers"].as_object().map(|m| m.len()), Some(0));
    let left = network_leftovers(&[], &ids);
    assert!(left.is_empty(), "{left:?}");
    // The first address is handed out again.
    let first = t
        .ok(["create", "--network", "crowd", "busybox", "true"])
        .trim()
        .to_owned();
    assert_eq!(ip_of(&t, &first), subnet.replace("0/24", "2"));
}

#[test]
fn bad_network_input_is_refused_and_leaves_nothing() {
    let t = busybox();
    // A host port already taken.
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (_, err) = t.fails([
        "run",
        "-d",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sleep",
        "5",
    ]);
    assert!(
        err.contains("already allocated") && err.contains(&port.to_string()),
        "{err}"
    );
    // Malformed -p.
    for bad in ["80:80:80:80", "x:80", "70000:80", "80/sctp", "8000-8002:80"] {
        let (_, err) = t.fails(["run", "-d", "-p", bad, "busybox", "true"]);
        assert!(
            err.contains(bad) && err.contains("--publish"),
            "{bad}: {err}"
        );
    }
    // An unknown network.
    let (_, err) = t.fails(["run", "--network", "nosuchnet", "busybox", "true"]);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    assert!(t.container_ids().is_empty(), "{:?}", t.container_ids());
    // An overlapping subnet; a gateway outside it.
    let subnet = harness::free_test_subnet();
    t.ok(["network", "create", "--subnet", &subnet, "one"]);
    let half = subnet.replace("/24", "/25");
    let (_, err) = t.fails(["network", "create", "--subnet", &half, "two"]);
    assert!(err.contains("overlaps with network one"), "{err}");
    let (_, err) = t.fails(["network", "create", "--subnet", "10.0.0.0/33", "two"]);
    assert!(err.contains("--subnet"), "{err}");
    let (_, err) = t.fails([
        "network",
        "create",
        "--subnet",
        &harness::free_test_subnet(),
        "--gateway",
        "192.0.2.99",
        "two",
    ]);
    assert!(err.contains("--gateway"), "{err}");
    let (_, err) = t.fails(["network", "create", "one"]);
    assert!(err.contains("already exists"), "{err}");
    assert!(!t.ok(["network", "ls"]).contains("two"));
    // A duplicate --ip.
    let ip = subnet.replace("0/24", "9");
    t.ok([
        "create",
        "--name",
        "first",
        "--network",
        "one",
        "--ip",
        &ip,
        "busybox",
        "true",
    ]);
    let (_, err) = t.fails([
        "create",
        "--name",
        "second",
        "--network",
        "one",
        "--ip",
        &ip,
        "busybox",
        "true",
    ]);
    assert!(err.contains("already in use"), "{err}");
    let (_, err) = t.fails([
        "create",
        "--network",
        "one",
        "--ip",
        "nonsense",
        "busybox",
        "true",
    ]);
    assert!(err.contains("--ip"), "{err}");
    assert_eq!(t.container_ids().len(), 1);
    // Removed, a container gives its address back.
    t.ok(["rm", "first"]);
    t.ok([
        "create",
        "--name",
        "second",
        "--network",
        "one",
        "--ip",
        &ip,
        "busybox",
        "true",
    ]);
}

#[test]
fn publish_all_and_port_ranges_map_every_port() {
    let t = busybox();
    harness::image_with_config(
        &t,
        "busybox",
        "exposing:1",
        serde_json::json!({"ExposedPorts": {"8080/tcp": {}, "9090/tcp": {}}}),
    );
    let id = t
        .ok([
            "run", "-d", "-P", "exposing:1", "sh", "-c",
            "echo hello-all > /tmp/index.html; httpd -p 8080 -h /tmp; exec httpd -f -p 9090 -h /tmp",
        ])
        .trim()
        .to_owned();
    let ports = t.ok(["port", &id]);
    let host_ports: Vec<u16> = ports
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse().ok())
        .collect();
    assert_eq!(host_ports.len(), 2, "{ports}");
    for p in &host_ports {
        assert!(
            eventually(10, || http_get(&format!("127.0.0.1:{p}")).as_deref()
                == Some("hello-all\n")),
            "-P port {p} never answered: {ports}"
        );
    }
    t.ok(["rm", "-f", &id]);
    // A range: each host port to its container port.
    let lo = free_range(3);
    let hi = lo + 2;
    let spec = format!("127.0.0.1:{lo}-{hi}:{lo}-{hi}");
    let id = t
        .ok(["run", "-d", "-p", &spec, "busybox", "sleep", "30"])
        .trim()
        .to_owned();
    let ports = t.ok(["port", &id]);
    assert_eq!(ports.lines().count(), 3, "{ports}");
    assert!(
        ports.contains(&format!("{hi}/tcp -> 127.0.0.1:{hi}")),
        "{ports}"
    );
    t.ok(["rm", "-f", &id]);
    // With every container gone, system prune leaves nothing of the networks on the host.
    let bridges = t.bridges();
    t.ok(["system", "prune", "-f"]);
    let left = network_leftovers(&bridges, &[id]);
    assert!(left.is_empty(), "{left:?}");
}

/// A network namespace of the test's own, reached from the host through a veth pair: the
/// "outside" a container's traffic goes out to. Removed on drop.
struct Outside {
    ns: String,
    veth: String,
    /// The host's end of the link.
    host_ip: String,
    /// The outside's own address.
    ip: String,
}

impl Outside {
    fn new() -> Outside {
        let r = harness::random_bytes(3);
        let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let (a, b) = (192 + r[0] % 32, r[1]);
        let o = Outside {
            ns: format!("rbt-out-{tag}"),
            veth: format!("rbo{tag}"),
            host_ip: format!("10.{a}.{b}.1"),
            ip: format!("10.{a}.{b}.2"),
        };
        let sh = |args: &[&str]| {
            let st = std::process::Command::new("ip")
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        sh(&["netns", "add", &o.ns]);
        sh(&[
            "link", "add", &o.veth, "type", "veth", "peer", "name", "eth0", "netns", &o.ns,
        ]);
        sh(&["addr", "add", &format!("{}/30", o.host_ip), "dev", &o.veth]);
        sh(&["link", "set", &o.veth, "up"]);
        sh(&[
            "-n",
            &o.ns,
            "addr",
            "add",
            &format!("{}/30", o.ip),
            "dev",
            "eth0",
        ]);
        sh(&["-n", &o.ns, "link", "set", "eth0", "up"]);
        sh(&["-n", &o.ns, "link", "set", "lo", "up"]);
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
    }
}

#[test]
fn outbound_traffic_is_masqueraded() {
    let t = busybox();
    let outside = Outside::new();
    // A listener in the outside namespace (made on a thread that enters it).
    let ns = std::fs::File::open(format!("/run/netns/{}", outside.ns)).unwrap();
    let ip = outside.ip.clone();
    let listener = std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        std::net::TcpListener::bind((ip.as_str(), 7777)).unwrap()
    })
    .join()
    .unwrap();
    listener.set_nonblocking(true).unwrap();
    let script = format!("echo from-the-container | nc -w 3 {} 7777", outside.ip);
    let id = t
        .ok(["run", "-d", "busybox", "sh", "-c", &script])
        .trim()
        .to_owned();
    let container_ip = ip_of(&t, &id);
    let mut accepted = None;
    eventually(10, || {
        accepted = listener.accept().ok();
        accepted.is_some()
    });
    let (mut conn, peer) = accepted.expect("the container's connection arrives outside");
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut conn), &mut got).unwrap();
    assert_eq!(got, "from-the-container\n");
    drop(conn);
    // Seen from outside, it came from the host, not from the container's own address.
    assert_eq!(
        peer.ip().to_string(),
        outside.host_ip,
        "container {container_ip}"
    );
    assert_eq!(t.ok(["wait", &id]).trim(), "0");
    t.ok(["rm", &id]);
}
