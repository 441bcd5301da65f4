//! What a container is, as data: its configuration and state, its mounts and log options,
//! the options it is made from, and ids. No I/O beyond reading the clock and the kernel's
//! randomness; everything above depends on it, it depends on nothing of the crate's.

pub mod container;
pub mod detach_keys;
pub mod duration;
pub mod health;
pub mod host_options;
pub mod ids;
pub mod log_config;
pub mod mount;
pub mod namespaces;
pub mod options;
pub mod prune_filter;
