//! One pod of a workload made here: an rbox pod on the kube network, its volumes, its init
//! containers run in order to completion, then its containers started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rbox_runtime::model::health::HealthFlags;
use rbox_runtime::ops::pod as rpod;
use rbox_runtime::store::pods::PodConfig;
use rbox_runtime::{Container, RunOptions};

use super::{Engine, EngineError, Result};
use crate::plan::{
    host_path_check, ContainerPlan, FoundAt, HealthCheck, HostPathAction, PodFacts, VolumeSource,
    Workload,
};
use crate::types::RestartPolicy;

/// The rbox pod label naming the workload a pod belongs to (`Deployment/web`).
pub const OWNER: &str = "io.rbox.kube.owner";
/// The rbox pod label with the template hash it was made from.
pub const HASH: &str = "io.rbox.kube.template-hash";
/// The rbox pod label with its namespace.
pub const NAMESPACE: &str = "io.rbox.kube.namespace";
/// The container label with the Kubernetes container name.
pub const CONTAINER: &str = "io.kubernetes.container.name";
/// The container label with the pod name.
pub const POD: &str = "io.kubernetes.pod.name";
/// The container label of one whose health check is its readinessProbe.
pub const READINESS: &str = "io.rbox.kube.readiness-probe";

/// A pod that `kube play` made, with its containers.
#[derive(Debug, Clone)]
pub struct KubePod {
    pub pod: PodConfig,
    pub members: Vec<Container>,
}

impl KubePod {
    pub fn name(&self) -> &str {
        &self.pod.name
    }

    /// `Deployment/web`.
    pub fn owner(&self) -> &str {
        self.pod.labels.get(OWNER).map(String::as_str).unwrap_or("")
    }

    pub fn hash(&self) -> &str {
        self.pod.labels.get(HASH).map(String::as_str).unwrap_or("")
    }

