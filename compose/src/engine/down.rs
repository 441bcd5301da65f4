//! `down`, and the verbs over existing containers: stop, start, restart, kill, rm, pause,
//! unpause. Stops go in reverse dependency order, the containers of one level in parallel,
//! so containers that ignore their stop signal cost one timeout, not one each.

use rbox_runtime::ops::run::start_detached;

use super::{parallel, Engine, Error, Member, Result};
use crate::graph;
use crate::names::LABEL_PROJECT;

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// `-v`: named volumes of the project and anonymous ones of its containers.
    pub volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<u32>,
    /// `--rmi local` (false) or `all` (true).
    pub rmi: Option<bool>,
}

/// Which images `--rmi` removes.
pub fn rmi_all(s: &str) -> Result<bool> {
    match s {
        "all" => Ok(true),
        "local" => Ok(false),
        _ => Err(Error::Failed(format!(
            "--rmi {s}: must be \"local\" or \"all\""
        ))),
    }
}

impl Engine<'_> {
    /// `members` in stop order: levels of the file's services reversed, then what is not in
    /// the file (orphans, first).
    fn stop_groups(&self, members: &[Member]) -> Vec<Vec<Member>> {
        let mut groups: Vec<Vec<Member>> = Vec::new();
        let known: Vec<String> = self.project.services.keys().cloned().collect();
        let others: Vec<Member> = members
            .iter()
            .filter(|m| !known.contains(&m.service))
            .cloned()
            .collect();
        if !others.is_empty() {
            groups.push(others);
        }
        for level in graph::stop_levels(self.project, None) {
            let g: Vec<Member> = members
                .iter()
                .filter(|m| level.contains(&m.service))
                .cloned()
                .collect();
            if !g.is_empty() {
                groups.push(g);
            }
        }
        groups
    }

    /// Stops `members` in stop order, each level's at once.
    pub fn stop_members(&self, members: &[Member], timeout: Option<u32>) -> Result<()> {
        for g in self.stop_groups(members) {
            let running: Vec<&Member> = g.iter().filter(|m| m.running()).collect();
            parallel(&running, running.len().max(1), |m| {
                self.say("Container", m.name(), "Stopping");
                rbox_runtime::lifecycle::stop(&self.containers, m.id(), timeout)?;
                self.say("Container", m.name(), "Stopped");
                Ok::<(), Error>(())
            })?;
        }
        Ok(())
    }

    /// Stops and removes `members` (their anonymous volumes too with `volumes`).
    pub fn remove_members_with(
        &self,
        members: &[Member],
        timeout: Option<u32>,
        volumes: bool,
    ) -> Result<()> {
        self.stop_members(members, timeout)?;
        // One after another: a removal looks at the other containers (who joined its
        // namespaces, whose hosts files name it), which must not vanish under it.
        for m in members {
            self.say("Container", m.name(), "Removing");
            match rbox_runtime::lifecycle::remove(&self.containers, m.id(), true, volumes) {
                Ok(()) | Err(rbox_runtime::Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(Error::Failed(format!("container {}: {e}", m.name()))),
            }
            self.say("Container", m.name(), "Removed");
        }
        Ok(())
    }

    pub fn remove_members(&self, members: &[Member], timeout: Option<u32>) -> Result<()> {
        self.remove_members_with(members, timeout, false)
    }

    /// `down`: the project's containers, then its networks (never external ones), with `-v`
    /// its volumes, with `--rmi` its images.
    pub fn down(&self, o: &DownOptions) -> Result<()> {
        let all = self.members()?;
        // A project named without its file (`-p NAME down`): all it has is its own.
        let by_name = self.project.config_files.is_empty();
        let (orphans, mine): (Vec<Member>, Vec<Member>) = all.into_iter().partition(|m| {
            !by_name
                && !self.project.services.contains_key(&m.service)
                && !self.project.disabled.contains_key(&m.service)
        });
        let mut gone = mine;
        if o.remove_orphans {
            gone.extend(orphans);
        } else if !orphans.is_empty() {
            let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
            self.note(&format!(
                "WARN: Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            ));
        }
        let images: Vec<String> = gone
            .iter()
            .map(|m| m.container.config.image.clone())
            .collect();
        self.remove_members_with(&gone, o.timeout, o.volumes)?;
        // Networks: those of the file this project made (labelled so), not external ones;
        // without the file, every network labelled with the project.
        let mut nets: Vec<String> = self
            .project
            .networks
            .values()
            .filter(|n| !n.external)
            .map(|n| n.name.clone())
            .collect();
        if by_name {
            nets.extend(
                self.networks
                    .list()?
                    .into_iter()
                    .filter(|n| n.labels.get(LABEL_PROJECT) == Some(&self.project.name))
                    .map(|n| n.name),
            );
        }
        // Addresses a killed `up` took for containers it never recorded are given back.
        rbox_runtime::ops::networks::prepare_removal(&self.containers);
        for name in &nets {
            let Ok(n) = self.networks.get(name) else {
                continue;
            };
            if n.labels.get(LABEL_PROJECT) != Some(&self.project.name) {
                continue;
            }
            let net = &n;
            self.say("Network", &net.name, "Removing");
            match rbox_runtime::ops::networks::remove(&self.networks, &net.name) {
                Ok(_) => self.say("Network", &net.name, "Removed"),
                Err(e) => self.note(&format!("WARN: network {}: {e}", net.name)),
            }
        }
        if o.volumes {
            let mut vols: Vec<String> = self
                .project
                .volumes
                .values()
                .filter(|v| !v.external)
                .map(|v| v.name.clone())
                .collect();
            if by_name {
                vols.extend(
                    self.containers
                        .volumes()?
                        .into_iter()
                        .filter(|v| v.labels.get(LABEL_PROJECT) == Some(&self.project.name))
                        .map(|v| v.name),
                );
            }
            for name in &vols {
                let Ok(v) = self.containers.volume(name) else {
                    continue;
                };
                if v.labels.get(LABEL_PROJECT) != Some(&self.project.name) {
                    continue;
                }
                self.say("Volume", name, "Removing");
                match self.containers.remove_volume(name) {
                    Ok(()) => self.say("Volume", name, "Removed"),
                    Err(e) => self.note(&format!("WARN: volume {name}: {e}")),
                }
            }
        }
        if let Some(all) = o.rmi {
            let mut wanted: Vec<String> = Vec::new();
            for (name, s) in &self.project.services {
                if all || s.image.is_none() {
                    wanted.push(self.image_of(name));
                }
            }
            if all {
                wanted.extend(images);
            }
            wanted.sort();
            wanted.dedup();
            let remover = rbox_runtime::ops::images::Remover::new(&self.images, &self.containers)?;
            for img in &wanted {
                if self.images.resolve(img).is_err() {
                    continue;
                }
                match remover.remove(img, false) {
                    Ok(_) => self.say("Image", img, "Removed"),
                    Err(e) => self.note(&format!("WARN: image {img}: {e}")),
                }
            }
            remover.collect()?;
        }
        Ok(())
    }

    /// `stop SERVICE…`.
    pub fn stop(&self, services: &[String], timeout: Option<u32>) -> Result<()> {
        let m = self.service_members(services)?;
        self.stop_members(&m, timeout)
    }

    /// `start SERVICE…`: stopped containers started in dependency order.
    pub fn start(&self, services: &[String]) -> Result<()> {
        let members = self.service_members(services)?;
        for level in graph::start_levels(self.project, None) {
            let g: Vec<&Member> = members
                .iter()
                .filter(|m| level.contains(&m.service) && !m.running())
                .collect();
            parallel(&g, super::up::WORKERS, |m| {
                self.say("Container", m.name(), "Starting");
                start_detached(&self.containers, m.id())
                    .map_err(|e| Error::Failed(format!("container {}: {e}", m.name())))?;
                self.say("Container", m.name(), "Started");
                Ok::<(), Error>(())
            })?;
        }
        Ok(())
    }

    /// `restart SERVICE…`.
    pub fn restart(&self, services: &[String], timeout: Option<u32>) -> Result<()> {
        self.stop(services, timeout)?;
        self.start(services)
    }

    /// `kill SERVICE…`.
    pub fn kill(&self, services: &[String], signal: i32) -> Result<()> {
        for m in self.service_members(services)? {
            if m.running() {
                rbox_runtime::lifecycle::kill(&self.containers, m.id(), signal)?;
                self.say("Container", m.name(), "Killed");
            }
        }
        Ok(())
    }

    /// `rm SERVICE…`: stopped containers (running ones too with `stop`).
    pub fn rm(&self, services: &[String], stop: bool, volumes: bool) -> Result<Vec<Member>> {
        let members = self.service_members(services)?;
        if stop {
            self.stop_members(&members, None)?;
        }
        let gone: Vec<Member> = self
            .service_members(services)?
            .into_iter()
            .filter(|m| !m.running())
            .collect();
        self.remove_members_with(&gone, None, volumes)?;
        Ok(gone)
    }

    /// `pause` (or `unpause`) SERVICE….
    pub fn pause(&self, services: &[String], pause: bool) -> Result<()> {
        for m in self.service_members(services)? {
            if !m.running() {
                continue;
            }
            if pause {
                rbox_runtime::ops::pause::pause(&self.containers, m.id())?;
                self.say("Container", m.name(), "Paused");
            } else {
                rbox_runtime::ops::pause::unpause(&self.containers, m.id())?;
                self.say("Container", m.name(), "Unpaused");
            }
        }
        Ok(())
    }
}
