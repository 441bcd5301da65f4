//! What a container takes from the host: its root filesystem (an overlay), cgroups, the
//! sealed view of rbox's binary, its network namespace and veths, namespaces joined from
//! another container, volume filling, tree copying.

pub mod cgroup;
pub mod dns;
pub mod fill;
pub mod net;
pub mod pod;
pub mod rootfs;
pub mod sealed;
pub mod shared;
pub mod tree;
