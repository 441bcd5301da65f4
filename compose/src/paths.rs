//! Relative paths of one file made absolute before files are merged: those of the `-f` files
//! against the project directory (as compose does), those of an `extends` or `include` file
//! against that file's own directory. `~` is the HOME of the caller's environment.

use std::path::Path;

use crate::build::is_remote_context;
use crate::mounts;
use crate::node::{Node, Value};

fn abs(n: &mut Node, base: &Path, home: Option<&str>) {
    if let Value::Scalar(_, s) = &mut n.value {
        if !s.is_empty() && !s.starts_with('/') {
            *s = mounts::absolute(s, base, home);
        }
    }
}

/// Resolve a service's paths: build context, env_file, bind mounts' sources, `extends.file`.
pub fn resolve_service(service: &mut Node, base: &Path, home: Option<&str>) {
    let Some(m) = service.as_map_mut() else {
        return;
    };
    if let Some(b) = m.get_mut("build") {
        let ctx = match &mut b.value {
            Value::Scalar(..) => Some(b),
            Value::Map(bm) => bm.get_mut("context"),
            Value::Seq(_) => None,
        };
        if let Some(c) = ctx {
            if !c.as_scalar().is_some_and(is_remote_context) {
                abs(c, base, home);
            }
        }
    }
    if let Some(e) = m.get_mut("env_file") {
        let items: Vec<&mut Node> = match &mut e.value {
            Value::Seq(items) => items.iter_mut().collect(),
            _ => vec![e],
        };
        for i in items {
            match &mut i.value {
                Value::Map(pm) => {
                    if let Some(p) = pm.get_mut("path") {
                        abs(p, base, home);
                    }
                }
                _ => abs(i, base, home),
            }
        }
    }
    if let Some(Value::Seq(items)) = m.get_mut("volumes").map(|v| &mut v.value) {
        for i in items {
            match &mut i.value {
                Value::Scalar(_, s) => *s = mounts::resolve_short(s, base, home),
                Value::Map(vm) => {
                    let is_bind = vm.get("type").and_then(Node::as_scalar) == Some("bind");
                    if let (true, Some(src)) = (is_bind, vm.get_mut("source")) {
                        abs(src, base, home);
                    }
                }
                Value::Seq(_) => {}
            }
        }
    }
    if let Some(Value::Map(em)) = m.get_mut("extends").map(|e| &mut e.value) {
        if let Some(f) = em.get_mut("file") {
            abs(f, base, home);
        }
    }
}

/// Resolve a whole file: every service, and the `file` of secrets and configs.
pub fn resolve_file(root: &mut Node, base: &Path, home: Option<&str>) {
    let Some(m) = root.as_map_mut() else { return };
    if let Some(services) = m.get_mut("services").and_then(Node::as_map_mut) {
        for s in services.values_mut() {
            resolve_service(s, base, home);
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(objs) = m.get_mut(key).and_then(Node::as_map_mut) {
            for o in objs.values_mut() {
                if let Some(f) = o.as_map_mut().and_then(|om| om.get_mut("file")) {
                    abs(f, base, home);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn resolves_relative_paths_only() {
        let mut n = crate::node::parse(
            &Arc::from("c.yaml"),
            "services:\n  a:\n    build: ./app\n    env_file: [x.env, {path: ./y.env}]\n    \
             volumes: [\"./code:/code:cached\", \"data:/data\", {type: bind, source: ../up, target: /u}]\n  \
             b:\n    build: {context: https://example.com/r.git}\n    env_file: /abs.env\n\
             secrets:\n  s: {file: ./s.txt}\n",
        )
        .unwrap();
        resolve_file(&mut n, Path::new("/p/q"), Some("/home/u"));
        let j = n.to_json();
        let a = &j["services"]["a"];
        assert_eq!(a["build"], "/p/q/app");
        assert_eq!(
            a["env_file"],
            serde_json::json!(["/p/q/x.env", {"path": "/p/q/y.env"}])
        );
        assert_eq!(a["volumes"][0], "/p/q/code:/code:cached");
        assert_eq!(a["volumes"][1], "data:/data");
        assert_eq!(a["volumes"][2]["source"], "/p/up");
        assert_eq!(
            j["services"]["b"]["build"]["context"],
            "https://example.com/r.git"
        );
        assert_eq!(j["services"]["b"]["env_file"], "/abs.env");
        assert_eq!(j["secrets"]["s"]["file"], "/p/q/s.txt");
    }
}
