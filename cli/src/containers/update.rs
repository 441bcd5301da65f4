//! `update`: change a container's limits and restart policy.

use std::path::Path;

use clap::Args;
use rbox_runtime::ops::update::{update as update_one, UpdateOptions};
use rbox_runtime::Containers;

use crate::each::print_each;
use crate::CliResult;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 64m), effective at once.
    #[arg(short, long)]
    memory: Option<String>,
    /// Memory and swap together (-1: unlimited swap).
    #[arg(long)]
    memory_swap: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Maximum number of processes (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy: no, always, on-failure[:N], unless-stopped.
    #[arg(long)]
    restart: Option<String>,
    /// Memory soft limit (e.g. 32m).
    #[arg(long)]
    memory_reservation: Option<String>,
    /// The CPUs the container may run on: 0-2,4.
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Containers to update.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn update(root: &Path, a: UpdateArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let o = UpdateOptions {
        memory: a.memory,
        memory_swap: a.memory_swap,
        cpus: a.cpus,
        cpu_shares: a.cpu_shares,
        pids_limit: a.pids_limit,
        restart: a.restart,
        memory_reservation: a.memory_reservation,
        cpuset_cpus: a.cpuset_cpus,
    };
    print_each(&a.containers, |name| {
        update_one(&containers, name, &o).map(|()| Some(name.to_owned()))
    })
}
