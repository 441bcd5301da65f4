//! A container's monitor: the spawn protocol between a verb and its monitor, the run and
//! restart loop, the stdio relay that `exec` shares, the health check it runs, and the one
//! teardown of a run.

pub mod attach;
pub mod attach_server;
pub mod health;
pub mod monitor;
pub mod protocol;
pub mod relay;
pub mod teardown;
