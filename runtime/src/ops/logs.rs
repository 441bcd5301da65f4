//! `logs`: the records a query selects from a container's log (`--tail`, `--since`,
//! `--until`), and following it as it grows (`-f`).
//!
//! Times come typed: reading `--since 10m` or a local time without a zone is the CLI's
//! (cli/src/timestamp.rs), as it reads every other flag.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::containers::Containers;
use crate::store::logs::{Follower, Record};

/// Which records to show.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only the last N records kept (counted before the time bounds apply, as docker).
    pub tail: Option<usize>,
    /// Only records written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records written at or before this time; following ends once it is past.
    pub until: Option<DateTime<Utc>>,
    /// Keep showing records as they are written, until the container stops.
    pub follow: bool,
}

impl Query {
    /// Whether a record's time is within the bounds (a record whose time doesn't parse is
    /// shown).
    pub fn within(&self, r: &Record) -> bool {
        match DateTime::parse_from_rfc3339(&r.time) {
            Ok(t) => !(self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u)),
            Err(_) => true,
        }
    }

    /// The records of `kept` (oldest first) the query shows before following.
    pub fn select<'a>(&'a self, kept: &'a [Record]) -> impl Iterator<Item = &'a Record> + 'a {
        let start = self.tail.map_or(0, |t| kept.len().saturating_sub(t));
        kept[start..].iter().filter(move |r| self.within(r))
    }
}

/// How often a followed log is read again.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// Gives `sink` each record of container `id`'s log that `query` selects, oldest first;
/// with `follow`, then each new one until the container stops (or `until` is past). One
/// reader reads what is kept and what comes: nothing twice, nothing lost to a rotation.
pub fn stream(
    containers: &Containers,
    id: &str,
    query: &Query,
    mut sink: impl FnMut(&Record) -> std::io::Result<()>,
) -> crate::Result<()> {
    let path = containers.dir(id).join("container.log");
    let mut follower = Follower::new(&path);
    let kept = follower.poll().map_err(|e| crate::Error::io(&path, e))?;
    for r in query.select(&kept) {
        sink(r)?;
    }
    if !query.follow {
        return Ok(());
    }
    loop {
        let running = containers
            .load(id)
            .map(|c| c.state.is_running())
            .unwrap_or(false);
        for r in follower.poll().unwrap_or_default() {
            if query.within(&r) {
                sink(&r)?;
            }
        }
        // As docker: following ends at --until.
        if !running || query.until.is_some_and(|u| Utc::now() > u) {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: &str, log: &str) -> Record {
        Record {
            log: format!("{log}\n"),
            stream: "stdout".into(),
            time: time.into(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn shown(q: &Query, kept: &[Record]) -> Vec<String> {
        q.select(kept)
            .map(|r| r.log.trim_end().to_owned())
            .collect()
    }

    fn kept() -> Vec<Record> {
        vec![
            record("2026-12-01T10:00:00.000000001Z", "one"),
            record("2026-12-01T11:00:00Z", "two"),
            record("not a time", "three"),
            record("2026-12-01T12:00:00Z", "four"),
        ]
    }

    #[test]
    fn everything_by_default() {
        assert_eq!(
            shown(&Query::default(), &kept()),
            ["one", "two", "three", "four"]
        );
    }

    #[test]
    fn tail_counts_before_the_time_bounds() {
        let q = Query {
            tail: Some(2),
            since: Some(at("2026-12-01T11:30:00Z")),
            ..Default::default()
        };
        assert_eq!(shown(&q, &kept()), ["three", "four"]);
        let q = Query {
            tail: Some(10),
            ..Default::default()
        };
        assert_eq!(shown(&q, &kept()).len(), 4);
        let q = Query {
            tail: Some(0),
            ..Default::default()
        };
        assert!(shown(&q, &kept()).is_empty());
    }

    #[test]
    fn since_and_until_are_inclusive() {
        let q = Query {
            since: Some(at("2026-12-01T11:00:00Z")),
            until: Some(at("2026-12-01T12:00:00Z")),
            ..Default::default()
        };
        assert_eq!(shown(&q, &kept()), ["two", "three", "four"]);
        let q = Query {
            until: Some(at("2026-12-01T10:00:00Z")),
            ..Default::default()
        };
        assert_eq!(shown(&q, &kept()), ["three"]);
    }

    #[test]
    fn a_stopped_containers_log_is_read_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let id = "a".repeat(64);
        let log = containers.dir(&id);
        std::fs::create_dir_all(&log).unwrap();
        let line = |r: &Record| serde_json::to_string(r).unwrap() + "\n";
        let k = kept();
        std::fs::write(log.join("container.log.1"), line(&k[0]) + &line(&k[1])).unwrap();
        std::fs::write(log.join("container.log"), line(&k[3])).unwrap();
        let mut got = Vec::new();
        let q = Query {
            tail: Some(2),
            follow: true,
            ..Default::default()
        };
        stream(&containers, &id, &q, |r| {
            got.push(r.log.trim_end().to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, ["two", "four"]);
    }
}
