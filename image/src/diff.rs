//! What writing a layer from a directory produced. The writer itself is the builder's
//! (`builder/src/layer.rs`): it reads an upper directory by directory fds, never by path, so
//! a running container changing it can't send the walk onto the host.

use crate::digest::Digest;

/// What writing a layer produced.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The layer blob's digest (the tar is stored uncompressed: it is also the diff ID).
    pub digest: Digest,
    /// The blob's size.
    pub size: u64,
    /// Bytes of regular file content.
    pub content_size: u64,
}
