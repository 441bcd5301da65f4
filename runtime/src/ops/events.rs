//! `events`: the journal (`store::events`) read from `--since`, filtered, and followed
//! until `--until` (or for good), as `docker events` does.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::store::events::{journal, Event};
use crate::store::logs::Follower;

/// A `--filter KEY=VALUE` of `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `type=container|image|volume|network`.
    Type(String),
    /// `event=ACTION` (`health_status` matches every `health_status: …`).
    Event(String),
    /// `container=NAME|ID` (an id prefix).
    Container(String),
    /// `image=NAME|ID`.
    Image(String),
    /// `label=KEY` or `label=KEY=VALUE`.
    Label(String, Option<String>),
    /// `volume=NAME`.
    Volume(String),
    /// `network=NAME|ID`.
    Network(String),
}

impl Filter {
    /// Reads `KEY=VALUE`; an error names a key `events` doesn't take.
    pub fn parse(f: &str) -> Result<Filter, String> {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad filter {f:?}: use KEY=VALUE"))?;
        let v = v.to_owned();
        Ok(match k {
            "type" => match v.as_str() {
                "container" | "image" | "volume" | "network" => Filter::Type(v),
                _ => return Err(format!("invalid filter 'type={v}'")),
            },
            "event" => Filter::Event(v),
            "container" => Filter::Container(v),
            "image" => Filter::Image(v),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => Filter::Label(lk.to_owned(), Some(lv.to_owned())),
                None => Filter::Label(v, None),
            },
            "volume" => Filter::Volume(v),
            "network" => Filter::Network(v),
            _ => return Err(format!("invalid filter {k:?}")),
        })
    }

    fn key(&self) -> u8 {
        match self {
            Filter::Type(_) => 0,
            Filter::Event(_) => 1,
            Filter::Container(_) => 2,
            Filter::Image(_) => 3,
            Filter::Label(..) => 4,
            Filter::Volume(_) => 5,
            Filter::Network(_) => 6,
        }
    }

    fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        match self {
            Filter::Type(t) => e.kind == *t,
            Filter::Event(a) => {
                e.action == *a || e.action.split(':').next().is_some_and(|p| p == a)
            }
            Filter::Container(c) => {
                e.kind == "container"
                    && (e.actor.id.starts_with(c.as_str()) || attr("name") == Some(c))
            }
            Filter::Image(i) => {
                attr("image") == Some(i)
                    || (e.kind == "image" && (e.actor.id == *i || attr("name") == Some(i)))
            }
            Filter::Label(k, None) => e.actor.attributes.contains_key(k),
            Filter::Label(k, Some(v)) => attr(k) == Some(v),
            Filter::Volume(v) => e.kind == "volume" && e.actor.id == *v,
            Filter::Network(n) => {
                e.kind == "network"
                    && (e.actor.id.starts_with(n.as_str()) || attr("name") == Some(n))
            }
        }
    }
}

/// What `events` shows.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// From this time (Unix nanoseconds); none: from now, unless `until` is given (then
    /// from the oldest kept).
    pub since: Option<i64>,
    /// Until this time, then the stream ends; none: for good.
    pub until: Option<i64>,
    /// As docker: filters of one key match any of their values, filters of different keys
    /// must all match.
    pub filters: Vec<Filter>,
}

impl Query {
    /// Whether `e` is shown.
    pub fn matches(&self, e: &Event) -> bool {
        (0..7u8).all(|key| {
            let of_key: Vec<&Filter> = self.filters.iter().filter(|f| f.key() == key).collect();
            of_key.is_empty() || of_key.iter().any(|f| f.matches(e))
        })
    }
}

/// Sends the events of data root `root` that `q` shows to `sink`, oldest first, following
/// the journal until `q.until` passes (for good without it, until `sink` fails: a closed
/// output).
pub fn events(
    root: &Path,
    q: &Query,
    mut sink: impl FnMut(&Event) -> io::Result<()>,
) -> io::Result<()> {
    let now = || chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let since = q.since.or(q.until.is_none().then(now)).unwrap_or(i64::MIN);
    let mut follower: Follower<Event> = Follower::new(&journal(root));
    loop {
        for e in follower.poll()? {
            if e.time_nano < since {
                continue;
            }
            if q.until.is_some_and(|u| e.time_nano > u) {
                return Ok(());
            }
            if q.matches(&e) {
                sink(&e)?;
            }
        }
        if q.until.is_some_and(|u| now() > u) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn event(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let a: BTreeMap<String, String> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Event::now(kind, action, id, a)
    }

    #[test]
    fn filters_of_one_key_or_and_of_different_keys_and() {
        let start = event(
            "container",
            "start",
            "abc123",
            &[("name", "web"), ("image", "busybox")],
        );
        let health = event(
            "container",
            "health_status: healthy",
            "abc123",
            &[("name", "web")],
        );
        let pull = event(
            "image",
            "pull",
            "busybox:latest",
            &[("name", "busybox:latest")],
        );
        let q = |fs: &[&str]| Query {
            filters: fs.iter().map(|f| Filter::parse(f).unwrap()).collect(),
            ..Default::default()
        };
        assert!(q(&["container=web"]).matches(&start));
        assert!(q(&["container=abc"]).matches(&start));
        assert!(!q(&["container=web"]).matches(&pull));
        assert!(q(&["event=start", "event=die"]).matches(&start));
        assert!(!q(&["event=start", "type=image"]).matches(&start));
        assert!(q(&["event=health_status"]).matches(&health));
        assert!(q(&["image=busybox"]).matches(&start));
        assert!(q(&["type=image"]).matches(&pull));
        assert!(Filter::parse("nope=1").is_err());
        assert!(Filter::parse("type=thing").is_err());
    }
}
