//! Positions in compose files, the loader's errors and its warnings.

use std::fmt;
use std::sync::Arc;

/// Where a node of a compose file is: the file's name as given (or `-` for stdin), its line
/// (1-based) and column (1-based). A node made by the loader (a default) has line 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn new(file: &Arc<str>, line: usize, column: usize) -> Pos {
        Pos {
            file: file.clone(),
            line,
            column,
        }
    }

    /// A position for something the loader made rather than read (a default, a merged value).
    pub fn synthetic(file: &str) -> Pos {
        Pos {
            file: Arc::from(file),
            line: 0,
            column: 0,
        }
    }

    /// `file:line` (no column), as compose names the line of a variable or a key.
    pub fn line_only(&self) -> String {
        if self.line == 0 {
            self.file.to_string()
        } else {
            format!("{}:{}", self.file, self.line)
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// Everything that stops a load. Each message is one line naming the file (and line and
/// column where the problem has one).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{pos}: {message}")]
    Value { pos: Pos, message: String },
    #[error("{pos}: required variable {name} is missing a value: {message}", pos = pos.line_only())]
    Required {
        pos: Pos,
        name: String,
        message: String,
    },
    #[error("{pos}: invalid interpolation format for {text:?}: {message}", pos = pos.line_only())]
    Interpolation {
        pos: Pos,
        text: String,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    EnvFile {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Discovery(String),
    #[error("{pos}: service {service:?}: {message}", pos = pos.line_only())]
    Service {
        pos: Pos,
        service: String,
        message: String,
    },
    #[error("{pos}: {message}", pos = pos.line_only())]
    Invalid { pos: Pos, message: String },
}

impl Error {
    pub(crate) fn value(pos: &Pos, message: impl Into<String>) -> Error {
        Error::Value {
            pos: pos.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn service(pos: &Pos, service: &str, message: impl Into<String>) -> Error {
        Error::Service {
            pos: pos.clone(),
            service: service.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Something the caller should print and the load goes on past: an unknown key, an unset
/// variable, an obsolete attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// `file:line` where the warning has a place, else the file alone or empty.
    pub place: String,
    pub message: String,
}

impl Warning {
    pub fn at(pos: &Pos, message: impl Into<String>) -> Warning {
        Warning {
            place: pos.line_only(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.place, self.message)
        }
    }
}

/// The warnings of one load, deduplicated (a variable unset in ten places is named once per
/// place, an identical warning only once).
#[derive(Debug, Default)]
pub struct Warnings(pub Vec<Warning>);

impl Warnings {
    pub fn push(&mut self, w: Warning) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }
}
