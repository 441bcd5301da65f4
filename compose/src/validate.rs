//! Checks of the merged project that no single key can make: references to services,
//! networks, volumes, secrets and configs that exist; no dependency cycle; one container per
//! container_name; something to run (an image or a build).

use indexmap::IndexMap;

use crate::error::{Error, Pos, Result, Warning, Warnings};
use crate::graph;
use crate::parts::NetworkMode;
use crate::project::Project;
use crate::service::Refs;

fn at(p: &Option<Pos>) -> Pos {
    p.clone().unwrap_or_else(|| Pos::synthetic(""))
}

/// An optional dependency (`required: false`) on a service the project does not define is
/// dropped with a warning, as compose does.
pub fn drop_missing_optional(project: &mut Project, warnings: &mut Warnings) {
    let known: Vec<String> = project
        .services
        .keys()
        .chain(project.disabled.keys())
        .cloned()
        .collect();
    for s in project.services.values_mut() {
        let missing: Vec<String> = s
            .depends_on
            .iter()
            .filter(|(d, dep)| !dep.required && !known.contains(d))
            .map(|(d, _)| d.clone())
            .collect();
        for d in missing {
            let pos = at(&s.pos);
            warnings.push(Warning::at(
                &pos,
                format!(
                    "service {:?}: optional dependency {d:?} is not defined; ignored",
                    s.name
                ),
            ));
            s.depends_on.shift_remove(&d);
        }
    }
}

pub fn validate(project: &Project, refs: &IndexMap<String, Refs>) -> Result<()> {
    let mut container_names: IndexMap<&str, &str> = IndexMap::new();
    for (name, s) in &project.services {
        let r = refs.get(name).cloned().unwrap_or_default();
        let here = at(&s.pos);
        if s.image.is_none() && s.build.is_none() {
            return Err(Error::service(
                &here,
                name,
                "has neither an image nor a build context",
            ));
        }
        for (dep, pos) in r
            .depends_on
            .iter()
            .filter(|(d, _)| s.depends_on.contains_key(*d))
        {
            if !project.services.contains_key(dep) && !project.disabled.contains_key(dep) {
                return Err(Error::service(
                    pos,
                    name,
                    format!("depends on undefined service {dep:?}"),
                ));
            }
        }
        if let Some(NetworkMode::Service(x)) = &s.network_mode {
            if !project.services.contains_key(x) && !project.disabled.contains_key(x) {
                return Err(Error::service(
                    &at(&r.network_mode),
                    name,
                    format!("network_mode uses undefined service {x:?}"),
                ));
            }
        }
        for v in &s.volumes_from {
            let src = v.split(':').next().unwrap_or(v);
            if !v.starts_with("container:")
                && !project.services.contains_key(src)
                && !project.disabled.contains_key(src)
            {
                return Err(Error::service(
                    &here,
                    name,
                    format!("volumes_from uses undefined service {src:?}"),
                ));
            }
        }
        for (net, pos) in &r.networks {
            if !project.networks.contains_key(net) {
                return Err(Error::service(
                    pos,
                    name,
                    format!("refers to undefined network {net:?}"),
                ));
            }
        }
        for (vol, pos) in &r.volumes {
            if !project.volumes.contains_key(vol) {
                return Err(Error::service(
                    pos,
                    name,
                    format!("refers to undefined volume {vol:?}"),
                ));
            }
        }
        for (sec, pos) in &r.secrets {
            if !project.secrets.contains_key(sec) {
                return Err(Error::service(
                    pos,
                    name,
                    format!("refers to undefined secret {sec:?}"),
                ));
            }
        }
        for (cfg, pos) in &r.configs {
            if !project.configs.contains_key(cfg) {
                return Err(Error::service(
                    pos,
                    name,
                    format!("refers to undefined config {cfg:?}"),
                ));
            }
        }
        if let Some(cn) = &s.container_name {
            let cpos = at(&r.container_name);
            if let Some(other) = container_names.insert(cn, name) {
                return Err(Error::service(
                    &cpos,
                    name,
                    format!("container_name {cn:?} is already used by service {other:?}"),
                ));
            }
            if s.replicas() > 1 {
                return Err(Error::service(
                    &cpos,
                    name,
                    format!("container_name {cn:?} names one container, but the service has {} replicas", s.replicas()),
                ));
            }
        }
        if let (Some(scale), Some(replicas)) = (s.scale, s.deploy.as_ref().and_then(|d| d.replicas))
        {
            if scale != replicas {
                return Err(Error::service(
                    &here,
                    name,
                    format!("scale ({scale}) and deploy.replicas ({replicas}) differ"),
                ));
            }
        }
    }
    if let Some(cycle) = graph::find_cycle(&project.services) {
        let first = &cycle[0];
        let pos = at(&project.services[first].pos);
        return Err(Error::Invalid {
            pos,
            message: format!("dependency cycle: {}", cycle.join(" -> ")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Service;

    fn project() -> (Project, IndexMap<String, Refs>) {
        let mut p = Project::default();
        let mut refs = IndexMap::new();
        for name in ["a", "b"] {
            let s = Service {
                name: name.into(),
                image: Some("x".into()),
                pos: Some(Pos::synthetic("c.yaml")),
                ..Default::default()
            };
            p.services.insert(name.into(), s);
            refs.insert(name.to_string(), Refs::default());
        }
        (p, refs)
    }

    #[test]
    fn clean_project_passes() {
        let (p, r) = project();
        validate(&p, &r).unwrap();
    }

    #[test]
    fn references_are_checked() {
        let (p, mut r) = project();
        r["a"]
            .configs
            .push(("cfg".into(), Pos::synthetic("c.yaml")));
        let e = validate(&p, &r).unwrap_err().to_string();
        assert!(
            e.contains("service \"a\": refers to undefined config \"cfg\""),
            "{e}"
        );
        let (mut p, r) = project();
        p.services["b"].volumes_from.push("nope:ro".into());
        assert!(validate(&p, &r)
            .unwrap_err()
            .to_string()
            .contains("volumes_from uses undefined service \"nope\""));
        let (mut p, r) = project();
        p.services["b"].volumes_from = vec!["a".into(), "container:other".into()];
        validate(&p, &r).unwrap();
    }

    #[test]
    fn a_dependency_on_a_disabled_service_is_known() {
        let (mut p, mut r) = project();
        let b = p.services.shift_remove("b").unwrap();
        p.disabled.insert("b".into(), b);
        r["a"]
            .depends_on
            .insert("b".into(), Pos::synthetic("c.yaml"));
        validate(&p, &r).unwrap();
    }

    #[test]
    fn scale_and_replicas_must_agree() {
        let (mut p, r) = project();
        p.services["a"].scale = Some(2);
        p.services["a"].deploy = Some(crate::deploy::Deploy {
            replicas: Some(3),
            ..Default::default()
        });
        assert!(validate(&p, &r)
            .unwrap_err()
            .to_string()
            .contains("scale (2) and deploy.replicas (3) differ"));
    }
}
