//! `rbox network …`: create, ls, inspect, rm, prune, connect, disconnect.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_network::{CreateOptions, Networks};
use rbox_runtime::ops::networks;
use rbox_runtime::Containers;

use serde_json::Value;

use crate::each::{collect_each, print_each};
use crate::format::{self, go_time, labels_text, InspectFormat, Listing};
use crate::template;
use crate::{CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON.
    Inspect(InspectArgs),
    /// Remove networks (refused while a container is on one).
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove every network no container uses.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Subnet in CIDR notation (a free /24 when not given).
    #[arg(long)]
    subnet: Option<String>,
    /// The gateway's address (the subnet's first address when not given).
    #[arg(long)]
    gateway: Option<String>,
    /// Driver: only bridge.
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// No route out of the host.
    #[arg(long)]
    internal: bool,
    /// Set metadata (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// The network's name.
    name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// Filter: name=, id=, label=KEY[=VALUE], driver=, type=custom|builtin.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Full ids.
    #[arg(long)]
    no_trunc: bool,
    /// A Go template for each row ("{{.Name}} {{.Driver}}"), "table TEMPLATE" for aligned
    /// columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print each network through a Go template ('{{.IPAM.Config}}'), or "json" for the
    /// list on one line.
    #[arg(short, long)]
    format: Option<String>,
    /// Networks, by name or id.
    #[arg(required = true)]
    names: Vec<String>,
}

/// `network ls`' default table and docker's column titles.
const LISTING: Listing = Listing {
    default: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    headers: &[
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("Labels", "LABELS"),
        ("CreatedAt", "CREATED AT"),
    ],
};

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not error if a network does not exist.
    #[arg(short, long)]
    force: bool,
    /// Networks, by name or id.
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Don't ask.
    #[arg(short, long)]
    force: bool,
    /// Only what matches: until=TIME (created before), label=KEY[=VALUE], label!=KEY[=VALUE].
    #[arg(long)]
    filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The container's address on the network.
    #[arg(long)]
    ip: Option<String>,
    /// Other names for the container on the network.
    #[arg(long)]
    alias: Vec<String>,
    /// The network.
    network: String,
    /// The container.
    container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Accepted for docker's sake.
    #[arg(short, long)]
    force: bool,
    /// The network.
    network: String,
    /// The container.
    container: String,
}

pub fn run(root: &Path, cmd: NetworkCommand) -> CliResult {
    let nets = Networks::open(root);
    let mut out = std::io::stdout().lock();
    match cmd {
        NetworkCommand::Create(a) => {
            if a.driver != "bridge" {
                return Err(CliError::Failed(format!(
                    "invalid argument --driver: {:?} is not supported: use bridge",
                    a.driver
                )));
            }
            let net = nets.create(&CreateOptions {
                name: a.name,
                subnet: a.subnet,
                gateway: a.gateway,
                internal: a.internal,
                labels: a.label,
            })?;
            networks::created(root, &net);
            writeln!(out, "{}", net.id)?;
        }
        NetworkCommand::Ls(a) => {
            let pairs =
                format::filter_pairs(&a.filter, &["name", "id", "label", "driver", "type"])?;
            let mut list = networks::list(&nets)?;
            list.retain(|n| {
                let builtin = ["bridge", "host", "none"].contains(&n.name.as_str());
                format::filters_pass(&pairs, |k, v| match k {
                    "name" => n.name.contains(v),
                    "id" => n.id.starts_with(v),
                    "label" => format::label_matches(&n.labels, v),
                    "driver" => n.driver == v,
                    _ => (v == "builtin") == builtin && ["builtin", "custom"].contains(&v),
                })
            });
            if a.quiet {
                for n in &list {
                    let id = if a.no_trunc { &n.id[..] } else { &n.id[..12] };
                    writeln!(out, "{id}")?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<format::Row> = list
                .iter()
                .map(|n| {
                    let id = if a.no_trunc { &n.id[..] } else { &n.id[..12] };
                    let fields = template::object([
                        ("ID", Value::String(id.to_owned())),
                        ("Name", Value::String(n.name.clone())),
                        ("Driver", Value::String(n.driver.clone())),
                        ("Scope", Value::String("local".into())),
                        ("IPv6", Value::String("false".into())),
                        ("Internal", Value::String(n.internal.to_string())),
                        ("Labels", Value::String(labels_text(&n.labels))),
                        ("CreatedAt", Value::String(go_time(&n.created))),
                    ]);
                    format::Row {
                        fields,
                        labels: n.labels.clone(),
                    }
                })
                .collect();
            let text = format::render_rows(a.format.as_deref(), &LISTING, &rows)?;
            out.write_all(text.as_bytes())?;
        }
        NetworkCommand::Inspect(a) => {
            drop(out);
            let format = match InspectFormat::parse(a.format.as_deref()) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let containers = Containers::open(root)?;
            let (all, failed) = collect_each(&a.names, |name| {
                // As a JSON value: its keys sorted, as rbox has always printed them.
                nets.get(name).map(|n| {
                    serde_json::to_value(networks::NetworkJson::new(&nets, &containers, n))
                        .unwrap_or_default()
                })
            });
            return format.write(&all, failed);
        }
        NetworkCommand::Rm(a) => {
            networks::prepare_removal(&Containers::open(root)?);
            drop(out);
            return print_each(&a.names, |name| match networks::remove(&nets, name) {
                Ok(n) => {
                    networks::destroyed(root, &n);
                    Ok(Some(name.to_owned()))
                }
                Err(_) if a.force && nets.get(name).is_err() => Ok(None),
                Err(e) => Err(e),
            });
        }
        NetworkCommand::Prune(a) => {
            let filter = format::prune_filter(&a.filter, format::PRUNE_FILTERS)?;
            let removed = networks::prune(&Containers::open(root)?, &filter)?;
            if !removed.is_empty() {
                writeln!(out, "Deleted Networks:")?;
                for n in removed {
                    writeln!(out, "{n}")?;
                }
            }
        }
        NetworkCommand::Connect(a) => {
            let containers = Containers::open(root)?;
            let id = containers.resolve(&a.container)?;
            rbox_runtime::net::connect(&containers, &id, &a.network, a.ip.as_deref(), &a.alias)?;
        }
        NetworkCommand::Disconnect(a) => {
            let containers = Containers::open(root)?;
            let id = containers.resolve(&a.container)?;
            rbox_runtime::net::disconnect(&containers, &id, &a.network)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A network's document as `network inspect` prints it.
pub fn inspect_one(root: &Path, containers: &Containers, name: &str) -> Result<Value, CliError> {
    let nets = Networks::open(root);
    let n = nets.get(name)?;
    Ok(serde_json::to_value(networks::NetworkJson::new(&nets, containers, n)).unwrap_or_default())
}
