//! Times given on the command line (`logs --since/--until`), read as docker reads them:
//! a duration back from now (`10m`, `1h30m`, `1.5h`, `90s`), an RFC 3339 time with or
//! without its zone (without: local time), a date (`2026-12-01`), or a Unix time with
//! optional fraction (`1733011200`, `1733011200.5`).
//!
//! This stays in the CLI: it reads a flag's text, relative to the current time and the
//! local zone, as the CLI reads every other flag; the runtime takes the times typed
//! (`rbox_runtime::ops::logs::Query`).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Reads `value` relative to `now`, in the local zone whose offset is `local` (docker takes
/// the current offset of the local zone for a time without one).
pub fn parse_at(
    value: &str,
    now: DateTime<Utc>,
    local: FixedOffset,
) -> Result<DateTime<Utc>, String> {
    if value != "0" {
        if let Some(nanos) = go_duration(value) {
            return now
                .checked_sub_signed(chrono::Duration::nanoseconds(nanos))
                .ok_or_else(|| format!("{value:?}: out of range"));
        }
    }
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    let parsed = if zoned {
        split_zone(value).and_then(|(t, zone)| {
            let naive = naive_time(t)?;
            zone.from_local_datetime(&naive).single()
        })
    } else {
        naive_time(value).and_then(|naive| local.from_local_datetime(&naive).single())
    };
    if let Some(t) = parsed {
        return Ok(t.with_timezone(&Utc));
    }
    if value.contains('-') {
        return Err(format!("{value:?}: not a valid RFC 3339 time or date"));
    }
    unix_time(value).ok_or_else(|| format!("failed to parse value as time or duration: {value:?}"))
}

/// The time of flag `--NAME` (`since`, `until`), or an error naming it.
pub fn flag(name: &str, value: &str) -> Result<DateTime<Utc>, crate::CliError> {
    parse(value).map_err(|e| crate::CliError::Failed(format!("invalid value for \"{name}\": {e}")))
}

/// [`parse_at`] now, in the local zone.
pub fn parse(value: &str) -> Result<DateTime<Utc>, String> {
    let now = chrono::Local::now();
    parse_at(value, now.with_timezone(&Utc), *now.offset())
}

/// A Go duration (`300ms`, `-1.5h`, `2h45m`, `0`) in nanoseconds.
fn go_duration(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.starts_with(['-', '+']) {
        return None;
    }
    let nanos = rbox_runtime::model::duration::parse_duration(rest)
        .ok()?
        .as_nanos() as i64;
    Some(if negative { -nanos } else { nanos })
}

/// `value` without its zone (`Z`, `+01:00`, `-05:00`), and the zone.
fn split_zone(value: &str) -> Option<(&str, FixedOffset)> {
    if let Some(t) = value.strip_suffix(['Z', 'z']) {
        return Some((t, FixedOffset::east_opt(0)?));
    }
    let at = value.len().checked_sub(6)?;
    let (t, zone) = value.split_at(at);
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    let (h, m): (i32, i32) = (digits(h, 2)?, digits(m, 2)?);
    if h > 23 || m > 59 {
        return None;
    }
    Some((t, FixedOffset::east_opt(sign * (h * 3600 + m * 60))?))
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS[.fraction]`.
fn naive_time(s: &str) -> Option<NaiveDateTime> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, mo, da) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(y, 4)?, digits(mo, 2)?, digits(da, 2)?)?;
    let Some(time) = time else {
        return Some(date.and_time(NaiveTime::MIN));
    };
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) if hms.matches(':').count() == 2 => (hms, Some(f)),
        Some(_) => return None,
        None => (time, None),
    };
    let mut parts = hms.split(':');
    let h = digits(parts.next()?, 2)?;
    let m = parts.next().map_or(Some(0), |m| digits(m, 2))?;
    let sec = parts.next().map_or(Some(0), |s| digits(s, 2))?;
    if parts.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(date.and_time(NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?))
}

/// Exactly `len` ASCII digits as a number.
fn digits<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `SECONDS[.FRACTION]` since the epoch.
fn unix_time(s: &str) -> Option<DateTime<Utc>> {
    let (secs, fraction) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let secs: i64 = secs.parse().ok()?;
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let f = &f[..f.len().min(9)];
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    DateTime::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(value: &str) -> Result<DateTime<Utc>, String> {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        parse_at(value, now, FixedOffset::east_opt(2 * 3600).unwrap())
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(at("10m").unwrap(), utc("2026-12-01T11:50:00Z"));
        assert_eq!(at("1h30m").unwrap(), utc("2026-12-01T10:30:00Z"));
        assert_eq!(at("90s").unwrap(), utc("2026-12-01T11:58:30Z"));
        assert_eq!(at("1.5h").unwrap(), utc("2026-12-01T10:30:00Z"));
        assert_eq!(at("500ms").unwrap(), utc("2026-12-01T11:59:59.5Z"));
        assert_eq!(at("-1h").unwrap(), utc("2026-12-01T13:00:00Z"));
    }

    #[test]
    fn times_without_a_zone_are_local() {
        assert_eq!(
            at("2026-12-01T00:00:00").unwrap(),
            utc("2026-11-30T22:00:00Z")
        );
        assert_eq!(at("2026-12-01T00:00").unwrap(), utc("2026-11-30T22:00:00Z"));
        assert_eq!(at("2026-12-01T03").unwrap(), utc("2026-12-01T01:00:00Z"));
        assert_eq!(at("2026-12-01").unwrap(), utc("2026-11-30T22:00:00Z"));
        assert_eq!(
            at("2026-12-01T00:00:00.25").unwrap(),
            utc("2026-11-30T22:00:00.25Z")
        );
    }

    #[test]
    fn times_with_a_zone_are_theirs() {
        assert_eq!(
            at("2026-12-01T00:00:00Z").unwrap(),
            utc("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            at("2026-12-01T00:00:00+01:00").unwrap(),
            utc("2026-11-30T23:00:00Z")
        );
        assert_eq!(
            at("2026-12-01T00:00:00-05:00").unwrap(),
            utc("2026-12-01T05:00:00Z")
        );
        assert_eq!(
            at("2026-12-01T00:00:00.123456789Z").unwrap(),
            utc("2026-12-01T00:00:00.123456789Z")
        );
        assert_eq!(at("2026-12-01Z").unwrap(), utc("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn unix_times_with_fractions() {
        assert_eq!(at("1733011200").unwrap(), utc("2024-12-01T00:00:00Z"));
        assert_eq!(at("1733011200.5").unwrap(), utc("2024-12-01T00:00:00.5Z"));
        assert_eq!(at("0").unwrap(), utc("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "yesterday",
            "10x",
            "2026-13-01",
            "2026-12-01T25:00",
            "1.2.3",
            "h",
        ] {
            assert!(at(bad).is_err(), "{bad:?} accepted");
        }
    }
}
