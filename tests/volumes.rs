//! Volumes and mounts: data that outlives containers, bind mounts, tmpfs, copy-up,
//! --volumes-from, and bad input that creates nothing.

mod harness;

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use harness::{busybox, busybox_tarball, image_with_config, inspect, TestRoot};
use serde_json::json;

fn volumes(t: &TestRoot) -> Vec<String> {
    t.ok(["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_named_volume_carries_data_from_one_container_to_the_next() {
    let t = busybox();
    t.ok([
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-v",
            "shared:/data",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    assert_eq!(volumes(&t), vec!["shared"]);
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["volume", "inspect", "shared"])).unwrap();
    assert_eq!(v[0]["Name"], "shared");
    let mountpoint = v[0]["Mountpoint"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(),
        "kept\n"
    );
    // Read-only: writes fail with EROFS, reads work.
    let (code, _, err) = t.status([
        "run",
        "--rm",
        "-v",
        "shared:/data:ro",
        "busybox",
        "sh",
        "-c",
        "cat /data/f; echo x > /data/g",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    t.ok(["volume", "rm", "shared"]);
    assert!(volumes(&t).is_empty());
}

#[test]
fn data_survives_kill_9_and_rm_of_its_containers() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "writer",
        "-v",
        "precious:/data",
        "busybox",
        "sh",
        "-c",
        "echo one > /data/f; sync; sleep 300",
    ]);
    assert!(harness::eventually(5, || t.ok([
        "run",
        "--rm",
        "-v",
        "precious:/data",
        "busybox",
        "cat",
        "/data/f"
    ]) == "one\n"));
    t.ok(["kill", "writer"]);
    t.ok(["rm", "-v", "writer"]);
    // A named volume is never removed with its container, not even with -v.
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-v",
            "precious:/data",
            "busybox",
            "cat",
            "/data/f"
        ]),
        "one\n"
    );
}

#[test]
fn bind_mounts_of_directories_and_files_with_spaces() {
    let t = busybox();
    let host = tempfile::tempdir().unwrap();
    let dir = host.path().join("my data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), "from host\n").unwrap();
    let spec = format!("{}:/mnt/d", dir.display());
    let out = t.ok([
        "run",
        "--rm",
        "-v",
        &spec,
        "busybox",
        "sh",
        "-c",
        "cat /mnt/d/in.txt; echo back > /mnt/d/out.txt",
    ]);
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "back\n"
    );
    let file = format!("{}:/etc/motd:ro", dir.join("in.txt").display());
    assert_eq!(
        t.ok(["run", "--rm", "-v", &file, "busybox", "cat", "/etc/motd"]),
        "from host\n"
    );
    // A missing host path is created as a directory, as docker's -v does.
    let missing = host.path().join("new/deeper");
    let spec = format!("{}:/x", missing.display());
    t.ok(["run", "--rm", "-v", &spec, "busybox", "touch", "/x/made"]);
    assert!(missing.join("made").is_file());
    // --mount type=bind does not create it.
    let gone = host.path().join("absent");
    let (code, _, err) = t.status([
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/x", gone.display()),
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        err.contains("does not exist") && err.contains("--mount"),
        "{err}"
    );
    assert!(!gone.exists());
    // A relative host path resolves against the current directory.
    let out = t
        .cmd([
            "run",
            "--rm",
            "-v",
            "./my data:/rel",
            "busybox",
            "cat",
            "/rel/in.txt",
        ])
        .current_dir(host.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from host\n");
}

#[test]
fn tmpfs_contents_vanish_on_stop() {
    let t = busybox();
    t.ok([
        "run",
        "-d",
        "--name",
        "scratchy",
        "--tmpfs",
        "/scratch:size=1m",
        "busybox",
        "sleep",
        "300",
    ]);
    t.ok([
        "exec",
        "scratchy",
        "sh",
        "-c",
        "echo x > /scratch/f; echo y > /kept",
    ]);
    t.ok(["stop", "-t", "0", "scratchy"]);
    t.ok(["start", "scratchy"]);
    let out = t.ok([
        "exec",
        "scratchy",
        "sh",
        "-c",
        "ls /scratch; cat /kept; df /scratch | tail -1",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("y"), "{out}");
    assert!(lines.next().unwrap().starts_with("tmpfs"), "{out}");
    let m = &inspect(&t, "scratchy")["Mounts"][0];
    assert_eq!(m["Type"], "tmpfs");
    assert_eq!(m["Destination"], "/scratch");
    t.ok(["rm", "-f", "scratchy"]);
}

/// busybox plus a `/data` directory owned by 33:33 holding a file and a link, in one layer.
fn seeded_image(t: &TestRoot) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seeded.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let mut base = tar::Archive::new(std::fs::File::open(busybox_tarball()).unwrap());
    for e in base.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        b.append_data(&mut h, path, &mut e).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o750);
    h.set_uid(33);
    h.set_gid(33);
    h.set_size(0);
    b.append_data(&mut h, "data/", &b""[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o640);
    h.set_uid(33);
    h.set_gid(33);
    h.set_size(5);
    b.append_data(&mut h, "data/seed", &b"seed\n"[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    b.append_link(&mut h, "data/link", "seed").unwrap();
    b.finish().unwrap();
    drop(b);
    t.ok([
        OsStr::new("import"),
        out.as_os_str(),
        OsStr::new("seeded:1"),
    ]);
}

#[test]
fn a_new_volume_is_filled_with_the_images_content_keeping_owners() {
    let t = busybox();
    seeded_image(&t);
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "-v",
            "seedvol:/data",
            "seeded:1",
            "cat",
            "/data/link"
        ]),
        "seed\n"
    );
    let data = t.path().join("volumes/seedvol/_data");
    let seed = std::fs::metadata(data.join("seed")).unwrap();
    assert_eq!(
        (seed.uid(), seed.gid(), seed.permissions().mode() & 0o7777),
        (33, 33, 0o640)
    );
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap().to_str(),
        Some("seed")
    );
    let root = std::fs::metadata(&data).unwrap();
    assert_eq!(
        (root.uid(), root.permissions().mode() & 0o7777),
        (33, 0o750)
    );
    // A volume that isn't empty is not filled again.
    t.ok([
        "run",
        "--rm",
        "-v",
        "seedvol:/data",
        "seeded:1",
        "sh",
        "-c",
        "rm /data/seed; echo mine > /data/own",
    ]);
    let out = t.ok([
        "run",
        "--rm",
        "-v",
        "seedvol:/data",
        "seeded:1",
        "ls",
        "/data",
    ]);
    assert_eq!(out, "link\nown\n");
}

