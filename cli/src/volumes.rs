//! Volume commands: volume create, ls, inspect, rm, prune.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_runtime::ops::inspect::VolumeJson;
use rbox_runtime::Containers;

use serde_json::Value;

use crate::each::{collect_each, print_each};
use crate::format::{self, labels_text, InspectFormat, Listing};
use crate::template;
use crate::CliResult;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect(InspectArgs),
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
    /// Filter: name=, label=KEY[=VALUE], driver=, dangling=true|false (used by no container).
    #[arg(short, long)]
    filter: Vec<String>,
    /// A Go template for each row ("{{.Name}} {{.Mountpoint}}"), "table TEMPLATE" for
    /// aligned columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print each volume through a Go template ('{{.Mountpoint}}'), or "json" for the
    /// list on one line.
    #[arg(short, long)]
    format: Option<String>,
    /// Volumes.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `volume ls`' default table and docker's column titles.
const LISTING: Listing = Listing {
    default: "{{.Driver}}\t{{.Name}}",
    headers: &[
        ("Name", "VOLUME NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
        ("Size", "SIZE"),
    ],
};

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
    /// Only what matches: label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long)]
    filter: Vec<String>,
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
            let pairs = format::filter_pairs(&a.filter, &["name", "label", "driver", "dangling"])?;
            let mut vols = containers.volumes()?;
            let mut failed = None;
            vols.retain(|v| {
                format::filters_pass(&pairs, |k, val| match k {
                    "name" => v.name.contains(val),
                    "label" => format::label_matches(&v.labels, val),
                    "driver" => val == "local",
                    _ => match (val, containers.volume_users(&v.name)) {
                        ("true" | "1", Ok(u)) => u.is_empty(),
                        ("false" | "0", Ok(u)) => !u.is_empty(),
                        (_, Err(e)) => {
                            failed = Some(crate::CliError::from(e));
                            false
                        }
                        _ => {
                            failed = Some(crate::CliError::Failed(format!(
                                "invalid filter 'dangling={val}'"
                            )));
                            false
                        }
                    },
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if a.quiet {
                for v in vols {
                    writeln!(out, "{}", v.name)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<format::Row> = vols
                .into_iter()
                .map(|v| {
                    let labels = v.labels.clone();
                    let doc =
                        serde_json::to_value(VolumeJson::new(&containers, v)).unwrap_or_default();
                    let get = |k: &str| doc.get(k).cloned().unwrap_or(Value::String(String::new()));
                    let fields = template::object([
                        ("Name", get("Name")),
                        ("Driver", get("Driver")),
                        ("Scope", get("Scope")),
                        ("Mountpoint", get("Mountpoint")),
                        ("Labels", Value::String(labels_text(&labels))),
                        ("Links", Value::String("N/A".into())),
                        ("Size", Value::String("N/A".into())),
                    ]);
                    format::Row { fields, labels }
                })
                .collect();
            let text = format::render_rows(a.format.as_deref(), &LISTING, &rows)?;
            out.write_all(text.as_bytes())?;
        }
        VolumeCommand::Inspect(a) => {
            drop(out);
            let format = match InspectFormat::parse(a.format.as_deref()) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let (list, failed) = collect_each(&a.names, |n| inspect_one(&containers, n));
            return format.write(&list, failed);
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
            let filter = format::prune_filter(&a.filter, &["label", "label!"])?;
            if !a.force {
                eprint!("WARNING! This will remove {} volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ",
                    if a.all { "all local" } else { "anonymous local" });
                let mut answer = String::new();
                io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let gone = containers.prune_volumes(a.all, &filter)?;
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

/// A volume's document as `volume inspect` prints it.
pub fn inspect_one(
    containers: &rbox_runtime::Containers,
    name: &str,
) -> Result<serde_json::Value, rbox_runtime::Error> {
    containers
        .volume(name)
        .map(|v| serde_json::to_value(VolumeJson::new(containers, v)))
        .map(Result::unwrap_or_default)
}
