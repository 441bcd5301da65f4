//! The merged tree typed: the top-level networks, volumes, secrets and configs, then each
//! service (its env_files read, its build context checked), and the implicit default network
//! when a service joins it.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use crate::build::is_remote_context;
use crate::de::err;
use crate::dotenv;
use crate::error::{Error, Result, Warnings};
use crate::node::Node;
use crate::project::{self, Network, Project};
use crate::service::{self, Ctx, Refs};

/// The merged tree as a typed project, with each service's references for validation.
pub fn convert(
    root: &Node,
    name: &str,
    env: &HashMap<String, String>,
    project_dir: &Path,
    w: &mut Warnings,
) -> Result<(Project, IndexMap<String, Refs>)> {
    let mut p = Project {
        name: name.to_string(),
        ..Default::default()
    };
    let section = |key: &str| -> Result<Vec<(String, Node)>> {
        match root.get(key) {
            None => Ok(Vec::new()),
            Some(n) if n.is_null() => Ok(Vec::new()),
            Some(n) => match n.as_map() {
                Some(m) => Ok(m
                    .iter()
                    .filter(|(k, _)| !k.starts_with("x-"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()),
                None => err(n, format!("{key} must be a mapping, not {}", n.describe())),
            },
        }
    };
    for (k, n) in section("networks")? {
        p.networks
            .insert(k.clone(), project::network(name, &k, &n, w)?);
    }
    for (k, n) in section("volumes")? {
        p.volumes
            .insert(k.clone(), project::volume(name, &k, &n, w)?);
    }
    for (k, n) in section("secrets")? {
        p.secrets
            .insert(k.clone(), project::file_object(name, &k, &n, false, w)?);
    }
    for (k, n) in section("configs")? {
        p.configs
            .insert(k.clone(), project::file_object(name, &k, &n, true, w)?);
    }
    let lookup = |k: &str| env.get(k).cloned();
    let read_env_file =
        |at: &Node, path: &str, required: bool| -> Result<Option<IndexMap<String, String>>> {
            match std::fs::read_to_string(path) {
                Ok(text) => Ok(Some(dotenv::parse(path, &text, &lookup)?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(Error::value(&at.pos, format!("env file {path} not found")))
                }
                Err(e) => Err(Error::io(path, e)),
            }
        };
    let mut refs = IndexMap::new();
    for (k, n) in section("services")? {
        let mut cx = Ctx {
            lookup: &lookup,
            read_env_file: &read_env_file,
            warnings: w,
        };
        let (mut s, r) = service::parse(&k, &n, &mut cx)?;
        if let Some(b) = &mut s.build {
            // A build without context (only dockerfile_inline, say) builds in the project
            // directory.
            if !is_remote_context(&b.context) && !b.context.starts_with('/') {
                b.context = crate::mounts::absolute(&b.context, project_dir, None);
            }
        }
        if let (Some(b), Some(at)) = (&s.build, &r.build) {
            if !is_remote_context(&b.context) && !Path::new(&b.context).is_dir() {
                return Err(Error::service(
                    at,
                    &k,
                    format!("build path {} either does not exist, is not accessible, or is not a valid URL", b.context),
                ));
            }
        }
        implicit_dependencies(&mut s);
        refs.insert(k.clone(), r);
        p.services.insert(k, s);
    }
    let uses_default = p
        .services
        .values()
        .any(|s| s.networks.contains_key("default"));
    if uses_default && !p.networks.contains_key("default") {
        p.networks.insert(
            "default".into(),
            Network {
                name: format!("{name}_default"),
                ..Default::default()
            },
        );
    }
    Ok((p, refs))
}

/// What `network_mode: service:X` and `volumes_from: [X]` imply, written into depends_on as
/// compose does (X started first; a new X restarts a service that shares its network).
fn implicit_dependencies(s: &mut crate::service::Service) {
    use crate::parts::{Condition, Dependency, NetworkMode};
    let mut add = |name: &str, restart: bool| {
        if !s.depends_on.contains_key(name) {
            s.depends_on.insert(
                name.to_string(),
                Dependency {
                    condition: Condition::ServiceStarted,
                    restart,
                    required: true,
                },
            );
        }
    };
    if let Some(NetworkMode::Service(x)) = &s.network_mode {
        add(&x.clone(), true);
    }
    for v in s.volumes_from.clone() {
        if !v.starts_with("container:") {
            add(v.split(':').next().unwrap_or(&v), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn convert_text(text: &str) -> Result<(Project, Warnings)> {
        let root = crate::node::parse(&Arc::from("c.yaml"), text).unwrap();
        let mut w = Warnings::default();
        let (p, _) = convert(
            &root,
            "p",
            &HashMap::new(),
            Path::new("/nonexistent"),
            &mut w,
        )?;
        Ok((p, w))
    }

    #[test]
    fn implicit_dependencies_and_default_network() {
        let (p, w) = convert_text(
            "services:\n  vpn: {image: v}\n  app: {image: a, network_mode: \"service:vpn\", volumes_from: [\"data:ro\", \"container:x\"]}\n  \
             data: {image: d, networks: [back]}\nnetworks:\n  back:\n",
        )
        .unwrap();
        assert!(w.0.is_empty());
        let app = &p.services["app"];
        assert_eq!(app.depends_on.keys().collect::<Vec<_>>(), ["vpn", "data"]);
        assert!(app.depends_on["vpn"].restart && !app.depends_on["data"].restart);
        // vpn joins the default network, so the project has one.
        assert_eq!(p.networks["default"].name, "p_default");
        let (p, _) = convert_text("services:\n  a: {image: a, network_mode: host}\n").unwrap();
        assert!(p.networks.is_empty());
    }

    #[test]
    fn missing_build_context_is_named() {
        let e = convert_text("services:\n  a:\n    build: ./nowhere\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "c.yaml:3: service \"a\": build path /nonexistent/nowhere either does not exist"
            ),
            "{e}"
        );
    }
}
