//! `config` output: the normalized, interpolated project as YAML (compose's key names) or
//! JSON, and the name listings of `config --services` and `--volumes`.

use crate::project::Project;

pub fn to_yaml(project: &Project) -> String {
    serde_yaml_ng::to_string(project).unwrap_or_default()
}

pub fn to_json(project: &Project) -> String {
    serde_json::to_string_pretty(project).unwrap_or_default()
}

/// The enabled services, in the file's order.
pub fn services(project: &Project) -> Vec<&str> {
    project.services.keys().map(String::as_str).collect()
}

/// The top-level volumes, in the file's order.
pub fn volumes(project: &Project) -> Vec<&str> {
    project.volumes.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Service;

    #[test]
    fn yaml_has_compose_keys_and_reads_back() {
        let mut p = Project {
            name: "demo".into(),
            ..Default::default()
        };
        let mut s = Service {
            name: "web".into(),
            image: Some("busybox".into()),
            ..Default::default()
        };
        s.ports = crate::ports::parse_short("8080:80").unwrap();
        p.services.insert("web".into(), s);
        let y = to_yaml(&p);
        assert!(
            y.starts_with("name: demo\nservices:\n  web:\n    image: busybox\n"),
            "{y}"
        );
        let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&y).unwrap();
        assert_eq!(back["services"]["web"]["ports"][0]["published"], "8080");
        assert_eq!(back["services"]["web"]["ports"][0]["target"], 80);
        let j: serde_json::Value = serde_json::from_str(&to_json(&p)).unwrap();
        assert_eq!(j["services"]["web"]["ports"][0]["protocol"], "tcp");
        assert_eq!(services(&p), ["web"]);
        assert!(volumes(&p).is_empty());
    }
}
