//! The image store seen from outside: what other OCI tools think of it, what bad input
//! does to it, and what concurrency and kill -9 leave behind.

mod harness;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::{busybox_tarball, raw_tar, write_file, TestRoot};
use tar::EntryType::{Link, Regular, Symlink};

/// `find`'s view of a tree: path, type, mode, owner, link target, size.
fn tree(dir: &std::path::Path) -> String {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%p %y %m %U:%G %l %s\n"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    lines.sort();
    // Directory sizes depend on the filesystem, not the content.
    lines
        .iter()
        .map(|l| {
            if l.split(' ').nth(1) == Some("d") {
                l.rsplit_once(' ').unwrap().0.to_owned()
            } else {
                (*l).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn other_oci_tools_accept_the_store() {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    let layout = t.path().join("images");

    let out = Command::new("skopeo")
        .arg("inspect")
        .arg(format!(
            "oci:{}:docker.io/library/busybox:latest",
            layout.display()
        ))
        .output()
        .expect("skopeo is installed");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Os"], "linux");
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

    let out = Command::new("oci-image-tool")
        .args([
            "validate",
            "--type",
            "image",
            "--ref",
            "name=docker.io/library/busybox:latest",
        ])
        .arg(&layout)
        .output()
        .expect("oci-image-tool is installed");
    assert!(
        out.status.success(),
        "oci-image-tool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let bundle = tempfile::tempdir().unwrap();
    let dest = bundle.path().join("b");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!(
            "{}:docker.io/library/busybox:latest",
            layout.display()
        ))
        .arg(&dest)
        .output()
        .expect("umoci is installed");
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snaps = t.snapshots();
    assert_eq!(snaps.len(), 1);
    let ours = tree(&t.path().join("snapshots").join(&snaps[0]).join("fs"));
    assert!(ours.contains("./bin/sh f 755 0:0"), "{ours}");
    assert_eq!(tree(&dest.join("rootfs")), ours);
}

#[test]
fn compressed_and_plain_tarballs_give_the_same_layer() {
    let t = TestRoot::new();
    let tar = busybox_tarball();
    let scratch = tempfile::tempdir().unwrap();
    let gz = scratch.path().join("rootfs.tar.gz");
    let zst = scratch.path().join("rootfs.tar.zst");
    assert!(Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c {0} > {1} && zstd -q -c {0} > {2}",
            tar.display(),
            gz.display(),
            zst.display()
        ))
        .status()
        .unwrap()
        .success());
    for (file, name) in [(&tar, "a:plain"), (&gz, "a:gz"), (&zst, "a:zst")] {
        t.ok([
            std::ffi::OsStr::new("import"),
            file.as_os_str(),
            name.as_ref(),
        ]);
    }
    let layers = |name: &str| {
        let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", name])).unwrap();
        v[0]["RootFS"]["Layers"].clone()
    };
    assert_eq!(layers("a:plain"), layers("a:gz"));
    assert_eq!(layers("a:plain"), layers("a:zst"));
    // One unpacked snapshot serves all three.
    assert_eq!(t.snapshots().len(), 1);
    let manifest_types = |name: &str| {
        let v: serde_json::Value = serde_json::from_str(&t.ok(["image", "inspect", name])).unwrap();
        let layer = v[0]["Manifest"]["Layers"][0].as_str().unwrap().to_owned();
        layer
    };
    assert_ne!(manifest_types("a:plain"), manifest_types("a:gz"));
    t.assert_blobs_match_digests();
}

fn refused_import(entries: &[(tar::EntryType, &str, &str, &[u8])], entry: &str) -> String {
    let t = TestRoot::new();
    let scratch = tempfile::tempdir().unwrap();
    let file = write_file(scratch.path(), "evil.tar", &raw_tar(entries));
    let (code, err) = t.fails([
        std::ffi::OsStr::new("import"),
        file.as_os_str(),
        "evil:1".as_ref(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{entry:?}")),
        "error doesn't name {entry}: {err}"
    );
    assert!(
        err.contains("evil.tar"),
        "error doesn't name the file: {err}"
    );
    assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
    assert!(
        t.snapshots().is_empty(),
        "snapshots left: {:?}",
        t.snapshots()
    );
    assert!(t.leftovers().is_empty(), "tmp left: {:?}", t.leftovers());
    assert_eq!(t.ok(["images", "-q"]), "");
    // And nothing was written where the entries pointed.
    assert!(!scratch.path().join("evil").exists());
    err
}

#[test]
fn a_dot_dot_entry_is_refused_by_name() {
    refused_import(
        &[(Regular, "ok", "", b"x"), (Regular, "../evil", "", b"x")],
        "../evil",
    );
}

#[test]
fn an_absolute_entry_is_taken_relative_to_the_image_root() {
    // As docker and containerd apply a layer: `/tmp/x` is the image's /tmp/x, never the
    // host's; a `..` after the slash is still refused.
    let t = TestRoot::new();
    let scratch = tempfile::tempdir().unwrap();
    let file = write_file(
        scratch.path(),
        "abs.tar",
        &raw_tar(&[(Regular, "/tmp/rbox-abs-entry", "", b"x")]),
    );
    t.ok([
        std::ffi::OsStr::new("import"),
        file.as_os_str(),
        "abs:1".as_ref(),
    ]);
    assert!(!std::path::Path::new("/tmp/rbox-abs-entry").exists());
    let snaps = t.snapshots();
    assert_eq!(snaps.len(), 1);
    let inside = t
        .path()
        .join("snapshots")
        .join(&snaps[0])
        .join("fs/tmp/rbox-abs-entry");
    assert_eq!(fs::read(inside).unwrap(), b"x");
    refused_import(&[(Regular, "/../tmp/evil", "", b"x")], "/../tmp/evil");
}

#[test]
fn escaping_links_are_refused_by_name() {
    refused_import(&[(Symlink, "up", "../../../../../tmp", b"")], "up");
    refused_import(&[(Link, "hard", "../../../etc/passwd", b"")], "hard");
    let err = refused_import(
        &[
            (Symlink, "etc", "/etc", b""),
            (Regular, "etc/evil", "", b"x"),
        ],
        "etc/evil",
    );
    assert!(err.contains("symlink"), "{err}");
}

#[test]
fn an_unknown_image_is_named_in_the_error() {
    let t = TestRoot::new();
    let (code, err) = t.fails(["image", "inspect", "nosuch:1.0"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such image: nosuch:1.0"), "{err}");
    let (_, err) = t.fails(["tag", "nosuch", "other"]);
    assert!(err.contains("no such image: nosuch"), "{err}");
    let (_, err) = t.fails(["rmi", "nosuch"]);
    assert!(err.contains("no such image: nosuch"), "{err}");
}

#[test]
fn a_full_disk_during_ingest_leaves_no_partial_blob() {
    let tar = busybox_tarball();
    // Room for the store's skeleton, not for the layer.
    let t = TestRoot::on_tmpfs(512 * 1024);
    let (code, err) = t.fails([
        std::ffi::OsStr::new("import"),
        tar.as_os_str(),
        "big:1".as_ref(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
    assert!(t.leftovers().is_empty(), "tmp left: {:?}", t.leftovers());
    assert!(t.snapshots().is_empty());
    assert_eq!(t.ok(["images", "-q"]), "");
}

#[test]
fn concurrent_imports_into_one_root_all_succeed() {
    let t = TestRoot::new();
    let tar = busybox_tarball();
    let children: Vec<_> = (0..6)
        .map(|i| {
            t.cmd([
                std::ffi::OsStr::new("import"),
                tar.as_os_str(),
                format!("c:{i}").as_ref(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listing = t.ok(["images"]);
    for i in 0..6 {
        assert!(
            listing
                .lines()
                .any(|l| l.split_whitespace().take(2).eq(["c", &i.to_string()])),
            "c:{i} missing:\n{listing}"
        );
    }
    assert_eq!(t.snapshots().len(), 1);
    t.assert_blobs_match_digests();
}

#[test]
fn kill_9_during_import_leaves_a_store_that_opens() {
    let t = TestRoot::new();
    t.busybox("keep:1");
    let tar = busybox_tarball();
    let gz = tempfile::tempdir().unwrap();
    let gz = gz.path().join("rootfs.tar.gz");
    assert!(Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -1 -c {} > {}", tar.display(), gz.display()))
        .status()
        .unwrap()
        .success());
    // A simple deterministic spread of kill points across the import's life.
    let mut killed = 0;
    for i in 0..24u64 {
        let mut child = t
            .cmd([
                std::ffi::OsStr::new("import"),
                gz.as_os_str(),
                format!("k:{i}").as_ref(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros((i * 7919) % 40_000));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let st = child.wait().unwrap();
        if st.signal() == Some(9) {
            killed += 1;
        }
        // Whatever happened, the store opens and holds only whole blobs.
        let listing = t.ok(["images"]);
        assert!(listing.contains("keep"), "{listing}");
        t.assert_blobs_match_digests();
        for snap in t.snapshots() {
            assert!(
                t.path()
                    .join("snapshots")
                    .join(&snap)
                    .join("info.json")
                    .exists(),
                "half snapshot {snap}"
            );
        }
        // Every listed image is complete.
        for id in t.ok(["images", "-q"]).lines() {
            t.ok(["image", "inspect", id]);
        }
    }
    assert!(killed > 0, "no import was killed midway");
    t.ok(["image", "prune", "-f"]);
    assert!(t.leftovers().is_empty(), "prune left {:?}", t.leftovers());
    // Every snapshot left belongs to an image.
    t.ok(["rmi", "-f", "keep:1"]);
    for i in 0..24 {
        let _ = t.run(["rmi", &format!("k:{i}")]);
    }
    t.ok(["image", "prune", "-f"]);
    assert!(t.snapshots().is_empty(), "{:?}", t.snapshots());
    assert!(t.blobs().is_empty(), "{:?}", t.blobs());
    let _ = fs::remove_file(&gz);
}
