//! Profiles: a service with `profiles:` runs only when one of them is active (`--profile`,
//! else `COMPOSE_PROFILES`; `*` activates all), or when it is named on the command line;
//! services without profiles always run. What an enabled service depends on is enabled too
//! when it was named; otherwise a required dependency left disabled is an error.

use indexmap::IndexSet;

use crate::error::{Error, Pos, Result, Warning, Warnings};
use crate::graph;
use crate::project::Project;

/// The active profiles: the flags, else the variable's comma-separated list.
pub fn active(flags: &[String], variable: Option<&str>) -> Vec<String> {
    if !flags.is_empty() {
        return flags.to_vec();
    }
    variable
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Move the services not enabled to `project.disabled`.
pub fn apply(
    project: &mut Project,
    flags: &[String],
    variable: Option<&str>,
    named: &[String],
    warnings: &mut Warnings,
) -> Result<()> {
    let active = active(flags, variable);
    let all = active.iter().any(|p| p == "*");
    for n in named {
        if !project.services.contains_key(n) {
            return Err(Error::Discovery(format!("no such service: {n}")));
        }
    }
    let mut enabled: IndexSet<String> = project
        .services
        .values()
        .filter(|s| s.profiles.is_empty() || all || s.profiles.iter().any(|p| active.contains(p)))
        .map(|s| s.name.clone())
        .collect();
    // The named services and everything they depend on, through services already enabled too.
    let mut todo: Vec<String> = named.to_vec();
    let mut seen: IndexSet<String> = IndexSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        enabled.insert(n.clone());
        if let Some(s) = project.services.get(&n) {
            todo.extend(graph::dependencies(s));
        }
    }
    let (on, off): (Vec<_>, Vec<_>) = std::mem::take(&mut project.services)
        .into_iter()
        .partition(|(k, _)| enabled.contains(k));
    project.services = on.into_iter().collect();
    project.disabled = off.into_iter().collect();
    for s in project.services.values_mut() {
        let mut dropped = Vec::new();
        for (dep, d) in &s.depends_on {
            if !project.disabled.contains_key(dep) {
                continue;
            }
            let pos = s.pos.clone().unwrap_or_else(|| Pos::synthetic(""));
            if d.required {
                return Err(Error::service(
                    &pos,
                    &s.name,
                    format!("depends on service {dep:?}, which its profiles disable"),
                ));
            }
            warnings.push(Warning::at(
                &pos,
                format!(
                    "service {:?}: optional dependency {dep:?} is disabled by its profiles",
                    s.name
                ),
            ));
            dropped.push(dep.clone());
        }
        for d in dropped {
            s.depends_on.shift_remove(&d);
        }
    }
    Ok(())
}

/// Enable services by name after the load (`run SERVICE`, `up SERVICE`): each, and what it
/// depends on, moves from `disabled` to `services`. An unknown name is an error.
pub fn enable(project: &mut Project, names: &[String]) -> Result<()> {
    let mut todo: Vec<String> = Vec::new();
    for n in names {
        if !project.services.contains_key(n) && !project.disabled.contains_key(n) {
            return Err(Error::Discovery(format!("no such service: {n}")));
        }
        todo.push(n.clone());
    }
    let mut seen: IndexSet<String> = IndexSet::new();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(s) = project.disabled.shift_remove(&n) {
            project.services.insert(n.clone(), s);
        }
        if let Some(s) = project.services.get(&n) {
            todo.extend(graph::dependencies(s));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::{Condition, Dependency};
    use crate::service::Service;

    fn svc(name: &str, profiles: &[&str], deps: &[&str]) -> Service {
        let mut s = Service {
            name: name.into(),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        for d in deps {
            s.depends_on.insert(
                d.to_string(),
                Dependency {
                    condition: Condition::ServiceStarted,
                    restart: false,
                    required: true,
                },
            );
        }
        s
    }

    fn project() -> Project {
        let mut p = Project::default();
        for s in [
            svc("web", &[], &[]),
            svc("debug", &["dev"], &["tools"]),
            svc("tools", &["tools"], &[]),
            svc("all", &["x", "y"], &[]),
        ] {
            p.services.insert(s.name.clone(), s);
        }
        p
    }

    fn names(p: &Project) -> Vec<&str> {
        p.services.keys().map(String::as_str).collect()
    }

    #[test]
    fn selection() {
        let mut w = Warnings::default();
        let mut p = project();
        apply(&mut p, &[], None, &[], &mut w).unwrap();
        assert_eq!(names(&p), ["web"]);
        let mut p = project();
        apply(&mut p, &[], Some("y, tools"), &[], &mut w).unwrap();
        assert_eq!(names(&p), ["web", "tools", "all"]);
        let mut p = project();
        apply(&mut p, &["*".into()], Some("ignored"), &[], &mut w).unwrap();
        assert_eq!(p.services.len(), 4);
        // Named on the command line: enabled, with its dependencies.
        let mut p = project();
        apply(&mut p, &[], None, &["debug".into()], &mut w).unwrap();
        assert_eq!(names(&p), ["web", "debug", "tools"]);
        assert!(p.disabled.contains_key("all"));
    }

    #[test]
    fn named_service_enables_dependencies_through_enabled_ones() {
        let mut p = Project::default();
        for s in [
            svc("api", &[], &["web"]),
            svc("web", &[], &["db"]),
            svc("db", &["data"], &[]),
        ] {
            p.services.insert(s.name.clone(), s);
        }
        let mut w = Warnings::default();
        apply(&mut p, &[], None, &["api".into()], &mut w).unwrap();
        assert_eq!(names(&p), ["api", "web", "db"]);
    }

    #[test]
    fn enable_after_load() {
        let mut w = Warnings::default();
        let mut p = project();
        apply(&mut p, &[], None, &[], &mut w).unwrap();
        enable(&mut p, &["debug".into()]).unwrap();
        assert_eq!(names(&p), ["web", "debug", "tools"]);
        assert!(p.disabled.contains_key("all"));
        assert!(enable(&mut p, &["nope".into()]).is_err());
    }

    #[test]
    fn disabled_required_dependency_is_an_error() {
        let mut w = Warnings::default();
        let mut p = project();
        let e = apply(&mut p, &["dev".into()], None, &[], &mut w)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"tools\""), "{e}");
        assert!(apply(&mut project(), &[], None, &["nope".into()], &mut w).is_err());
    }
}
