//! Loading projects from files written in a temporary directory: discovery, environment,
//! interpolation, merging, extends, include, profiles, and the errors of bad input.

use std::collections::HashMap;
use std::path::Path;

use rbox_compose::health::HealthTest;
use rbox_compose::parts::{Condition, NetworkMode, Restart};
use rbox_compose::{load, names, output, Loaded, Options};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn opts(dir: &Path, env: &[(&str, &str)]) -> Options {
    Options {
        cwd: dir.to_path_buf(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn project_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("My_App.")
        .tempdir()
        .unwrap()
}

fn load_text(text: &str) -> Result<Loaded, String> {
    let t = project_dir();
    write(t.path(), "compose.yaml", text);
    load(&opts(t.path(), &[])).map_err(|e| e.to_string())
}

#[test]
fn env_file_and_shell_interpolate() {
    let t = project_dir();
    write(
        t.path(),
        ".env",
        "TAG=1.0\nPORT=8080\nexport GREETING=\"hi there\"\n",
    );
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: busybox:${TAG}\n    ports: [\"${PORT}:80\"]\n    \
         environment:\n      G: $GREETING\n      D: ${MISSING:-dflt}\n      E: ${UNSET}\n      LIT: $$HOME\n      FROM_SHELL:\n",
    );
    let l = load(&opts(t.path(), &[("PORT", "9090"), ("FROM_SHELL", "yes")])).unwrap();
    let web = &l.project.services["web"];
    assert_eq!(web.image.as_deref(), Some("busybox:1.0"));
    assert_eq!(web.ports[0].published.unwrap().start, 9090);
    assert_eq!(web.environment["G"].as_deref(), Some("hi there"));
    assert_eq!(web.environment["D"].as_deref(), Some("dflt"));
    assert_eq!(web.environment["E"].as_deref(), Some(""));
    assert_eq!(web.environment["LIT"].as_deref(), Some("$HOME"));
    assert_eq!(web.environment["FROM_SHELL"].as_deref(), Some("yes"));
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0].message.contains("\"UNSET\""));
    assert!(l.warnings[0].place.ends_with("compose.yaml:8"));
    // The directory's name normalized.
    assert!(l.project.name.starts_with("my_app"), "{}", l.project.name);
}

#[test]
fn env_files_replace_dot_env() {
    let t = project_dir();
    write(t.path(), ".env", "TAG=from-dot-env\n");
    write(t.path(), "a.env", "TAG=from-a\nX=1\n");
    write(t.path(), "b.env", "X=2\n");
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: busybox:${TAG}-${X}\n",
    );
    let mut o = opts(t.path(), &[]);
    o.env_files = vec!["a.env".into(), "b.env".into()];
    assert_eq!(
        load(&o).unwrap().project.services["web"].image.as_deref(),
        Some("busybox:from-a-2")
    );
    o.env_files = vec!["missing.env".into()];
    assert!(load(&o).unwrap_err().to_string().contains("missing.env"));
}

#[test]
fn required_variable_error_names_file_and_line() {
    let e = load_text("services:\n  web:\n    image: busybox\n    user: ${RUN_AS:?set RUN_AS}\n")
        .unwrap_err();
    assert!(
        e.ends_with("compose.yaml:4: required variable RUN_AS is missing a value: set RUN_AS"),
        "{e}"
    );
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = load_text("services:\n  web:\n    image: busybox\n   bad: [\n").unwrap_err();
    assert!(e.contains("compose.yaml:4:"), "{e}");
}

#[test]
fn wrong_values_are_errors_at_their_place() {
    let cases = [
        ("    ports: 5\n", "compose.yaml:4:12: ports must be a list"),
        (
            "    restart: sometimes\n",
            "compose.yaml:4:14: restart \"sometimes\" is not one of",
        ),
        ("    deploy:\n      replicas: \"x\"\n", "compose.yaml:5:17:"),
        ("    mem_limit: lots\n", "compose.yaml:4:16:"),
        (
            "    healthcheck:\n      interval: 5 minutes\n",
            "compose.yaml:5:17:",
        ),
        (
            "    depends_on:\n      db: {condition: service_ready}\n",
            "compose.yaml:5:",
        ),
        ("    network_mode: bogus\n", "compose.yaml:4:19:"),
        ("    tty: maybe\n", "compose.yaml:4:10:"),
    ];
    for (extra, want) in cases {
        let e = load_text(&format!("services:\n  web:\n    image: busybox\n{extra}")).unwrap_err();
        assert!(e.contains(want), "{extra:?}: {e}");
    }
}

