//! The engine: a loaded [`Project`] made real on the host with rbox's libraries, without a
//! daemon. `up` converges the containers, networks and volumes the project describes (and
//! is idempotent: what matches is left alone), `down` removes them, and the other verbs act
//! on the containers found by their labels.
//!
//! Everything the engine makes carries compose's labels (`com.docker.compose.project`, …),
//! so a command finds what an earlier one made, even one that was killed midway.

pub mod build;
pub mod down;
pub mod logs;
pub mod options;
pub mod run;
pub mod up;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rbox_image::Store;
use rbox_network::Networks;
use rbox_runtime::{Container, Containers};

use crate::names::{self, LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE};
use crate::project::Project;

/// What stops a verb of the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] rbox_runtime::Error),
    #[error(transparent)]
    Network(#[from] rbox_network::Error),
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    /// A failure with its message complete (naming the service or container).
    #[error("{0}")]
    Failed(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Fetches an image by reference into the store (the registry client is the caller's).
pub type PullFn<'a> = &'a (dyn Fn(&str) -> std::result::Result<(), String> + Sync);

/// The project on this host's data root.
pub struct Engine<'a> {
    pub project: &'a Project,
    pub root: PathBuf,
    pub images: Store,
    pub containers: Containers,
    pub networks: Networks,
    /// Pulls a missing image (None: a missing image is an error).
    pub pull: Option<PullFn<'a>>,
    /// Where progress lines go (standard error for the CLI).
    progress: Mutex<Box<dyn Write + Send + 'a>>,
}

/// A container of the project, with the labels that place it.
#[derive(Debug, Clone)]
pub struct Member {
    pub container: Container,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
}

impl Member {
    pub fn name(&self) -> &str {
        &self.container.config.name
    }
    pub fn id(&self) -> &str {
        self.container.id()
    }
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.container.config.config.labels
    }
    pub fn running(&self) -> bool {
        self.container.state.is_running()
    }
}

impl<'a> Engine<'a> {
    pub fn open(
        project: &'a Project,
        root: &Path,
        progress: Box<dyn Write + Send + 'a>,
    ) -> Result<Engine<'a>> {
        Ok(Engine {
            project,
            root: root.to_path_buf(),
            images: Store::open(root)?,
            containers: Containers::open(root)?,
            networks: Networks::open(root),
            pull: None,
            progress: Mutex::new(progress),
        })
    }

    /// Prints one progress line, as compose does: ` Container web-1  Started`.
    pub fn say(&self, kind: &str, name: &str, what: &str) {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(p, " {kind} {name}  {what}");
    }

    /// A line of its own (a warning, a note).
    pub fn note(&self, text: &str) {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(p, "{text}");
    }

    /// Every container of the project (one-off ones of `run` too), reconciled, ordered by
    /// service (the file's order, then others by name) and container number.
    pub fn members(&self) -> Result<Vec<Member>> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Ok(cfg) = self.containers.read_config(&id) else {
                continue;
            };
            let labels = &cfg.config.labels;
            if labels.get(LABEL_PROJECT) != Some(&self.project.name) {
                continue;
            }
            let c = match rbox_runtime::lifecycle::reconcile(&self.containers, &id) {
                Ok(c) => c,
                Err(rbox_runtime::Error::NoSuchContainer(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let labels = &c.config.config.labels;
            out.push(Member {
                service: labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                number: labels
                    .get(LABEL_NUMBER)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                oneoff: labels.get(LABEL_ONEOFF).is_some_and(|v| v == "True"),
                container: c,
            });
        }
        let rank = |s: &str| self.project.services.get_index_of(s).unwrap_or(usize::MAX);
        out.sort_by(|a, b| {
            (rank(&a.service), &a.service, a.oneoff, a.number, a.name()).cmp(&(
                rank(&b.service),
                &b.service,
                b.oneoff,
                b.number,
                b.name(),
            ))
        });
        Ok(out)
    }

    /// The project's containers of `services` (all when empty), without one-off ones.
    pub fn service_members(&self, services: &[String]) -> Result<Vec<Member>> {
        self.check_services(services)?;
        Ok(self
            .members()?
            .into_iter()
            .filter(|m| !m.oneoff && (services.is_empty() || services.contains(&m.service)))
            .collect())
    }

    /// An error naming a service the project doesn't have.
    pub fn check_services(&self, services: &[String]) -> Result<()> {
        for s in services {
            if !self.project.services.contains_key(s) && !self.project.disabled.contains_key(s) {
                return Err(Error::Failed(format!("no such service: {s}")));
            }
        }
        Ok(())
    }

    /// Containers of services no longer in the file (nor disabled by a profile).
    pub fn orphans(&self) -> Result<Vec<Member>> {
        Ok(self
            .members()?
            .into_iter()
            .filter(|m| {
                !self.project.services.contains_key(&m.service)
                    && !self.project.disabled.contains_key(&m.service)
            })
            .collect())
    }

    /// The image a service runs.
    pub fn image_of(&self, service: &str) -> String {
        names::image_name(&self.project.name, &self.project.services[service])
    }
}

/// Runs `f` over `items` on at most `workers` threads; the first error is returned (after
/// every started item finished).
pub fn parallel<T: Sync, E: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> std::result::Result<(), E> + Sync,
) -> std::result::Result<(), E> {
    if items.len() <= 1 || workers <= 1 {
        for i in items {
            f(i)?;
        }
        return Ok(());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let first: Mutex<Option<E>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.min(items.len()) {
            s.spawn(|| loop {
                if failed.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(item) = items.get(i) else {
                    return;
                };
                if let Err(e) = f(item) {
                    failed.store(true, std::sync::atomic::Ordering::SeqCst);
                    let mut slot = first.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                }
            });
        }
    });
    match first.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The last `n` lines of a container's log, for the message of a failed dependency.
pub fn last_log_lines(containers: &Containers, id: &str, n: usize) -> String {
    let q = rbox_runtime::ops::logs::Query {
        tail: Some(n),
        ..Default::default()
    };
    let mut out = String::new();
    let _ = rbox_runtime::ops::logs::stream(containers, id, &q, |r| {
        out.push_str("    ");
        out.push_str(r.log.trim_end());
        out.push('\n');
        Ok(())
    });
    out
}
