//! The compose files of the notes (shared/EXAMPLES.md), loaded as a user's command would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rbox_compose::graph::start_levels;
use rbox_compose::mounts::{Consistency, MountType};
use rbox_compose::names;
use rbox_compose::parts::Condition;
use rbox_compose::ports::HostPorts;
use rbox_compose::{load, Loaded, Options};

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
}

fn opts(cwd: PathBuf) -> Options {
    Options {
        cwd,
        env: HashMap::from([("HOME".to_string(), "/home/user".to_string())]),
        ..Default::default()
    }
}

fn load_dir(dir: &str) -> Loaded {
    load(&opts(fixture(dir))).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

fn published(p: u16) -> Option<HostPorts> {
    Some(HostPorts { start: p, end: p })
}

#[test]
fn three_tier_app() {
    let l = load_dir("three-tier");
    let dir = fixture("three-tier");
    let p = &l.project;
    // `version:` is the one warning, as compose v2 gives it.
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0].message.contains("`version` is obsolete"));
    assert!(
        l.warnings[0]
            .place
            .ends_with("three-tier/docker-compose.yml:3"),
        "{}",
        l.warnings[0]
    );
    assert_eq!(p.name, "three-tier");
    assert_eq!(p.working_dir, dir);
    assert_eq!(
        p.services.keys().collect::<Vec<_>>(),
        ["db", "php", "nginx"]
    );

    let db = &p.services["db"];
    assert_eq!(db.container_name.as_deref(), Some("db"));
    assert_eq!(db.image.as_deref(), Some("mysql"));
    assert_eq!(
        db.command.as_deref(),
        Some(&["--default-authentication-plugin=mysql_native_password".to_string()][..])
    );
    assert_eq!(
        (db.ports[0].target, db.ports[0].published),
        (3306, published(3306))
    );
    assert_eq!(db.environment.len(), 4);
    assert_eq!(db.environment["MYSQL_DATABASE"].as_deref(), Some("XXXXX"));
    assert_eq!(db.networks.keys().collect::<Vec<_>>(), ["db"]);

    let php = &p.services["php"];
    assert_eq!(
        php.build.as_ref().unwrap().context,
        dir.join("php-fpm").display().to_string()
    );
    assert_eq!(
        (php.ports[0].target, php.ports[0].published),
        (9001, published(9000))
    );
    let v = &php.volumes[0];
    assert_eq!(v.kind, MountType::Bind);
    assert_eq!(
        v.source.as_deref(),
        Some(dir.join("symfony").to_str().unwrap())
    );
    assert_eq!(v.target, "/var/www/symfony");
    assert_eq!(v.consistency, Some(Consistency::Cached));
    assert_eq!(
        php.volumes[1].source.as_deref(),
        Some(dir.join("logs/symfony").to_str().unwrap())
    );
    assert_eq!(php.depends_on["db"].condition, Condition::ServiceStarted);
    assert_eq!(php.networks.keys().collect::<Vec<_>>(), ["db", "php"]);

    let nginx = &p.services["nginx"];
    assert_eq!(
        (nginx.ports[0].target, nginx.ports[0].published),
        (80, published(80))
    );
    assert_eq!(nginx.volumes.len(), 2);
    assert_eq!(nginx.networks.keys().collect::<Vec<_>>(), ["php"]);

    // Networks db and php, no default one (no service uses it).
    assert_eq!(p.networks.keys().collect::<Vec<_>>(), ["db", "php"]);
    assert_eq!(p.networks["db"].name, "three-tier_db");
    assert_eq!(
        start_levels(p, None),
        vec![vec!["db"], vec!["php"], vec!["nginx"]]
    );
    assert_eq!(names::container_name(&p.name, nginx, 1), "nginx");
    let labels = names::container_labels(p, php, 1, false);
    let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get(names::LABEL_PROJECT), Some("three-tier"));
    assert_eq!(
        get(names::LABEL_DEPENDS_ON),
        Some("db:service_started:false")
    );
    assert_eq!(get(names::LABEL_ONEOFF), Some("False"));
}

