//! ps: the rows rbox-runtime lists (`ops::ps`), formatted as docker's.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_image::Store;
use rbox_runtime::container::Status;
use rbox_runtime::model::mount::MountKind;
use rbox_runtime::ops::ps::{Filter, Query, Row};
use rbox_runtime::prune;
use rbox_runtime::Containers;

use serde_json::Value;

use crate::format::{self, ago, go_time, human_duration, human_size, labels_text, Listing};
use crate::template;
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Only show ids.
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Filter: status=, name=, id=, label=KEY[=VALUE], exited=CODE, ancestor=IMAGE.
    #[arg(short, long)]
    filter: Vec<String>,
    /// A Go template for each row ("{{.Names}} {{.Status}}"), "table TEMPLATE" for aligned
    /// columns under a header, "table" for the default, or "json".
    #[arg(long)]
    format: Option<String>,
    /// Show each container's size: what it wrote, and with its image (virtual).
    #[arg(short, long)]
    size: bool,
    /// Show the last created container.
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show the N last created containers (all states).
    #[arg(short = 'n', long, value_name = "N", allow_negative_numbers = true)]
    last: Option<i64>,
    /// Show the pod of each container (POD ID, PODNAME).
    #[arg(long)]
    pod: bool,
}

/// `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`, as docker ps shows them.
pub fn status_text(r: &Row) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64
                    / 1000.0
            })
            .unwrap_or(0.0)
            .max(0.0)
    };
    match r.status {
        Status::Running if r.paused => {
            format!("Up {} (Paused)", human_duration(since(&r.started_at)))
        }
        Status::Running => match r.health {
            Some(h) => format!(
                "Up {} {}",
                human_duration(since(&r.started_at)),
                h.ps_suffix()
            ),
            None => format!("Up {}", human_duration(since(&r.started_at))),
        },
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            r.exit_code,
            human_duration(since(&r.finished_at))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            r.exit_code,
            human_duration(since(&r.finished_at))
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// The COMMAND column as docker shows it: cut to 20 characters unless `full`, in Go's
/// double-quoted form.
fn command_text(r: &Row, full: bool) -> String {
    let mut cmd = r.command.clone();
    if !full && cmd.chars().count() > 20 {
        cmd = format!("{}…", cmd.chars().take(19).collect::<String>());
    }
    go_quote(&cmd)
}

/// `s` in double quotes with Go's escapes (`strconv.Quote`).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Docker's `.Mounts`, `.Networks` and `.LocalVolumes` of a container: its volumes' names
/// and binds' sources (cut to 15 characters unless `no_trunc`), its networks' names, how
/// many volumes it has; and its image's id.
fn attachments(containers: &Containers, id: &str, no_trunc: bool) -> [String; 4] {
    let Ok(c) = containers.load(id) else {
        return Default::default();
    };
    let host = &c.config.host;
    let cut = |s: &str| {
        if no_trunc || s.chars().count() <= 15 {
            s.to_owned()
        } else {
            format!("{}…", s.chars().take(14).collect::<String>())
        }
    };
    let mounts: Vec<String> = host
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| cut(&m.source))
        .collect();
    let volumes = host
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .count();
    let networks: Vec<&str> = if host.networks.is_empty() {
        [host.network_mode.as_str()]
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect()
    } else {
        host.networks.iter().map(|e| e.network.as_str()).collect()
    };
    [
        mounts.join(","),
        networks.join(","),
        volumes.to_string(),
        c.config.image_id.clone(),
    ]
}

/// Docker's SIZE: the bytes the container wrote, and with its image's (`virtual`).
fn size_text(containers: &Containers, id: &str, image: Option<u64>) -> String {
    let rw = prune::dir_size(&containers.dir(id).join("upper"));
    let total = rw + image.unwrap_or(0);
    if total > 0 {
        format!("{} (virtual {})", human_size(rw), human_size(total))
    } else {
        human_size(rw)
    }
}

