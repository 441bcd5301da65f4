//! The events journal: what happened to containers, images, volumes and networks, one
//! JSON object a line in Docker's event shape, appended by the commands and monitors that
//! make it happen (there is no daemon to tell) to `<root>/events.log`, rotated at
//! [`MAX_SIZE`] into `events.log.1`. `rbox events` reads and follows it.
//!
//! Appending takes the journal's lock (`<root>/locks/events.lock`), so the size check,
//! the rotation and the write of one writer never interleave with another's. Recording is
//! best effort: a journal that can't be written never fails the command that acts.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::container::ContainerConfig;

/// A journal file's size before it is rotated (the journal keeps two).
pub const MAX_SIZE: u64 = 4 << 20;

/// What an event is about, as Docker's `Actor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The object's id (a container's, an image's, a volume's or network's name or id).
    #[serde(rename = "ID")]
    pub id: String,
    /// Its name, image, labels, exit code, signal, …
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as Docker's `events.Message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Docker's older fields, for containers: the action, the id and the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `container`, `image`, `volume` or `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `health_status: healthy`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// What it is about.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event of `kind` happening now.
    pub fn now(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let container = kind == "container";
        Event {
            status: container.then(|| action.to_owned()),
            id: container.then(|| id.to_owned()),
            from: container
                .then(|| attributes.get("image").cloned())
                .flatten(),
            kind: kind.to_owned(),
            action: action.to_owned(),
            actor: Actor {
                id: id.to_owned(),
                attributes,
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }

    /// The line `docker events` prints: `TIME TYPE ACTION ID (k=v, …)`.
    pub fn line(&self) -> String {
        let t = chrono::DateTime::from_timestamp_nanos(self.time_nano)
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
            .to_string();
        let t = t
            .strip_suffix("+00:00")
            .map_or(t.clone(), |s| format!("{s}Z"));
        let attrs: Vec<String> = self
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if attrs.is_empty() {
            format!("{t} {} {} {}", self.kind, self.action, self.actor.id)
        } else {
            format!(
                "{t} {} {} {} ({})",
                self.kind,
                self.action,
                self.actor.id,
                attrs.join(", ")
            )
        }
    }
}

/// The journal of data root `root`.
pub fn journal(root: &Path) -> PathBuf {
    root.join("events.log")
}

/// Appends `event` to the journal of `root`.
pub fn record(root: &Path, event: &Event) {
    if let Err(e) = append(root, event) {
        tracing::warn!(error = %e, "recording an event");
    }
}

fn append(root: &Path, event: &Event) -> std::io::Result<()> {
    let locks = root.join("locks");
    fs::create_dir_all(&locks)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(locks.join("events.lock"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
    let path = journal(root);
    if fs::metadata(&path).is_ok_and(|m| m.len() >= MAX_SIZE) {
        let mut older = path.clone().into_os_string();
        older.push(".1");
        fs::rename(&path, older)?;
    }
    let mut line = serde_json::to_vec(event).expect("an event serializes");
    line.push(b'\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?
        .write_all(&line)
}

/// Records event `action` of container `c`, with its image, name and labels, and `extra`
/// attributes (`exitCode`, `signal`, …).
pub fn container(root: &Path, c: &ContainerConfig, action: &str, extra: &[(&str, String)]) {
    let mut attributes: BTreeMap<String, String> = c.config.labels.clone();
    attributes.insert("image".into(), c.image.clone());
    attributes.insert("name".into(), c.name.clone());
    for (k, v) in extra {
        attributes.insert((*k).to_owned(), v.clone());
    }
    record(root, &Event::now("container", action, &c.id, attributes));
}

/// Records event `action` of object `id` of `kind` (image, volume, network) with `attrs`.
pub fn other(root: &Path, kind: &str, action: &str, id: &str, attrs: &[(&str, String)]) {
    let attributes = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    record(root, &Event::now(kind, action, id, attributes));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_and_print_as_dockers() {
        let d = tempfile::tempdir().unwrap();
        other(
            d.path(),
            "volume",
            "create",
            "data",
            &[("driver", "local".into())],
        );
        let text = fs::read_to_string(journal(d.path())).unwrap();
        let e: Event = serde_json::from_str(text.trim()).unwrap();
        assert_eq!((e.kind.as_str(), e.action.as_str()), ("volume", "create"));
        assert!(e.status.is_none());
        assert_eq!(e.time, e.time_nano / 1_000_000_000);
        let line = e.line();
        assert!(
            line.ends_with(" volume create data (driver=local)"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["Actor"]["Attributes"]["driver"], "local");
        assert_eq!(v["scope"], "local");
    }

    #[test]
    fn the_journal_rotates_and_stays_bounded() {
        let d = tempfile::tempdir().unwrap();
        let big = "x".repeat(64 << 10);
        for _ in 0..(2 * MAX_SIZE / (64 << 10) + 4) {
            other(d.path(), "image", "tag", &big, &[]);
        }
        let main = fs::metadata(journal(d.path())).unwrap().len();
        let older = fs::metadata(d.path().join("events.log.1")).unwrap().len();
        assert!(main <= MAX_SIZE + (66 << 10) && older <= MAX_SIZE + (66 << 10));
        assert!(!d.path().join("events.log.2").exists());
    }
}
