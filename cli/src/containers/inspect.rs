//! inspect (containers, else images) and port.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::lifecycle;
use rbox_runtime::Containers;

use crate::each::collect_each;
use crate::format::InspectFormat;
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct PortArgs {
    /// The container.
    container: String,
    /// Only this port: PORT[/tcp|udp].
    port: Option<String>,
}

/// `port`: a running container's published ports.
pub fn port(root: &Path, a: PortArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let c = lifecycle::reconcile(&containers, &containers.resolve(&a.container)?)?;
    let ports = rbox_runtime::ops::inspect::published(&c, a.port.as_deref());
    let mut out = std::io::stdout().lock();
    for p in &ports {
        if a.port.is_some() {
            writeln!(out, "{}:{}", p.host_ip_text(), p.host_port)?;
        } else {
            writeln!(
                out,
                "{} -> {}:{}",
                p.container_key(),
                p.host_ip_text(),
                p.host_port
            )?;
        }
    }
    let found = !ports.is_empty();
    if let (Some(p), false) = (&a.port, found) {
        return Err(CliError::Failed(format!(
            "no public port '{p}' published for {}",
            c.config.name
        )));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print each object through a Go template ('{{.NetworkSettings.IPAddress}}'), or
    /// "json" for the list on one line.
    #[arg(short, long)]
    format: Option<String>,
    /// Containers or images.
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn inspect(root: &Path, a: InspectArgs) -> CliResult {
    let format = match InspectFormat::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let containers = Containers::open(root)?;
    let (out, failed) = collect_each(&a.names, |n| {
        rbox_runtime::ops::inspect::container(&containers, n)
            .or_else(|_| crate::images::inspect_one(root, n))
            .map_err(|_| format!("no such object: {n}"))
    });
    format.write(&out, failed)
}
