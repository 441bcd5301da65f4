//! The subset of the Kubernetes API types rbox reads and writes.
//!
//! Written by hand rather than taken from a generated crate (k8s-openapi is about 100k lines
//! of every kind and version): these are the kinds and fields rbox acts on, each field here
//! has a meaning in the plan, and a field not here is reported when read.

mod config;
mod meta;
mod pod;
mod volume;
mod workload;

pub use config::*;
pub use meta::*;
pub use pod::*;
pub use volume::*;
pub use workload::*;
