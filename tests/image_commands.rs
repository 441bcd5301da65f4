//! Image commands as a user types them: images, tag, rmi, image inspect, image prune,
//! save and load, and the rbuild/rrun names.

mod harness;

use std::ffi::OsStr;
use std::process::Command;

use harness::{rbox_bin, TestRoot};

fn rows(listing: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .skip(1)
        .map(|l| {
            // Columns are separated by runs of 3+ spaces (CREATED has single spaces).
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn image_id(t: &TestRoot, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", name])).unwrap();
    v[0]["Id"].as_str().unwrap().to_owned()
}

#[test]
fn images_lists_like_docker() {
    let t = TestRoot::new();
    assert_eq!(
        t.ok(["images"]),
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
    t.busybox("busybox:latest");
    let listing = t.ok(["images"]);
    let header = listing.lines().next().unwrap();
    assert!(
        header.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{header}"
    );
    let r = rows(&listing);
    assert_eq!(r.len(), 1, "{listing}");
    assert_eq!(r[0][0], "busybox");
    assert_eq!(r[0][1], "latest");
    let id = image_id(&t, "busybox");
    assert_eq!(r[0][2], id["sha256:".len()..]["".len()..12]);
    assert!(r[0][3].ends_with("ago"), "{listing}");
    assert!(r[0][4].ends_with("MB"), "{listing}");
    assert_eq!(t.ok(["images", "-q"]).trim(), &id[7..19]);
    assert_eq!(t.ok(["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(t.ok(["image", "ls", "-q", "busybox"]).trim(), &id[7..19]);
    assert_eq!(t.ok(["images", "-q", "other"]).trim(), "");
}

#[test]
fn tag_then_rmi_untags_then_deletes() {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let id = image_id(&t, "busybox");
    t.ok(["tag", "busybox", "localhost:5000/example/echo:1"]);
    t.ok(["image", "tag", &id[7..15], "mine"]);
    let listing = t.ok(["images"]);
    let r = rows(&listing);
    assert_eq!(r.len(), 3, "{listing}");
    assert!(r.iter().all(|row| row[2] == id[7..19]), "{listing}");
    assert!(r
        .iter()
        .any(|row| row[0] == "localhost:5000/example/echo" && row[1] == "1"));
    assert_eq!(image_id(&t, "localhost:5000/example/echo:1"), id);

    // Three tags: removing by id needs force.
    let (code, err) = t.fails(["rmi", &id[7..19]]);
    assert_eq!(code, 1);
    assert!(err.contains("must be forced"), "{err}");

    let out = t.ok(["rmi", "mine"]);
    assert_eq!(out, "Untagged: mine:latest\n");
    let out = t.ok(["rmi", "localhost:5000/example/echo:1"]);
    assert_eq!(out, "Untagged: localhost:5000/example/echo:1\n");
    assert!(!t.blobs().is_empty());
    let out = t.ok(["rmi", "busybox"]);
    assert_eq!(out, format!("Untagged: busybox:latest\nDeleted: {id}\n"));
    assert!(t.blobs().is_empty(), "{:?}", t.blobs());
    assert!(t.snapshots().is_empty(), "{:?}", t.snapshots());

    t.busybox("busybox:latest");
    t.ok(["tag", "busybox", "two"]);
    let id = image_id(&t, "busybox");
    let out = t.ok(["rmi", "-f", &id]);
    assert!(
        out.contains("Untagged: two:latest") && out.contains("Deleted:"),
        "{out}"
    );
    assert_eq!(t.ok(["images", "-q"]), "");
}

#[test]
fn a_moved_tag_leaves_a_dangling_image_that_prune_removes() {
    let t = TestRoot::new();
    t.busybox("app:1");
    let old = image_id(&t, "app:1");
    // Import the same tree again: a new image (new creation time) takes the tag.
    let tar = harness::busybox_tarball();
    t.ok([OsStr::new("import"), tar.as_os_str(), OsStr::new("app:1")]);
    let new = image_id(&t, "app:1");
    assert_ne!(old, new);
    let listing = t.ok(["images"]);
    let r = rows(&listing);
    assert_eq!(r.len(), 2, "{listing}");
    assert!(r
        .iter()
        .any(|row| row[0] == "<none>" && row[1] == "<none>" && row[2] == old[7..19]));
    let out = t.ok(["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {old}")), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(rows(&t.ok(["images"])).len(), 1);
    assert!(t
        .fails(["image", "inspect", &old])
        .1
        .contains("no such image"));
    // The layer both shared is still there for the image that remains.
    assert_eq!(t.snapshots().len(), 1);
    t.ok(["image", "prune", "-a", "-f"]);
    assert_eq!(t.ok(["images", "-q"]), "");
    assert!(t.blobs().is_empty());
}

#[test]
fn inspect_shows_dockers_fields() {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["image", "inspect", "busybox"])).unwrap();
    let i = &v[0];
    assert!(i["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(i["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(i["Size"].as_u64().unwrap() > 1_000_000);
    let (code, err) = t.fails(["image", "inspect", "busybox", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such image: nosuch"), "{err}");
}

#[test]
fn bad_references_are_refused_clearly() {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let (_, err) = t.fails(["tag", "busybox", "Bad/Name"]);
    assert!(
        err.contains("invalid reference format") && err.contains("\"Bad/Name\""),
        "{err}"
    );
    assert!(err.contains("lowercase"), "{err}");
    let (_, err) = t.fails(["tag", "busybox", "a@sha256:1234"]);
    assert!(err.contains("invalid reference format"), "{err}");
    assert_eq!(rows(&t.ok(["images"])).len(), 1);
}

#[test]
fn save_and_load_round_trip_between_roots() {
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    a.ok(["tag", "busybox", "localhost:5000/x/y:2"]);
    let id = image_id(&a, "busybox");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("images.tar");
    a.ok([
        OsStr::new("save"),
        "-o".as_ref(),
        archive.as_os_str(),
        "busybox".as_ref(),
        "localhost:5000/x/y:2".as_ref(),
    ]);

    // Other tools read it as an OCI archive and as a docker archive.
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!(
            "oci-archive:{}:docker.io/library/busybox:latest",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!(
            "docker-archive:{}:busybox:latest",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let b = TestRoot::new();
    let out = b.ok([OsStr::new("load"), "-i".as_ref(), archive.as_os_str()]);
    assert_eq!(
        out,
        "Loaded image: busybox:latest\nLoaded image: localhost:5000/x/y:2\n"
    );
    assert_eq!(image_id(&b, "busybox"), id);
    assert_eq!(image_id(&b, "localhost:5000/x/y:2"), id);
    assert_eq!(b.snapshots(), a.snapshots());
    b.assert_blobs_match_digests();
}

#[test]
fn a_docker_archive_from_skopeo_loads() {
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("docker.tar");
    let out = Command::new("skopeo")
        .arg("copy")
        .arg(format!(
            "oci:{}:docker.io/library/busybox:latest",
            a.path().join("images").display()
        ))
        .arg(format!(
            "docker-archive:{}:old/busybox:v1",
            archive.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = TestRoot::new();
    let out = b.ok([OsStr::new("load"), "-i".as_ref(), archive.as_os_str()]);
    assert_eq!(out, "Loaded image: old/busybox:v1\n");
    let layers = |t: &TestRoot, n: &str| {
        let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", n])).unwrap();
        v[0]["RootFS"]["Layers"].clone()
    };
    assert_eq!(layers(&a, "busybox"), layers(&b, "old/busybox:v1"));
    assert_eq!(b.snapshots(), a.snapshots());
}

#[test]
fn a_corrupt_blob_in_an_archive_is_refused_and_not_stored() {
    let a = TestRoot::new();
    a.busybox("busybox:latest");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("images.tar");
    a.ok([
        OsStr::new("save"),
        "-o".as_ref(),
        archive.as_os_str(),
        "busybox".as_ref(),
    ]);
    // Flip one byte inside the layer blob's content (the largest member).
    let mut bytes = std::fs::read(&archive).unwrap();
    let mut ar = tar::Archive::new(&bytes[..]);
    let (offset, name) = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .max_by_key(|e| e.size())
        .map(|e| {
            (
                e.raw_file_position() as usize,
                e.path().unwrap().display().to_string(),
            )
        })
        .unwrap();
    bytes[offset + 1000] ^= 0xff;
    std::fs::write(&archive, &bytes).unwrap();
    let b = TestRoot::new();
    let (code, err) = b.fails([OsStr::new("load"), "-i".as_ref(), archive.as_os_str()]);
    assert_eq!(code, 1);
    assert!(err.contains(&name) && err.contains("not sha256:"), "{err}");
    let hex = name.rsplit('/').next().unwrap();
    assert!(
        !b.blobs().contains(&hex.to_owned()),
        "the corrupt blob was stored"
    );
    assert!(b.leftovers().is_empty());
    assert_eq!(b.ok(["images", "-q"]), "");
}

#[test]
fn rbuild_and_rrun_are_rbox_build_and_run() {
    let dir = tempfile::tempdir().unwrap();
    for (name, verb) in [("rbuild", "build"), ("rrun", "run"), ("rbox", "images")] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(rbox_bin(), &link).unwrap();
        let out = Command::new(&link).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if name == "rbox" {
            assert!(
                out.status.success() && text.contains("Usage: rbox"),
                "{text}"
            );
        } else {
            // The verb is chosen by the name: `rbox <verb> --help`.
            assert!(
                text.contains(&format!("'{verb}'")) || text.contains(&format!("rbox {verb}")),
                "{name}: {text}"
            );
        }
    }
}
