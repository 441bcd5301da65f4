//! Attacks from the security review (issue: an image must never reach the host), build side:
//! each test performs one attack end to end with the real binary and asserts it fails.

mod harness;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::TestRoot;

fn busybox() -> TestRoot {
    let t = TestRoot::new();
    t.busybox("busybox:latest");
    t
}

/// A build context with `files` (path, content).
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let p = d.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    d
}

#[allow(dead_code)]
fn build(t: &TestRoot, ctx: &Path, args: &[&str]) -> (i32, String, String) {
    let mut full: Vec<&OsStr> = vec![OsStr::new("build")];
    full.extend(args.iter().map(OsStr::new));
    full.push(ctx.as_os_str());
    t.status(full)
}

/// `rbox build` of `dockerfile` in an empty context with its address space limited to
/// 1 GiB; returns its exit status (`None`: killed by a signal), stderr and how long it took.
fn build_limited(t: &TestRoot, dockerfile: &str) -> (Option<i32>, String, Duration) {
    let ctx = context(&[("Dockerfile", dockerfile)]);
    let mut c = t.cmd([OsStr::new("build"), "-t".as_ref(), "bomb".as_ref()]);
    c.arg(ctx.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    unsafe {
        c.pre_exec(|| {
            let gib = 1 << 30;
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, gib, gib)
                .map_err(std::io::Error::from)
        });
    }
    let started = Instant::now();
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn expansion_nested_fifty_thousand_deep_is_refused_not_a_crash() {
    let t = busybox();
    let n = 50_000;
    let word = format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
    let (code, err, took) = build_limited(&t, &format!("FROM busybox\nENV a={word}\n"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Dockerfile:2:") && err.contains("nested more than 64 deep"),
        "{err}"
    );
    assert!(
        err.len() < 2000,
        "the error quotes the whole word: {}",
        err.len()
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!t.ok(["images"]).contains("bomb"));
}

#[test]
fn a_variable_doubled_line_after_line_is_refused_at_the_size_limit() {
    let t = busybox();
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(100));
    for _ in 0..24 {
        df.push_str("ENV A=${A}${A}\n");
    }
    df.push_str("RUN true\n");
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    // 100 × 2^14 bytes is the first value over 1 MiB: line 2 + 14.
    assert!(
        err.contains("Dockerfile:16:") && err.contains("expanded word is over"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // The same through ARG, and many variables of just under the limit each.
    let mut df = format!("FROM busybox\nARG A={}\n", "a".repeat(1000));
    for _ in 0..24 {
        df.push_str("ARG A=${A}${A}\n");
    }
    let (code, err, _) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("expanded word is over"), "{err}");
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..10 {
        df.push_str("ENV A=${A}${A}\n");
    }
    for i in 0..40 {
        df.push_str(&format!("ENV B{i}=${{A}}\n"));
    }
    let (code, err, _) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ENV and ARG values would take"), "{err}");
}

#[test]
fn a_growing_replacement_repeated_is_refused_quickly() {
    let t = busybox();
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..12 {
        df.push_str("ENV A=${A//a/aaaaaaaa}\n");
    }
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    // 1000 × 8^3 is under 1 MiB, × 8^4 over: line 2 + 4.
    assert!(
        err.contains("Dockerfile:6:") && err.contains("expanded word is over"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    // A pattern that costs the square of the value's length is stopped as well.
    let mut df = format!("FROM busybox\nENV A={}\n", "a".repeat(1000));
    for _ in 0..7 {
        df.push_str("ENV A=${A}${A}\n");
    }
    df.push_str("ENV B=${A//*b/c}\n");
    let (code, err, took) = build_limited(&t, &df);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Dockerfile:10:") && err.contains("pattern matching"),
        "{err}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
}
