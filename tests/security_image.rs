//! Attacks from the security review (issue: an image must never reach the host), image side:
//! each test performs one attack end to end with the real binary and asserts it fails.

mod harness;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;

use harness::{raw_tar, spawn_registry, write_file, TestRoot};
use sha2::Digest;

/// The most memory (KiB) any child of this test process has used so far, and the ceiling
/// the attacks must stay under: rbox itself needs a few tens of MiB; the attacks took GiBs.
fn children_peak_rss_kib() -> i64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss()
}
const MEMORY_CEILING_KIB: i64 = 300 * 1024;

fn assert_bounded(what: &str, stderr: &str) {
    // One short line or two, never the entry's name whole.
    assert!(
        stderr.len() < 2048,
        "{what}: {} bytes of stderr",
        stderr.len()
    );
    let peak = children_peak_rss_kib();
    assert!(
        peak < MEMORY_CEILING_KIB,
        "{what}: a child of the test used {peak} KiB"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A GNU long-name header (`././@LongLink`) whose size field is `size` as given.
fn long_name_header(size: [u8; 12]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.as_old_mut().size = size;
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// A gzipped layer of about 0.5 MB: the long-name header, then 512 MiB of name (gzip
/// members of 1 MiB each). A parser that believes the header reads the whole name into
/// memory, and an error naming the entry prints it.
fn long_name_bomb(size: [u8; 12]) -> Vec<u8> {
    let mut out = gzip(&long_name_header(size));
    let mib = gzip(&vec![b'n'; 1 << 20]);
    for _ in 0..512 {
        out.extend_from_slice(&mib);
    }
    out
}

/// Size fields the review found read as 0 by the old guard and as 12 GiB by the tar parser:
/// octal after a tab, and base-256 with a byte the parser skips.
fn disagreeing_sizes() -> Vec<(&'static str, [u8; 12])> {
    let twelve_gib: u64 = 12 << 30;
    let mut b256 = [0u8; 12];
    b256[0] = 0x80;
    b256[1] = 0xff;
    b256[4..].copy_from_slice(&twelve_gib.to_be_bytes());
    vec![("tab", *b"\t14000000000"), ("base-256", b256)]
}

/// A docker archive holding one image whose only layer is `layer` (any bytes).
fn docker_archive(layer: &[u8]) -> Vec<u8> {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let manifest = br#"[{"Config":"config.json","RepoTags":["evil:1"],"Layers":["layer.tar.gz"]}]"#;
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("manifest.json", &manifest[..]),
        ("config.json", &config[..]),
        ("layer.tar.gz", layer),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn assert_nothing_unpacked(t: &TestRoot) {
    assert!(t.snapshots().is_empty(), "snapshots: {:?}", t.snapshots());
    assert_eq!(t.ok(["images", "-q"]), "");
}

fn build_fails(t: &TestRoot, ctx: &Path) -> String {
    let (_, err) = t.fails([
        OsStr::new("build"),
        OsStr::new("-t"),
        OsStr::new("evil:1"),
        ctx.as_os_str(),
    ]);
    err
}

// ---------------------------------------------------------------------------------------
// The layer guard and the tar parser read header sizes alike.

#[test]
fn a_long_name_whose_size_readers_disagree_on_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    for (what, size) in disagreeing_sizes() {
        let t = TestRoot::new();
        let bomb = long_name_bomb(size);
        assert!(bomb.len() < 1 << 20);
        let file = write_file(dir.path(), &format!("{what}.tar.gz"), &bomb);

        // import
        let (code, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("e:1")]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("size field") && err.contains("ambiguous"),
            "{err}"
        );
        assert_bounded(&format!("import ({what})"), &err);
        assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
        assert_nothing_unpacked(&t);

        // load of an archive holding the layer
        let archive = write_file(dir.path(), "archive.tar", &docker_archive(&bomb));
        let (_, err) = t.fails([OsStr::new("load"), OsStr::new("-i"), archive.as_os_str()]);
        assert!(err.contains("ambiguous"), "{err}");
        assert_bounded(&format!("load ({what})"), &err);
        assert_nothing_unpacked(&t);

        // ADD of the layer in a build
        let ctx = tempfile::tempdir().unwrap();
        write_file(ctx.path(), "evil.tar.gz", &bomb);
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nADD evil.tar.gz /\n",
        )
        .unwrap();
        let err = build_fails(&t, ctx.path());
        assert!(err.contains("ambiguous"), "{err}");
        assert_bounded(&format!("ADD ({what})"), &err);
    }
}

#[test]
fn an_error_never_prints_an_entrys_whole_name() {
    // A plain GNU long name of 1 MiB (the most allowed) on an entry that is refused.
    let t = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    // (`..` gets it refused: an absolute name is the image root's, as docker takes it.)
    let name = format!("../{}", "n".repeat((1 << 20) - 4));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    // The builder refuses `..`; write the long name entry by hand.
    let mut long = tar::Header::new_gnu();
    long.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
    long.set_entry_type(tar::EntryType::GNULongName);
    long.set_size(name.len() as u64 + 1);
    long.set_mode(0o644);
    long.set_cksum();
    let mut data = name.clone().into_bytes();
    data.push(0);
    b.append(&long, &data[..]).unwrap();
    h.as_gnu_mut().unwrap().name[..5].copy_from_slice(b"short");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let file = write_file(dir.path(), "abs.tar", &b.into_inner().unwrap());
    let (_, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("e:1")]);
    assert!(err.contains("'..'"), "{err}");
    assert!(
        err.contains("nnnn") && err.contains("bytes in all"),
        "{err}"
    );
    assert_bounded("import", &err);
}