/// One row as `--format` sees it: docker's fields of `ps`.
/// `image_sizes`: the images' sizes by id when sizes are asked for, else `None` (a size of
/// `0B`, as docker's without `--size`).
fn row(
    containers: &Containers,
    r: &Row,
    no_trunc: bool,
    image_sizes: Option<&BTreeMap<String, u64>>,
) -> format::Row {
    let [mounts, networks, local_volumes, image_id] = attachments(containers, &r.id, no_trunc);
    let size = match image_sizes {
        Some(sizes) => size_text(containers, &r.id, sizes.get(&image_id).copied()),
        None => human_size(0),
    };
    let pod = containers
        .read_config(&r.id)
        .ok()
        .and_then(|c| rbox_runtime::ops::pod::pod_of(containers, &c));
    let fields = template::object([
        (
            "Pod",
            Value::String(
                pod.as_ref()
                    .map(|p| p.id[..12].to_owned())
                    .unwrap_or_default(),
            ),
        ),
        (
            "PodName",
            Value::String(pod.map(|p| p.name).unwrap_or_default()),
        ),
        ("Size", Value::String(size)),
        ("Mounts", Value::String(mounts)),
        ("Networks", Value::String(networks)),
        ("LocalVolumes", Value::String(local_volumes)),
        ("ID", Value::String(short_id(r, no_trunc).to_owned())),
        ("Image", Value::String(r.image.clone())),
        ("Command", Value::String(command_text(r, no_trunc))),
        ("CreatedAt", Value::String(go_time(&r.created))),
        ("RunningFor", Value::String(ago(Some(&r.created)))),
        ("Status", Value::String(status_text(r))),
        ("State", Value::String(r.status.as_str().to_owned())),
        ("Ports", Value::String(r.ports.join(", "))),
        ("Names", Value::String(r.name.clone())),
        ("Labels", Value::String(labels_text(&r.labels))),
    ]);
    format::Row {
        fields,
        labels: r.labels.clone(),
    }
}

fn short_id(r: &Row, no_trunc: bool) -> &str {
    if no_trunc {
        &r.id
    } else {
        &r.id[..12]
    }
}

/// `ps`'s default table and docker's column titles.
const LISTING: Listing = Listing {
    default:
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    headers: HEADERS,
};

/// `ps --size`'s default table.
const WITH_SIZE: Listing = Listing {
    default: "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}",
    headers: HEADERS,
};

/// `ps --pod`'s default table.
const WITH_POD: Listing = Listing {
    default: "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Pod}}\t{{.PodName}}",
    headers: HEADERS,
};

const HEADERS: &[(&str, &str)] = &[
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Size", "SIZE"),
];

pub fn ps(root: &Path, a: PsArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let filters = a
        .filter
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    // As docker: -n N of 0 or less is no limit, and otherwise lists stopped ones too.
    let last = a.last.filter(|n| *n > 0).map(|n| n as usize);
    let query = Query {
        all: a.all || last.is_some(),
        latest: a.latest,
        filters,
    };
    let mut rows = rbox_runtime::ops::ps::list(&containers, &query)?;
    if let Some(n) = last {
        rows.truncate(n);
    }
    let mut out = io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", short_id(r, a.no_trunc))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // As docker: sizes are worked out for --size, or for a format that shows them.
    let image_sizes =
        (a.size || a.format.as_deref().is_some_and(|f| f.contains(".Size"))).then(|| {
            let listed = Store::open(root)
                .ok()
                .and_then(|s| rbox_runtime::ops::images::list(&s, None).ok());
            listed
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.id.to_string(), r.size))
                .collect::<BTreeMap<_, _>>()
        });
    let rows: Vec<format::Row> = rows
        .iter()
        .map(|r| row(&containers, r, a.no_trunc, image_sizes.as_ref()))
        .collect();
    let listing = match (a.size, a.pod) {
        (true, _) => &WITH_SIZE,
        (false, true) => &WITH_POD,
        (false, false) => &LISTING,
    };
    let text = format::render_rows(a.format.as_deref(), listing, &rows)?;
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
