//! Human-readable sizes, ages and tables, as the docker CLI prints them.

use std::io::{self, Write};

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
