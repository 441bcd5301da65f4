//! Containers and volumes on disk: paths, locks, names, configurations, states, logs.
//! Loading is a pure read; correcting what a dead monitor left is the verbs' business
//! (`ops::lifecycle::reconcile`).

pub mod containers;
pub mod logs;
pub mod process;
pub mod volumes;
