//! rbox-runtime: containers made from images in the store.
//!
//! A container is created from an image and options ([`create`]), run by a small monitor
//! process of its own ([`monitor`]) through libcontainer, and acted on from its state on
//! disk ([`lifecycle`], [`containers`]) — there is no daemon.

pub mod attach;
pub mod cgroup;
pub mod container;
pub mod containers;
pub mod copy;
pub mod create;
pub mod error;
pub mod etc;
pub mod exec;
pub mod executor;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod net;
pub mod process;
pub mod prune;
pub mod rootfs;
pub mod sealed;
pub mod seccomp;
pub mod spec;
pub mod stats;
pub mod top;
pub mod user;
pub mod volumes;

pub use container::{ContainerConfig, State, Status};
pub use containers::{Container, Containers};
pub use create::RunOptions;
pub use error::{Error, Result};

/// The current time as RFC 3339 with nanoseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
