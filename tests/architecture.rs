//! The structure of the workspace, checked from its sources: no group of more than two
//! modules of a crate importing each other in a circle, and rbox-runtime's layers
//! (model, store, oci, host, supervise, ops) depending downwards only.
//!
//! An import is a `crate::…` path outside comments and test modules, resolved to the
//! longest module it names. `cargo test -p rbox --test architecture` runs this check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "image",
    "runtime",
    "network",
    "builder",
    "registry-client",
    "cli",
    "compose",
    "kube",
    "oci-cli",
];

const RUNTIME_LAYERS: &[&str] = &["model", "store", "oci", "host", "supervise", "ops"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a/b.rs` → `a::b`, `a/mod.rs` → `a`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its test module and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b…` path in `code`, including those of `use crate::{a, b::c}` groups.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    out.push(item.split("::").map(|s| s.trim().to_owned()).collect());
                }
            }
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    out
}

/// Module → the modules of the same crate it imports.
fn graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join(krate)
        .join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut g = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        if m == "lib" || m == "main" {
            continue;
        }
        let mut deps = BTreeSet::new();
        for path in crate_paths(&code(&std::fs::read_to_string(f).unwrap())) {
            for k in (1..=path.len()).rev() {
                let target = path[..k].join("::");
                if modules.contains(&target) {
                    if target != m && !m.starts_with(&format!("{target}::")) {
                        deps.insert(target);
                    }
                    break;
                }
            }
        }
        g.insert(m, deps);
    }
    g
}

/// The strongly connected groups of more than one module (Tarjan's algorithm).
fn circles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                if t.g.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low[v];
                    t.low.insert(v, lv.min(lw));
                }
            } else if t.stack.contains(&w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_crate_has_an_import_circle_of_more_than_two_modules() {
    for krate in CRATES {
        let g = graph(krate);
        assert!(!g.is_empty(), "{krate}: no sources found");
        for c in circles(&g) {
            assert!(
                c.len() <= 2,
                "{krate}: {} modules import each other in a circle: {}",
                c.len(),
                c.join(", ")
            );
        }
    }
}

#[test]
fn the_runtimes_layers_depend_downwards_only() {
    let layer = |m: &str| {
        RUNTIME_LAYERS
            .iter()
            .position(|l| m == *l || m.starts_with(&format!("{l}::")))
    };
    let g = graph("runtime");
    for (m, deps) in &g {
        let Some(mine) = layer(m) else { continue };
        for d in deps {
            if let Some(theirs) = layer(d) {
                assert!(
                    theirs <= mine,
                    "runtime: {m} ({}) imports {d} ({}), a layer above it",
                    RUNTIME_LAYERS[mine],
                    RUNTIME_LAYERS[theirs]
                );
            }
        }
    }
    // The check sees the crate: every layer is there and imports happen.
    assert!(RUNTIME_LAYERS.iter().all(|l| g.contains_key(*l)));
    assert!(g.values().map(|d| d.len()).sum::<usize>() > 20);
}

#[test]
fn a_circle_is_found_where_there_is_one() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| {
        (
            k.to_owned(),
            v.into_iter().map(str::to_owned).collect::<BTreeSet<_>>(),
        )
    })
    .collect();
    assert_eq!(circles(&g), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        crate_paths("use crate::{x::Y, z};\nlet a = crate::w::v::f();"),
        vec![
            vec!["x".to_owned(), "Y".to_owned()],
            vec!["z".to_owned()],
            vec!["w".to_owned(), "v".to_owned(), "f".to_owned()]
        ]
    );
}