#[test]
fn three_tier_as_written_lacks_its_networks() {
    // The notes' file has no top-level networks: compose refuses it, naming the service.
    let mut o = opts(fixture("verbatim"));
    o.files = vec!["three-tier.yml".into()];
    o.project_dir = Some(fixture("three-tier"));
    let e = load(&o).unwrap_err().to_string();
    assert!(
        e.contains(
            "verbatim/three-tier.yml:15: service \"db\": refers to undefined network \"db\""
        ),
        "{e}"
    );
}

#[test]
fn backend_and_frontend_projects() {
    let b = load_dir("backend");
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    let p = &b.project;
    assert_eq!(p.name, "backend");
    assert_eq!(
        p.services["app"].container_name.as_deref(),
        Some("backend-container")
    );
    // The service joins the implicit default network: `backend_default`, as `network ls` shows.
    assert_eq!(p.networks["default"].name, "backend_default");
    assert!(!p.networks["default"].external);
    assert!(p.networks["backend"].external);
    assert_eq!(p.networks["backend"].name, "backend");

    let f = load_dir("frontend");
    let p = &f.project;
    assert_eq!(p.name, "frontend");
    let app = &p.services["app"];
    assert_eq!(
        app.networks.keys().collect::<Vec<_>>(),
        ["default", "backend"]
    );
    // The legacy `external: {name: …}`: the network joined is `backend`, never created.
    assert!(p.networks["default"].external);
    assert_eq!(p.networks["default"].name, "backend");
    assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    assert!(f.warnings[0]
        .message
        .contains("external.name is deprecated"));
}

#[test]
fn backend_and_frontend_as_written_lack_an_image() {
    for file in ["backend.yml", "frontend.yml"] {
        let mut o = opts(fixture("verbatim"));
        o.files = vec![file.into()];
        let e = load(&o).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "verbatim/{file}:3: service \"app\": has neither an image nor a build context"
            )),
            "{e}"
        );
    }
}

#[test]
fn swarm_stack_with_replicas() {
    let l = load_dir("swarm");
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let p = &l.project;
    assert_eq!(p.services.keys().collect::<Vec<_>>(), ["nginx", "api"]);
    let nginx = &p.services["nginx"];
    assert_eq!(nginx.replicas(), 3);
    assert_eq!(
        nginx.image.as_deref(),
        Some("gihyodocker/nginx-proxy:latest")
    );
    assert_eq!(
        nginx.environment["BACKEND_HOST"].as_deref(),
        Some("echo_api:8080")
    );
    let placement = nginx.deploy.as_ref().unwrap().placement.as_ref().unwrap();
    assert_eq!(placement["constraints"][0], "node.role != manager");
    assert_eq!(
        p.services["api"].image.as_deref(),
        Some("registry:5000/example/echo:latest")
    );
    assert!(p.networks["ch03"].external);
    assert_eq!(p.networks["ch03"].name, "ch03");
    assert!(!p.networks.contains_key("default"));
    assert_eq!(start_levels(p, None), vec![vec!["api"], vec!["nginx"]]);
    let names: Vec<String> = (1..=nginx.replicas())
        .map(|n| names::container_name(&p.name, nginx, n))
        .collect();
    assert_eq!(names, ["swarm-nginx-1", "swarm-nginx-2", "swarm-nginx-3"]);
}

#[test]
fn config_output_of_the_three_tier_app() {
    let l = load_dir("three-tier");
    let y = rbox_compose::output::to_yaml(&l.project);
    let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&y).unwrap();
    assert_eq!(back["name"], "three-tier");
    assert_eq!(
        back["services"]["php"]["depends_on"]["db"]["condition"],
        "service_started"
    );
    assert_eq!(
        back["services"]["php"]["volumes"][0]["consistency"],
        "cached"
    );
    assert_eq!(back["networks"]["php"]["name"], "three-tier_php");
    // As compose prints them: a network joined without options is null, restart: false left out.
    assert!(back["services"]["db"]["networks"]["db"].is_null());
    assert!(back["services"]["php"]["depends_on"]["db"]
        .get("restart")
        .is_none());
    assert_eq!(
        back["services"]["php"]["depends_on"]["db"]["required"],
        true
    );
}
