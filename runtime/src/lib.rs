//! rbox-runtime: containers made from images in the store.
//!
//! It will own the OCI runtime spec, the overlay rootfs, the monitor process, lifecycle
//! state, logs, volumes and resource limits. It holds no code yet.
