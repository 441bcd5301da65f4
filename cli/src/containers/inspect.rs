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
pub struct ContainerInspectArgs {
    /// Print each object through a Go template ('{{.NetworkSettings.IPAddress}}'), or
    /// "json" for the list on one line.
    #[arg(short, long)]
    format: Option<String>,
    /// Add each container's sizes: SizeRw (what it wrote) and SizeRootFs (with its image).
    #[arg(short, long)]
    size: bool,
    /// Containers (or, for `rbox inspect`, images, volumes, networks).
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    inspect: ContainerInspectArgs,
    /// Only objects of this type: container, image, volume or network.
    #[arg(long = "type", value_name = "TYPE",
          value_parser = ["container", "image", "volume", "network"])]
    kind: Option<String>,
}

/// `container inspect`: containers only.
pub fn container_inspect(root: &Path, a: ContainerInspectArgs) -> CliResult {
    inspect(
        root,
        InspectArgs {
            inspect: a,
            kind: Some("container".into()),
        },
    )
}

/// `inspect`: each name as a container, else an image, a volume, a network (or only the
/// `--type` given), as docker looks them up.
pub fn inspect(root: &Path, a: InspectArgs) -> CliResult {
    let InspectArgs { inspect: a, kind } = a;
    let format = match InspectFormat::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let containers = Containers::open(root)?;
    let wants = |k: &str| kind.as_deref().is_none_or(|t| t == k);
    let (out, failed) = collect_each(&a.names, |n| {
        let mut found = Err(());
        if wants("container") {
            found = rbox_runtime::ops::inspect::container(&containers, n)
                .map(|mut doc| {
                    if a.size {
                        add_sizes(root, &containers, &mut doc);
                    }
                    doc
                })
                .map_err(drop);
        }
        if found.is_err() && wants("image") {
            found = crate::images::inspect_one(root, n).map_err(drop);
        }
        if found.is_err() && wants("volume") {
            found = crate::volumes::inspect_one(&containers, n).map_err(drop);
        }
        if found.is_err() && wants("network") {
            found = crate::networks::inspect_one(root, &containers, n).map_err(drop);
        }
        found.map_err(|()| match &kind {
            Some(t) => format!("no such {t}: {n}"),
            None => format!("no such object: {n}"),
        })
    });
    format.write(&out, failed)
}

/// Docker's `SizeRw` and `SizeRootFs` in a container's document.
fn add_sizes(root: &Path, containers: &Containers, doc: &mut serde_json::Value) {
    let (Some(id), image) = (
        doc["Id"].as_str().map(str::to_owned),
        doc["Image"].as_str().map(str::to_owned),
    ) else {
        return;
    };
    let rw = rbox_runtime::prune::dir_size(&containers.dir(&id).join("upper"));
    let image_size = rbox_image::Store::open(root)
        .ok()
        .and_then(|s| rbox_runtime::ops::images::list(&s, None).ok())
        .and_then(|l| {
            l.into_iter()
                .find(|r| Some(r.id.to_string()) == image)
                .map(|r| r.size)
        })
        .unwrap_or(0);
    if let Some(o) = doc.as_object_mut() {
        o.insert("SizeRw".into(), rw.into());
        o.insert("SizeRootFs".into(), (rw + image_size).into());
    }
}
