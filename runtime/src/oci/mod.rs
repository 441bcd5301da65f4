//! The OCI side of a container, pure or nearly: its runtime spec, seccomp profile, the
//! user looked up in the image's files, the /etc files it gets, and the executor that
//! runs in its init before the workload.

pub mod caps;
pub mod etc;
pub mod executor;
pub mod host_options;
pub mod seccomp;
pub mod spec;
pub mod user;
