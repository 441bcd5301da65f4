//! The registry client's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the image store (a blob that doesn't match its digest lands here too).
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    /// The registry could not be reached, or the connection broke.
    #[error("registry {registry}: {message}")]
    Transport {
        /// The registry host.
        registry: String,
        /// What the HTTP client said.
        message: String,
    },
    /// The registry answered with an error.
    #[error("{what}: {message}")]
    Registry {
        /// What was asked for (a reference, a blob).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error code (`MANIFEST_UNKNOWN`, …), if it gave one.
        code: Option<String>,
        /// The registry's message.
        message: String,
    },
    /// The registry refused our credentials, or wants some and we have none.
    #[error("registry {registry}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// Why.
        message: String,
    },
    /// A manifest or index this client can't use.
    #[error("{0}")]
    Manifest(String),
    /// Content that is not what it was announced as.
    #[error("{what}: {message}")]
    Content {
        /// Which blob or manifest.
        what: String,
        /// How it differs.
        message: String,
    },
    /// The credentials file can't be read or written.
    #[error("{}: {source}", path.display())]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The registries configuration can't be read or is malformed.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An I/O error with no single path.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Whether the registry said that what was asked for doesn't exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Registry { status: 404, .. })
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
