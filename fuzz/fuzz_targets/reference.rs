//! Image references: any text parses or is refused, never panics; a parsed reference
//! printed and parsed again is the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbox_image::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = Reference::parse(text) else {
        return;
    };
    let printed = r.to_string();
    let again = Reference::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} parsed, but its form {printed:?} does not: {e}"));
    assert_eq!(again, r, "{text:?} -> {printed:?}");
    let _ = r.familiar();
    let _ = r.familiar_name();
    let _ = r.with_tag("latest");
    let familiar = r.familiar();
    let f = Reference::parse(&familiar)
        .unwrap_or_else(|e| panic!("{text:?}: its familiar form {familiar:?} does not parse: {e}"));
    assert_eq!(f, r, "{text:?} -> familiar {familiar:?}");
});
