//! Durations in Go's form (`1m30s`, `500ms`, `1.5h`) and byte sizes in docker's (`512m`,
//! `1g`, `1.5GB`, `10 MiB`, binary multiples), as compose reads them. Ten lines each; no crate
//! reads both Go's duration grammar and docker's `RAMInBytes` exactly.

use std::time::Duration;

/// A Go duration: a sequence of decimal numbers with units ns, us (µs), ms, s, m, h. A bare
/// number is seconds (compose accepts an integer there).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty duration".into());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?}: a number without a unit"))?;
        let num: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 1m30s"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => return Err(format!("{s:?}: unknown unit {u:?} (ns, us, ms, s, m, h)")),
        };
        total += num * nanos;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Go's form of a duration, as compose prints it back (`1m30s`, `500ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1000) {
            format!("{}us", nanos / 1000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let frac = d.subsec_nanos();
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if h > 0 || m > 0 {
        out += &format!("{m}m");
    }
    if frac == 0 {
        out += &format!("{s}s");
    } else {
        let f = format!("{:09}", frac);
        out += &format!("{s}.{}s", f.trim_end_matches('0'));
    }
    out
}

/// A size in bytes: a number, optionally a unit b, k, m, g, t, p (binary multiples; an `i`
/// and a `b` may follow, case-insensitive, a space may come before).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let num: f64 = t[..num_end]
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512m or 1.5GB"))?;
    let unit = t[num_end..].trim_start().to_ascii_lowercase();
    let mut u = unit.as_str();
    let mult: u64 = match u.chars().next() {
        None => 1,
        Some(c) => {
            let m = match c {
                'b' => 1,
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return Err(format!("{s:?}: unknown size unit")),
            };
            u = &u[1..];
            if m > 1 {
                u = u.strip_prefix('i').unwrap_or(u);
                u = u.strip_prefix('b').unwrap_or(u);
            }
            if !u.is_empty() {
                return Err(format!("{s:?}: unknown size unit"));
            }
            m
        }
    };
    Ok((num * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(
            parse_duration("2h3m4s5ms"),
            Ok(Duration::new(7384, 5_000_000))
        );
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("1.5").is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_bytes("10 MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert_eq!(parse_bytes("100b"), Ok(100));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("5x").is_err());
    }
}
