//! A subset of the Kubernetes API types, read from manifests and written for a cluster.
//!
//! [`parse`] reads manifests (with warnings for what it reads past), [`validate`] refuses
//! what the API server would refuse, [`plan()`] turns the objects into what the engine runs,
//! [`rollout`] keeps a Deployment's revisions, and [`generate()`] writes YAML back from what
//! runs here.

mod error;
mod intstr;
mod object;
mod parse;
mod quantity;
pub mod types;
mod yaml;

pub use error::{Error, Problem, Warning};
pub use intstr::IntOrString;
pub use object::{Object, Resource};
pub use parse::{parse, Parsed};
pub use quantity::{Quantity, QuantityError};
