//! rbox-registry: the OCI distribution client (pull, push, login).
//!
//! It will own reference resolution against registries, authentication and streaming blob
//! transfer into and out of the image store. It holds no code yet.
