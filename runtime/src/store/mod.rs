//! Containers and volumes on disk: paths, locks, names, configurations, states, logs, and
//! the events journal.
//! Loading is a pure read; correcting what a dead monitor left is the verbs' business
//! (`ops::lifecycle::reconcile`).

pub mod containers;
pub mod events;
pub mod logs;
pub mod pods;
pub mod process;
pub mod volumes;
