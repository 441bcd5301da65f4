//! Helpers shared by the instruction tests.

use super::*;

pub(super) fn ok(text: &str) -> Dockerfile {
    match parse(text) {
        Ok(dockerfile) => dockerfile,
        Err(errors) => panic!("{text}\n{errors:#?}"),
    }
}

pub(super) fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(dockerfile) => panic!("{text} parsed: {dockerfile:#?}"),
        Err(errors) => errors,
    }
}

/// The single problem of `text`, as "line N: message".
pub(super) fn error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors[0].to_string()
}

/// The instructions of the only stage of `FROM x\n` + `body`.
pub(super) fn stage(body: &str) -> Vec<Instruction> {
    let dockerfile = ok(&format!("FROM x\n{body}"));
    assert_eq!(dockerfile.stages.len(), 1);
    dockerfile.stages[0]
        .instructions
        .iter()
        .map(|located| located.inner.clone())
        .collect()
}

/// The only instruction of `FROM x\n` + `body`.
pub(super) fn one(body: &str) -> Instruction {
    let mut all = stage(body);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