#[test]
fn a_data_volume_container_lends_its_volumes() {
    let t = busybox();
    image_with_config(
        &t,
        "busybox",
        "datavol:1",
        json!({"Volumes": {"/var/lib/mysql": {}}, "Cmd": ["/bin/true"]}),
    );
    t.ok(["create", "--name", "store", "datavol:1"]);
    let mounts = inspect(&t, "store")["Mounts"].clone();
    assert_eq!(mounts[0]["Destination"], "/var/lib/mysql");
    assert_eq!(mounts[0]["Type"], "volume");
    t.ok([
        "run",
        "--rm",
        "--volumes-from",
        "store",
        "busybox",
        "sh",
        "-c",
        "echo row > /var/lib/mysql/t",
    ]);
    assert_eq!(
        t.ok([
            "run",
            "--rm",
            "--volumes-from",
            "store",
            "busybox",
            "cat",
            "/var/lib/mysql/t"
        ]),
        "row\n"
    );
    let (code, _, err) = t.status([
        "run",
        "--rm",
        "--volumes-from",
        "store:ro",
        "busybox",
        "touch",
        "/var/lib/mysql/u",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("Read-only file system"), "{err}");
    // The anonymous volume is in use by the data container: not removable.
    let vol = mounts[0]["Name"].as_str().unwrap().to_owned();
    let (code, _, err) = t.status(["volume", "rm", &vol]);
    assert_eq!(code, 1);
    assert!(err.contains("in use"), "{err}");
    // rm without -v keeps it; it is then unused and prune takes it.
    t.ok(["rm", "store"]);
    assert_eq!(volumes(&t), vec![vol.clone()]);
    t.ok(["volume", "prune", "-f"]);
    assert!(volumes(&t).is_empty());
}

#[test]
fn rm_v_removes_anonymous_volumes_only() {
    let t = busybox();
    t.ok([
        "create",
        "--name",
        "a",
        "-v",
        "/anon",
        "-v",
        "named:/named",
        "busybox",
        "true",
    ]);
    assert_eq!(volumes(&t).len(), 2);
    t.ok(["rm", "-v", "a"]);
    assert_eq!(volumes(&t), vec!["named"]);
    // Named volumes are pruned only with --all.
    t.ok(["volume", "prune", "-f"]);
    assert_eq!(volumes(&t), vec!["named"]);
    t.ok(["volume", "prune", "-f", "--all"]);
    assert!(volumes(&t).is_empty());
    // system prune --volumes takes unused anonymous volumes too.
    t.ok(["create", "--name", "b", "-v", "/anon2", "busybox", "true"]);
    t.ok(["rm", "b"]);
    assert_eq!(volumes(&t).len(), 1);
    let out = t.ok(["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    assert!(volumes(&t).is_empty());
}

#[test]
fn volume_commands_create_label_list_and_refuse_bad_names() {
    let t = busybox();
    assert_eq!(
        t.ok(["volume", "create", "--label", "tier=db", "dbdata"]),
        "dbdata\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&t.ok(["volume", "inspect", "dbdata"])).unwrap();
    assert_eq!(v[0]["Labels"]["tier"], "db");
    assert_eq!(v[0]["Driver"], "local");
    let anon = t.ok(["volume", "create"]);
    assert_eq!(anon.trim().len(), 64);
    let ls = t.ok(["volume", "ls"]);
    assert!(
        ls.starts_with("DRIVER    VOLUME NAME\n") && ls.contains("local     dbdata"),
        "{ls}"
    );
    for bad in ["../x", "a/b", "x"] {
        let (code, _, err) = t.status(["volume", "create", bad]);
        assert_ne!(code, 0);
        assert!(err.contains("not a valid volume name"), "{bad}: {err}");
    }
    let (code, _, err) = t.status(["volume", "rm", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such volume: nosuch"), "{err}");
    assert_eq!(t.status(["volume", "rm", "-f", "nosuch"]).0, 0);
}

#[test]
fn bad_mounts_are_refused_and_create_nothing() {
    let t = busybox();
    let host = tempfile::tempdir().unwrap();
    let dangling = host.path().join("dangling");
    std::os::unix::fs::symlink(host.path().join("nowhere"), &dangling).unwrap();
    let dangling_spec = format!("{}:/x", dangling.display());
    let fresh = host.path().join("should-not-exist");
    for (args, needle) in [
        (vec!["-v", "vol:relative/path"], "absolute"),
        (vec!["-v", "vol:/proc/x"], "/proc"),
        (vec!["-v", "vol:/sys"], "/sys"),
        (vec!["-v", "vol:/"], "over /"),
        (vec!["-v", "a/b:/x"], "not a valid volume name"),
        (vec!["-v", "..:/x:zz"], "unknown mode"),
        (
            vec!["--volumes-from", "nosuch"],
            "no such container: nosuch",
        ),
        (vec!["-v", dangling_spec.as_str()], "dangling"),
    ] {
        let mut full = vec!["run", "--rm", "-v", "/anon-first"];
        let fresh_spec = format!("{}:/fresh", fresh.display());
        full.extend(["-v", fresh_spec.as_str()]);
        full.extend(args.iter());
        full.extend(["busybox", "true"]);
        let (code, _, err) = t.status(&full);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            t.container_ids().is_empty(),
            "{args:?}: a container was left"
        );
        assert!(
            volumes(&t).is_empty(),
            "{args:?}: volumes were left: {:?}",
            volumes(&t)
        );
        assert!(!fresh.exists(), "{args:?}: the bind source was created");
    }
}

#[test]
fn a_mount_point_behind_a_symlink_in_the_image_stays_inside_the_container() {
    let t = busybox();
    let host = tempfile::tempdir().unwrap();
    let target = host.path().join("host-target");
    std::fs::create_dir(&target).unwrap();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM busybox\nRUN ln -s {} /escape && ln -s ../../../../{} /escape2\n",
            target.display(),
            target.display()
        ),
    )
    .unwrap();
    t.ok([
        OsStr::new("build"),
        OsStr::new("-q"),
        OsStr::new("-t"),
        OsStr::new("linky:1"),
        ctx.path().as_os_str(),
    ]);
    // The volume is mounted where the link leads inside the container, as Docker does.
    let inside = format!("{}/x", target.display());
    let out = t.ok([
        "run",
        "--rm",
        "-v",
        "linkvol:/escape",
        "linky:1",
        "sh",
        "-c",
        &format!("echo safe > /escape/x; cat {inside}"),
    ]);
    assert_eq!(out, "safe\n");
    let spec = format!("{}:/escape2/f", ctx.path().join("Dockerfile").display());
    t.ok(["run", "--rm", "-v", &spec, "linky:1", "true"]);
    // Nothing reached the host's directory of that name.
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn nocopy_leaves_a_new_volume_empty_and_propagation_is_checked() {
    let t = busybox();
    let ls = |v: &str| {
        t.ok([
            "run",
            "--rm",
            "--network",
            "none",
            v,
            "busybox",
            "ls",
            "/etc",
        ])
    };
    // A new volume is filled from the image unless nocopy says otherwise.
    assert!(ls("-vfilled:/etc").contains("passwd"));
    assert_eq!(ls("-vempty:/etc:ro,nocopy"), "");
    assert_eq!(
        ls("--mount=type=volume,src=empty2,dst=/etc,volume-nocopy"),
        ""
    );
    assert!(ls("--mount=type=volume,src=filled2,dst=/etc,volume-nocopy=false").contains("passwd"));
    let (code, err) = t.fails(["run", "-v", "/tmp:/x:nocopy", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("nocopy"), "{err}");
    let (code, err) = t.fails([
        "run",
        "--mount",
        "type=bind,src=/tmp,dst=/x,bind-propagation=rshared",
        "busybox",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(err.contains("bind-propagation=rshared"), "{err}");
    assert_eq!(t.ok(["ps", "-aq"]), "");
    t.ok(["volume", "rm", "filled", "empty", "empty2", "filled2"]);
}
