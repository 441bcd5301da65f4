//! `run`: a one-off container of a service (`<project>-<service>-run-<id>`, labelled
//! oneoff), its dependencies started first unless `--no-deps`.

use super::options::{plan, Overrides};
use super::up::UpOptions;
use super::{Engine, Error, Result};
use crate::names;

#[derive(Debug, Clone, Default)]
pub struct RunOverrides {
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub volumes: Vec<String>,
    pub publish: Vec<String>,
    pub service_ports: bool,
    pub name: Option<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: Option<bool>,
    pub interactive: bool,
    pub rm: bool,
    pub no_deps: bool,
    pub build: bool,
}

impl Engine<'_> {
    /// Makes the one-off container (not started); returns its id and name.
    pub fn create_oneoff(&self, service: &str, o: &RunOverrides) -> Result<(String, String)> {
        self.check_services(&[service.to_string()])?;
        let Some(svc) = self.project.services.get(service) else {
            return Err(Error::Failed(format!("service {service} is not enabled")));
        };
        if !o.no_deps {
            let deps: Vec<String> = crate::graph::dependencies(svc)
                .into_iter()
                .filter(|d| self.project.services.contains_key(d))
                .collect();
            if !deps.is_empty() {
                self.up(&UpOptions {
                    services: deps,
                    start: true,
                    ..Default::default()
                })?;
            }
        }
        self.check_builds(&[service.to_string()])?;
        self.ensure_image(service, o.build, false)?;
        self.ensure_networks(&[service.to_string()])?;
        self.ensure_volumes(&[service.to_string()])?;
        let id = rbox_runtime::create::random_hex(6);
        let name = o
            .name
            .clone()
            .unwrap_or_else(|| names::oneoff_name(&self.project.name, service, &id));
        let over = Overrides {
            no_ports: !o.service_ports,
            ..Default::default()
        };
        let mut planned = plan(
            self.project,
            svc,
            &name,
            1,
            true,
            &self.secrets_dir(),
            &over,
        )
        .map_err(Error::Failed)?;
        let r = &mut planned.options;
        if let Some(e) = &o.entrypoint {
            r.entrypoint = Some(e.clone());
            r.command = o.command.clone();
        } else if !o.command.is_empty() {
            // The command replaces the service's, after the entrypoint's own words.
            let ep_words = svc
                .entrypoint
                .as_ref()
                .map_or(0, |e| e.len().saturating_sub(1));
            r.command.truncate(ep_words);
            r.command.extend(o.command.iter().cloned());
        }
        r.env.extend(o.env.iter().cloned());
        r.volumes.extend(o.volumes.iter().cloned());
        r.publish.extend(o.publish.iter().cloned());
        if o.workdir.is_some() {
            r.workdir = o.workdir.clone();
        }
        if o.user.is_some() {
            r.user = o.user.clone();
        }
        if let Some(t) = o.tty {
            r.tty = t;
        }
        r.interactive = o.interactive || r.interactive;
        r.rm = o.rm;
        r.restart = None;
        let cfg = rbox_runtime::create::create(&self.images, &self.containers, &planned.options)
            .map_err(|e| Error::Failed(format!("service {service}: creating {name}: {e}")))?;
        for j in &planned.more_networks {
            if let Err(e) =
                rbox_runtime::net::connect(&self.containers, &cfg.id, &j.network, None, &[])
            {
                let _ = rbox_runtime::lifecycle::remove(&self.containers, &cfg.id, true, true);
                return Err(Error::Failed(format!(
                    "container {name}: joining {}: {e}",
                    j.network
                )));
            }
        }
        Ok((cfg.id, name))
    }
}
