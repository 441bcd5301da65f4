//! The runtime's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong running containers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the networks.
    #[error(transparent)]
    Network(#[from] rbox_network::Error),
    /// From the image store.
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    /// No container has that name, id or id prefix.
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix matching several containers.
    #[error("multiple containers match {0:?}: use more of the id")]
    AmbiguousContainer(String),
    /// A name already taken.
    #[error("the container name \"/{name}\" is already in use by container \"{id}\": remove (or rename) that container to reuse the name")]
    NameInUse {
        /// The name.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// A name docker would refuse.
    #[error("invalid container name ({0}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// An option value that makes no sense.
    #[error("invalid argument {flag}: {reason}")]
    InvalidOption {
        /// The flag, e.g. `--memory`.
        flag: String,
        /// Why.
        reason: String,
    },
    /// Neither the image nor the command line gives a command.
    #[error("no command specified")]
    NoCommand,
    /// The user named by `-u` or the image is not in the image's passwd/group files.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    /// The group named by `-u` is not in the image's group file.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// The command is not in the image (exit 127): a name not found in $PATH, or a path
    /// to nothing.
    #[error("{}", not_found(.0))]
    CommandNotFound(String),
    /// The command exists but can't be run (exit 126).
    #[error("exec: {0:?}: permission denied")]
    CommandNotExecutable(String),
    /// An operation the container's state doesn't allow.
    #[error("{0}")]
    Conflict(String),
    /// Something of the runtime's own failed.
    #[error("{0}")]
    Runtime(String),
    /// The OCI runtime (libcontainer) failed while doing `what`; its error kept whole.
    #[error("{what}: {source}")]
    Oci {
        /// What was being done.
        what: &'static str,
        /// libcontainer's error.
        #[source]
        source: Box<libcontainer::error::LibcontainerError>,
    },
    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An I/O error with no single path.
    #[error(transparent)]
    PlainIo(#[from] io::Error),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The exit code `rbox run` ends with for this error, as Docker's: 127 for a command
    /// that isn't there, 126 for one that can't be run, 125 for everything else.
    pub fn run_exit_code(&self) -> u8 {
        match self {
            Error::CommandNotFound(_) => 127,
            Error::CommandNotExecutable(_) => 126,
            _ => 125,
        }
    }
}

/// Docker's words for a command that isn't there.
fn not_found(command: &str) -> String {
    if command.contains('/') {
        format!("exec: {command:?}: stat {command}: no such file or directory")
    } else {
        format!("exec: {command:?}: executable file not found in $PATH")
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::PlainIo(e.into())
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
        self.map_err(|e| Error::io(path, e.into()))
    }
}