// ---------------------------------------------------------------------------------------
// Whiteouts name entries of their directory, never the directory or its parent.

/// Files planted where a whiteout of `..` would reach: in the store's tmp/, and beside it.
fn plant(t: &TestRoot) -> Vec<std::path::PathBuf> {
    let tmp = t.path().join("tmp");
    std::fs::create_dir_all(tmp.join("sibling")).unwrap();
    std::fs::create_dir_all(t.path().join("beside")).unwrap();
    vec![
        write_file(&tmp, "planted", b"keep"),
        write_file(&tmp.join("sibling"), "file", b"keep"),
        write_file(&t.path().join("beside"), "file", b"keep"),
    ]
}

fn assert_planted(files: &[std::path::PathBuf]) {
    for f in files {
        assert_eq!(
            std::fs::read(f).ok().as_deref(),
            Some(&b"keep"[..]),
            "{} was removed",
            f.display()
        );
    }
}

fn whiteout_attacks() -> Vec<(&'static str, Vec<u8>)> {
    use tar::EntryType::{Directory as D, Regular as F};
    let mut v = Vec::new();
    for name in [".wh...", ".wh..", "a/.wh...", ".wh..wh.plnk", ".wh."] {
        v.push((
            name,
            raw_tar(&[
                (D, "a/", "", b""),
                (F, "a/keep", "", b"x"),
                (F, name, "", b""),
            ]),
        ));
    }
    v.push((
        "a/.wh..wh..opq",
        raw_tar(&[(D, "a/", "", b""), (F, "a/.wh..wh..opq", "", b"content")]),
    ));
    v.push((
        "a/.wh..wh..opq/",
        raw_tar(&[(D, "a/", "", b""), (D, "a/.wh..wh..opq/", "", b"")]),
    ));
    v
}

#[test]
fn a_whiteout_of_dot_dot_is_refused_by_import_and_load_and_nothing_is_removed() {
    let t = TestRoot::new();
    let planted = plant(&t);
    let dir = tempfile::tempdir().unwrap();
    for (entry, layer) in whiteout_attacks() {
        let file = write_file(dir.path(), "wh.tar", &layer);
        let (code, err) = t.fails([OsStr::new("import"), file.as_os_str(), OsStr::new("w:1")]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(&format!("unsafe layer entry {entry:?}")),
            "{entry}: {err}"
        );
        assert_planted(&planted);
        let archive = write_file(dir.path(), "archive.tar", &docker_archive(&gzip(&layer)));
        let (_, err) = t.fails([OsStr::new("load"), OsStr::new("-i"), archive.as_os_str()]);
        assert!(
            err.contains(&format!("unsafe layer entry {entry:?}")),
            "{entry}: {err}"
        );
        assert_planted(&planted);
        assert_nothing_unpacked(&t);
    }
}

#[test]
fn a_whiteout_of_dot_dot_in_add_leaves_the_stores_tmp_alone() {
    let t = TestRoot::new();
    let planted = plant(&t);
    for (entry, layer) in whiteout_attacks() {
        let ctx = tempfile::tempdir().unwrap();
        write_file(ctx.path(), "evil.tar.gz", &gzip(&layer));
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nADD evil.tar.gz /\n",
        )
        .unwrap();
        let err = build_fails(&t, ctx.path());
        assert!(
            err.contains(&format!("unsafe layer entry {entry:?}")),
            "{entry}: {err}"
        );
        assert_planted(&planted);
    }
}

