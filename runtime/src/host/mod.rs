//! What a container takes from the host: its root filesystem (an overlay), cgroups, the
//! sealed view of rbox's binary, its network namespace and veths, processes by pid.

pub mod cgroup;
pub mod net;
pub mod process;
pub mod rootfs;
pub mod sealed;
