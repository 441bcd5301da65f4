//! The verbs: create, the lifecycle (start, stop, kill, rm, wait, and the reconcile of
//! dead monitors that they call), exec, cp, top, stats, prune.

pub mod copy;
pub mod create;
pub mod exec;
pub mod lifecycle;
pub mod prune;
pub mod stats;
pub mod top;
