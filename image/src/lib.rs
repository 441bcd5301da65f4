//! rbox-image: the image store.
//!
//! An OCI image layout on disk with blobs verified before they are committed, references
//! normalized as Docker does, layers applied safely into snapshots keyed by chain ID, and
//! garbage collection. Other OCI tools (skopeo, umoci, oci-image-tool) read the store as it is,
//! but for the layers of incremental rebuilds, kept spliced ([`spliced`]) until saved or
//! pushed.

pub mod archive;
pub mod check;
pub mod compression;
pub mod config;
pub mod diff;
pub mod digest;
pub mod error;
pub mod gc;
pub mod image;
pub mod import;
pub mod layer;
pub mod limits;
pub mod reference;
pub mod snapshot;
pub mod spliced;
pub mod store;
pub mod trash;

pub use config::ImageConfig;
pub use digest::Digest;
pub use error::{Error, Result};
pub use image::{Image, ImageSummary, Removal};
pub use reference::Reference;
pub use store::Store;
