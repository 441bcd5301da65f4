//! Merging compose files (and `extends`) by the compose-spec rules, on node trees so that each
//! value keeps the file:line it came from. Mappings merge recursively; `command`, `entrypoint`
//! and `healthcheck.test` are replaced; `ports` merge by host address, target, published port
//! and protocol, `volumes`, `secrets` and `configs` by target; `environment`, `labels` and the
//! other map-or-list keys merge by key; the other lists are appended without duplicates;
//! `!reset` and `!override` do what the spec says.

use indexmap::IndexMap;

use crate::mounts;
use crate::node::{Kind, Node, Value};

/// Keys written as a mapping or a list of `KEY=VALUE`, turned into a mapping before merging.
const KEY_VALUE: &[&str] = &["environment", "labels", "sysctls", "annotations"];

/// A service's map-or-list keys as mappings, so that files merge them by key.
pub fn normalize_service(service: &mut Node) {
    let Some(m) = service.as_map_mut() else {
        return;
    };
    for key in KEY_VALUE {
        if let Some(n) = m.get_mut(*key) {
            list_to_map(n, &['=']);
        }
    }
    // A string where a list may be a string: a list of one, so that files append.
    for key in ["tmpfs", "dns", "dns_search", "env_file"] {
        if let Some(n) = m.get_mut(key) {
            if matches!(n.value, Value::Scalar(k, _) if k != Kind::Null) {
                let item = Node::new(n.pos.clone(), n.value.clone());
                n.value = Value::Seq(vec![item]);
            }
        }
    }
    if let Some(n) = m.get_mut("extra_hosts") {
        list_to_map(n, &['=', ':']);
    }
    if let Some(b) = m.get_mut("build") {
        if let Value::Scalar(k, s) = &b.value {
            if *k != Kind::Null {
                let ctx = Node::str(b.pos.clone(), s.clone());
                *b = Node {
                    value: Value::Map(IndexMap::from([("context".to_string(), ctx)])),
                    ..b.clone()
                };
            }
        }
        if let Some(bm) = b.as_map_mut() {
            for key in ["args", "labels"] {
                if let Some(n) = bm.get_mut(key) {
                    list_to_map(n, &['=']);
                }
            }
        }
    }
    if let Some(d) = m.get_mut("deploy").and_then(Node::as_map_mut) {
        if let Some(n) = d.get_mut("labels") {
            list_to_map(n, &['=']);
        }
    }
    // A list of names is a mapping of names to nothing (networks) or to the default
    // condition (depends_on).
    for key in ["networks", "depends_on"] {
        if let Some(n) = m.get_mut(key) {
            if let Value::Seq(items) = &n.value {
                let mut map = IndexMap::new();
                for i in items {
                    if let Some(name) = i.as_scalar() {
                        let mut v = if key == "networks" {
                            Node::new(i.pos.clone(), Value::Scalar(Kind::Null, String::new()))
                        } else {
                            let c = Node::str(i.pos.clone(), "service_started");
                            Node::map(
                                i.pos.clone(),
                                IndexMap::from([("condition".to_string(), c)]),
                            )
                        };
                        v.key_pos = i.pos.clone();
                        map.insert(name.to_string(), v);
                    }
                }
                n.value = Value::Map(map);
            }
        }
    }
}

fn list_to_map(n: &mut Node, seps: &[char]) {
    let Value::Seq(items) = &n.value else { return };
    let mut map = IndexMap::new();
    for i in items {
        let Some(s) = i.as_scalar() else { return };
        let (k, v) = match s.find(seps) {
            Some(at) => (s[..at].to_string(), Node::str(i.pos.clone(), &s[at + 1..])),
            None => (
                s.to_string(),
                Node::new(i.pos.clone(), Value::Scalar(Kind::Null, String::new())),
            ),
        };
        let mut v = v;
        v.key_pos = i.pos.clone();
        map.insert(k, v);
    }
    n.value = Value::Map(map);
}

/// compose's merge directives: `!reset` drops what earlier files (or the extended service)
/// gave a key, `!override` replaces it instead of merging.
pub const RESET: &str = "!reset";
pub const OVERRIDE: &str = "!override";

