//! Volume commands: volume create, ls, inspect, rm, prune.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_runtime::ops::inspect::VolumeJson;
use rbox_runtime::Containers;

use crate::each::{collect_each, exit, print_each};
use crate::format::print_table;
use crate::CliResult;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect(NamesArgs),
    /// Remove volumes (refused while a container uses them).
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused anonymous volumes (-a: unused named ones too).
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Set metadata (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// The volume's name (a random one if none).
    name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only show names.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Volumes.
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't complain about volumes that don't exist.
    #[arg(short, long)]
    force: bool,
    /// Volumes.
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove unused named volumes too.
    #[arg(short, long)]
    all: bool,
    /// Don't ask for confirmation.
    #[arg(short, long)]
    force: bool,
}

pub fn run(root: &Path, cmd: VolumeCommand) -> CliResult {
    let containers = Containers::open(root)?;
    let mut out = io::stdout().lock();
    match cmd {
        VolumeCommand::Create(a) => {
            let labels: BTreeMap<String, String> = a
                .label
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            let v = containers.create_volume(a.name.as_deref(), labels)?;
            writeln!(out, "{}", v.name)?;
        }
        VolumeCommand::Ls(a) => {
            let vols = containers.volumes()?;
            if a.quiet {
                for v in vols {
                    writeln!(out, "{}", v.name)?;
                }
            } else {
                let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
                rows.extend(vols.into_iter().map(|v| vec!["local".to_string(), v.name]));
                print_table(&mut out, &rows)?;
            }
        }
        VolumeCommand::Inspect(a) => {
            let (list, failed) = collect_each(&a.names, |n| {
                containers
                    .volume(n)
                    .map(|v| serde_json::to_value(VolumeJson::new(&containers, v)))
                    .map(Result::unwrap_or_default)
            });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&list).expect("json")
            )?;
            return Ok(exit(failed));
        }
        VolumeCommand::Rm(a) => {
            drop(out);
            return print_each(&a.names, |n| match containers.remove_volume(n) {
                Ok(()) => Ok(Some(n.to_owned())),
                Err(_) if a.force && containers.volume(n).is_err() => Ok(None),
                Err(e) => Err(e),
            });
        }
        VolumeCommand::Prune(a) => {
            if !a.force {
                eprint!("WARNING! This will remove {} volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ",
                    if a.all { "all local" } else { "anonymous local" });
                let mut answer = String::new();
                io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let gone = containers.prune_volumes(a.all)?;
            if !gone.is_empty() {
                writeln!(out, "Deleted Volumes:")?;
                for g in gone {
                    writeln!(out, "{g}")?;
                }
                writeln!(out)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
