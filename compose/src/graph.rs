//! The order services start and stop in: levels of services whose dependencies (depends_on,
//! `network_mode: service:X`, `volumes_from` a service) are all in earlier levels.

use indexmap::{IndexMap, IndexSet};

use crate::parts::NetworkMode;
use crate::project::Project;
use crate::service::Service;

/// The services a service needs started before it, in the file's order.
pub fn dependencies(s: &Service) -> Vec<String> {
    let mut deps: IndexSet<String> = s.depends_on.keys().cloned().collect();
    if let Some(NetworkMode::Service(x)) = &s.network_mode {
        deps.insert(x.clone());
    }
    for v in &s.volumes_from {
        let name = v.split(':').next().unwrap_or(v);
        if !v.starts_with("container:") {
            deps.insert(name.to_string());
        }
    }
    deps.into_iter().collect()
}

/// A dependency cycle among `services`, as the list of names around it (`a → b → a`), if any.
/// Dependencies on services not in the map are not followed.
pub fn find_cycle(services: &IndexMap<String, Service>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        name: &str,
        services: &IndexMap<String, Service>,
        marks: &mut IndexMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(name.to_string(), Mark::Open);
        stack.push(name.to_string());
        for d in dependencies(&services[name]) {
            if !services.contains_key(&d) {
                continue;
            }
            match marks.get(&d).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = stack.iter().position(|s| *s == d).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(d);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(&d, services, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        None
    }
    let mut marks = IndexMap::new();
    for name in services.keys() {
        if marks.get(name).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(name, services, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Start order: each level's services depend only on services of earlier levels, and each
/// service is in the earliest level it can be (services of one level can start together).
/// `only`, when given, limits the result to those services and what they need.
pub fn start_levels(project: &Project, only: Option<&[String]>) -> Vec<Vec<String>> {
    let services = &project.services;
    let mut wanted: IndexSet<String> = IndexSet::new();
    match only {
        Some(names) => {
            let mut todo: Vec<String> = names.to_vec();
            while let Some(n) = todo.pop() {
                if services.contains_key(&n) && wanted.insert(n.clone()) {
                    todo.extend(dependencies(&services[&n]));
                }
            }
        }
        None => wanted.extend(services.keys().cloned()),
    }
    let mut level_of: IndexMap<String, usize> = IndexMap::new();
    // Longest-path levels; a cycle was refused by validation, the bound guards anyway.
    for _ in 0..=services.len() {
        let mut changed = false;
        for name in services.keys().filter(|n| wanted.contains(*n)) {
            let l = dependencies(&services[name])
                .iter()
                .filter(|d| wanted.contains(*d))
                .map(|d| level_of.get(d).map_or(1, |l| l + 1))
                .max()
                .unwrap_or(0);
            if level_of.get(name) != Some(&l) {
                level_of.insert(name.clone(), l);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let depth = level_of.values().max().map_or(0, |m| m + 1);
    let mut levels = vec![Vec::new(); depth];
    for name in services.keys() {
        if let Some(l) = level_of.get(name) {
            levels[*l].push(name.clone());
        }
    }
    levels
}

/// Stop order: the start levels reversed (dependents stop before what they depend on).
pub fn stop_levels(project: &Project, only: Option<&[String]>) -> Vec<Vec<String>> {
    let mut l = start_levels(project, only);
    l.reverse();
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::{Condition, Dependency};

    fn project(edges: &[(&str, &[&str])]) -> Project {
        let mut p = Project::default();
        for (name, deps) in edges {
            let mut s = Service {
                name: name.to_string(),
                ..Default::default()
            };
            for d in *deps {
                s.depends_on.insert(
                    d.to_string(),
                    Dependency {
                        condition: Condition::ServiceStarted,
                        restart: false,
                        required: true,
                    },
                );
            }
            p.services.insert(name.to_string(), s);
        }
        p
    }

    #[test]
    fn three_tier_levels() {
        let p = project(&[
            ("db", &[]),
            ("php", &["db"]),
            ("nginx", &["php"]),
            ("cache", &[]),
        ]);
        assert_eq!(
            start_levels(&p, None),
            vec![vec!["db", "cache"], vec!["php"], vec!["nginx"]]
        );
        assert_eq!(stop_levels(&p, None)[0], vec!["nginx"]);
        assert_eq!(
            start_levels(&p, Some(&["php".into()])),
            vec![vec!["db"], vec!["php"]]
        );
    }

    #[test]
    fn diamond_is_longest_path() {
        let p = project(&[("d", &["b", "c"]), ("b", &["a"]), ("c", &["b"]), ("a", &[])]);
        assert_eq!(
            start_levels(&p, None),
            vec![vec!["a"], vec!["b"], vec!["c"], vec!["d"]]
        );
    }

    #[test]
    fn cycles_are_named() {
        let p = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]);
        assert_eq!(find_cycle(&p.services).unwrap(), vec!["a", "b", "c", "a"]);
        let p = project(&[("a", &["a"])]);
        assert_eq!(find_cycle(&p.services).unwrap(), vec!["a", "a"]);
        assert!(find_cycle(&project(&[("a", &["b"]), ("b", &[])]).services).is_none());
    }
}