// ---------------------------------------------------------------------------------------
// `rbox load`: the archive's own tar is guarded as layers are.

#[test]
fn an_archive_with_a_huge_metadata_header_is_refused_by_load_in_bounded_memory() {
    let t = TestRoot::new();
    let dir = tempfile::tempdir().unwrap();
    let huge: u64 = 800 << 20;
    let mut field = [0u8; 12];
    field.copy_from_slice(format!("{huge:011o}\0").as_bytes());
    let mut pax = tar::Header::new_ustar();
    pax.set_path("PaxHeaders/x").unwrap();
    pax.set_entry_type(tar::EntryType::XHeader);
    pax.set_size(huge);
    pax.set_mode(0o644);
    pax.set_cksum();
    for (what, header, expect) in [
        (
            "long name",
            long_name_header(field),
            "metadata header of 838860800 bytes",
        ),
        (
            "pax",
            pax.as_bytes().to_vec(),
            "metadata header of 838860800 bytes",
        ),
        ("tab size", long_name_header(*b"\t14000000000"), "ambiguous"),
    ] {
        // The header, then 900 MiB of a sparse file (zeros, no disk).
        let path = write_file(dir.path(), "huge.tar", &header);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(900 << 20)
            .unwrap();
        let (code, err) = t.fails([OsStr::new("load"), OsStr::new("-i"), path.as_os_str()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(expect), "{what}: {err}");
        assert_bounded(&format!("load ({what})"), &err);
        assert!(t.blobs().is_empty(), "blobs left: {:?}", t.blobs());
        assert_nothing_unpacked(&t);
    }
}

// ---------------------------------------------------------------------------------------
// Pull: the same layers from a registry on loopback, spoken to in plain HTTP because its
// name resolves to loopback only (`localhost`, from /etc/hosts).

/// One HTTP/1.0 request to the registry on 127.0.0.1:`port`; the status and body.
fn http(port: u16, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, reply)
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// Puts an image whose only layer is `layer` (gzipped) into the registry as `repo:1`, blob
/// by blob, as another tool would push it.
fn push_raw(port: u16, repo: &str, layer: &[u8]) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    for blob in [&config[..], layer] {
        let (status, reply) = http(
            port,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            "application/octet-stream",
            b"",
        );
        assert_eq!(status, 202, "{reply}");
        let location = reply
            .lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .unwrap()
            .trim();
        let path = &location[location.find("/v2/").unwrap()..];
        let (status, reply) = http(
            port,
            "PUT",
            &format!("{path}&digest={}", sha256(blob)),
            "application/octet-stream",
            blob,
        );
        assert_eq!(status, 201, "{reply}");
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer), "size": layer.len()}],
    });
    let (status, reply) = http(
        port,
        "PUT",
        &format!("/v2/{repo}/manifests/1"),
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{reply}");
}

struct Registry(std::process::Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pull_refuses_the_same_layers_and_names_not_addresses_decide_nothing() {
    let t = TestRoot::new();
    let planted = plant(&t);
    let dir = tempfile::tempdir().unwrap();
    let (child, port) = spawn_registry(dir.path(), &[]);
    let _registry = Registry(child);
    let (_, size) = disagreeing_sizes().remove(0);
    let wh = whiteout_attacks().remove(0).1;
    push_raw(port, "evil/bomb", &long_name_bomb(size));
    push_raw(port, "evil/whiteout", &gzip(&wh));

    let (_, err) = t.fails(["pull", &format!("localhost:{port}/evil/bomb:1")]);
    assert!(err.contains("ambiguous"), "{err}");
    assert_bounded("pull", &err);
    let (_, err) = t.fails(["pull", &format!("localhost:{port}/evil/whiteout:1")]);
    assert!(err.contains("unsafe layer entry \".wh...\""), "{err}");
    assert_planted(&planted);
    assert_nothing_unpacked(&t);

    // A name that isn't loopback by its address gets HTTPS, which this registry doesn't
    // speak (`[::ffff:127.0.0.1]` reaches 127.0.0.1, but is not a loopback address).
    let (_, err) = t.fails([
        "pull",
        &format!("[::ffff:127.0.0.1]:{port}/evil/whiteout:1"),
    ]);
    assert!(err.contains("TLS") || err.contains("tls"), "{err}");
    assert_nothing_unpacked(&t);
}
