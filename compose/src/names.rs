//! Names and labels as Compose v2 gives them, and the config hash that tells whether a
//! service's containers must be recreated.

use serde_json::Value as J;
use sha2::{Digest, Sha256};

use crate::project::Project;
use crate::service::Service;

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_HASH: &str = "com.docker.compose.config-hash";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const LABEL_VERSION: &str = "com.docker.compose.version";
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";

/// The version written in `com.docker.compose.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Container `number` (from 1) of a service: its container_name, else `<project>-<service>-<n>`.
pub fn container_name(project: &str, service: &Service, number: u32) -> String {
    match &service.container_name {
        Some(n) => n.clone(),
        None => format!("{project}-{}-{number}", service.name),
    }
}

/// The names of a service's containers, numbers 1 to its replica count.
pub fn container_names(project: &str, service: &Service) -> Vec<String> {
    (1..=service.replicas())
        .map(|n| container_name(project, service, n))
        .collect()
}

/// The image a service runs: its `image`, else the one its build makes, `<project>-<service>`.
pub fn image_name(project: &str, service: &Service) -> String {
    match &service.image {
        Some(i) => i.clone(),
        None => format!("{project}-{}", service.name),
    }
}

/// A one-off container of `run`: `<project>-<service>-run-<id>`.
pub fn oneoff_name(project: &str, service: &str, id: &str) -> String {
    format!("{project}-{service}-run-{id}")
}

/// The host names of the project's networks and volumes (external ones by their own name).
pub fn network_name(project: &Project, key: &str) -> Option<String> {
    project.networks.get(key).map(|n| n.name.clone())
}

pub fn volume_name(project: &Project, key: &str) -> Option<String> {
    project.volumes.get(key).map(|v| v.name.clone())
}

/// `com.docker.compose.depends_on`: `db:service_started:false,…` (name, condition, restart).
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(n, d)| format!("{n}:{}:{}", d.condition.as_str(), d.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// JSON with every object's keys sorted, so that the order of keys in the file is not part
/// of the hash.
fn canonical(v: &J) -> String {
    match v {
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", J::String((*k).clone()), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        J::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// SHA-256 (hex) of the service's normalized config, without what does not need a new
/// container: how many there are (scale, deploy.replicas), how the image is got (build,
/// pull_policy), the order relations (depends_on) and profiles.
pub fn config_hash(service: &Service) -> String {
    let mut v = serde_json::to_value(service).unwrap_or(J::Null);
    if let J::Object(m) = &mut v {
        for k in ["scale", "build", "pull_policy", "depends_on", "profiles"] {
            m.remove(k);
        }
        if let Some(J::Object(d)) = m.get_mut("deploy") {
            d.remove("replicas");
            if d.is_empty() {
                m.remove("deploy");
            }
        }
    }
    let digest = Sha256::digest(canonical(&v).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of a network's or volume's config, for the config-hash label of the
/// resources the project creates (a changed one must be recreated).
pub fn resource_hash<T: serde::Serialize>(resource: &T) -> String {
    let v = serde_json::to_value(resource).unwrap_or(J::Null);
    Sha256::digest(canonical(&v).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The labels compose puts on container `number` of a service.
pub fn container_labels(
    project: &Project,
    service: &Service,
    number: u32,
    oneoff: bool,
) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = service
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    l.extend([
        (LABEL_PROJECT.into(), project.name.clone()),
        (LABEL_SERVICE.into(), service.name.clone()),
        (LABEL_NUMBER.into(), number.to_string()),
        (LABEL_HASH.into(), config_hash(service)),
        (
            LABEL_ONEOFF.into(),
            if oneoff { "True" } else { "False" }.into(),
        ),
        (LABEL_DEPENDS_ON.into(), depends_on_label(service)),
        (
            LABEL_WORKING_DIR.into(),
            project.working_dir.display().to_string(),
        ),
        (LABEL_CONFIG_FILES.into(), project.config_files.join(",")),
        (LABEL_VERSION.into(), VERSION.into()),
    ]);
    l
}

/// The labels of a network or volume the project creates (`key` as in the file).
pub fn resource_labels(project: &Project, key: &str, volume: bool) -> Vec<(String, String)> {
    let kind = if volume { LABEL_VOLUME } else { LABEL_NETWORK };
    vec![
        (LABEL_PROJECT.into(), project.name.clone()),
        (kind.into(), key.into()),
        (LABEL_VERSION.into(), VERSION.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::{Condition, Dependency};

    fn svc() -> Service {
        let mut s = Service {
            name: "web".into(),
            image: Some("busybox".into()),
            ..Default::default()
        };
        s.environment.insert("A".into(), Some("1".into()));
        s.environment.insert("B".into(), Some("2".into()));
        s
    }

    #[test]
    fn names_as_compose() {
        let s = svc();
        assert_eq!(container_name("proj", &s, 2), "proj-web-2");
        let mut c = svc();
        c.container_name = Some("nginx".into());
        assert_eq!(container_name("proj", &c, 1), "nginx");
        let mut r = svc();
        r.scale = Some(2);
        assert_eq!(container_names("proj", &r), ["proj-web-1", "proj-web-2"]);
        assert_eq!(oneoff_name("proj", "web", "0f3a"), "proj-web-run-0f3a");
        assert_eq!(image_name("proj", &s), "busybox");
        let built = Service {
            name: "php".into(),
            ..Default::default()
        };
        assert_eq!(image_name("proj", &built), "proj-php");
    }

    #[test]
    fn depends_on_format() {
        let mut s = svc();
        s.depends_on.insert(
            "db".into(),
            Dependency {
                condition: Condition::ServiceHealthy,
                restart: true,
                required: true,
            },
        );
        s.depends_on.insert(
            "cache".into(),
            Dependency {
                condition: Condition::ServiceStarted,
                restart: false,
                required: true,
            },
        );
        assert_eq!(
            depends_on_label(&s),
            "db:service_healthy:true,cache:service_started:false"
        );
    }

    #[test]
    fn hash_ignores_order_scale_and_deps_but_not_config() {
        let a = svc();
        let mut b = Service {
            name: "web".into(),
            image: Some("busybox".into()),
            scale: Some(3),
            ..Default::default()
        };
        b.environment.insert("B".into(), Some("2".into()));
        b.environment.insert("A".into(), Some("1".into()));
        b.depends_on.insert(
            "db".into(),
            Dependency {
                condition: Condition::ServiceStarted,
                restart: false,
                required: true,
            },
        );
        // Map order inside environment is kept by serde; the hash sorts keys.
        assert_eq!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 64);
        let mut c = svc();
        c.environment.insert("A".into(), Some("changed".into()));
        assert_ne!(config_hash(&a), config_hash(&c));
        let n = crate::project::Network {
            name: "p_n".into(),
            ..Default::default()
        };
        let mut m = n.clone();
        assert_eq!(resource_hash(&n), resource_hash(&m));
        m.internal = true;
        assert_ne!(resource_hash(&n), resource_hash(&m));
    }
}
