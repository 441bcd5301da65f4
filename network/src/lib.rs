//! rbox-network: container networks. A bridge network is a Linux bridge with a private
//! subnet, an address allocator, and an nftables table for masquerading and published
//! ports; a container joins it through a network namespace of its own (kept by a path
//! under /run/netns) and a veth pair.

pub mod dns;
pub mod endpoint;
pub mod ipnet;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod store;

pub use endpoint::{Attachment, Endpoint};
pub use ipnet::Subnet;
pub use ports::PortMapping;
pub use store::{CreateOptions, Network, Networks};

/// Everything that can go wrong with networks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No network has that name or id.
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// The name is taken.
    #[error("network with name {0} already exists")]
    Exists(String),
    /// A `-p` that makes no sense.
    #[error("invalid argument --publish {0}")]
    InvalidPort(String),
    /// A host port someone else has.
    #[error("{0}")]
    PortInUse(String),
    /// An option value that makes no sense.
    #[error("invalid argument {flag}: {reason}")]
    Invalid {
        /// The flag.
        flag: String,
        /// Why.
        reason: String,
    },
    /// Refused while something uses it.
    #[error("{0}")]
    Conflict(String),
    /// The system said no: what was being done, and the OS error (its errno kept).
    #[error("{}", with_context(what, source))]
    Io {
        /// What was being done (a path, "network N: creating the veth pair").
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `nft` refused a ruleset: its exit status and what it said.
    #[error("nft exited with {}: {stderr}", code.map_or("a signal".to_owned(), |c| format!("status {c}")))]
    Nft {
        /// nft's exit code (none: killed by a signal).
        code: Option<i32>,
        /// What nft printed on standard error.
        stderr: String,
    },
    /// A network file of ours that doesn't parse.
    #[error("{}: {source}", path.display())]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

fn with_context(what: &str, e: &std::io::Error) -> String {
    if what.is_empty() {
        e.to_string()
    } else {
        format!("{what}: {e}")
    }
}

impl Error {
    /// An OS error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// The errno of an OS error, if this is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io("", e)
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::io("", std::io::Error::from(e))
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
