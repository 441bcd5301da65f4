//! A subset of the Kubernetes API types, read from manifests and written for a cluster.
//!
//! [`parse`] reads manifests (with warnings for what it reads past), [`validate`] refuses
//! what the API server would refuse, [`plan()`] turns the objects into what the engine runs,
//! [`rollout`] keeps a Deployment's revisions, and [`generate()`] writes YAML back from what
//! runs here.

mod base64;
mod emit;
mod error;
pub mod generate;
mod intstr;
pub mod names;
pub mod naming;
mod object;
mod parse;
pub mod plan;
mod quantity;
pub mod rollout;
pub mod types;
pub mod validate;
mod yaml;

pub use error::{Error, Problem, Warning};
pub use generate::generate;
pub use intstr::IntOrString;
pub use object::{Object, Resource};
pub use parse::{parse, Parsed};
pub use plan::plan;
pub use quantity::{Quantity, QuantityError};
pub use validate::validate;
