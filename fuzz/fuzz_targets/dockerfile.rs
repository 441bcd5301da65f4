//! The Dockerfile syntax layer and instruction parsing: any text gives nodes or a
//! diagnostic with a line inside the text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.matches('\n').count() + 1;
    match rbox_builder::syntax::parse_nodes(text) {
        Ok((_, nodes)) => {
            let _ = nodes;
        }
        Err(d) => assert!(d.line <= lines, "diagnostic line {} of {lines}", d.line),
    }
    match rbox_builder::parse(text) {
        Ok(df) => {
            for (i, stage) in df.stages.iter().enumerate() {
                let _ = df.stage_index(&i.to_string());
                if let Some(name) = &stage.name {
                    assert!(df.stage_index(name).is_some());
                }
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in diags {
                assert!(d.line <= lines, "diagnostic line {} of {lines}", d.line);
            }
        }
    }
});
