//! Layer apply: any archive is unpacked into a fresh directory or refused; afterwards
//! nothing exists outside that directory, and nothing inside it is a link that climbs out
//! of it.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[path = "tarbuild.rs"]
mod tarbuild;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Whether a relative symlink target at `depth` directories below the root climbs above it.
fn climbs(depth: usize, target: &[u8]) -> bool {
    if target.starts_with(b"/") {
        return false;
    }
    let mut d = depth as i64;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                d -= 1;
                if d < 0 {
                    return true;
                }
            }
            _ => d += 1,
        }
    }
    false
}

fn check_tree(dir: &Path, depth: usize) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            assert!(
                !climbs(depth, target.as_os_str().as_bytes()),
                "{} -> {} climbs out of the layer",
                e.path().display(),
                target.display()
            );
        } else if ft.is_dir() {
            check_tree(&e.path(), depth + 1);
        }
    }
}

fuzz_target!(|input: tarbuild::Archive| {
    let bytes = input.to_bytes();
    let outer = tempfile::Builder::new()
        .prefix("rbox-fuzz-layer-")
        .tempdir()
        .unwrap();
    let root = outer.path().join("root");
    let canary = outer.path().join("canary");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&canary).unwrap();
    let _ = rbox_image::layer::apply(&bytes[..], &root);
    assert_eq!(
        names(outer.path()),
        ["canary", "root"],
        "something was created next to the layer"
    );
    assert!(
        names(&canary).is_empty(),
        "something was created in a sibling"
    );
    check_tree(&root, 0);
});
