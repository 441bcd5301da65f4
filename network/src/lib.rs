//! rbox-network: container networks. A bridge network is a Linux bridge with a private
//! subnet, an address allocator, and an nftables table for masquerading and published
//! ports; a container joins it through a network namespace of its own (kept by a path
//! under /run/netns) and a veth pair.

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
    /// The system said no.
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
