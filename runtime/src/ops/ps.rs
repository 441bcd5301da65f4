//! `ps`: which containers a listing shows (`-a`, `-l`, `--filter`) and what each row
//! holds. The CLI only formats the rows.

use std::collections::BTreeMap;

use crate::model::container::Status;
use crate::ops::lifecycle;
use crate::store::containers::{Container, Containers};

/// A `--filter KEY=VALUE` of `ps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `status=STATUS`: docker's word for the state (`running`, `exited`, …).
    Status(String),
    /// `name=TEXT`: names containing the text.
    Name(String),
    /// `id=PREFIX`: ids starting with it.
    Id(String),
    /// `label=KEY` (the label is set) or `label=KEY=VALUE` (set to that value).
    Label(String, Option<String>),
    /// `exited=CODE`: exited containers with that exit code.
    Exited(String),
    /// `ancestor=IMAGE`: made from that image, by the name given or part of its id.
    Ancestor(String),
    /// `health=starting|healthy|unhealthy|none`.
    Health(String),
}

/// A filter `ps` can't read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not `KEY=VALUE`.
    #[error("bad filter {0:?}: use KEY=VALUE")]
    Syntax(String),
    /// A key `ps` doesn't know.
    #[error("invalid filter {0:?}")]
    UnknownKey(String),
    /// A value the key doesn't take.
    #[error("invalid filter '{0}={1}'")]
    Value(String, String),
}

impl Filter {
    /// Reads `KEY=VALUE`.
    pub fn parse(f: &str) -> Result<Filter, FilterError> {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| FilterError::Syntax(f.to_owned()))?;
        let v = v.to_owned();
        Ok(match k {
            "status" => Filter::Status(v),
            "name" => Filter::Name(v),
            "id" => Filter::Id(v),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => Filter::Label(lk.to_owned(), Some(lv.to_owned())),
                None => Filter::Label(v, None),
            },
            "exited" => Filter::Exited(v),
            "ancestor" => Filter::Ancestor(v),
            "health" => match v.as_str() {
                "starting" | "healthy" | "unhealthy" | "none" => Filter::Health(v),
                _ => return Err(FilterError::Value("health".into(), v)),
            },
            _ => return Err(FilterError::UnknownKey(k.to_owned())),
        })
    }

    /// Whether `c` passes.
    pub fn matches(&self, c: &Container) -> bool {
        match self {
            Filter::Status(s) => c.state.status_word() == s,
            Filter::Name(n) => c.config.name.contains(n.as_str()),
            Filter::Id(p) => c.config.id.starts_with(p.as_str()),
            Filter::Label(k, None) => c.config.config.labels.contains_key(k),
            Filter::Label(k, Some(v)) => c.config.config.labels.get(k) == Some(v),
            Filter::Exited(code) => {
                c.state.status == Status::Exited && c.state.exit_code.to_string() == *code
            }
            Filter::Ancestor(i) => c.config.image == *i || c.config.image_id.contains(i.as_str()),
            Filter::Health(h) => {
                let status = c
                    .state
                    .health
                    .as_ref()
                    .filter(|_| c.config.config.healthcheck.is_some())
                    .map_or("none", |h| h.status.as_str());
                status == h
            }
        }
    }

    /// As docker: a status or exited filter looks at stopped containers too.
    fn shows_stopped(&self) -> bool {
        matches!(self, Filter::Status(_) | Filter::Exited(_))
    }
}

/// What `ps` lists.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `-a`: stopped containers too.
    pub all: bool,
    /// `-l`: only the last created container (stopped or not).
    pub latest: bool,
    /// `--filter`: every one must pass.
    pub filters: Vec<Filter>,
}

impl Query {
    /// Whether `c` is listed; `list` holds containers newest first.
    fn shows(&self, c: &Container) -> bool {
        let everything = self.all || self.latest || self.filters.iter().any(Filter::shows_stopped);
        (everything || c.state.is_running()) && self.filters.iter().all(|f| f.matches(c))
    }

    /// The containers listed, from `list` (newest first, as `reconcile_all` gives them).
    pub fn select(&self, mut list: Vec<Container>) -> Vec<Container> {
        if self.latest {
            list.truncate(1);
        }
        list.retain(|c| self.shows(c));
        list
    }
}

