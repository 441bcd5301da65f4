//! The verbs: create, the lifecycle (start, stop, kill, rm, wait, and the reconcile of
//! dead monitors that they call), exec, cp, top, stats, prune; `ps` rows, log queries,
//! the inspect documents, the image and network verbs that need containers, `--pull`,
//! `stats`' rounds, `system prune`.

pub mod attach;
pub mod copy;
pub mod create;
pub mod diff;
pub mod events;
pub mod exec;
pub mod export;
pub mod health;
pub mod images;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
pub mod namespaces;
pub mod networks;
pub mod pause;
pub mod pod;
pub mod prune;
pub mod ps;
pub mod rootfs_access;
pub mod run;
pub mod sampler;
pub mod stats;
pub mod system;
pub mod top;
pub mod update;