    /// Its Kubernetes labels (rbox's own left out).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.pod
            .labels
            .iter()
            .filter(|(k, _)| !k.starts_with("io.rbox.kube."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Containers ready (running, started where a startupProbe is set, and healthy where a
    /// readinessProbe is), of all.
    pub fn ready(&self) -> (usize, usize) {
        let ready = self.members.iter().filter(|c| container_ready(c)).count();
        (ready, self.members.len())
    }

    /// kubectl's STATUS.
    pub fn status(&self) -> &'static str {
        use rbox_runtime::Status;
        let m = &self.members;
        if m.is_empty() || m.iter().all(|c| c.state.status == Status::Created) {
            "Pending"
        } else if m.iter().all(|c| c.state.is_running()) {
            "Running"
        } else if m
            .iter()
            .all(|c| c.state.status == Status::Exited && c.state.exit_code == 0)
        {
            "Completed"
        } else if m
            .iter()
            .any(|c| c.state.status == Status::Exited && c.state.exit_code != 0)
        {
            "Error"
        } else if m.iter().any(|c| c.state.is_running()) {
            "Running"
        } else {
            "Unknown"
        }
    }

    pub fn restarts(&self) -> u32 {
        self.members.iter().map(|c| c.state.restart_count).sum()
    }

    /// The member of Kubernetes container name `name`.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.members
            .iter()
            .find(|c| c.config.config.labels.get(CONTAINER).map(String::as_str) == Some(name))
    }
}

/// Whether a member runs and its startupProbe, if it has one, has succeeded (Kubernetes'
/// `started`).
pub fn container_started(c: &Container) -> bool {
    use rbox_runtime::model::health::HealthStatus;
    if !c.state.is_running() {
        return false;
    }
    let Some(check) = &c.config.config.healthcheck else {
        return true;
    };
    let Some(h) = &c.state.health else {
        return false;
    };
    // A startupProbe standing alone is the check itself, run until it succeeds.
    h.started() && (!check.until_healthy || h.status == HealthStatus::Healthy)
}

/// Whether a member is ready as Kubernetes counts it: started, and healthy where its check
/// is its readinessProbe.
pub fn container_ready(c: &Container) -> bool {
    use rbox_runtime::model::health::HealthStatus;
    let readiness = c.config.config.labels.contains_key(READINESS);
    container_started(c)
        && (!readiness
            || c.state
                .health
                .as_ref()
                .is_some_and(|h| h.status == HealthStatus::Healthy))
}

/// A shell line that runs `argv` as it is.
fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A probe as rbox's health check.
pub fn health(h: &HealthCheck) -> HealthFlags {
    HealthFlags {
        cmd: Some(format!(
            "exec {}",
            shell_line(&h.test.command(h.timeout_seconds))
        )),
        interval: Some(format!("{}s", h.interval_seconds.max(1))),
        timeout: Some(format!("{}s", h.timeout_seconds.max(1))),
        retries: Some(h.retries.max(1)),
        start_period: Some(format!("{}s", h.start_period_seconds)),
        ..Default::default()
    }
}

/// A container's probes as its checks. The readinessProbe is its health (READY counts it);
/// the livenessProbe runs beside it, or is the check itself without a readinessProbe, and
/// kills the container when it fails (its restartPolicy then applies, as the kubelet's);
/// the startupProbe runs first and alone, the others only once it has succeeded, and kills
/// the container past its failureThreshold.
pub fn probes(c: &ContainerPlan) -> HealthFlags {
    let kill = |h: &HealthCheck| HealthFlags {
        on_failure: Some("kill".into()),
        ..health(h)
    };
    let startup = |f: HealthFlags| HealthFlags {
        startup: c.startup.as_ref().map(|s| Box::new(kill(s))),
        ..f
    };
    match (&c.readiness, &c.liveness, &c.startup) {
        (Some(r), l, _) => startup(HealthFlags {
            liveness: l.as_ref().map(|l| Box::new(kill(l))),
            ..health(r)
        }),
        (None, Some(l), _) => startup(kill(l)),
        (None, None, Some(s)) => HealthFlags {
            until_healthy: true,
            ..kill(s)
        },
        (None, None, None) => HealthFlags::default(),
    }
}

fn found_at(p: &Path) -> FoundAt {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(p) {
        Err(_) => FoundAt::Nothing,
        Ok(m) => {
            let t = m.file_type();
            if t.is_dir() {
                FoundAt::Directory
            } else if t.is_file() {
                FoundAt::File
            } else if t.is_socket() {
                FoundAt::Socket
            } else if t.is_char_device() {
                FoundAt::CharDevice
            } else if t.is_block_device() {
                FoundAt::BlockDevice
            } else {
                FoundAt::Other
            }
        }
    }
}

/// Where each volume of a pod is on the host (`None`: a tmpfs, mounted by destination).
pub struct PodVolumes {
    pub sources: BTreeMap<String, Option<(PathBuf, bool)>>,
    pub tmpfs_size: BTreeMap<String, Option<u64>>,
}

impl Engine {
    /// Makes the host side of a pod's volumes: hostPaths checked or made, emptyDirs and
    /// claims as named volumes, ConfigMap and Secret files written.
    fn volumes(&self, w: &Workload, pod_name: &str) -> Result<PodVolumes> {
        let mut sources = BTreeMap::new();
        let mut tmpfs_size = BTreeMap::new();
        let cs = &self.containers;
        for v in &w.pod.volumes {
            let src = match &v.source {
                VolumeSource::Bind { path, check } => {
                    let p = PathBuf::from(path);
                    match host_path_check(*check, found_at(&p)).map_err(|e| {
                        EngineError::Failed(format!("volume {} ({path}): {e}", v.name))
                    })? {
                        HostPathAction::Bind => {}
                        HostPathAction::CreateDirectory => {
                            std::fs::create_dir_all(&p).map_err(|e| {
                                EngineError::Failed(format!("hostPath {path}: {e}"))
                            })?;
                        }
                        HostPathAction::CreateFile => {
                            std::fs::write(&p, b"").map_err(|e| {
                                EngineError::Failed(format!("hostPath {path}: {e}"))
                            })?;
                        }
                    }
                    Some((p, false))
                }
                VolumeSource::Tmpfs { size_bytes } => {
                    tmpfs_size.insert(v.name.clone(), *size_bytes);
                    None
                }
                VolumeSource::PodVolume { .. } => {
                    let name = crate::naming::pod_volume_name(pod_name, &v.name);
                    let mut labels = BTreeMap::new();
                    labels.insert(super::POD_VOLUME.to_owned(), pod_name.to_owned());
                    cs.create_volume(Some(&name), labels)?;
                    Some((cs.volume_data(&name), false))
                }
                VolumeSource::Claim { claim, read_only } => {
                    let mut labels = BTreeMap::new();
                    labels.insert(super::CLAIM.to_owned(), claim.clone());
                    cs.create_volume(Some(claim), labels)?;
                    Some((cs.volume_data(claim), *read_only))
                }
                VolumeSource::Files { files, .. } => {
                    let dir = self.state.pod_files(pod_name).join(&v.name);
                    write_files(&dir, files)?;
                    Some((dir, true))
                }
            };
            sources.insert(v.name.clone(), src);
        }
        Ok(PodVolumes {
            sources,
            tmpfs_size,
        })
    }