/// One row of `ps`.
#[derive(Debug, Clone)]
pub struct Row {
    /// The full id.
    pub id: String,
    /// The image as the user named it.
    pub image: String,
    /// The command as docker shows it: its words joined by spaces, a word holding a space
    /// in single quotes (`sh -c 'exit 3'`).
    pub command: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Where it is in its life.
    pub status: Status,
    /// Frozen by `pause`.
    pub paused: bool,
    /// Its health, for a container with a health check.
    pub health: Option<crate::model::health::HealthStatus>,
    /// Its last exit code.
    pub exit_code: i32,
    /// When it last started (RFC 3339).
    pub started_at: Option<String>,
    /// When it last ended (RFC 3339).
    pub finished_at: Option<String>,
    /// Its published ports as docker shows them (`0.0.0.0:8080->80/tcp`); none unless it
    /// runs.
    pub ports: Vec<String>,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

impl Row {
    /// The row of `c`.
    pub fn new(c: &Container) -> Row {
        let mut words = c
            .config
            .config
            .entrypoint
            .iter()
            .chain(c.config.config.cmd.iter());
        let mut command = words.next().cloned().unwrap_or_default();
        for w in words {
            command.push(' ');
            if w.contains(' ') {
                command.push_str(&format!("'{w}'"));
            } else {
                command.push_str(w);
            }
        }
        Row {
            id: c.config.id.clone(),
            image: c.config.image.clone(),
            command,
            created: c.config.created.clone(),
            status: c.state.status,
            paused: c.state.paused,
            health: c
                .state
                .health
                .as_ref()
                .filter(|_| c.config.config.healthcheck.is_some())
                .map(|h| h.status),
            exit_code: c.state.exit_code,
            started_at: c.state.started_at.clone(),
            finished_at: c.state.finished_at.clone(),
            ports: c.state.ports.iter().map(|p| p.to_string()).collect(),
            name: c.config.name.clone(),
            labels: c.config.config.labels.clone(),
        }
    }
}

/// The rows `query` lists, newest first; every container is reconciled first.
pub fn list(containers: &Containers, query: &Query) -> crate::Result<Vec<Row>> {
    let all = lifecycle::reconcile_all(containers)?;
    Ok(query.select(all).iter().map(Row::new).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::container::{ContainerConfig, State};

    fn container(name: &str, status: Status, code: i32) -> Container {
        let mut labels = BTreeMap::new();
        labels.insert("tier".to_owned(), "web".to_owned());
        Container {
            config: ContainerConfig {
                id: format!("{:0<64}", name.len()),
                name: name.to_owned(),
                created: "2026-12-01T00:00:00Z".into(),
                image: "busybox".into(),
                image_id: "sha256:abcdef".into(),
                manifest: String::new(),
                layers: Vec::new(),
                config: crate::model::container::ProcessConfig {
                    cmd: vec!["sh".into(), "-c".into(), "exit 3".into()],
                    labels,
                    ..Default::default()
                },
                host: Default::default(),
            },
            state: State {
                status,
                exit_code: code,
                ..Default::default()
            },
            orphaned: false,
        }
    }

    fn names(q: &Query, list: Vec<Container>) -> Vec<String> {
        q.select(list).into_iter().map(|c| c.config.name).collect()
    }

    #[test]
    fn filters_parse_as_docker_writes_them() {
        assert_eq!(Filter::parse("name=web"), Ok(Filter::Name("web".into())));
        assert_eq!(
            Filter::parse("label=a=b=c"),
            Ok(Filter::Label("a".into(), Some("b=c".into())))
        );
        assert_eq!(
            Filter::parse("label=a"),
            Ok(Filter::Label("a".into(), None))
        );
        assert_eq!(
            Filter::parse("name").unwrap_err().to_string(),
            "bad filter \"name\": use KEY=VALUE"
        );
        assert_eq!(
            Filter::parse("colour=red").unwrap_err().to_string(),
            "invalid filter \"colour\""
        );
    }

    #[test]
    fn running_only_unless_all_latest_or_a_status_filter() {
        let list = || {
            vec![
                container("new", Status::Exited, 3),
                container("up", Status::Running, 0),
                container("old", Status::Created, 0),
            ]
        };
        assert_eq!(names(&Query::default(), list()), ["up"]);
        let all = Query {
            all: true,
            ..Default::default()
        };
        assert_eq!(names(&all, list()), ["new", "up", "old"]);
        let latest = Query {
            latest: true,
            ..Default::default()
        };
        assert_eq!(names(&latest, list()), ["new"]);
        let exited = Query {
            filters: vec![Filter::parse("exited=3").unwrap()],
            ..Default::default()
        };
        assert_eq!(names(&exited, list()), ["new"]);
        let status = Query {
            filters: vec![Filter::parse("status=created").unwrap()],
            ..Default::default()
        };
        assert_eq!(names(&status, list()), ["old"]);
    }

    #[test]
    fn every_filter_must_pass() {
        let c = container("web-1", Status::Running, 0);
        let pass = |f: &str| Filter::parse(f).unwrap().matches(&c);
        assert!(pass("name=web"));
        assert!(!pass("name=db"));
        assert!(pass("id=5000"));
        assert!(!pass("id=6"));
        assert!(pass("label=tier"));
        assert!(pass("label=tier=web"));
        assert!(!pass("label=tier=db"));
        assert!(pass("ancestor=busybox"));
        assert!(pass("ancestor=abcd"));
        assert!(!pass("ancestor=alpine"));
        assert!(!pass("exited=0"));
        let q = Query {
            filters: vec![
                Filter::parse("name=web").unwrap(),
                Filter::parse("label=tier=db").unwrap(),
            ],
            ..Default::default()
        };
        assert!(q.select(vec![c]).is_empty());
    }

    #[test]
    fn rows_quote_words_with_spaces() {
        let row = Row::new(&container("x", Status::Exited, 3));
        assert_eq!(row.command, "sh -c 'exit 3'");
        assert_eq!(row.name, "x");
        assert!(row.ports.is_empty());
    }
}
