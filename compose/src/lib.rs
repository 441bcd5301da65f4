//! Compose files: found, merged, interpolated and checked into one typed project.
//!
//! [`load`] reads what a command line names ([`Options`]) into a [`Project`] and the warnings
//! to print. [`graph`] gives the start and stop order, [`names`] the names, labels and config
//! hash of what the engine creates, [`output`] the `config` command's forms, and
//! [`profiles::enable`] the services a command names.
//!
//! The load, in order: [`discover`] picks the files and the project directory; [`dotenv`]
//! reads `.env` or `--env-file`; each file is parsed by [`node`] into a tree whose nodes keep
//! file:line:column (anchors, aliases and `<<` merge keys applied), interpolated by
//! [`interp`], its relative paths resolved by [`paths`], its `include`s and `extends` applied
//! ([`loader`]), and the files merged by [`merge`]; then [`convert`] types the tree with
//! [`service`] and [`project`] (and [`ports`], [`mounts`], [`build`], [`health`], [`deploy`],
//! [`parts`], [`units`], all reading through [`de`]), [`profiles`] filters it and
//! [`validate`] checks what no single key can.

pub mod build;
pub mod convert;
pub mod de;
pub mod deploy;
pub mod discover;
pub mod dotenv;
pub mod engine;
pub mod error;
pub mod graph;
pub mod health;
pub mod interp;
pub mod loader;
pub mod merge;
pub mod mounts;
pub mod names;
pub mod node;
pub mod output;
pub mod parts;
pub mod paths;
pub mod ports;
pub mod profiles;
pub mod project;
pub mod service;
pub mod units;
pub mod validate;

pub use error::{Error, Pos, Warning};
pub use loader::{load, Loaded, Options};
pub use project::Project;
pub use service::Service;
