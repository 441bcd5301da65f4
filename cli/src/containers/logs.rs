//! logs: the records rbox-runtime selects (`ops::logs`), written to standard output and
//! error as they were.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::logs::Record;
use rbox_runtime::ops::logs::Query;
use rbox_runtime::Containers;

use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines from the end (or "all").
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since a time: RFC 3339 (local time without a zone, e.g.
    /// 2026-12-01T00:00:00), a date, a Unix time (1733011200.5), or a duration back from now
    /// (10m, 1h30m).
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Show logs before a time (the same forms as --since).
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Show the extra attributes given to the log (`--log-opt labels=…`): none in rbox, so
    /// each line comes after the space that follows them, as docker prints it.
    #[arg(long)]
    details: bool,
    /// The container.
    container: String,
}

use crate::timestamp::flag as parse_time;

pub fn logs(root: &Path, a: LogsArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    let since = a
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| CliError::Failed(format!("--tail {n:?}: a number or \"all\"")))?,
        ),
    };
    let query = Query {
        tail,
        since,
        until,
        follow: a.follow,
    };
    rbox_runtime::ops::logs::stream(&containers, &id, &query, |r: &Record| {
        let details = if a.details { " " } else { "" };
        let text = if a.timestamps {
            format!("{} {details}{}", r.time, r.log)
        } else {
            format!("{details}{}", r.log)
        };
        if r.stream == "stderr" {
            io::stderr().lock().write_all(text.as_bytes())
        } else {
            let mut o = io::stdout().lock();
            o.write_all(text.as_bytes())?;
            o.flush()
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