    /// The run options of one container of a pod.
    fn container_options(
        &self,
        w: &Workload,
        c: &ContainerPlan,
        pod: &PodConfig,
        vols: &PodVolumes,
        init: bool,
    ) -> Result<RunOptions> {
        let facts = PodFacts {
            name: pod.name.clone(),
            ip: pod.ip().map(|i| i.to_string()).unwrap_or_default(),
            host_ip: pod
                .networks
                .first()
                .map(|e| e.gateway.to_string())
                .unwrap_or_default(),
            node_name: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let env = c.env_for(&facts);
        let image = self.images.resolve(&c.image)?;
        let ic = self.images.image_config(image.id())?.run();
        let argv = c.argv(
            &ic.entrypoint.cloned_or_default(),
            &ic.cmd.cloned_or_default(),
            &env,
        );
        let (entrypoint, command) = match argv.split_first() {
            Some((first, rest)) => (Some(first.clone()), rest.to_vec()),
            None => (None, Vec::new()),
        };
        let mut o = RunOptions {
            image: c.image.clone(),
            name: Some(format!("{}-{}", pod.name, c.name)),
            pod: Some(pod.id.clone()),
            entrypoint,
            command,
            env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            workdir: c.working_dir.clone(),
            tty: c.tty,
            interactive: c.stdin,
            stop_timeout: Some(w.pod.termination_grace_seconds.min(u32::MAX as u64) as u32),
            labels: vec![
                format!("{CONTAINER}={}", c.name),
                format!("{POD}={}", pod.name),
            ],
            ..Default::default()
        };
        let job = w.kind == crate::plan::WorkloadKind::Job;
        o.restart = Some(match (init, w.pod.restart_policy) {
            (true, _) | (_, RestartPolicy::Never) => "no".into(),
            // A Job's container is restarted in place, its restarts counted against the
            // backoffLimit (none left at 0: the failed pod fails the Job).
            (_, RestartPolicy::OnFailure) if job => {
                match w.job.as_ref().map_or(6, |j| j.backoff_limit) {
                    0 => "no".into(),
                    n => format!("on-failure:{n}"),
                }
            }
            (_, RestartPolicy::OnFailure) => "on-failure".into(),
            // Validation refuses Always for a Job.
            (_, RestartPolicy::Always) => "always".into(),
        });
        let r = &c.resources;
        if let Some(m) = r.memory_limit_bytes {
            o.memory = Some(m.to_string());
        }
        if let Some(cpu) = r.cpu_limit_millis {
            o.cpus = Some(format!("{}", cpu as f64 / 1000.0));
        }
        if let Some(req) = r.cpu_request_millis {
            o.cpu_shares = Some((req * 1024 / 1000).max(2));
        }
        let s = &c.security;
        o.user = match (s.run_as_user, s.run_as_group) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!("0:{g}")),
            (None, None) => None,
        };
        o.privileged = s.privileged;
        o.read_only = s.read_only_root_filesystem;
        o.cap_add = s.capabilities_add.clone();
        o.cap_drop = s.capabilities_drop.clone();
        if s.allow_privilege_escalation == Some(false) {
            o.security_opts.push("no-new-privileges".into());
        }
        // The host's namespaces: its network comes with its UTS namespace, as the kubelet
        // has it (the pod's hostname is the node's).
        let p = &w.pod;
        let host = |on: bool| on.then(|| "host".to_owned());
        o.uts = host(p.host_network);
        o.ipc = host(p.host_ipc);
        o.pid = host(p.host_pid);
        if let Some(d) = &p.dns {
            o.dns_search = d.searches.clone();
            o.dns_options = d
                .options
                .iter()
                .map(|x| match &x.value {
                    Some(v) => format!("{}:{v}", x.name),
                    None => x.name.clone(),
                })
                .collect();
        }
        if !init {
            o.health = probes(c);
            if c.readiness.is_some() {
                o.labels.push(format!("{READINESS}=true"));
            }
        }
        for m in &c.mounts {
            match vols.sources.get(&m.volume) {
                Some(Some((src, ro))) => {
                    let src = match &m.sub_path {
                        Some(sp) => {
                            let p = src.join(sp);
                            if !p.exists() {
                                std::fs::create_dir_all(&p).map_err(|e| {
                                    EngineError::Failed(format!("subPath {sp}: {e}"))
                                })?;
                            }
                            p
                        }
                        None => src.clone(),
                    };
                    let mode = if m.read_only || *ro { ":ro" } else { "" };
                    o.volumes
                        .push(format!("{}:{}{mode}", src.display(), m.path));
                }
                Some(None) => {
                    let size = vols
                        .tmpfs_size
                        .get(&m.volume)
                        .copied()
                        .flatten()
                        .map(|s| format!(":size={s}"))
                        .unwrap_or_default();
                    o.tmpfs.push(format!("{}{size}", m.path));
                }
                None => {
                    return Err(EngineError::Failed(format!(
                        "container {}: volume {} is not in the pod",
                        c.name, m.volume
                    )))
                }
            }
        }
        Ok(o)
    }

