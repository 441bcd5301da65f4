//! A subset of the Kubernetes API types, read from manifests and written for a cluster.
//!
//! [`parse`] reads manifests (with warnings for what it reads past), [`validate()`] refuses
//! what the API server would refuse, [`plan()`] turns the objects into what the engine runs,
//! [`rollout`] keeps a Deployment's revisions, and [`generate()`] writes YAML back from what
//! runs here. Only [`engine`] runs containers and touches the host.
//!
//! - [`types`]: the API types, by hand (see there why), with [`Quantity`] and [`IntOrString`].
//! - `yaml`, [`parse`]: a serde deserializer over positioned YAML nodes, so that every field
//!   not read is a warning with its path and line, and a wrong value an error with both.
//! - [`validate()`], [`names`]: Kubernetes' refusals and name rules.
//! - [`naming`]: template hashes, ReplicaSet and pod names, the labels Kubernetes adds.
//! - [`plan`](mod@plan): workloads, their pods resolved (argv rule, env, volumes, probes,
//!   resources), Services with the workloads they select, claims.
//! - [`rollout`]: revisions, `rollout history` and `undo`, the rolling-update step order.
//! - [`generate`](mod@generate) (with `emit`): YAML for a cluster from a neutral description
//!   of what runs.
//! - [`engine`]: the plan run here, each pod an rbox pod (rbox-runtime's pods), converging
//!   on what runs at each play. The one module that acts on the host.

mod base64;
mod emit;
pub mod engine;
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
