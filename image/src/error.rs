//! The image store's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the image store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference that is not a valid image reference.
    #[error("invalid reference format: {input:?}: {reason}")]
    InvalidReference {
        /// The string the user gave.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A digest string that is not `sha256:` followed by 64 hex digits.
    #[error("invalid digest {0:?}: expected sha256: and 64 lowercase hex digits")]
    InvalidDigest(String),
    /// No image matches the reference or id.
    #[error("no such image: {0}")]
    NoSuchImage(String),
    /// An image id prefix that matches more than one image.
    #[error("image id prefix {0:?} is ambiguous: it matches several images")]
    AmbiguousId(String),
    /// A blob missing from the store.
    #[error("blob {0} is missing from the store")]
    MissingBlob(String),
    /// Content whose hash is not the digest it was announced with.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the content was announced with.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },
    /// A layer whose uncompressed content does not match the image config's diff_id.
    #[error(
        "layer {layer}: uncompressed content is {actual}, but the image config says {expected}"
    )]
    DiffIdMismatch {
        /// The layer's blob digest.
        layer: String,
        /// The diff_id in the config.
        expected: String,
        /// The digest of the uncompressed stream.
        actual: String,
    },
    /// A tar entry that would land outside the snapshot, or is otherwise unsafe.
    #[error("unsafe layer entry {entry:?}: {reason}")]
    UnsafeEntry {
        /// The entry's name as it appears in the archive.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A layer over a limit of [`crate::limits::Limits`] (a decompression bomb, an absurd
    /// header).
    #[error("layer refused: {0}")]
    LayerLimit(String),
    /// A malformed layer archive.
    #[error("bad layer archive: {0}")]
    BadArchive(String),
    /// A media type the store can't handle.
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// A JSON document (manifest, config, index) that doesn't decode.
    #[error("malformed {what}: {source}")]
    Json {
        /// Which document.
        what: String,
        /// The decoder's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A document over the size the store accepts.
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Which document.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An image that is in use and can't be removed without force.
    #[error("{0}")]
    Conflict(String),
    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path being worked on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An I/O error with no single path.
    #[error(transparent)]
    PlainIo(#[from] io::Error),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a path to I/O errors.
pub(crate) trait IoContext<T> {
    /// Attaches `path` to an I/O error.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, io::Error::from(e)))
    }
}