#[test]
fn unknown_keys_are_warnings_with_their_line() {
    let l = load_text(
        "x-common: &c\n  image: busybox\nservices:\n  web:\n    <<: *c\n    colour: blue\n    x-note: mine\n    \
         healthcheck:\n      test: true\n      flavour: x\nunknown_top: 1\n",
    )
    .unwrap();
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter()
            .any(|w| w
                .ends_with("compose.yaml:6: service \"web\": unsupported key \"colour\" ignored")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.contains("compose.yaml:10: healthcheck: unsupported key \"flavour\"")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.contains("compose.yaml:11: unsupported top-level key \"unknown_top\"")),
        "{w:?}"
    );
    assert_eq!(l.project.services["web"].image.as_deref(), Some("busybox"));
}

#[test]
fn override_file_found_from_a_subdirectory() {
    let t = project_dir();
    write(
        t.path(),
        "docker-compose.yml",
        "services:\n  web:\n    image: busybox\n    command: sleep 1\n    ports: [\"80:80\"]\n    environment: [A=1, B=2]\n",
    );
    write(
        t.path(),
        "docker-compose.override.yml",
        "services:\n  web:\n    command: [\"sleep\", \"2\"]\n    ports: [\"443:443\"]\n    environment: {B: 3}\n",
    );
    std::fs::create_dir_all(t.path().join("src/deep")).unwrap();
    let l = load(&opts(&t.path().join("src/deep"), &[])).unwrap();
    let web = &l.project.services["web"];
    assert_eq!(web.command.as_deref().unwrap(), ["sleep", "2"]);
    assert_eq!(
        web.ports.iter().map(|p| p.target).collect::<Vec<_>>(),
        [80, 443]
    );
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("3"));
    assert_eq!(l.project.working_dir, t.path());
    assert_eq!(l.project.config_files.len(), 2);
}

#[test]
fn files_stdin_compose_file_and_project_names() {
    let t = project_dir();
    write(
        t.path(),
        "one.yml",
        "name: fromfile\nservices:\n  a:\n    image: busybox\n",
    );
    write(
        t.path(),
        "two.yml",
        "services:\n  b:\n    image: busybox\n    command: echo 'a b' c\n",
    );
    let mut o = opts(t.path(), &[]);
    o.files = vec!["one.yml".into(), "-".into()];
    o.stdin = Some(b"services:\n  c:\n    image: busybox\n".to_vec());
    let l = load(&o).unwrap();
    assert_eq!(l.project.name, "fromfile");
    assert_eq!(output::services(&l.project), ["a", "c"]);
    let o = opts(
        t.path(),
        &[
            ("COMPOSE_FILE", "one.yml:two.yml"),
            ("COMPOSE_PROJECT_NAME", "envname"),
        ],
    );
    let l = load(&o).unwrap();
    assert_eq!(l.project.name, "envname");
    assert_eq!(
        l.project.services["b"].command.as_deref().unwrap(),
        ["echo", "a b", "c"]
    );
    let mut o = opts(t.path(), &[("COMPOSE_FILE", "one.yml")]);
    o.project_name = Some("flag".into());
    assert_eq!(load(&o).unwrap().project.name, "flag");
    o.project_name = Some("Bad Name".into());
    assert!(load(&o)
        .unwrap_err()
        .to_string()
        .contains("not a valid project name"));
}

