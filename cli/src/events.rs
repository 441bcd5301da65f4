//! `events`: what happened to containers, images, volumes and networks, as `docker events`
//! prints it, from the journal the commands and monitors write.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::ops::events::{events as follow, Filter, Query};

use crate::template::{unescape, Template};
use crate::timestamp::flag;
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show events since a time: a duration back from now (10m), RFC 3339, or a Unix time.
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this time (the same forms as --since), then stop.
    #[arg(long)]
    until: Option<String>,
    /// Filter: type=, event=, container=, image=, label=, volume=, network=.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Go template for each event (`{{json .}}`, `{{.Action}} {{.Actor.ID}}`), or json.
    #[arg(long)]
    format: Option<String>,
}

pub fn events(root: &Path, a: EventsArgs) -> CliResult {
    let nanos = |name: &str, v: &Option<String>| -> Result<Option<i64>, CliError> {
        v.as_deref()
            .map(|s| flag(name, s).map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX)))
            .transpose()
    };
    let filters = a
        .filter
        .iter()
        .map(|f| Filter::parse(f).map_err(CliError::Failed))
        .collect::<Result<Vec<_>, _>>()?;
    let query = Query {
        since: nanos("since", &a.since)?,
        until: nanos("until", &a.until)?,
        filters,
    };
    let template = match a.format.as_deref() {
        None => None,
        Some("json") => Some(Template::parse("{{json .}}")),
        Some(f) => Some(Template::parse(&unescape(f))),
    }
    .transpose()
    .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?;
    let mut out = io::stdout().lock();
    let shown = follow(root, &query, |e| {
        let line = match &template {
            None => e.line(),
            Some(t) => {
                let v = serde_json::to_value(e).expect("an event serializes");
                t.execute(&v, None)
                    .map_err(|err| io::Error::other(format!("{err}")))?
            }
        };
        writeln!(out, "{line}")?;
        out.flush()
    });
    match shown {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::Failed(e.to_string())),
    }
}
