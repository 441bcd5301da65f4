//! rbox-runtime: containers made from images in the store.
//!
//! A container is created from an image and options ([`create`]), run by a small monitor
//! process of its own ([`monitor`]) through libcontainer, and acted on from its state on
//! disk ([`lifecycle`], [`containers`]) — there is no daemon.

pub mod error;
pub mod host;
pub mod model;
pub mod oci;
pub mod ops;
pub mod store;
pub mod supervise;

pub use host::{cgroup, net, rootfs, sealed};
pub use model::container;
pub use oci::{etc, executor, seccomp, spec, user};
pub use ops::{copy, create, exec, lifecycle, prune, stats, top};
pub use store::{containers, logs, process, volumes};
pub use supervise::{attach, monitor};

pub use container::{ContainerConfig, State, Status};
pub use containers::{Container, Containers};
pub use create::RunOptions;
pub use error::{Error, Result};

/// The current time as RFC 3339 with nanoseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