/// After merging: a key still tagged `!reset` (in the first file) is dropped; tags go.
pub fn strip_directives(n: &mut Node) {
    n.tag = None;
    match &mut n.value {
        Value::Map(m) => {
            m.retain(|_, v| v.tag.as_deref() != Some(RESET));
            for v in m.values_mut() {
                strip_directives(v);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(strip_directives),
        Value::Scalar(..) => {}
    }
}

fn same(a: &Node, b: &Node) -> bool {
    a.to_json() == b.to_json()
}

fn append_unique(base: &mut Vec<Node>, over: Vec<Node>) {
    for o in over {
        if !base.iter().any(|b| same(b, &o)) {
            base.push(o);
        }
    }
}

/// Items of `over` replace those of `base` with the same key, the others are appended.
fn merge_by(base: &mut Vec<Node>, over: Vec<Node>, key: fn(&Node) -> Option<String>) {
    for o in over {
        let k = key(&o);
        match base.iter_mut().find(|b| k.is_some() && key(b) == k) {
            Some(b) => *b = o,
            None => base.push(o),
        }
    }
}

/// What makes a port unique when files merge: host address, target, published port and
/// protocol (a short form of several ports is its own key).
fn port_key(n: &Node) -> Option<String> {
    let fields = |ip: Option<&str>, target: &str, published: Option<&str>, proto: Option<&str>| {
        format!(
            "{}|{target}|{}|{}",
            ip.unwrap_or(""),
            published.unwrap_or(""),
            proto.unwrap_or("tcp")
        )
    };
    match &n.value {
        Value::Scalar(..) => {
            let s = n.as_scalar()?;
            match crate::ports::parse_short(s) {
                Ok(b) if b.len() == 1 => {
                    let b = &b[0];
                    let published = b.published.and_then(|p| serde_json::to_value(p).ok());
                    let published = published.as_ref().and_then(|p| p.as_str());
                    let proto = serde_json::to_value(b.protocol).ok();
                    let proto = proto.as_ref().and_then(|p| p.as_str());
                    Some(fields(
                        b.host_ip.as_deref(),
                        &b.target.to_string(),
                        published,
                        proto,
                    ))
                }
                _ => Some(s.to_string()),
            }
        }
        Value::Map(m) => {
            let get = |k: &str| m.get(k).and_then(Node::as_scalar);
            Some(fields(
                get("host_ip"),
                get("target")?,
                get("published"),
                get("protocol"),
            ))
        }
        Value::Seq(_) => None,
    }
}

/// Where a secret or config is mounted: its target, else `prefix` and its source.
fn mount_target(n: &Node, prefix: &str) -> Option<String> {
    match &n.value {
        Value::Scalar(..) => n.as_scalar().map(|s| format!("{prefix}{s}")),
        Value::Map(m) => match m.get("target").and_then(Node::as_scalar) {
            Some(t) => Some(t.to_string()),
            None => m
                .get("source")
                .and_then(Node::as_scalar)
                .map(|s| format!("{prefix}{s}")),
        },
        Value::Seq(_) => None,
    }
}

/// Merge two mappings recursively; `path` is the dotted path of `base` below a service
/// (empty for the service itself), for the keys with their own rule.
fn merge_at(base: &mut Node, over: Node, path: &str) {
    let replace_paths = ["command", "entrypoint", "healthcheck.test"];
    if replace_paths.contains(&path) {
        *base = over;
        return;
    }
    if path == "logging" {
        let driver = |n: &Node| {
            n.get("driver")
                .and_then(Node::as_scalar)
                .map(str::to_string)
        };
        if let (Some(a), Some(b)) = (driver(base), driver(&over)) {
            if a != b {
                *base = over;
                return;
            }
        }
    }
    match (&mut base.value, over.value) {
        (Value::Map(bm), Value::Map(om)) => {
            for (k, mut v) in om {
                match v.tag.as_deref() {
                    Some(RESET) => {
                        bm.shift_remove(&k);
                        continue;
                    }
                    Some(OVERRIDE) => {
                        v.tag = None;
                        bm.insert(k, v);
                        continue;
                    }
                    _ => {}
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match bm.get_mut(&k) {
                    Some(b) if !b.is_null() && b.tag.as_deref() != Some(RESET) => {
                        merge_at(b, v, &sub)
                    }
                    _ => {
                        bm.insert(k, v);
                    }
                }
            }
        }
        (Value::Seq(bs), Value::Seq(os)) => match path {
            "volumes" => merge_by(bs, os, mounts::target_of),
            "ports" => merge_by(bs, os, port_key),
            "secrets" => merge_by(bs, os, |n| mount_target(n, "/run/secrets/")),
            "configs" => merge_by(bs, os, |n| mount_target(n, "/")),
            _ => append_unique(bs, os),
        },
        (_, ov) => {
            base.value = ov;
            base.pos = over.pos;
            base.key_pos = over.key_pos;
        }
    }
}

/// One service over another (a later file's, or the service over the one it extends).
pub fn merge_service(base: &mut Node, over: Node) {
    merge_at(base, over, "");
}

/// A later file's whole tree over an earlier one's.
pub fn merge_file(base: &mut Node, over: Node) {
    let (Some(bm), Value::Map(om)) = (base.as_map_mut(), over.value) else {
        return;
    };
    for (k, v) in om {
        match (k.as_str(), bm.get_mut(&k)) {
            ("services", Some(b)) if b.as_map().is_some() && v.as_map().is_some() => {
                let (bs, Value::Map(os)) = (b.as_map_mut().expect("checked"), v.value) else {
                    continue;
                };
                for (name, mut s) in os {
                    match s.tag.as_deref() {
                        Some(RESET) => {
                            bs.shift_remove(&name);
                            continue;
                        }
                        Some(OVERRIDE) => {
                            s.tag = None;
                            bs.insert(name, s);
                            continue;
                        }
                        _ => {}
                    }
                    match bs.get_mut(&name) {
                        Some(existing)
                            if !existing.is_null() && existing.tag.as_deref() != Some(RESET) =>
                        {
                            merge_service(existing, s)
                        }
                        _ => {
                            bs.insert(name, s);
                        }
                    }
                }
            }
            (_, Some(b)) if b.as_map().is_some() && v.as_map().is_some() => {
                // networks, volumes, secrets, configs, x- fields: merged by key, recursively.
                merge_at(b, v, "top");
            }
            _ => {
                bm.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn svc(text: &str) -> Node {
        let mut n = crate::node::parse(&Arc::from("f.yaml"), text).unwrap();
        normalize_service(&mut n);
        n
    }

    fn json(n: &Node) -> serde_json::Value {
        n.to_json()
    }

    #[test]
    fn service_rules() {
        let mut base = svc(
            "image: a\ncommand: [x, y]\nports: [\"80:80\"]\nenvironment: [A=1, B=2]\n\
             volumes: [\"/h1:/data\", \"/h2:/logs\"]\ndns: [1.1.1.1]\nhealthcheck: {test: [CMD, a], retries: 3}\n\
             depends_on: [db]\nlabels: {l: 1}\n",
        );
        let over = svc(
            "image: b\ncommand: [z]\nports: [\"80:80\", \"443:443\"]\nenvironment: {B: 3, C: 4}\n\
             volumes: [\"/h3:/data\"]\ndns: [1.1.1.1, 8.8.8.8]\nhealthcheck: {test: [CMD, b]}\n\
             depends_on: {cache: {condition: service_healthy}}\nlabels: [m=2]\n",
        );
        merge_service(&mut base, over);
        let j = json(&base);
        assert_eq!(j["image"], "b");
        assert_eq!(j["command"], serde_json::json!(["z"]));
        assert_eq!(j["ports"], serde_json::json!(["80:80", "443:443"]));
        assert_eq!(
            j["environment"],
            serde_json::json!({"A": "1", "B": 3, "C": 4})
        );
        assert_eq!(j["volumes"], serde_json::json!(["/h3:/data", "/h2:/logs"]));
        assert_eq!(j["dns"], serde_json::json!(["1.1.1.1", "8.8.8.8"]));
        assert_eq!(
            j["healthcheck"],
            serde_json::json!({"test": ["CMD", "b"], "retries": 3})
        );
        assert_eq!(
            j["depends_on"],
            serde_json::json!({"db": {"condition": "service_started"}, "cache": {"condition": "service_healthy"}})
        );
        assert_eq!(j["labels"], serde_json::json!({"l": 1, "m": "2"}));
    }

    #[test]
    fn ports_are_unique_by_address_target_published_protocol() {
        // A port is unique by address, target, published port and protocol, in either form.
        let mut base = svc("ports: [\"8080:80\", \"53:53/udp\"]\n");
        merge_service(
            &mut base,
            svc("ports: [{target: 80, published: \"8080\", mode: host}, \"53:53\"]\n"),
        );
        let j = json(&base);
        assert_eq!(j["ports"][0]["mode"], "host");
        assert_eq!(j["ports"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn reset_and_override() {
        let mut base =
            svc("image: a\nports: [\"80:80\"]\nenvironment: {A: 1, B: 2}\nlabels: {l: 1}\n");
        merge_service(
            &mut base,
            svc("ports: !reset []\nenvironment: !override {C: 3}\nlabels: !reset null\n"),
        );
        strip_directives(&mut base);
        let j = json(&base);
        assert_eq!(
            j,
            serde_json::json!({"image": "a", "environment": {"C": 3}})
        );
    }

    #[test]
    fn strings_that_may_be_lists_append() {
        let mut base = svc("tmpfs: /run\ndns: 1.1.1.1\n");
        merge_service(&mut base, svc("tmpfs: [/tmp]\ndns: 8.8.8.8\n"));
        let j = json(&base);
        assert_eq!(j["tmpfs"], serde_json::json!(["/run", "/tmp"]));
        assert_eq!(j["dns"], serde_json::json!(["1.1.1.1", "8.8.8.8"]));
    }

    #[test]
    fn build_string_and_map_merge() {
        let mut base = svc("build: ./app\n");
        merge_service(&mut base, svc("build: {target: dev, args: [X=1]}\n"));
        assert_eq!(
            json(&base)["build"],
            serde_json::json!({"context": "./app", "target": "dev", "args": {"X": "1"}})
        );
    }

    #[test]
    fn files_merge_services_and_top_level() {
        let f = Arc::from("a.yaml");
        let mut a =
            crate::node::parse(&f, "services:\n  web: {image: a}\nnetworks:\n  n1: {}\n").unwrap();
        let b = crate::node::parse(
            &f,
            "services:\n  web: {tty: true}\n  db: {image: d}\nnetworks:\n  n2: {}\n",
        )
        .unwrap();
        merge_file(&mut a, b);
        let j = json(&a);
        assert_eq!(
            j["services"]["web"],
            serde_json::json!({"image": "a", "tty": true})
        );
        assert_eq!(j["services"]["db"]["image"], "d");
        assert_eq!(j["networks"], serde_json::json!({"n1": {}, "n2": {}}));
    }
}
