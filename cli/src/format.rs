//! Human-readable sizes, ages and tables, as the docker CLI prints them.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::Value;

use crate::template::{self, Template};
use crate::{CliError, CliResult};

/// Units of a size: decimal (`kB`, `MB`: image, disk and network figures) or binary
/// (`KiB`, `MiB`: docker's memory figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// Powers of 1000.
    Decimal,
    /// Powers of 1024.
    Binary,
}

/// A size with `digits` significant digits and no trailing zeros, as docker's Go
/// (`%.Ng`): `size(4_261_000, Decimal, 3)` is `4.26MB`, `size(1_293_942, Binary, 4)` is
/// `1.234MiB`, `0B` for nothing.
pub fn size(bytes: u64, units: Units, digits: i32) -> String {
    let (base, names) = match units {
        Units::Decimal => (1000.0, ["B", "kB", "MB", "GB", "TB", "PB", "EB"]),
        Units::Binary => (1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]),
    };
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i < names.len() - 1 {
        v /= base;
        i += 1;
    }
    format!("{}{}", significant(v, digits), names[i])
}

/// A size in decimal units with three significant digits, as `docker images` shows it:
/// `4.26MB`, `133MB`, `0B`.
pub fn human_size(bytes: u64) -> String {
    size(bytes, Units::Decimal, 3)
}

