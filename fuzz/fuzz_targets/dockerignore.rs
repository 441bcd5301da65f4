//! `.dockerignore` patterns: any text parses (bad patterns set aside), and matching any
//! path never panics; a path the file names literally, alone, is excluded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbox_builder::dockerignore::DockerIgnore;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the patterns' file, separated by `|`; the rest are paths to try.
    let (patterns, paths) = text.split_once('\n').unwrap_or((text, "a/b\nc"));
    let ignore = DockerIgnore::parse(&patterns.replace('|', "\n"));
    let _ = ignore.invalid_patterns();
    let _ = ignore.is_empty();
    for path in paths.lines() {
        let _ = ignore.is_excluded(path);
        let _ = ignore.may_contain_included(path);
    }
    // A single plain name excludes exactly that path.
    if !patterns.is_empty()
        && patterns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        let one = DockerIgnore::parse(patterns);
        assert!(
            one.is_excluded(patterns),
            "{patterns:?} does not exclude itself"
        );
    }
});
