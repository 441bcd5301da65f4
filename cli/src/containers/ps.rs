//! ps: the rows rbox-runtime lists (`ops::ps`), formatted as docker's.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::container::Status;
use rbox_runtime::ops::ps::{Filter, Query, Row};
use rbox_runtime::Containers;

use crate::format::{ago, human_duration, print_table};
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
    /// Go-template-like format, e.g. "{{.Names}} {{.Status}}" or "table {{.ID}}\t{{.Status}}".
    #[arg(long)]
    format: Option<String>,
    /// Show the last created container.
    #[arg(short = 'l', long)]
    latest: bool,
}

/// `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`, as docker ps shows them.
fn status_text(r: &Row) -> String {
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
        Status::Running => format!("Up {}", human_duration(since(&r.started_at))),
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

/// The placeholders of `--format` and their values for one row.
fn fields(r: &Row, no_trunc: bool) -> Vec<(&'static str, String)> {
    let labels = r
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        ("ID", short_id(r, no_trunc).to_owned()),
        ("Image", r.image.clone()),
        ("Command", command_text(r, no_trunc)),
        ("CreatedAt", r.created.clone()),
        ("RunningFor", ago(Some(&r.created))),
        ("Status", status_text(r)),
        ("State", r.status.as_str().to_owned()),
        ("Ports", r.ports.join(", ")),
        ("Names", r.name.clone()),
        ("Labels", labels),
    ]
}

fn short_id(r: &Row, no_trunc: bool) -> &str {
    if no_trunc {
        &r.id
    } else {
        &r.id[..12]
    }
}

/// The columns of the default table: placeholder and title.
const COLUMNS: [(&str, &str); 7] = [
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
];

pub fn ps(root: &Path, a: PsArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let filters = a
        .filter
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let query = Query {
        all: a.all,
        latest: a.latest,
        filters,
    };
    let rows = rbox_runtime::ops::ps::list(&containers, &query)?;
    let mut out = io::stdout().lock();
    if a.quiet {
        for r in &rows {
            writeln!(out, "{}", short_id(r, a.no_trunc))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(fmt) = &a.format {
        let (table, body) = match fmt.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, fmt.as_str()),
        };
        if table {
            writeln!(out, "{}", template::header(body))?;
        }
        for r in &rows {
            writeln!(out, "{}", template::render(body, &fields(r, a.no_trunc)))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![COLUMNS.iter().map(|(_, t)| t.to_string()).collect()];
    for r in &rows {
        let f = fields(r, a.no_trunc);
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        table.push(COLUMNS.iter().map(|(k, _)| get(k)).collect());
    }
    print_table(&mut out, &table)?;
    Ok(ExitCode::SUCCESS)
}