    /// Makes the rbox pod of a new Kubernetes pod (an address taken; nothing runs yet).
    pub(super) fn make_pod(&self, w: &Workload, name: &str, hosts: &[String]) -> Result<PodConfig> {
        let mut labels: Vec<String> = w
            .pod
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.push(format!("{OWNER}={:?}/{}", w.kind, w.name));
        labels.push(format!("{HASH}={}", w.template_hash));
        labels.push(format!("{NAMESPACE}={}", w.namespace));
        let host_net = w.pod.host_network;
        // On the host's network a hostPort is the container's own port: nothing to publish.
        let publish = w
            .pod
            .published_ports()
            .filter(|_| !host_net)
            .map(|p| {
                let ip = p
                    .host_ip
                    .as_deref()
                    .map(|i| format!("{i}:"))
                    .unwrap_or_default();
                format!(
                    "{ip}{}:{}/{}",
                    p.host_port.unwrap_or(0),
                    p.container_port,
                    p.protocol.as_lower()
                )
            })
            .collect();
        let mut add_hosts: Vec<String> = w
            .pod
            .host_aliases
            .iter()
            .flat_map(|a| {
                let ip = a.ip.clone();
                a.hostnames
                    .iter()
                    .map(move |h| format!("{h}:{ip}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        add_hosts.extend(hosts.iter().cloned());
        let dns = w
            .pod
            .dns
            .as_ref()
            .map(|d| d.nameservers.clone())
            .unwrap_or_default();
        Ok(rpod::create(
            &self.containers,
            &rpod::CreateOptions {
                name: Some(name.to_owned()),
                publish,
                network: Some(if host_net {
                    "host".into()
                } else {
                    self.network.clone()
                }),
                share: Some(
                    ["net"]
                        .into_iter()
                        .chain((!w.pod.host_ipc).then_some("ipc"))
                        .chain((!host_net).then_some("uts"))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                labels,
                hostname: Some(match (&w.pod.hostname, host_net) {
                    (_, true) => nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| name.to_owned()),
                    (Some(h), false) => h.clone(),
                    (None, false) => name.to_owned(),
                }),
                add_hosts,
                dns,
                ip: None,
            },
        )?)
    }

    /// Fills a made pod: its volumes, its init containers run in order (each to exit 0),
    /// its containers made and started.
    pub(super) fn fill_pod(&self, w: &Workload, pod: &PodConfig) -> Result<()> {
        let vols = self.volumes(w, &pod.name)?;
        for c in &w.pod.init_containers {
            let o = self.container_options(w, c, pod, &vols, true)?;
            let made = rbox_runtime::create::create(&self.images, &self.containers, &o)?;
            let code = (|| -> Result<i32> {
                rbox_runtime::ops::run::start_detached(&self.containers, &made.id)?;
                Ok(rbox_runtime::lifecycle::wait(&self.containers, &made.id)?)
            })();
            let _ = rbox_runtime::lifecycle::remove(&self.containers, &made.id, true, true);
            match code? {
                0 => {}
                n => {
                    return Err(EngineError::Failed(format!(
                        "pod {}: init container {} exited with code {n}",
                        pod.name, c.name
                    )))
                }
            }
        }
        // The containers are made side by side, then started together.
        let mut options = w
            .pod
            .containers
            .iter()
            .map(|c| self.container_options(w, c, pod, &vols, false))
            .collect::<Result<Vec<_>>>()?;
        if w.pod.share_process_namespace && !w.pod.host_pid && options.len() > 1 {
            // One PID namespace: the first container's, which starts first; the others join
            // it as they are made.
            let first = options.remove(0);
            let made = rbox_runtime::create::create(&self.images, &self.containers, &first)?;
            rpod::start(&self.containers, pod)?;
            for o in &mut options {
                o.pid = Some(format!("container:{}", made.id));
            }
        }
        let made: Vec<rbox_runtime::Result<_>> = std::thread::scope(|s| {
            let hs: Vec<_> = options
                .iter()
                .map(|o| {
                    s.spawn(|| rbox_runtime::create::create(&self.images, &self.containers, o))
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(rbox_runtime::Error::Runtime("a thread panicked".into()))
                    })
                })
                .collect()
        });
        for m in made {
            m?;
        }
        rpod::start(&self.containers, pod)?;
        Ok(())
    }

    /// Removes a pod, its containers, its emptyDir volumes and its files.
    pub fn remove_pod(&self, pod: &PodConfig) -> Result<()> {
        rpod::remove(&self.containers, pod, true)?;
        for v in self.containers.volumes()? {
            if v.labels.get(super::POD_VOLUME) == Some(&pod.name) {
                let _ = self.containers.remove_volume(&v.name);
            }
        }
        let _ = std::fs::remove_dir_all(self.state.pod_files(&pod.name));
        Ok(())
    }
}

/// Writes the files of a ConfigMap or Secret volume into a fresh `dir`.
fn write_files(dir: &Path, files: &[crate::plan::FileToWrite]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)
        .map_err(|e| EngineError::Failed(format!("{}: {e}", dir.display())))?;
    for f in files {
        let rel = Path::new(&f.path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(EngineError::Failed(format!(
                "file path {:?} leaves the volume",
                f.path
            )));
        }
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| EngineError::Failed(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, &f.contents)
            .and_then(|_| std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)))
            .map_err(|e| EngineError::Failed(format!("{}: {e}", p.display())))?;
    }
    Ok(())
}