#[test]
fn extends_same_file_and_another() {
    let t = project_dir();
    write(
        t.path(),
        "common/base.yml",
        "services:\n  base:\n    image: busybox\n    env_file: base.env\n    volumes: [\"./data:/data\"]\n    labels: [tier=base]\n",
    );
    write(t.path(), "common/base.env", "FROM_BASE=1\n");
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    extends: {file: common/base.yml, service: base}\n    labels: {role: web}\n  \
         worker:\n    extends: web\n    command: [work]\n",
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    for name in ["web", "worker"] {
        let s = &l.project.services[name];
        assert_eq!(s.image.as_deref(), Some("busybox"), "{name}");
        assert_eq!(s.environment["FROM_BASE"].as_deref(), Some("1"));
        // The base file's relative paths are from its own directory.
        assert_eq!(
            s.volumes[0].source.as_deref(),
            Some(t.path().join("common/data").to_str().unwrap())
        );
        assert_eq!(s.labels["tier"], "base");
        assert_eq!(s.labels["role"], "web");
    }
    assert_eq!(
        l.project.services["worker"].command.as_deref().unwrap(),
        ["work"]
    );
    let e = load_text("services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n")
        .unwrap_err();
    assert!(e.contains("extends cycle"), "{e}");
}

#[test]
fn include_brings_another_projects_services() {
    let t = project_dir();
    write(
        t.path(),
        "db/compose.yaml",
        "services:\n  db:\n    image: postgres:${PG}\n    volumes: [\"./init:/init\"]\n",
    );
    write(t.path(), "db/.env", "PG=16\n");
    write(
        t.path(),
        "compose.yaml",
        "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: busybox\n    depends_on: [db]\n",
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    let db = &l.project.services["db"];
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert_eq!(
        db.volumes[0].source.as_deref(),
        Some(t.path().join("db/init").to_str().unwrap())
    );
    write(
        t.path(),
        "compose.yaml",
        "include:\n  - path: db/compose.yaml\nservices:\n  db:\n    image: busybox\n",
    );
    assert!(load(&opts(t.path(), &[]))
        .unwrap_err()
        .to_string()
        .contains("services.db conflicts"));
}

#[test]
fn profiles_from_flags_variable_and_names() {
    let text = "services:\n  web:\n    image: busybox\n  debug:\n    image: busybox\n    profiles: [dev]\n";
    let t = project_dir();
    write(t.path(), "compose.yaml", text);
    let l = load(&opts(t.path(), &[])).unwrap();
    assert_eq!(output::services(&l.project), ["web"]);
    let l = load(&opts(t.path(), &[("COMPOSE_PROFILES", "dev")])).unwrap();
    assert_eq!(output::services(&l.project), ["web", "debug"]);
    let mut o = opts(t.path(), &[]);
    o.services = vec!["debug".into()];
    assert_eq!(
        output::services(&load(&o).unwrap().project),
        ["web", "debug"]
    );
}

#[test]
fn env_file_required_and_optional() {
    let t = project_dir();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n    env_file:\n      - path: ./opt.env\n        required: false\n      - ./req.env\n",
    );
    let e = load(&opts(t.path(), &[])).unwrap_err().to_string();
    assert!(
        e.contains("compose.yaml:7:") && e.contains("req.env not found"),
        "{e}"
    );
    write(t.path(), "req.env", "A=1\n");
    let l = load(&opts(t.path(), &[])).unwrap();
    assert_eq!(
        l.project.services["web"].environment["A"].as_deref(),
        Some("1")
    );
}

#[test]
fn bad_projects_are_refused() {
    let cases = [
        ("  web:\n    image: x\n    depends_on: [nope]\n", "compose.yaml:4: service \"web\": depends on undefined service \"nope\""),
        (
            "  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
            "dependency cycle: a -> b -> c -> a",
        ),
        (
            "  a:\n    image: x\n    container_name: same\n  b:\n    image: x\n    container_name: same\n",
            "service \"b\": container_name \"same\" is already used by service \"a\"",
        ),
        ("  a:\n    image: x\n    volumes: [\"data:/d\"]\n", "compose.yaml:4: service \"a\": refers to undefined volume \"data\""),
        ("  a:\n    image: x\n    networks: [back]\n", "refers to undefined network \"back\""),
        ("  a:\n    image: x\n    secrets:\n      - token\n", "compose.yaml:5: service \"a\": refers to undefined secret \"token\""),
        ("  a:\n    image: x\n    network_mode: service:vpn\n", "network_mode uses undefined service \"vpn\""),
        ("  a:\n    build: ./missing\n", "build path"),
        ("  a:\n    tty: true\n", "has neither an image nor a build context"),
        ("  a:\n    image: x\n    container_name: one\n    scale: 2\n", "names one container, but the service has 2 replicas"),
    ];
    for (services, want) in cases {
        let e = load_text(&format!("services:\n{services}")).unwrap_err();
        assert!(e.contains(want), "{services:?}: {e}");
    }
}

