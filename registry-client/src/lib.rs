//! rbox-registry: the OCI distribution client (pull, push, login).
//!
//! Blocking HTTP (ureq) with streamed bodies: a blob goes from the socket through a hasher
//! into the store's temp file and is committed only when its size and digest match, so
//! memory stays flat whatever the layer size and the store never holds an unverified
//! byte. Manifests and configs keep the bytes they arrived with, so an image pulled and
//! pushed again keeps its digests.

pub mod auth;
pub mod client;
pub mod compress;
pub mod config;
pub mod error;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
pub mod search;

pub use auth::{AuthFile, Credentials};
pub use client::{Client, Options};
pub use config::RegistriesConf;
pub use error::{Error, Result};
pub use manifest::Platform;
pub use progress::{Event, Progress};
pub use pull::{pull, Pulled};
pub use push::{push, Pushed};