/// `v` with `digits` significant digits and no trailing zeros (Go's `%.Ng`).
fn significant(v: f64, digits: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let decimals = (digits - 1 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// How long ago, as `docker images` says it: `Less than a second`, `About a minute`,
/// `3 hours`, `2 weeks`.
pub fn human_duration(secs: f64) -> String {
    let seconds = secs as i64;
    let minutes = (secs / 60.0) as i64;
    let hours = (secs / 3600.0 + 0.5) as i64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
    }
}

/// `N units ago` for an RFC 3339 time, or an empty string if it doesn't parse.
pub fn ago(rfc3339: Option<&str>) -> String {
    let Some(t) = rfc3339.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) else {
        return "N/A".into();
    };
    let secs =
        (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0;
    format!("{} ago", human_duration(secs.max(0.0)))
}

/// Prints rows as aligned columns: each column as wide as its widest cell plus three
/// spaces (at least ten), the last column unpadded.
pub fn print_table(out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .map(|w| (w + 3).max(10))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Text through Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`, as docker's tables:
/// a cell ended by a tab is in a column, as wide as the column's widest cell plus three
/// spaces (at least ten), within each block of consecutive lines that have that column;
/// the last cell of a line is not padded.
pub fn tabwrite(text: &str) -> String {
    let mut lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let trailing_newline = text.ends_with('\n');
    if trailing_newline {
        lines.pop();
    }
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(&mut out, &lines, &mut widths, 0, lines.len(), 0);
    if !trailing_newline && out.ends_with('\n') {
        out.pop();
    }
    out
}

const MIN_WIDTH: usize = 10;
const PADDING: usize = 3;

fn format_block(
    out: &mut String,
    lines: &[Vec<&str>],
    widths: &mut Vec<usize>,
    mut line0: usize,
    line1: usize,
    col: usize,
) {
    let mut this = line0;
    while this < line1 {
        if col + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A column starts here: the lines before it are done, the block runs while lines
        // have a cell in this column.
        write_lines(out, lines, widths, line0, this);
        line0 = this;
        let mut width = MIN_WIDTH;
        while this < line1 && col + 1 < lines[this].len() {
            width = width.max(lines[this][col].chars().count() + PADDING);
            this += 1;
        }
        widths.push(width);
        format_block(out, lines, widths, line0, this, col + 1);
        widths.pop();
        line0 = this;
    }
    write_lines(out, lines, widths, line0, line1);
}

fn write_lines(out: &mut String, lines: &[Vec<&str>], widths: &[usize], from: usize, to: usize) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < line.len() {
                if let Some(w) = widths.get(j) {
                    out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
                }
            }
        }
        out.push('\n');
    }
}

/// A listing's templates: its default table and each field's column title, as docker's.
pub struct Listing {
    /// The default format's body, used for no `--format` and for a bare `table`.
    pub default: &'static str,
    /// Field and column title (`ID` → `CONTAINER ID`).
    pub headers: &'static [(&'static str, &'static str)],
}

/// One row of a listing: its fields with docker's names, and the labels behind docker's
/// `.Label "KEY"`.
pub struct Row {
    /// A map of docker's field names to values.
    pub fields: Value,
    /// The object's labels.
    pub labels: BTreeMap<String, String>,
}

/// The rows as `--format` asks: none or `table` is the default table, `table TEMPLATE` a
/// table with a header row, `json` one JSON object per line, anything else the template
/// for each row.
pub fn render_rows(
    format: Option<&str>,
    listing: &Listing,
    rows: &[Row],
) -> Result<String, CliError> {
    let format = format.unwrap_or("table");
    // As docker's formatter: `table` and `json` read, spaces trimmed, `\t` and `\n` made
    // a tab and a newline.
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) if rest.trim().is_empty() => (true, listing.default),
        Some(rest) => (true, rest),
        None if format == "json" => (false, "{{json .}}"),
        None => (false, format),
    };
    let body = template::unescape(body.trim_matches(' '));
    let t = Template::parse(&body).map_err(|e| CliError::Failed(e.to_string()))?;
    let mut text = String::new();
    if table {
        let headers = template::object(
            listing
                .headers
                .iter()
                .map(|(k, v)| (*k, Value::String((*v).to_owned()))),
        );
        text.push_str(&t.execute_header(&headers));
        text.push('\n');
    }
    for r in rows {
        let label = |name: &str, args: &[Value]| match (name, args) {
            ("Label", [Value::String(k)]) => Some(Ok(Value::String(
                r.labels.get(k).cloned().unwrap_or_default(),
            ))),
            ("Label", _) => Some(Err(format!(
                "wrong number of args for Label: want 1 got {}",
                args.len()
            ))),
            _ => None,
        };
        let line = t
            .execute(&r.fields, Some(&label))
            .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(if table { tabwrite(&text) } else { text })
}

/// An `inspect` verb's `--format`, parsed before any object is looked up.
pub enum InspectFormat {
    /// None: the documents as a JSON list indented by four spaces.
    Indented,
    /// `json`: the list on one line.
    Json,
    /// A Go template run on each document.
    Template(Template),
}

impl InspectFormat {
    /// Parses `--format` as docker's inspect does: a template that doesn't parse is
    /// `template parsing error: …` and exit code 64.
    pub fn parse(format: Option<&str>) -> Result<InspectFormat, ExitCode> {
        match format {
            None | Some("") => Ok(InspectFormat::Indented),
            Some("json") => Ok(InspectFormat::Json),
            Some(f) => Template::parse(f)
                .map(InspectFormat::Template)
                .map_err(|e| {
                    eprintln!("rbox: {e}");
                    ExitCode::from(64)
                }),
        }
    }

    /// Writes the documents; a document the template fails on is an error on standard
    /// error (exit code 1) while the others are written, and a line is written even when
    /// none is, as docker's inspect does. `failed`: a name was not found.
    pub fn write(&self, docs: &[Value], mut failed: bool) -> CliResult {
        let text = match self {
            InspectFormat::Indented => {
                let mut buf = Vec::new();
                let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
                serde::Serialize::serialize(docs, &mut ser).map_err(io::Error::other)?;
                buf.push(b'\n');
                String::from_utf8(buf).expect("JSON is UTF-8")
            }
            InspectFormat::Json => serde_json::to_string(docs).map_err(io::Error::other)? + "\n",
            InspectFormat::Template(t) => {
                let mut text = String::new();
                for d in docs {
                    match t.execute(d, None) {
                        Ok(line) => {
                            text.push_str(&line);
                            text.push('\n');
                        }
                        Err(e) => {
                            eprintln!("rbox: template parsing error: {e}");
                            failed = true;
                        }
                    }
                }
                if text.is_empty() {
                    text.push('\n');
                }
                text
            }
        };
        io::stdout().lock().write_all(text.as_bytes())?;
        Ok(crate::each::exit(failed))
    }
}

/// An RFC 3339 time as Go's `time.Time` prints (`2024-05-01 10:00:00 +0000 UTC`).
pub fn go_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S +0000 UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// `k=v,k2=v2`, docker's `.Labels` of a row.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A prune's `--filter`s (`until=TIME`, `label=KEY[=VALUE]`, `label!=KEY[=VALUE]`; `keys`
/// are the ones the prune takes), as docker reads them.
pub fn prune_filter(
    filters: &[String],
    keys: &[&str],
) -> Result<rbox_runtime::model::prune_filter::PruneFilter, CliError> {
    let mut f = rbox_runtime::model::prune_filter::PruneFilter::default();
    for (k, v) in filter_pairs(filters, keys)? {
        match k {
            "until" => f.until = Some(crate::timestamp::flag("until", v)?),
            "label" => f.labels.push(v.to_owned()),
            _ => f.not_labels.push(v.to_owned()),
        }
    }
    Ok(f)
}

/// The keys of every prune's `--filter` but `volume prune`'s (which takes no `until`).
pub const PRUNE_FILTERS: &[&str] = &["until", "label", "label!"];

/// One `--filter KEY=VALUE` of a listing, split; `keys` are the ones the listing takes.
pub fn filter_pairs<'a>(
    filters: &'a [String],
    keys: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, CliError> {
    filters
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) if keys.contains(&k) => Ok((k, v)),
            Some((k, _)) => Err(CliError::Failed(format!("invalid filter '{k}'"))),
            None => Err(CliError::Failed(format!(
                "bad format of filter (expected name=value): {f}"
            ))),
        })
        .collect()
}

/// Docker's `label=KEY` or `label=KEY=VALUE` against an object's labels.
pub fn label_matches(labels: &BTreeMap<String, String>, spec: &str) -> bool {
    match spec.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
        None => labels.contains_key(spec),
    }
}

/// Docker's listing filters: values of one key are alternatives (any may match), but every
/// `label` must match, and different keys must all match. `matches(key, value)` says
/// whether one holds.
pub fn filters_pass(pairs: &[(&str, &str)], mut matches: impl FnMut(&str, &str) -> bool) -> bool {
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.iter().all(|key| {
        let mut of_key = pairs.iter().filter(|(k, _)| k == key);
        if *key == "label" {
            of_key.all(|(k, v)| matches(k, v))
        } else {
            of_key.any(|(k, v)| matches(k, v))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(77_800_000), "77.8MB");
        assert_eq!(human_size(133_000_000), "133MB");
        assert_eq!(human_size(4_000_000), "4MB");
        assert_eq!(human_size(999_999_600), "1000MB");
        assert_eq!(human_size(99_960), "100kB");
        assert_eq!(size(0, Units::Binary, 4), "0B");
        assert_eq!(size(385_024, Units::Binary, 4), "376KiB");
        assert_eq!(size(1_293_942, Units::Binary, 4), "1.234MiB");
        assert_eq!(size(25_276_514_304, Units::Binary, 4), "23.54GiB");
        assert_eq!(size(212, Units::Decimal, 4), "212B");
        assert_eq!(size(16_432_000, Units::Decimal, 4), "16.43MB");
        assert_eq!(size(4_000_000, Units::Decimal, 4), "4MB");
    }

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(0.2), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(45.0), "45 seconds");
        assert_eq!(human_duration(61.0), "About a minute");
        assert_eq!(human_duration(600.0), "10 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 3600.0), "5 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(21.0 * 86400.0), "3 weeks");
        assert_eq!(human_duration(100.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn tabwriter_as_gos() {
        assert_eq!(
            tabwrite("NAME\tSTATUS\nweb\tUp 1 second\na-very-long-name\tCreated\n"),
            "NAME               STATUS\nweb                Up 1 second\na-very-long-name   Created\n"
        );
        // A line without the column ends the block: widths start again after it.
        assert_eq!(
            tabwrite("a\tb\nno tabs here at all\nlonger-cell-here\tc\n"),
            "a         b\nno tabs here at all\nlonger-cell-here   c\n"
        );
        assert_eq!(tabwrite("x\t\ty\n"), "x                   y\n");
    }

    fn rows() -> Vec<Row> {
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "db".to_string());
        vec![Row {
            fields: serde_json::json!({"ID": "abc", "Names": "web", "Labels": "app=db"}),
            labels,
        }]
    }

    const LISTING: Listing = Listing {
        default: "{{.ID}}\t{{.Names}}",
        headers: &[("ID", "CONTAINER ID"), ("Names", "NAMES")],
    };

    #[test]
    fn listings_format_as_dockers() {
        let r = rows();
        assert_eq!(
            render_rows(None, &LISTING, &r).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        assert_eq!(
            render_rows(Some("table"), &LISTING, &r).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        assert_eq!(
            render_rows(Some("table {{.Names}}\\t{{.Label \"app\"}}"), &LISTING, &r).unwrap(),
            "NAMES     LABEL\nweb       db\n"
        );
        assert_eq!(
            render_rows(Some("json"), &LISTING, &r).unwrap(),
            "{\"ID\":\"abc\",\"Labels\":\"app=db\",\"Names\":\"web\"}\n"
        );
        assert_eq!(
            render_rows(Some("{{.Names}}"), &LISTING, &r).unwrap(),
            "web\n"
        );
        let e = render_rows(Some("{{.Nope}}"), &LISTING, &r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("map has no entry for key \"Nope\""), "{e}");
        let e = render_rows(Some("{{.Names"), &LISTING, &r)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("template parsing error: "), "{e}");
    }

    #[test]
    fn tables_align_columns() {
        let mut out = Vec::new();
        print_table(
            &mut out,
            &[
                vec!["REPOSITORY".into(), "TAG".into(), "SIZE".into()],
                vec!["busybox".into(), "latest".into(), "4MB".into()],
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4MB\n"
        );
    }
}