#[test]
fn typed_keys() {
    let t = project_dir();
    write(t.path(), "token.txt", "s3cret");
    write(
        t.path(),
        "compose.yaml",
        r#"services:
  db:
    image: postgres
    healthcheck:
      test: pg_isready
      interval: 1m30s
      timeout: 500ms
      retries: 5
  web:
    image: busybox
    entrypoint: /bin/sh -c
    restart: on-failure:3
    depends_on:
      db:
        condition: service_healthy
        restart: true
    mem_limit: 1.5g
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    extra_hosts: ["a:10.0.0.1", "b=10.0.0.2"]
    secrets: [token]
    tmpfs: /run
    stop_grace_period: 30s
    networks:
      front:
        aliases: [www]
        ipv4_address: 172.20.0.5
  side:
    image: busybox
    network_mode: service:web
    volumes_from: [web]
networks:
  front:
    ipam:
      config:
        - subnet: 172.20.0.0/16
          gateway: 172.20.0.1
volumes:
  unused:
secrets:
  token:
    file: ./token.txt
"#,
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let p = &l.project;
    let hc = p.services["db"].healthcheck.as_ref().unwrap();
    assert_eq!(hc.test, Some(HealthTest::CmdShell("pg_isready".into())));
    assert_eq!(hc.interval, Some(std::time::Duration::from_secs(90)));
    let web = &p.services["web"];
    assert_eq!(web.entrypoint.as_deref().unwrap(), ["/bin/sh", "-c"]);
    assert_eq!(web.restart, Some(Restart::OnFailure(Some(3))));
    assert_eq!(web.depends_on["db"].condition, Condition::ServiceHealthy);
    assert_eq!(web.mem_limit, Some(3 << 29));
    assert_eq!(
        (web.ulimits["nofile"].soft, web.ulimits["nproc"].hard),
        (1024, 512)
    );
    assert_eq!(
        web.extra_hosts,
        [
            ("a".into(), "10.0.0.1".into()),
            ("b".into(), "10.0.0.2".into())
        ]
    );
    assert_eq!(web.tmpfs, ["/run"]);
    assert_eq!(web.networks["front"].aliases, ["www"]);
    assert_eq!(
        p.services["side"].network_mode,
        Some(NetworkMode::Service("web".into()))
    );
    // network_mode and volumes_from are dependencies too, as compose writes them.
    assert_eq!(
        names::depends_on_label(&p.services["side"]),
        "web:service_started:true"
    );
    assert_eq!(
        p.networks["front"].ipam.as_ref().unwrap().config[0]
            .subnet
            .as_deref(),
        Some("172.20.0.0/16")
    );
    assert_eq!(p.volumes["unused"].name, format!("{}_unused", p.name));
    assert_eq!(names::depends_on_label(web), "db:service_healthy:true");
    // side waits for web (network_mode, volumes_from), web for db.
    let levels = rbox_compose::graph::start_levels(p, None);
    assert_eq!(levels, vec![vec!["db"], vec!["web"], vec!["side"]]);
    // db joins the implicit default network, web only its own.
    assert_eq!(p.networks["default"].name, format!("{}_default", p.name));
    assert!(!web.networks.contains_key("default"));
    let yaml = output::to_yaml(p);
    assert!(yaml.contains("interval: 1m30s"), "{yaml}");
    assert!(yaml.contains("restart: on-failure:3"), "{yaml}");
    let json: serde_json::Value = serde_json::from_str(&output::to_json(p)).unwrap();
    assert_eq!(
        json["services"]["web"]["depends_on"]["db"]["condition"],
        "service_healthy"
    );
    assert_eq!(
        json["services"]["db"]["healthcheck"]["test"],
        serde_json::json!(["CMD-SHELL", "pg_isready"])
    );
}

#[test]
fn config_hash_is_stable_across_key_order_and_runs() {
    let a = load_text(
        "services:\n  web:\n    image: busybox\n    environment: {A: 1, B: 2}\n    tty: true\n",
    )
    .unwrap();
    let b = load_text("services:\n  web:\n    tty: true\n    environment: [B=2, A=1]\n    image: busybox\n    scale: 2\n")
        .unwrap();
    let c = load_text(
        "services:\n  web:\n    image: busybox\n    environment: {A: 1, B: 3}\n    tty: true\n",
    )
    .unwrap();
    let h = |l: &Loaded| names::config_hash(&l.project.services["web"]);
    assert_eq!(h(&a), h(&b));
    assert_ne!(h(&a), h(&c));
}

#[test]
fn optional_dependency_on_an_undefined_service_is_a_warning() {
    let l = load_text(
        "services:\n  web:\n    image: busybox\n    depends_on:\n      cache: {condition: service_started, required: false}\n      db: {condition: service_healthy}\n  db:\n    image: busybox\n",
    )
    .unwrap();
    let web = &l.project.services["web"];
    assert_eq!(web.depends_on.keys().collect::<Vec<_>>(), ["db"]);
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0]
        .message
        .contains("optional dependency \"cache\""));
}

