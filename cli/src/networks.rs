//! `rbox network …`: create, ls, inspect, rm, prune, connect, disconnect.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_network::store::DEFAULT_NETWORK;
use rbox_network::{CreateOptions, Network, Networks};
use rbox_runtime::Containers;
use serde_json::json;

use crate::{CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON.
    Inspect(NamesArgs),
    /// Remove networks (refused while a container is on one).
    #[command(alias = "remove")]
    Rm(NamesArgs),
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
    /// Full ids.
    #[arg(long)]
    no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Networks, by name or id.
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Don't ask.
    #[arg(short, long)]
    force: bool,
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
            writeln!(out, "{}", net.id)?;
        }
        NetworkCommand::Ls(a) => {
            let mut list = nets.list()?;
            if !list.iter().any(|n| n.name == DEFAULT_NETWORK) {
                if let Ok(d) = nets.get(DEFAULT_NETWORK) {
                    list.insert(0, d);
                }
            }
            if !a.quiet {
                writeln!(
                    out,
                    "{:<14} {:<20} {:<8} SCOPE",
                    "NETWORK ID", "NAME", "DRIVER"
                )?;
            }
            for n in list {
                let id = if a.no_trunc { &n.id[..] } else { &n.id[..12] };
                if a.quiet {
                    writeln!(out, "{id}")?;
                } else {
                    writeln!(out, "{id:<14} {:<20} {:<8} local", n.name, n.driver)?;
                }
            }
        }
        NetworkCommand::Inspect(a) => {
            let containers = Containers::open(root)?;
            let mut all = Vec::new();
            let mut failed = false;
            for name in &a.names {
                match nets.get(name) {
                    Ok(n) => all.push(inspect_json(&nets, &containers, &n)),
                    Err(e) => {
                        eprintln!("rbox: {e}");
                        failed = true;
                    }
                }
            }
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&all).unwrap_or_default()
            )?;
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        NetworkCommand::Rm(a) => {
            rbox_runtime::net::sweep_addresses(&Containers::open(root)?);
            let mut failed = false;
            for name in &a.names {
                let r = if name == DEFAULT_NETWORK {
                    Err(rbox_network::Error::Conflict(format!(
                        "{name} is a pre-defined network and cannot be removed"
                    )))
                } else {
                    nets.remove(name)
                };
                match r {
                    Ok(_) => writeln!(out, "{name}")?,
                    Err(e) => {
                        eprintln!("rbox: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        NetworkCommand::Prune(_) => {
            let removed = prune(root)?;
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

/// Removes the user-defined networks no container uses, and takes the default network's
/// bridge down when none uses it (it comes back on first use). Returns the names removed.
pub fn prune(root: &Path) -> Result<Vec<String>, CliError> {
    let nets = Networks::open(root);
    let containers = Containers::open(root)?;
    rbox_runtime::net::sweep_addresses(&containers);
    let used = rbox_runtime::net::in_use(&containers)?;
    let mut removed = Vec::new();
    for n in nets.list()? {
        if used.iter().any(|(net, _)| *net == n.id) {
            continue;
        }
        if n.name == DEFAULT_NETWORK {
            nets.take_down(&n)?;
        } else if nets.remove(&n.name).is_ok() {
            removed.push(n.name);
        }
    }
    Ok(removed)
}

fn inspect_json(nets: &Networks, containers: &Containers, n: &Network) -> serde_json::Value {
    let mut members = serde_json::Map::new();
    for (ip, id) in nets.users(n).unwrap_or_default() {
        let Ok(c) = containers.read_config(&id) else {
            continue;
        };
        let mac = c
            .host
            .networks
            .iter()
            .find(|e| e.network_id == n.id)
            .map(|e| e.mac_address.clone())
            .unwrap_or_default();
        members.insert(
            id,
            json!({
                "Name": c.name,
                "MacAddress": mac,
                "IPv4Address": format!("{ip}/{}", n.subnet.prefix),
            }),
        );
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}],
        },
        "Internal": n.internal,
        "Containers": members,
        "Options": {"com.docker.network.bridge.name": n.bridge},
        "Labels": n.labels,
    })
}
