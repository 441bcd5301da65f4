//! `rbox load`: any archive bytes are loaded into a fresh store or refused; afterwards the
//! store holds only blobs whose names are their digests, and nothing exists outside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

fuzz_target!(|data: &[u8]| {
    let outer = tempfile::Builder::new()
        .prefix("rbox-fuzz-load-")
        .tempdir()
        .unwrap();
    let root = outer.path().join("root");
    let store = rbox_image::Store::open(&root).unwrap();
    let _ = store.load(data);
    let names: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["root"], "something was created next to the store");
    let blobs = root.join("images/blobs/sha256");
    for e in std::fs::read_dir(&blobs).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            e.file_name().to_string_lossy(),
            "a blob's name is not its digest"
        );
    }
    // Whatever was loaded reads back.
    if let Ok(images) = store.images() {
        for i in images {
            let _ = store.image(&i.image.manifest_digest);
        }
    }
});
