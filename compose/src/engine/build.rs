//! Images of services: built from their `build:` with rbox's builder, or pulled.

use std::io::Write;
use std::path::PathBuf;

use rbox_builder::build::{build as run_build, BuildOptions};
use rbox_image::Reference;

use super::{Engine, Error, Result};
use crate::build::is_remote_context;
use crate::parts::PullPolicy;

impl Engine<'_> {
    /// A service's build context, absolute.
    pub fn build_context(&self, service: &str) -> Option<PathBuf> {
        let b = self.project.services[service].build.as_ref()?;
        let c = PathBuf::from(&b.context);
        Some(if c.is_absolute() {
            c
        } else {
            self.project.working_dir.join(c)
        })
    }

    /// Refuses, before anything is made, a build whose context is missing or remote.
    pub fn check_builds(&self, services: &[String]) -> Result<()> {
        for s in services {
            let Some(b) = self.project.services[s].build.as_ref() else {
                continue;
            };
            if is_remote_context(&b.context) {
                return Err(Error::Failed(format!(
                    "service {s}: a remote build context ({}) is not supported",
                    b.context
                )));
            }
            let ctx = self.build_context(s).unwrap_or_default();
            if !ctx.is_dir() {
                return Err(Error::Failed(format!(
                    "service {s}: build context {} does not exist",
                    ctx.display()
                )));
            }
        }
        Ok(())
    }

    /// Whether the store has a service's image.
    pub fn has_image(&self, service: &str) -> bool {
        self.images.resolve(&self.image_of(service)).is_ok()
    }

    /// Builds a service's image (tagged with its image name and `build.tags`); `log` gets
    /// the builder's output.
    pub fn build_service(&self, service: &str, no_cache: bool, log: &mut dyn Write) -> Result<()> {
        let svc = &self.project.services[service];
        let Some(b) = &svc.build else {
            return Ok(());
        };
        let ctx = self.build_context(service).unwrap_or_default();
        let (dockerfile, name) = match (&b.dockerfile_inline, &b.dockerfile) {
            (Some(text), _) => (text.clone(), "Dockerfile".to_string()),
            (None, f) => {
                let f = PathBuf::from(f.as_deref().unwrap_or("Dockerfile"));
                let path = if f.is_absolute() { f } else { ctx.join(f) };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::Failed(format!("service {service}: {}: {e}", path.display()))
                })?;
                (text, path.display().to_string())
            }
        };
        let mut tags = vec![self.image_of(service)];
        tags.extend(b.tags.iter().cloned());
        let tags = tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let pull = |image: &str| match self.pull {
            Some(p) => p(image),
            None => Err(format!("image {image} is not in the store")),
        };
        let opts = BuildOptions {
            context: ctx,
            dockerfile,
            dockerfile_name: name,
            tags,
            build_args: b
                .args
                .iter()
                .filter_map(|(k, v)| {
                    v.clone()
                        .or_else(|| std::env::var(k).ok())
                        .map(|v| (k.clone(), v))
                })
                .collect(),
            no_cache: no_cache || b.no_cache,
            target: b.target.clone(),
            labels: b
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            network: b.network.clone(),
            quiet: false,
            pull: Some(&pull),
            secrets: Vec::new(),
            ssh: Vec::new(),
            allow_insecure: false,
        };
        self.say("Image", &self.image_of(service), "Building");
        run_build(&self.images, &self.containers, &opts, log)
            .map_err(|e| Error::Failed(format!("service {service}: build failed: {e}")))?;
        self.say("Image", &self.image_of(service), "Built");
        Ok(())
    }

    /// Pulls a service's image (services that are built are skipped, as compose's `pull`).
    pub fn pull_service(&self, service: &str, ignore_failures: bool) -> Result<()> {
        let svc = &self.project.services[service];
        if svc.image.is_none() || svc.pull_policy == Some(PullPolicy::Build) {
            return Ok(());
        }
        let image = self.image_of(service);
        let Some(pull) = self.pull else {
            return Err(Error::Failed("pulling is not available".into()));
        };
        self.say("Image", &image, "Pulling");
        match pull(&image) {
            Ok(()) => {
                self.say("Image", &image, "Pulled");
                Ok(())
            }
            Err(e) if ignore_failures => {
                self.note(&format!("WARN: service {service}: pulling {image}: {e}"));
                Ok(())
            }
            Err(e) => Err(Error::Failed(format!(
                "service {service}: pulling {image}: {e}"
            ))),
        }
    }

    /// Makes sure a service's image is there for `up`/`create`/`run`: built when it has a
    /// build and (`build` or the image is missing) unless `no_build`; pulled as its
    /// pull_policy says.
    pub fn ensure_image(&self, service: &str, build: bool, no_build: bool) -> Result<()> {
        let svc = &self.project.services[service];
        let policy = svc.pull_policy;
        if svc.build.is_some()
            && !no_build
            && (build || policy == Some(PullPolicy::Build) || !self.has_image(service))
        {
            let mut err = std::io::stderr();
            return self.build_service(service, false, &mut err);
        }
        if policy == Some(PullPolicy::Always) {
            return self.pull_service(service, false);
        }
        if !self.has_image(service) {
            if policy == Some(PullPolicy::Never) || svc.image.is_none() {
                return Err(Error::Failed(format!(
                    "service {service}: image {} is not in the store{}",
                    self.image_of(service),
                    if svc.build.is_some() {
                        " (built with --build, not with --no-build)"
                    } else {
                        ""
                    }
                )));
            }
            return self.pull_service(service, false);
        }
        Ok(())
    }
}
