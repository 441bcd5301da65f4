//! End-to-end tests of `rbox compose`: the notes' applications on busybox stand-ins, the
//! convergence of `up`, the order of dependencies, and bad input leaving nothing behind.

mod harness;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use harness::{free_test_subnet, TestRoot};

/// A long-running command that stops at SIGTERM within a second.
const SERVE: &str = "trap 'exit 0' TERM; while :; do sleep 0.2; done";

/// A project directory with files (path, content).
struct Project {
    dir: tempfile::TempDir,
    name: String,
    /// The files given with -f, in the directory.
    files: Vec<String>,
}

impl Project {
    fn new(name: &str, files: &[(&str, &str)]) -> Project {
        let dir = harness::context(files);
        Project {
            dir,
            name: name.to_string(),
            files: vec!["compose.yaml".into()],
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self) -> PathBuf {
        self.path().join("compose.yaml")
    }

    fn args(&self, verb: &[&str]) -> Vec<String> {
        let mut a = vec!["compose".to_string()];
        for f in &self.files {
            a.extend(["-f".to_string(), self.path().join(f).display().to_string()]);
        }
        a.extend(["-p".to_string(), self.name.clone()]);
        a.extend(verb.iter().map(|s| s.to_string()));
        a
    }

    fn ok(&self, t: &TestRoot, verb: &[&str]) -> String {
        t.ok(self.args(verb))
    }

    fn run(&self, t: &TestRoot, verb: &[&str]) -> harness::Run {
        t.run(self.args(verb))
    }

    fn down(&self, t: &TestRoot) {
        let _ = self.run(t, &["down", "-v", "-t", "1", "--remove-orphans"]);
    }
}

/// `rbox ps -a` names.
fn names(t: &TestRoot) -> Vec<String> {
    let mut v: Vec<String> = t
        .ok(["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn networks(t: &TestRoot) -> Vec<String> {
    t.ok(["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_owned)
        .filter(|n| n != "bridge")
        .collect()
}

fn volumes(t: &TestRoot) -> Vec<String> {
    t.ok(["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn id_of(t: &TestRoot, name: &str) -> String {
    t.ok(["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name])
        .trim()
        .to_owned()
}

#[test]
fn three_tier_app_web_reaches_app_by_name_not_db() {
    let t = harness::busybox();
    let (db_net, php_net) = (free_test_subnet(), free_test_subnet());
    // The notes' file as it is (compose/tests/fixtures), and over it what a test needs:
    // busybox stand-ins, host ports the kernel picks, subnets of the test's own.
    let notes = std::fs::read_to_string(
        harness::workspace().join("compose/tests/fixtures/three-tier/docker-compose.yml"),
    )
    .unwrap();
    let over = format!(
        r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    ports: !override ["127.0.0.1::3306"]
  php:
    ports: !override ["127.0.0.1::9000"]
  nginx:
    ports: !override ["127.0.0.1::80"]
networks:
  db:
    ipam: {{config: [{{subnet: "{db_net}"}}]}}
  php:
    ipam: {{config: [{{subnet: "{php_net}"}}]}}
"#
    );
    let mut p = Project::new(
        "tier",
        &[
            ("docker-compose.yml", &notes),
            ("test-override.yml", &over),
            (
                "php-fpm/Dockerfile",
                "FROM busybox\nCMD [\"httpd\", \"-f\", \"-p\", \"9000\", \"-h\", \"/var/www/symfony\"]\n",
            ),
            (
                "nginx/Dockerfile",
                "FROM busybox\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/var/www/symfony\"]\n",
            ),
            ("symfony/index.html", "hello from symfony\n"),
        ],
    );
    p.files = vec!["docker-compose.yml".into(), "test-override.yml".into()];
    p.ok(&t, &["up", "-d"]);
    assert_eq!(names(&t), ["db", "nginx", "php-fpm"]);
    let mut nets = networks(&t);
    nets.sort();
    assert_eq!(nets, ["tier_db", "tier_php"]);
    // The web server reaches the app by its service name and its container name.
    for host in ["php", "php-fpm"] {
        let out = p.ok(
            &t,
            &[
                "exec",
                "-T",
                "nginx",
                "wget",
                "-qO-",
                &format!("http://{host}:9000/"),
            ],
        );
        assert_eq!(out, "hello from symfony\n");
    }
    // Not the database: it is on another network.
    let r = p.run(
        &t,
        &[
            "exec",
            "-T",
            "nginx",
            "wget",
            "-T",
            "2",
            "-qO-",
            "http://db:3306/",
        ],
    );
    assert_ne!(r.code, 0);
    // By DNS too: the app server's name answers on the web server's network, the
    // database's doesn't.
    let ns = p.ok(&t, &["exec", "-T", "nginx", "nslookup", "php"]);
    assert!(ns.contains("Name:"), "{ns}");
    let r = p.run(&t, &["exec", "-T", "nginx", "nslookup", "db"]);
    assert!(!r.stdout.contains("Name:"), "{}", r.stdout);
    // The app reaches the database; its environment is there.
    let env = p.ok(&t, &["exec", "-T", "db", "env"]);
    assert!(env.contains("MYSQL_DATABASE=XXXXX"), "{env}");
    // The published port answers on the host.
    let port = p.ok(&t, &["port", "nginx", "80"]);
    let addr = port.trim();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.contains("hello from symfony"), "{body}");
    assert!(p.path().join("logs/nginx").is_dir());
    let ps = p.ok(&t, &["ps"]);
    assert!(ps.contains("php-fpm") && ps.contains("Up"), "{ps}");
    let services = p.ok(&t, &["ps", "--services"]);
    assert_eq!(services, "db\nphp\nnginx\n");
    p.ok(&t, &["down", "-t", "1"]);
    assert!(names(&t).is_empty());
    assert!(networks(&t).is_empty());
}

#[test]
fn frontend_reaches_backend_through_the_external_network() {
    let t = harness::busybox();
    let shared = free_test_subnet();
    t.ok(["network", "create", "--subnet", &shared, "backend"]);
    let backend = Project::new(
        "backend",
        &[(
            "compose.yaml",
            &format!(
                r#"
services:
  app:
    image: busybox
    container_name: backend-container
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    networks: [default, backend]
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
  backend:
    external: true
"#,
                free_test_subnet()
            ),
        )],
    );
    let frontend = Project::new(
        "frontend",
        &[(
            "compose.yaml",
            &format!(
                r#"
services:
  app:
    image: busybox
    container_name: frontend-container
    command: ["sh", "-c", "{SERVE}"]
    networks: [default, backend]
networks:
  default:
    external:
      name: backend
  backend:
    external: true
"#
            ),
        )],
    );
    backend.ok(&t, &["up", "-d"]);
    let out = frontend.ok(&t, &["up", "-d"]);
    let _ = out;
    let r = frontend.ok(
        &t,
        &[
            "exec",
            "-T",
            "app",
            "wget",
            "-qO-",
            "http://backend-container:8080/hostname",
        ],
    );
    assert!(!r.is_empty());
    let mut nets = networks(&t);
    nets.sort();
    assert_eq!(nets, ["backend", "backend_default"]);
    frontend.ok(&t, &["down", "-t", "1"]);
    backend.ok(&t, &["down", "-t", "1"]);
    // The external network stays.
    assert_eq!(networks(&t), ["backend"]);
    t.ok(["network", "rm", "backend"]);
}

#[test]
fn replicas_are_reached_by_name_and_scale_by_number() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    deploy:
      replicas: 3
      placement:
        constraints: [node.role != manager]
  client:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new("swarm", &[("compose.yaml", &compose)]);
    let r = p.run(&t, &["up", "-d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("placement"), "{}", r.stderr);
    assert_eq!(
        names(&t),
        [
            "swarm-client-1",
            "swarm-web-1",
            "swarm-web-2",
            "swarm-web-3"
        ]
    );
    let hosts = p.ok(&t, &["exec", "-T", "client", "cat", "/etc/hosts"]);
    let web_lines = hosts
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == "web"))
        .count();
    assert_eq!(web_lines, 3, "{hosts}");
    // DNS answers every replica, in turns.
    let first = |out: &str| -> (usize, String) {
        let addrs: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("Address: "))
            .collect();
        (
            addrs.len(),
            addrs.first().map(|a| a.to_string()).unwrap_or_default(),
        )
    };
    let (n1, a1) = first(&p.ok(&t, &["exec", "-T", "client", "nslookup", "web"]));
    let (n2, a2) = first(&p.ok(&t, &["exec", "-T", "client", "nslookup", "web"]));
    assert_eq!((n1, n2), (3, 3));
    assert_ne!(a1, a2, "round robin");
    let r = p.run(&t, &["exec", "-T", "client", "nslookup", "example.com"]);
    assert!(
        r.stdout.contains("REFUSED") || r.stderr.contains("REFUSED"),
        "{}",
        r.stdout
    );
    let body = p.ok(&t, &["exec", "-T", "client", "wget", "-qO-", "http://web/"]);
    assert!(!body.trim().is_empty());
    // Down to 1: the highest numbers go.
    p.ok(&t, &["up", "-d", "--scale", "web=1"]);
    assert_eq!(names(&t), ["swarm-client-1", "swarm-web-1"]);
    p.ok(&t, &["down", "-t", "1"]);
    assert!(names(&t).is_empty());
}

#[test]
fn healthy_and_completed_dependencies_come_first() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  init:
    image: busybox
    command: ["sh", "-c", "sleep 0.5; echo ready > /data/init"]
    volumes: [data:/data]
  db:
    image: busybox
    command: ["sh", "-c", "sleep 1; touch /data/db; {SERVE}"]
    volumes: [data:/data]
    healthcheck:
      test: ["CMD", "test", "-f", "/data/db"]
      interval: 200ms
      retries: 30
  app:
    image: busybox
    command: ["sh", "-c", "test -f /data/init && test -f /data/db || exit 3; {SERVE}"]
    volumes: [data:/data]
    depends_on:
      init: {{condition: service_completed_successfully}}
      db: {{condition: service_healthy}}
volumes:
  data:
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new("order", &[("compose.yaml", &compose)]);
    let r = p.run(&t, &["up", "-d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("order-db-1  Healthy"), "{}", r.stderr);
    let ps = p.ok(&t, &["ps", "--format", "{{.Service}} {{.State}}"]);
    assert!(ps.contains("app running"), "{ps}");
    assert!(ps.contains("db running"), "{ps}");
    let all = p.ok(
        &t,
        &[
            "ps",
            "-a",
            "--status",
            "exited",
            "--format",
            "{{.Service}} {{.ExitCode}}",
        ],
    );
    assert_eq!(all, "init 0\n");
    p.ok(&t, &["down", "-t", "1"]);
    // Without -v the named volume stays; with it, it goes.
    assert_eq!(volumes(&t), ["order_data"]);
    p.ok(&t, &["down", "-v"]);
    assert!(volumes(&t).is_empty());

    // A dependency that fails stops the up, naming it, with its last lines.
    let failing = compose.replace("echo ready > /data/init", "echo init broke; exit 4");
    let q = Project::new("order", &[("compose.yaml", &failing)]);
    let r = q.run(&t, &["up", "-d"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("\"init\" didn't complete successfully: exit 4"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("init broke"), "{}", r.stderr);
    assert!(!names(&t).contains(&"order-app-1".to_string()));
    q.ok(&t, &["down", "-v", "-t", "1"]);
    assert!(names(&t).is_empty() && networks(&t).is_empty() && volumes(&t).is_empty());
}

#[test]
fn up_twice_changes_nothing_and_a_change_recreates_only_its_service() {
    let t = harness::busybox();
    let compose = |msg: &str| {
        format!(
            r#"
services:
  a:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    environment: [MSG={msg}]
    volumes: [/cache]
  b:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
networks:
  default:
    ipam: {{config: [{{subnet: "10.99.0.0/24"}}]}}
"#
        )
    };
    let subnet = free_test_subnet();
    let write = |p: &Project, msg: &str| {
        std::fs::write(p.file(), compose(msg).replace("10.99.0.0/24", &subnet)).unwrap()
    };
    let p = Project::new("conv", &[("compose.yaml", "")]);
    write(&p, "one");
    p.ok(&t, &["up", "-d"]);
    let (a1, b1) = (id_of(&t, "conv-a-1"), id_of(&t, "conv-b-1"));
    p.ok(&t, &["exec", "-T", "a", "sh", "-c", "echo kept > /cache/f"]);
    let r = p.run(&t, &["up", "-d"]);
    assert_eq!(r.code, 0);
    assert!(
        !r.stderr.contains("Recreate") && !r.stderr.contains("Started"),
        "{}",
        r.stderr
    );
    assert_eq!(
        (id_of(&t, "conv-a-1"), id_of(&t, "conv-b-1")),
        (a1.clone(), b1.clone())
    );
    write(&p, "two");
    p.ok(&t, &["up", "-d"]);
    let a2 = id_of(&t, "conv-a-1");
    assert_ne!(a2, a1);
    assert_eq!(id_of(&t, "conv-b-1"), b1);
    assert_eq!(
        p.ok(&t, &["exec", "-T", "a", "sh", "-c", "echo $MSG"]),
        "two\n"
    );
    // The anonymous volume's data came along.
    assert_eq!(p.ok(&t, &["exec", "-T", "a", "cat", "/cache/f"]), "kept\n");
    // Orphans: a service gone from the file is reported, then removed on request.
    std::fs::write(
        p.file(),
        compose("two")
            .replace("10.99.0.0/24", &subnet)
            .split("  b:")
            .next()
            .unwrap()
            .to_string()
            + &format!("networks:\n  default:\n    ipam: {{config: [{{subnet: \"{subnet}\"}}]}}\n"),
    )
    .unwrap();
    let r = p.run(&t, &["up", "-d"]);
    assert!(
        r.stderr.contains("orphan") && r.stderr.contains("conv-b-1"),
        "{}",
        r.stderr
    );
    p.ok(&t, &["up", "-d", "--remove-orphans"]);
    assert_eq!(names(&t), ["conv-a-1"]);
    // --force-recreate makes a new one anyway.
    p.ok(&t, &["up", "-d", "--force-recreate"]);
    assert_ne!(id_of(&t, "conv-a-1"), a2);
    p.ok(&t, &["down", "-v", "-t", "1"]);
    assert!(names(&t).is_empty() && volumes(&t).is_empty());
}

#[test]
fn env_file_interpolation_and_required_variables() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  app:
    image: ${{IMAGE}}
    command: ["sh", "-c", "echo $$GREETING; {SERVE}"]
    environment:
      GREETING: ${{GREETING:-hi}} from ${{PLACE:?set PLACE in .env}}
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new(
        "envy",
        &[
            ("compose.yaml", &compose),
            (".env", "IMAGE=busybox\nGREETING=hello\n"),
        ],
    );
    // PLACE unset: a clear error, and nothing made.
    let r = p.run(&t, &["up", "-d"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("set PLACE in .env"), "{}", r.stderr);
    assert!(names(&t).is_empty() && networks(&t).is_empty());
    std::fs::write(
        p.path().join(".env"),
        "IMAGE=busybox\nGREETING=hello\nPLACE=here\n",
    )
    .unwrap();
    let cfg = p.ok(&t, &["config"]);
    assert!(cfg.contains("GREETING: hello from here"), "{cfg}");
    let json = p.ok(&t, &["config", "--format", "json"]);
    assert!(
        json.contains("\"image\": \"busybox\"") || json.contains("\"image\":\"busybox\""),
        "{json}"
    );
    assert_eq!(p.ok(&t, &["config", "--services"]), "app\n");
    p.ok(&t, &["config", "-q"]);
    p.ok(&t, &["up", "-d"]);
    harness::eventually(5, || p.ok(&t, &["logs", "app"]).contains("hello from here"));
    let logs = p.ok(&t, &["logs", "app"]);
    assert_eq!(logs, "app-1  | hello from here\n");
    assert_eq!(p.ok(&t, &["logs", "--no-log-prefix"]), "hello from here\n");
    let ls = t.ok(["compose", "ls"]);
    assert!(ls.contains("envy") && ls.contains("running(1)"), "{ls}");
    p.ok(&t, &["down", "-t", "1"]);
}

#[test]
fn run_detached_interactive_and_one_offs_go_with_down() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  app:
    image: busybox
    command: ["sh"]
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new("oneoff", &[("compose.yaml", &compose)]);
    let name = p.ok(&t, &["run", "-d", "-it", "app"]);
    let name = name.trim();
    assert!(name.starts_with("oneoff-app-run-"), "{name}");
    let st = t.ok([
        "inspect",
        "--format",
        "{{.State.Status}} {{.Config.Tty}} {{.Config.OpenStdin}}",
        name,
    ]);
    assert_eq!(st.trim(), "running true true");
    let labels = t.ok([
        "inspect",
        "--format",
        "{{index .Config.Labels \"com.docker.compose.oneoff\"}}",
        name,
    ]);
    assert_eq!(labels.trim(), "True");
    // A foreground one-off with a command, removed after.
    let out = p.ok(&t, &["run", "--rm", "-T", "app", "echo", "once"]);
    assert_eq!(out.replace('\r', ""), "once\n");
    // Down by the project's name alone, without its file.
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let ls = t.ok([
        "compose",
        "--project-directory",
        &dir,
        "-p",
        "oneoff",
        "ps",
        "-a",
        "-q",
    ]);
    assert_eq!(ls.lines().count(), 1, "{ls}");
    t.ok([
        "compose",
        "--project-directory",
        &dir,
        "-p",
        "oneoff",
        "down",
        "-t",
        "1",
    ]);
    assert!(networks(&t).is_empty());
    assert!(names(&t).is_empty());
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let t = harness::busybox();
    let subnet = free_test_subnet();
    let net = format!("networks:\n  default:\n    ipam: {{config: [{{subnet: \"{subnet}\"}}]}}\n");
    let cases: Vec<(String, &str)> = vec![
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [nothere]\n".to_string(),
            "nothere",
        ),
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n"
                .to_string(),
            "cycle",
        ),
        (
            "services:\n  a:\n    image: busybox\n    build: ./missing\n".to_string(),
            "missing",
        ),
    ];
    for (text, want) in cases {
        let p = Project::new("bad", &[("compose.yaml", &(text + &net))]);
        let r = p.run(&t, &["up", "-d"]);
        assert_ne!(r.code, 0);
        assert!(
            r.stderr.to_lowercase().contains(want),
            "{want}: {}",
            r.stderr
        );
        assert!(names(&t).is_empty() && networks(&t).is_empty(), "{want}");
    }
    // A host port taken: the up fails naming it, and down finds what it made.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = Project::new(
        "bad",
        &[(
            "compose.yaml",
            &(format!(
                "services:\n  a:\n    image: busybox\n    command: [sleep, '100']\n    ports: ['127.0.0.1:{port}:80']\n"
            ) + &net),
        )],
    );
    let r = p.run(&t, &["up", "-d"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&port.to_string()), "{}", r.stderr);
    assert!(names(&t).is_empty(), "{:?}", names(&t));
    p.ok(&t, &["down"]);
    assert!(networks(&t).is_empty());
    p.down(&t);
}

#[test]
fn killed_up_and_down_leave_what_the_next_up_and_down_finish() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  a:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    deploy: {{replicas: 2}}
  b:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    depends_on: [a]
  c:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    depends_on: [b]
volumes:
  v:
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new("killed", &[("compose.yaml", &compose)]);
    let want = ["killed-a-1", "killed-a-2", "killed-b-1", "killed-c-1"];
    // The project command `args`, SIGKILLed `ms` milliseconds after it began.
    let killed_after = |args: &[&str], ms: u64| {
        let mut c = t
            .cmd(p.args(args))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = c.kill();
        let _ = c.wait();
    };
    // A `down` that succeeds without a warning and leaves no container or network.
    let down_leaves_nothing = |when: &str| {
        let r = p.run(&t, &["down", "-t", "1"]);
        assert_eq!(r.code, 0, "{when}: {}", r.stderr);
        assert!(!r.stderr.contains("WARN"), "{when}: {}", r.stderr);
        assert!(names(&t).is_empty(), "{when}: {:?}", names(&t));
        assert!(networks(&t).is_empty(), "{when}: {:?}", networks(&t));
    };
    for delay in [20u64, 80, 200, 400] {
        killed_after(&["up", "-d"], delay);
        // A start the killed command began goes on (its monitor lives): the next `up`
        // waits for it rather than starting the container a second time.
        p.ok(&t, &["up", "-d"]);
        assert_eq!(names(&t), want, "after a kill at {delay} ms");
        let ps = p.ok(&t, &["ps", "--format", "{{.Name}} {{.State}}"]);
        let all = p.ok(
            &t,
            &["ps", "-a", "--format", "{{.Name}} {{.State}} {{.Status}}"],
        );
        assert_eq!(
            ps.matches("running").count(),
            4,
            "after a kill at {delay} ms: {all}"
        );
        killed_after(&["down", "-t", "1"], delay);
        down_leaves_nothing(&format!("after a killed down at {delay} ms"));
        // A `down` right after a killed `up`: the starts it began are waited for, the
        // addresses it took for containers it never recorded are given back.
        killed_after(&["up", "-d"], delay / 2);
        down_leaves_nothing(&format!("after a killed up at {} ms", delay / 2));
        // The network's resolver and its names went with the last container.
        assert!(harness::eventually(3, || {
            std::fs::read_dir(t.path().join("networks"))
                .map(|rd| {
                    rd.flatten()
                        .all(|e| !e.file_name().to_string_lossy().ends_with(".dns"))
                })
                .unwrap_or(true)
        }));
    }
}

#[test]
fn foreground_up_prefixes_output_and_ends_with_the_project() {
    let t = harness::busybox();
    let compose = format!(
        r#"
services:
  ticker:
    image: busybox
    command: ["sh", "-c", "trap 'echo bye; exit 0' TERM; while :; do echo tick; sleep 0.2; done"]
  once:
    image: busybox
    command: ["sh", "-c", "echo done here; sleep 1; exit 7"]
networks:
  default:
    ipam: {{config: [{{subnet: "{}"}}]}}
"#,
        free_test_subnet()
    );
    let p = Project::new("fg", &[("compose.yaml", &compose)]);
    // --exit-code-from: the project stops when that service exits, with its code.
    let r = p.run(&t, &["up", "--exit-code-from", "once"]);
    assert_eq!(r.code, 7, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("once-1    | done here"), "{}", r.stdout);
    assert!(r.stdout.contains("ticker-1  | tick"), "{}", r.stdout);
    assert!(
        r.stderr.contains("Aborting on container exit"),
        "{}",
        r.stderr
    );
    let ps = p.ok(&t, &["ps", "-a", "--format", "{{.Service}} {{.State}}"]);
    assert!(!ps.contains("running"), "{ps}");
    // Ctrl-C stops the project.
    let up = t
        .cmd(p.args(&["up", "ticker"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(harness::eventually(20, || p
        .ok(&t, &["ps", "--format", "{{.Service}}"])
        .contains("ticker")));
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = up.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ticker-1  | bye"), "{text}");
    assert!(p.ok(&t, &["ps", "-q"]).is_empty());
    p.ok(&t, &["down", "-t", "1"]);
}

#[test]
fn expose_memory_reservations_and_volume_nocopy_are_honoured() {
    let t = harness::busybox();
    let subnet = free_test_subnet();
    let file = format!(
        r#"
services:
  c:
    image: busybox
    command: ["sh", "-c", "{SERVE}"]
    expose: ["7000", "7100-7101/udp"]
    deploy: {{resources: {{reservations: {{memory: 64m}}}}}}
    volumes:
      - type: volume
        source: bare
        target: /usr/sbin
        volume: {{nocopy: true}}
      - type: volume
        source: filled
        target: /usr/bin
volumes:
  bare: {{}}
  filled: {{}}
networks:
  default:
    ipam: {{config: [{{subnet: "{subnet}"}}]}}
"#
    );
    let p = Project::new("nocopy", &[("compose.yaml", &file)]);
    p.ok(&t, &["up", "-d"]);
    let ports = t.ok([
        "inspect",
        "-f",
        "{{range $p, $v := .Config.ExposedPorts}}{{$p}} {{end}}",
        "nocopy-c-1",
    ]);
    assert_eq!(ports.trim(), "7000/tcp 7100/udp 7101/udp");
    let soft = t.ok([
        "inspect",
        "-f",
        "{{.HostConfig.MemoryReservation}}",
        "nocopy-c-1",
    ]);
    assert_eq!(soft.trim(), (64u64 << 20).to_string());
    // The image's /usr/sbin and /usr/bin hold applets: the nocopy volume stays empty.
    let bare = p.ok(&t, &["exec", "-T", "c", "ls", "-A", "/usr/sbin"]);
    assert_eq!(bare, "");
    let filled = p.ok(&t, &["exec", "-T", "c", "ls", "/usr/bin"]);
    assert!(!filled.is_empty());
    let r = p.run(&t, &["up", "-d"]);
    assert!(!r.stderr.contains("not supported"), "{}", r.stderr);
    p.down(&t);
    assert!(names(&t).is_empty());
    assert!(volumes(&t).is_empty());
}
