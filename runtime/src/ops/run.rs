//! `run` and `create` with `--pull`: when the image is fetched before the container is
//! made (fetching is the caller's: the registry client and its messages); `start` and
//! `restart` in the background.

use rbox_image::Store;

use crate::model::container::ContainerConfig;
use crate::model::options::RunOptions;
use crate::ops::{create, lifecycle};
use crate::store::containers::Containers;
use crate::supervise::monitor::{Report, Started};

/// `--pull`: when to fetch the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// When the store lacks it (docker's default).
    #[default]
    Missing,
    /// Every time.
    Always,
    /// Never.
    Never,
}

impl PullPolicy {
    /// `missing`, `always` or `never`.
    pub fn parse(s: &str) -> Option<PullPolicy> {
        match s {
            "missing" => Some(PullPolicy::Missing),
            "always" => Some(PullPolicy::Always),
            "never" => Some(PullPolicy::Never),
            _ => None,
        }
    }
}

/// Creates the container of `options`, first calling `pull` with the image's name when
/// `policy` asks for it: `Always`, or `Missing` when the store doesn't have the image and
/// its name is a reference a registry could have.
pub fn create_pulling(
    images: &Store,
    containers: &Containers,
    options: &RunOptions,
    policy: PullPolicy,
    pull: impl Fn(&str) -> crate::Result<()>,
) -> crate::Result<ContainerConfig> {
    if policy == PullPolicy::Always {
        pull(&options.image)?;
    }
    match create::create(images, containers, options) {
        Err(crate::Error::Image(rbox_image::Error::NoSuchImage(_)))
            if policy == PullPolicy::Missing
                && rbox_image::Reference::parse(&options.image).is_ok() =>
        {
            pull(&options.image)?;
            create::create(images, containers, options)
        }
        other => other,
    }
}

/// Starts container `id` in the background, unless it runs, and returns once its process
/// runs (or with the reason it could not start). A start another command's monitor makes
/// meanwhile is waited for, and is this one's.
pub fn start_detached(containers: &Containers, id: &str) -> crate::Result<()> {
    for _ in 0..3 {
        let c = lifecycle::settle(containers, id)?;
        if c.state.is_running() {
            return Ok(());
        }
        match lifecycle::start(containers, id, None)?.wait_report() {
            Report::Started(Started::Running(_)) => return Ok(()),
            Report::Started(Started::Failed(_, msg)) => return Err(crate::Error::Runtime(msg)),
            Report::Busy(_) => continue,
        }
    }
    started(lifecycle::start(containers, id, None)?)
}

/// Stops container `id` (waiting `timeout` seconds before killing it) and starts it again
/// in the background, as [`start_detached`].
pub fn restart(
    containers: &Containers,
    id: &str,
    timeout: Option<u32>,
    signal: Option<i32>,
) -> crate::Result<()> {
    lifecycle::stop_with(containers, id, timeout, signal)?;
    started(lifecycle::start(containers, id, None)?)?;
    if let Ok(c) = containers.read_config(id) {
        crate::store::events::container(containers.root(), &c, "restart", &[]);
    }
    Ok(())
}

fn started(mut spawned: crate::supervise::monitor::Spawned) -> crate::Result<()> {
    match spawned.wait_started() {
        Started::Running(_) => Ok(()),
        Started::Failed(_, msg) => Err(crate::Error::Runtime(msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_read_as_docker_writes_them() {
        assert_eq!(PullPolicy::parse("missing"), Some(PullPolicy::Missing));
        assert_eq!(PullPolicy::parse("always"), Some(PullPolicy::Always));
        assert_eq!(PullPolicy::parse("never"), Some(PullPolicy::Never));
        assert_eq!(PullPolicy::parse("sometimes"), None);
    }

    #[test]
    fn a_missing_image_is_pulled_once_then_created_from() {
        let dir = tempfile::tempdir().unwrap();
        let images = Store::open(dir.path()).unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let options = RunOptions {
            image: "example.invalid/nothing:1".into(),
            ..Default::default()
        };
        let pulled = std::cell::Cell::new(0);
        let pull = |image: &str| {
            assert_eq!(image, "example.invalid/nothing:1");
            pulled.set(pulled.get() + 1);
            Ok(())
        };
        // The pull brought nothing: the create after it fails as the store lacks it.
        let e = create_pulling(&images, &containers, &options, PullPolicy::Missing, pull);
        assert!(matches!(
            e,
            Err(crate::Error::Image(rbox_image::Error::NoSuchImage(_)))
        ));
        assert_eq!(pulled.get(), 1);
        let e = create_pulling(&images, &containers, &options, PullPolicy::Never, pull);
        assert!(e.is_err());
        assert_eq!(pulled.get(), 1);
        let failing = |_: &str| Err(crate::Error::Runtime("unreachable".into()));
        let e = create_pulling(&images, &containers, &options, PullPolicy::Always, failing);
        assert_eq!(e.unwrap_err().to_string(), "unreachable");
    }
}
