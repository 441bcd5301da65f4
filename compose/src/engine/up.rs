//! `up` and `create`: networks, volumes, images, then each service's containers converged
//! in dependency order, the services of one level in parallel.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rbox_network::CreateOptions;
use rbox_runtime::model::mount::MountKind;
use rbox_runtime::ops::run::start_detached;

use super::options::{plan, Overrides};
use super::{last_log_lines, parallel, Engine, Error, Member, Result};
use crate::graph;
use crate::names::{self, LABEL_HASH};
use crate::parts::Condition;

/// How many services of one level are converged at once.
pub const WORKERS: usize = 2;

/// The default time a `depends_on` condition is awaited.
pub const CONDITION_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services named (all when empty).
    pub services: Vec<String>,
    /// Only the services named, not what they depend on.
    pub no_deps: bool,
    pub build: bool,
    pub no_build: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// `--scale SVC=N`.
    pub scale: HashMap<String, u32>,
    /// `--wait`: until every container runs (and is healthy, with a health check).
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    /// `-t`: the stop timeout of containers recreated or scaled down.
    pub timeout: Option<u32>,
    /// false for `create`: containers are made, not started.
    pub start: bool,
}

impl Engine<'_> {
    /// The services `up` acts on, in start levels.
    pub fn levels(&self, services: &[String], no_deps: bool) -> Result<Vec<Vec<String>>> {
        self.check_services(services)?;
        if services.is_empty() {
            return Ok(graph::start_levels(self.project, None));
        }
        let mut levels = graph::start_levels(self.project, Some(services));
        if no_deps {
            for l in &mut levels {
                l.retain(|s| services.contains(s));
            }
            levels.retain(|l| !l.is_empty());
        }
        Ok(levels)
    }

    /// `up` (and `create`, with `start` false).
    pub fn up(&self, o: &UpOptions) -> Result<()> {
        let levels = self.levels(&o.services, o.no_deps)?;
        let targets: Vec<String> = levels.iter().flatten().cloned().collect();
        for s in o.scale.keys() {
            if !self.project.services.contains_key(s) {
                return Err(Error::Failed(format!("no such service: {s}")));
            }
        }
        self.check_builds(&targets)?;
        self.warn_unsupported(&targets);
        for s in &targets {
            self.ensure_image(s, o.build, o.no_build)?;
        }
        self.ensure_networks(&targets)?;
        self.ensure_volumes(&targets)?;
        let orphans = self.orphans()?;
        if !orphans.is_empty() {
            if o.remove_orphans {
                self.remove_members(&orphans, o.timeout)?;
            } else {
                let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
                self.note(&format!(
                    "WARN: Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                    names.join(", ")
                ));
            }
        }
        let timeout = o.wait_timeout.unwrap_or(CONDITION_TIMEOUT);
        // The project's containers, read once: each service converges from its own.
        let members = self.members()?;
        for level in &levels {
            parallel(level, WORKERS, |s| {
                if o.start {
                    self.await_dependencies(s, &targets, timeout)?;
                }
                let mine: Vec<Member> = members
                    .iter()
                    .filter(|m| !m.oneoff && m.service == *s)
                    .cloned()
                    .collect();
                self.converge(s, mine, o)
            })?;
        }
        if o.wait && o.start {
            self.wait_running(&targets, timeout)?;
        }
        Ok(())
    }

    /// A warning for each key of the targets the runtime doesn't act on.
    fn warn_unsupported(&self, targets: &[String]) {
        let dir = self.secrets_dir();
        for s in targets {
            let svc = &self.project.services[s];
            if let Ok(p) = plan(
                self.project,
                svc,
                "x",
                1,
                false,
                &dir,
                &Overrides::default(),
            ) {
                for k in p.unsupported {
                    self.note(&format!(
                        "WARN: service {s}: {k} is not supported by rbox and is ignored"
                    ));
                }
            }
        }
    }

    /// Where `environment` and `content` secrets and configs are written for mounting.
    pub fn secrets_dir(&self) -> std::path::PathBuf {
        self.root.join("compose").join(&self.project.name)
    }

    /// Creates the project's networks the targets use (finding external ones).
    pub fn ensure_networks(&self, targets: &[String]) -> Result<()> {
        for (key, net) in &self.project.networks {
            let used = targets
                .iter()
                .any(|s| self.project.services[s].networks.contains_key(key));
            if !used {
                continue;
            }
            match self.networks.get(&net.name) {
                Ok(_) => continue,
                Err(rbox_network::Error::NoSuchNetwork(_)) if net.external => {
                    return Err(Error::Failed(format!(
                        "network {} declared as external, but could not be found",
                        net.name
                    )))
                }
                Err(rbox_network::Error::NoSuchNetwork(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if net.driver.as_deref().is_some_and(|d| d != "bridge") {
                self.note(&format!(
                    "WARN: network {key}: driver {} is not supported, a bridge is made",
                    net.driver.as_deref().unwrap_or_default()
                ));
            }
            let pool = net.ipam.as_ref().and_then(|i| i.config.first());
            let mut labels: Vec<String> =
                net.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.extend(
                names::resource_labels(self.project, key, false)
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}")),
            );
            self.say("Network", &net.name, "Creating");
            match self.networks.create(&CreateOptions {
                name: net.name.clone(),
                subnet: pool.and_then(|p| p.subnet.clone()),
                gateway: pool.and_then(|p| p.gateway.clone()),
                internal: net.internal,
                labels,
            }) {
                Ok(_) | Err(rbox_network::Error::Exists(_)) => {}
                Err(e) => return Err(Error::Failed(format!("network {}: {e}", net.name))),
            }
            self.say("Network", &net.name, "Created");
        }
        Ok(())
    }

    /// Creates the project's volumes the targets mount (finding external ones).
    pub fn ensure_volumes(&self, targets: &[String]) -> Result<()> {
        for (key, vol) in &self.project.volumes {
            let used = targets.iter().any(|s| {
                self.project.services[s].volumes.iter().any(|v| {
                    v.kind == crate::mounts::MountType::Volume
                        && v.source.as_deref() == Some(key.as_str())
                })
            });
            if !used || self.containers.volume(&vol.name).is_ok() {
                continue;
            }
            if vol.external {
                return Err(Error::Failed(format!(
                    "external volume \"{}\" not found",
                    vol.name
                )));
            }
            let mut labels: BTreeMap<String, String> = vol.labels.clone().into_iter().collect();
            labels.extend(names::resource_labels(self.project, key, true));
            self.say("Volume", &vol.name, "Creating");
            self.containers.create_volume(Some(&vol.name), labels)?;
            self.say("Volume", &vol.name, "Created");
        }
        Ok(())
    }

    /// Waits for what service `s` depends on: started, healthy, or completed successfully.
    fn await_dependencies(&self, s: &str, targets: &[String], timeout: Duration) -> Result<()> {
        let svc = &self.project.services[s];
        for (dep, d) in &svc.depends_on {
            if !self.project.services.contains_key(dep) {
                continue;
            }
            let members = self.service_members(std::slice::from_ref(dep))?;
            if members.is_empty() {
                if d.required && targets.contains(dep) {
                    return Err(Error::Failed(format!(
                        "service {s} depends on {dep}, which has no container"
                    )));
                }
                continue;
            }
            for m in members {
                match d.condition {
                    Condition::ServiceStarted => {}
                    Condition::ServiceHealthy => {
                        self.say("Container", m.name(), "Waiting");
                        if let Err(e) = rbox_runtime::ops::health::wait_healthy(
                            &self.containers,
                            m.id(),
                            Some(timeout),
                        ) {
                            return Err(Error::Failed(format!(
                                "dependency failed to start: service {s} waits for {dep} to be healthy: {e}\n{}",
                                last_log_lines(&self.containers, m.id(), 10)
                            )));
                        }
                        self.say("Container", m.name(), "Healthy");
                    }
                    Condition::ServiceCompletedSuccessfully => {
                        self.say("Container", m.name(), "Waiting");
                        let code = self.wait_exit(m.id(), timeout).map_err(|e| {
                            Error::Failed(format!("service {s} waits for {dep} to complete: {e}"))
                        })?;
                        if code != 0 {
                            return Err(Error::Failed(format!(
                                "service {dep:?} didn't complete successfully: exit {code}\n{}",
                                last_log_lines(&self.containers, m.id(), 10)
                            )));
                        }
                        self.say("Container", m.name(), "Exited");
                    }
                }
            }
        }
        Ok(())
    }

    /// Waits for container `id` to exit, at most `timeout`; its exit code.
    pub fn wait_exit(&self, id: &str, timeout: Duration) -> Result<i32> {
        let until = Instant::now() + timeout;
        loop {
            let c = rbox_runtime::lifecycle::reconcile(&self.containers, id)?;
            if !c.state.is_running() {
                return Ok(c.state.exit_code);
            }
            if Instant::now() >= until {
                return Err(Error::Failed(format!(
                    "container {} still runs after {}s",
                    c.config.name,
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `--wait`: every container of the targets running, and healthy when it has a check.
    fn wait_running(&self, targets: &[String], timeout: Duration) -> Result<()> {
        for m in self.service_members(targets)? {
            if m.container.config.config.healthcheck.is_some() {
                rbox_runtime::ops::health::wait_healthy(&self.containers, m.id(), Some(timeout))
                    .map_err(|e| Error::Failed(format!("container {}: {e}", m.name())))?;
                self.say("Container", m.name(), "Healthy");
            } else if !rbox_runtime::lifecycle::reconcile(&self.containers, m.id())?
                .state
                .is_running()
            {
                return Err(Error::Failed(format!(
                    "container {} exited ({})\n{}",
                    m.name(),
                    m.container.state.exit_code,
                    last_log_lines(&self.containers, m.id(), 10)
                )));
            }
        }
        Ok(())
    }

    /// The image id a service's containers should have.
    fn current_image_id(&self, s: &str) -> Option<String> {
        self.images
            .resolve(&self.image_of(s))
            .ok()
            .map(|i| i.id().to_string())
    }

    /// Service `s`'s containers as the file says: scaled to its count (the highest numbers
    /// removed), changed ones recreated, stopped ones started, the rest left running.
    fn converge(&self, s: &str, existing: Vec<Member>, o: &UpOptions) -> Result<()> {
        let svc = &self.project.services[s];
        let want = o.scale.get(s).copied().unwrap_or_else(|| svc.replicas());
        if want > 1 && svc.container_name.is_some() {
            return Err(Error::Failed(format!(
                "service {s}: container_name {:?} can't be given to {want} containers",
                svc.container_name.as_deref().unwrap_or_default()
            )));
        }
        let extra: Vec<Member> = existing
            .iter()
            .filter(|m| m.number > want || m.number == 0)
            .rev()
            .cloned()
            .collect();
        self.remove_members(&extra, o.timeout)?;
        let hash = names::config_hash(svc);
        let image = self.current_image_id(s);
        for n in 1..=want {
            match existing.iter().find(|m| m.number == n) {
                Some(m) => {
                    let changed = m.labels().get(LABEL_HASH) != Some(&hash)
                        || image
                            .as_deref()
                            .is_some_and(|i| i != m.container.config.image_id);
                    if o.force_recreate || (changed && !o.no_recreate) {
                        self.recreate(s, m, o)?;
                    } else if o.start && !m.running() {
                        self.say("Container", m.name(), "Starting");
                        start_detached(&self.containers, m.id())
                            .map_err(|e| Error::Failed(format!("container {}: {e}", m.name())))?;
                        self.say("Container", m.name(), "Started");
                    } else {
                        self.say("Container", m.name(), "Running");
                    }
                }
                None => {
                    self.create_container(s, n, &Overrides::default(), o.start)?;
                }
            }
        }
        Ok(())
    }

    fn recreate(&self, s: &str, m: &Member, o: &UpOptions) -> Result<()> {
        self.say("Container", m.name(), "Recreate");
        let keep: Vec<(String, String)> = m
            .container
            .config
            .host
            .mounts
            .iter()
            .filter(|mt| {
                mt.kind == MountKind::Volume
                    && !mt.borrowed
                    && self
                        .containers
                        .volume(&mt.source)
                        .is_ok_and(|v| v.anonymous)
            })
            .map(|mt| (mt.destination.clone(), mt.source.clone()))
            .collect();
        rbox_runtime::lifecycle::stop(&self.containers, m.id(), o.timeout)?;
        rbox_runtime::lifecycle::remove(&self.containers, m.id(), true, false)?;
        let over = Overrides {
            keep_volumes: keep,
            ..Default::default()
        };
        self.create_container(s, m.number, &over, o.start)?;
        Ok(())
    }

    /// Makes container `number` of service `s` (and starts it, with `start`). A container
    /// that could not join its networks or start is removed again.
    pub fn create_container(
        &self,
        s: &str,
        number: u32,
        over: &Overrides,
        start: bool,
    ) -> Result<String> {
        let svc = &self.project.services[s];
        let name = names::container_name(&self.project.name, svc, number);
        let planned = plan(
            self.project,
            svc,
            &name,
            number,
            false,
            &self.secrets_dir(),
            over,
        )
        .map_err(Error::Failed)?;
        self.say("Container", &name, "Creating");
        let cfg = rbox_runtime::create::create(&self.images, &self.containers, &planned.options)
            .map_err(|e| Error::Failed(format!("service {s}: creating {name}: {e}")))?;
        let undo = |e: String| {
            let _ = rbox_runtime::lifecycle::remove(&self.containers, &cfg.id, true, true);
            Error::Failed(e)
        };
        for j in &planned.more_networks {
            rbox_runtime::net::connect(
                &self.containers,
                &cfg.id,
                &j.network,
                j.ip.as_deref(),
                &j.aliases,
            )
            .map_err(|e| undo(format!("container {name}: joining {}: {e}", j.network)))?;
        }
        self.say("Container", &name, "Created");
        if start {
            self.say("Container", &name, "Starting");
            start_detached(&self.containers, &cfg.id)
                .map_err(|e| undo(format!("container {name}: {e}")))?;
            self.say("Container", &name, "Started");
        }
        Ok(cfg.id)
    }
}