#[test]
fn extra_hosts_forms_merge_across_files() {
    let t = project_dir();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n    extra_hosts: [\"db:10.0.0.1\", \"v6:[::1]\"]\n",
    );
    write(
        t.path(),
        "compose.override.yaml",
        "services:\n  web:\n    extra_hosts: {db: 10.0.0.9, cache: 10.0.0.2}\n",
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    let hosts = &l.project.services["web"].extra_hosts;
    let want: Vec<(String, String)> = [("db", "10.0.0.9"), ("v6", "::1"), ("cache", "10.0.0.2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(hosts, &want);
}

#[test]
fn build_without_context_is_the_project_directory() {
    let l = load_text(
        "services:\n  web:\n    build:\n      dockerfile_inline: |\n        FROM busybox\n",
    )
    .unwrap();
    let b = l.project.services["web"].build.as_ref().unwrap();
    assert_eq!(b.context, l.project.working_dir.display().to_string());
    assert_eq!(b.dockerfile_inline.as_deref(), Some("FROM busybox\n"));
}

#[test]
fn relative_file_and_project_directory() {
    let t = project_dir();
    write(
        t.path(),
        "app/deploy/compose.yml",
        "services:\n  web:\n    image: busybox\n    volumes: [\"./data:/data\"]\n",
    );
    write(t.path(), "app/.env", "TAG=from-project-dir\n");
    std::fs::create_dir_all(t.path().join("elsewhere")).unwrap();
    let mut o = opts(&t.path().join("elsewhere"), &[]);
    o.files = vec!["../app/deploy/compose.yml".into()];
    let l = load(&o).unwrap();
    assert_eq!(l.project.working_dir, t.path().join("app/deploy"));
    assert_eq!(l.project.name, "deploy");
    assert_eq!(
        l.project.config_files,
        [t.path()
            .join("app/deploy/compose.yml")
            .display()
            .to_string()]
    );
    // --project-directory: paths and .env from there, the name from its directory.
    o.project_dir = Some("../app".into());
    let l = load(&o).unwrap();
    assert_eq!(l.project.working_dir, t.path().join("app"));
    assert_eq!(l.project.name, "app");
    assert_eq!(l.environment["TAG"], "from-project-dir");
    let v = &l.project.services["web"].volumes[0];
    assert_eq!(
        v.source.as_deref(),
        Some(t.path().join("app/data").to_str().unwrap())
    );
}

#[test]
fn include_long_form_and_cycles() {
    let t = project_dir();
    write(
        t.path(),
        "lib/svc.yaml",
        "services:\n  cache:\n    image: redis:${V}\n    env_file: [./conf/cache.env]\n",
    );
    write(t.path(), "shared/conf/cache.env", "MODE=lru\n");
    write(t.path(), "vars.env", "V=7\n");
    write(
        t.path(),
        "compose.yaml",
        "include:\n  - path: [lib/svc.yaml]\n    project_directory: shared\n    env_file: vars.env\nservices:\n  web:\n    image: busybox\n",
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    let cache = &l.project.services["cache"];
    assert_eq!(cache.image.as_deref(), Some("redis:7"));
    assert_eq!(cache.environment["MODE"].as_deref(), Some("lru"));
    write(t.path(), "loop/a.yaml", "include: [b.yaml]\nservices: {}\n");
    write(t.path(), "loop/b.yaml", "include: [a.yaml]\nservices: {}\n");
    write(
        t.path(),
        "compose.yaml",
        "include: [loop/a.yaml]\nservices: {}\n",
    );
    let e = load(&opts(t.path(), &[])).unwrap_err().to_string();
    assert!(e.contains("include cycle"), "{e}");
}

#[test]
fn reset_and_override_in_an_override_file() {
    let t = project_dir();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n    ports: [\"80:80\"]\n    environment: {A: 1}\n    dns: !reset [1.1.1.1]\n",
    );
    write(
        t.path(),
        "compose.override.yaml",
        "services:\n  web:\n    ports: !reset []\n    environment: !override {B: 2}\n    dns: [9.9.9.9]\n",
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    let web = &l.project.services["web"];
    assert!(web.ports.is_empty());
    assert_eq!(web.environment.keys().collect::<Vec<_>>(), ["B"]);
    assert_eq!(web.dns, ["9.9.9.9"]);
}

#[test]
fn a_typical_application_loads_without_warnings() {
    let t = project_dir();
    write(t.path(), "db_password.txt", "secret\n");
    write(
        t.path(),
        ".env",
        "WORDPRESS_PORT=8000\nCOMPOSE_PROJECT_NAME=blog\n",
    );
    write(
        t.path(),
        "compose.yaml",
        r#"name: ignored-for-env
x-restart: &restart
  restart: unless-stopped
services:
  db:
    <<: *restart
    image: mariadb:10.6.4-focal
    command: '--default-authentication-plugin=mysql_native_password'
    volumes:
      - db_data:/var/lib/mysql
    environment:
      - MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db_password
      - MYSQL_DATABASE=wordpress
    secrets:
      - db_password
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 10s
      timeout: 5s
      retries: 5
      start_period: 30s
    expose:
      - 3306
      - 33060
  wordpress:
    <<: *restart
    image: wordpress:latest
    depends_on:
      db:
        condition: service_healthy
    ports:
      - "${WORDPRESS_PORT:-80}:80"
    environment:
      WORDPRESS_DB_HOST: db
      WORDPRESS_DB_NAME: wordpress
    volumes:
      - type: bind
        source: ./wp-content
        target: /var/www/html/wp-content
    logging:
      driver: json-file
      options:
        max-size: "10m"
        max-file: "3"
    deploy:
      resources:
        limits:
          cpus: "0.50"
          memory: 512M
volumes:
  db_data:
secrets:
  db_password:
    file: db_password.txt
"#,
    );
    let l = load(&opts(t.path(), &[])).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let p = &l.project;
    assert_eq!(p.name, "blog");
    assert_eq!(p.volumes["db_data"].name, "blog_db_data");
    assert_eq!(p.networks["default"].name, "blog_default");
    assert_eq!(p.services["db"].restart, Some(Restart::UnlessStopped));
    assert_eq!(
        p.services["db"].command.as_deref().unwrap(),
        ["--default-authentication-plugin=mysql_native_password"]
    );
    assert_eq!(
        p.services["wordpress"].ports[0].published.unwrap().start,
        8000
    );
    assert_eq!(p.services["db"].expose, ["3306", "33060"]);
    assert_eq!(
        rbox_compose::graph::start_levels(p, None),
        vec![vec!["db"], vec!["wordpress"]]
    );
    assert_eq!(
        p.secrets["db_password"].source,
        rbox_compose::project::Source::File(t.path().join("db_password.txt").display().to_string())
    );
}
