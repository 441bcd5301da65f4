//! `config` output: the normalized, interpolated project as YAML (compose's key names) or
//! JSON, and the name listings of `config --services` and `--volumes`.

use serde::Serialize;

use crate::project::Project;

#[derive(Serialize)]
struct View<'a> {
    name: &'a str,
    #[serde(flatten)]
    project: &'a Project,
}

pub fn to_yaml(project: &Project) -> String {
    serde_yaml_ng::to_string(&View {
        name: &project.name,
        project,
    })
    .unwrap_or_default()
}

pub fn to_json(project: &Project) -> String {
    serde_json::to_string_pretty(&View {
        name: &project.name,
        project,
    })
    .unwrap_or_default()
}

/// The enabled services, in the file's order.
pub fn services(project: &Project) -> Vec<&str> {
    project.services.keys().map(String::as_str).collect()
}

/// The top-level volumes, in the file's order.
pub fn volumes(project: &Project) -> Vec<&str> {
    project.volumes.keys().map(String::as_str).collect()
}
