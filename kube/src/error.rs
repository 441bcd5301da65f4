//! What goes wrong reading, checking and planning manifests, and the warnings that do not stop it.

use std::fmt;

/// A problem that stops the manifests from being used.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// The text is not YAML.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A field holds a value of the wrong type or a value that cannot be read (a bad enum,
    /// a Quantity that is not one).
    #[error("{file}:{line}: {path}: {message}", path = if path.is_empty() { "(document)" } else { path.as_str() })]
    Value {
        file: String,
        line: usize,
        path: String,
        message: String,
    },
    /// Objects the Kubernetes API server would refuse, or that cannot be planned (a missing
    /// ConfigMap key): every one found, not only the first.
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
    /// A rollout request that the history cannot satisfy (an unknown revision).
    #[error("{0}")]
    Rollout(String),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One refused field of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    /// The object, as kubectl names it: `Deployment/echo`.
    pub object: String,
    /// The field's path, as kubectl prints it: `spec.template.spec.containers[0].image`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}: {}",
            self.file, self.line, self.object, self.field, self.message
        )
    }
}

/// Something in the input that rbox reads past: an unsupported field or kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}
