//! Running a plan here: each Kubernetes pod an rbox pod ([`rbox_runtime::ops::pod`]) on the
//! kube network, its containers members of it; a play converges on what runs (unchanged
//! pods stay, replicas are added or removed, a changed Deployment rolls one pod at a time
//! and records a revision); `down` removes what a file made.
//!
//! What is kept between plays is under the data root ([`state`]); which pods belong to
//! which workload is read from the pods' labels ([`pods::OWNER`], [`pods::HASH`]).

pub mod generate;
pub mod get;
pub mod pods;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rbox_runtime::ops::pod as rpod;
use rbox_runtime::store::pods::{PodConfig, Pods};
use rbox_runtime::Containers;

use crate::object::Resource;
use crate::plan::{Plan, ServiceKind, ServicePlan, Workload, WorkloadKind};
pub use pods::KubePod;
pub use state::State;

/// The network kube pods are on unless `--network` says otherwise.
pub const DEFAULT_NETWORK: &str = "kube";
/// The volume label of an emptyDir's pod.
pub const POD_VOLUME: &str = "io.rbox.kube.pod";
/// The volume label of a claim's volume.
pub const CLAIM: &str = "io.rbox.kube.claim";

/// What goes wrong running manifests.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Kube(#[from] crate::Error),
    #[error(transparent)]
    Runtime(#[from] rbox_runtime::Error),
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    #[error(transparent)]
    Network(#[from] rbox_network::Error),
    #[error("{0}")]
    Failed(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// How to play.
pub struct PlayOptions<'a> {
    /// The network of the pods ([`DEFAULT_NETWORK`], made when absent).
    pub network: Option<String>,
    /// Remove the pods of the input's workloads first, and make them again.
    pub replace: bool,
    /// Fetches an image the store lacks.
    pub pull: &'a (dyn Fn(&str) -> std::result::Result<(), String> + Sync),
    /// Says what is done and what is read past (warnings).
    pub say: &'a (dyn Fn(&str) + Sync),
}

/// The engine over one data root.
pub struct Engine {
    pub root: PathBuf,
    pub images: rbox_image::Store,
    pub containers: Containers,
    pub state: State,
    network: String,
}

/// One file to read: its name (for messages) and text.
pub type Input = (String, String);

/// Reads and plans inputs; warnings are given to `say`.
pub fn read(inputs: &[Input], say: &dyn Fn(&str)) -> Result<(Vec<crate::Object>, Plan)> {
    let mut objects = Vec::new();
    for (name, text) in inputs {
        let parsed = crate::parse(name, text)?;
        for w in &parsed.warnings {
            say(&format!("warning: {w}"));
        }
        objects.extend(parsed.objects);
    }
    let plan = crate::plan(&objects)?;
    for w in &plan.warnings {
        say(&format!("warning: {w}"));
    }
    Ok((objects, plan))
}

/// The names a Service answers to: `NAME`, `NAME.NAMESPACE`, `NAME.NAMESPACE.svc.cluster.local`.
fn service_names(s: &ServicePlan) -> [String; 3] {
    [
        s.name.clone(),
        format!("{}.{}", s.name, s.namespace),
        format!("{}.{}.svc.cluster.local", s.name, s.namespace),
    ]
}

/// What an ExternalName Service's name stands for here.
enum External<'a> {
    /// Pods: those of the Service it names, or the pod it names or whose address it is.
    Pods(Vec<&'a KubePod>),
    /// An address that is no pod's.
    Address(String),
    /// A name rbox doesn't know (an outside one): the network's resolver answers the
    /// Service's names with a CNAME to it and the addresses its upstream servers give.
    Outside,
}

/// What the externalName `target` stands for among `services` and the pods `all`.
fn external<'a>(target: &str, services: &[ServicePlan], all: &'a [KubePod]) -> External<'a> {
    let t = target.trim_end_matches('.').to_ascii_lowercase();
    if t.parse::<std::net::IpAddr>().is_ok() {
        let pods: Vec<&KubePod> = all
            .iter()
            .filter(|p| p.pod.ip().map(|i| i.to_string()) == Some(t.clone()))
            .collect();
        return if pods.is_empty() {
            External::Address(t)
        } else {
            External::Pods(pods)
        };
    }
    let named = services
        .iter()
        .filter(|s| !matches!(s.kind, ServiceKind::ExternalName(_)))
        .find(|s| service_names(s).contains(&t));
    if let Some(s) = named {
        return External::Pods(
            all.iter()
                .filter(|p| selected(&s.selector, &p.labels()))
                .collect(),
        );
    }
    let pods: Vec<&KubePod> = all
        .iter()
        .filter(|p| p.name() == t || p.pod.hostname == t)
        .collect();
    if pods.is_empty() {
        External::Outside
    } else {
        External::Pods(pods)
    }
}

/// A node port in 30000–32767 that is neither `taken` nor bound on the host.
fn free_node_port(taken: &[u16]) -> Result<u16> {
    for port in 30000..=32767u16 {
        if taken.contains(&port) {
            continue;
        }
        let m = rbox_network::PortMapping {
            host_ip: None,
            host_port: port,
            container_port: port,
            protocol: "tcp".into(),
        };
        if rbox_network::ports::reserve(std::slice::from_ref(&m)).is_ok() {
            return Ok(port);
        }
    }
    Err(EngineError::Failed(
        "no free node port in 30000-32767".into(),
    ))
}

/// Pods to add or remove so that `w` has its replicas (the newest go first).
fn scale<'a>(
    w: &'a Workload,
    have: Vec<KubePod>,
    wanted: &mut Vec<(&'a Workload, String)>,
    surplus: &mut Vec<PodConfig>,
) {
    let n = have.len() as u32;
    for _ in n..w.replicas {
        wanted.push((w, w.pod_names.next()));
    }
    for p in have
        .iter()
        .rev()
        .take(n.saturating_sub(w.replicas) as usize)
    {
        surplus.push(p.pod.clone());
    }
}

fn owner_of(w: &Workload) -> String {
    format!("{:?}/{}", w.kind, w.name)
}

/// Whether `labels` has every pair of `selector` (an empty selector selects nothing).
fn selected(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl Engine {
    /// The engine over data root `root`.
    pub fn open(root: &Path) -> Result<Engine> {
        Ok(Engine {
            root: root.to_owned(),
            images: rbox_image::Store::open(root)?,
            containers: Containers::open(root)?,
            state: State::open(root),
            network: DEFAULT_NETWORK.into(),
        })
    }

    /// Every pod `kube play` made, oldest first.
    pub fn kube_pods(&self) -> Result<Vec<KubePod>> {
        let pods = Pods::open(&self.containers)?;
        let mut out = Vec::new();
        for p in pods.list()? {
            if !p.labels.contains_key(pods::OWNER) {
                continue;
            }
            let members = rpod::members(&self.containers, &p.id)?;
            out.push(KubePod { pod: p, members });
        }
        Ok(out)
    }

    /// A pod made by `kube play`, by name.
    pub fn kube_pod(&self, name: &str) -> Result<KubePod> {
        self.kube_pods()?
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| EngineError::Failed(format!("pods \"{name}\" not found")))
    }

    fn ensure_network(&mut self, name: Option<&str>) -> Result<()> {
        let name = name.unwrap_or(DEFAULT_NETWORK);
        self.network = name.to_owned();
        let nets = rbox_network::Networks::open(&self.root);
        if nets.get(name).is_err() {
            if name != DEFAULT_NETWORK {
                nets.get(name)?;
            }
            nets.create(&rbox_network::CreateOptions {
                name: name.to_owned(),
                ..Default::default()
            })?;
            // Made here: removed by the `down` that leaves nothing on it.
            self.state.network_made(true);
        }
        Ok(())
    }

    /// The /etc/hosts entries (NAME:IP) of `services`: each name on its pods' addresses
    /// (an ExternalName's on those of what it names).
    fn service_hosts(&self, services: &[ServicePlan], all: &[KubePod]) -> Vec<String> {
        let mut out = Vec::new();
        for s in services {
            if let ServiceKind::ExternalName(target) = &s.kind {
                let ips: Vec<String> = match external(target, services, all) {
                    External::Pods(pods) => pods
                        .iter()
                        .filter_map(|p| p.pod.ip().map(|i| i.to_string()))
                        .collect(),
                    External::Address(ip) => vec![ip],
                    External::Outside => Vec::new(),
                };
                for ip in ips {
                    for n in service_names(s) {
                        out.push(format!("{n}:{ip}"));
                    }
                }
                continue;
            }
            for p in all.iter().filter(|p| selected(&s.selector, &p.labels())) {
                if let Some(ip) = p.pod.ip() {
                    for n in service_names(s) {
                        out.push(format!("{n}:{ip}"));
                    }
                }
            }
        }
        out
    }

    /// Every recorded Service and those of `plan`, newest winning.
    fn all_services(&self, plan: &[ServicePlan]) -> Vec<ServicePlan> {
        let mut all: Vec<ServicePlan> = self
            .state
            .services()
            .into_iter()
            .filter(|s| !plan.iter().any(|p| p.name == s.name))
            .collect();
        all.extend(plan.iter().cloned());
        all
    }

    /// Rewrites every kube pod's hosts entries: its hostAliases and the Services' names.
    fn refresh_hosts(&self, services: &[ServicePlan]) -> Result<()> {
        let all = self.kube_pods()?;
        let svc = self.service_hosts(services, &all);
        let workloads = self.state.workloads();
        for p in &all {
            let mut hosts: Vec<String> = workloads
                .iter()
                .find(|w| owner_of(w) == p.owner())
                .map(|w| {
                    w.pod
                        .host_aliases
                        .iter()
                        .flat_map(|a| a.hostnames.iter().map(|h| format!("{h}:{}", a.ip)))
                        .collect()
                })
                .unwrap_or_default();
            hosts.extend(svc.iter().cloned());
            rpod::set_extra_hosts(&self.containers, &p.pod, hosts)?;
            // The Services' names on the network's resolver too; an ExternalName's on the
            // pods of what it names.
            let aliases = services
                .iter()
                .filter(|s| match &s.kind {
                    ServiceKind::ExternalName(target) => matches!(
                        external(target, services, &all),
                        External::Pods(pods) if pods.iter().any(|x| x.pod.id == p.pod.id)
                    ),
                    _ => selected(&s.selector, &p.labels()),
                })
                .flat_map(service_names)
                .collect();
            rpod::set_aliases(&self.containers, &p.pod, aliases)?;
        }
        self.sync_cnames(services, &all)?;
        self.sync_node_ports(services, &all)
    }

    /// The names of the ExternalName Services that stand for outside names, on the kube
    /// network's resolver: each answered with a CNAME to its externalName and the addresses
    /// the resolver's upstream servers give for it.
    fn sync_cnames(&self, services: &[ServicePlan], all: &[KubePod]) -> Result<()> {
        let mut cnames = Vec::new();
        for s in services {
            if let ServiceKind::ExternalName(target) = &s.kind {
                if let External::Outside = external(target, services, all) {
                    let t = target.trim_end_matches('.').to_ascii_lowercase();
                    cnames.extend(service_names(s).into_iter().map(|n| (n, t.clone())));
                }
            }
        }
        let mut on: Vec<String> = all.iter().map(|p| p.pod.network.clone()).collect();
        on.push(if self.network.is_empty() {
            DEFAULT_NETWORK.to_owned()
        } else {
            self.network.clone()
        });
        on.sort();
        on.dedup();
        let nets = rbox_network::Networks::open(&self.root);
        let names = rbox_network::dns::Names::open(&self.root);
        for n in on {
            if let Ok(net) = nets.get(&n) {
                names
                    .set_cnames(&net, &cnames)
                    .map_err(|e| EngineError::Failed(format!("network {n}: {e}")))?;
            }
        }
        Ok(())
    }

    /// Publishes each NodePort Service's ports on the host, each spread over the Service's
    /// pods that have an address (a new connection goes to the next pod); what no longer
    /// stands is unpublished.
    fn sync_node_ports(&self, services: &[ServicePlan], all: &[KubePod]) -> Result<()> {
        let nets = rbox_network::Networks::open(&self.root);
        let recorded = self.state.all_node_ports();
        let mut taken: Vec<u16> = recorded
            .iter()
            .flat_map(|(_, n)| n.ports.iter().map(|p| p.host_port))
            .collect();
        let unpublish = |n: &state::NodePorts, keep: &[state::NodePort]| {
            if let Ok(net) = nets.get(&n.network) {
                for p in n.ports.iter().filter(|p| {
                    !keep
                        .iter()
                        .any(|k| k.protocol == p.protocol && k.host_port == p.host_port)
                }) {
                    rbox_network::nat::unspread(&net, &p.protocol, p.host_port);
                }
            }
        };
        for s in services.iter().filter(|s| s.kind == ServiceKind::NodePort) {
            let before = self.state.node_ports(&s.name);
            let pods: Vec<&KubePod> = all
                .iter()
                .filter(|p| selected(&s.selector, &p.labels()) && p.pod.ip().is_some())
                .collect();
            let now = match pods.first() {
                None => None,
                Some(first) => {
                    let mut ports = Vec::new();
                    for (i, sp) in s.ports.iter().enumerate() {
                        let protocol = sp.protocol.as_lower().to_owned();
                        let mut targets: Vec<(std::net::Ipv4Addr, u16)> = pods
                            .iter()
                            .map(|p| {
                                let workload = p.owner().split_once('/').map_or("", |(_, n)| n);
                                let port = sp
                                    .targets
                                    .iter()
                                    .find(|t| t.workload == workload)
                                    .map(|t| t.container_port)
                                    .unwrap_or(sp.port);
                                (p.pod.ip().expect("filtered above"), port)
                            })
                            .collect();
                        targets.sort();
                        let earlier = before
                            .as_ref()
                            .and_then(|b| b.ports.get(i))
                            .filter(|b| b.protocol == protocol)
                            .map(|b| b.host_port);
                        let host_port = match sp.node_port.or(earlier) {
                            Some(n) => n,
                            None => free_node_port(&taken)?,
                        };
                        taken.push(host_port);
                        ports.push(state::NodePort {
                            protocol,
                            host_port,
                            targets,
                        });
                    }
                    Some(state::NodePorts {
                        network: first.pod.network.clone(),
                        ports,
                    })
                }
            };
            if now == before {
                continue;
            }
            if let Some(b) = &before {
                let keep = match &now {
                    Some(n) if n.network == b.network => n.ports.as_slice(),
                    _ => &[],
                };
                unpublish(b, keep);
            }
            if let Some(n) = &now {
                let net = nets.get(&n.network)?;
                nets.ensure_up(&net)?;
                for p in &n.ports {
                    rbox_network::nat::spread(
                        &net,
                        &rbox_network::nat::Spread {
                            protocol: p.protocol.clone(),
                            host_port: p.host_port,
                            targets: p.targets.clone(),
                        },
                    )?;
                }
            }
            self.state
                .save_node_ports(&s.name, now.as_ref())
                .map_err(|e| EngineError::Failed(format!("Service {}: {e}", s.name)))?;
        }
        for (name, n) in recorded {
            let stands = services
                .iter()
                .any(|s| s.name == name && s.kind == ServiceKind::NodePort);
            if !stands {
                unpublish(&n, &[]);
                let _ = self.state.save_node_ports(&name, None);
            }
        }
        Ok(())
    }

    /// Makes and fills pods (names given) of workloads, two at a time; on an error every
    /// pod made here is removed again.
    fn make_pods(
        &self,
        wanted: &[(&Workload, String)],
        hosts: &[String],
    ) -> Result<Vec<PodConfig>> {
        let mut made = Vec::new();
        for (w, name) in wanted {
            match self.make_pod(w, name, hosts) {
                Ok(p) => made.push(p),
                Err(e) => {
                    for p in &made {
                        let _ = self.remove_pod(p);
                    }
                    return Err(e);
                }
            }
        }
        let queue = std::sync::Mutex::new((0..made.len()).collect::<Vec<_>>());
        let failed = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let Some(i) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    if let Err(e) = self.fill_pod(wanted[i].0, &made[i]) {
                        failed.lock().unwrap().get_or_insert(e);
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap() {
            for p in &made {
                let _ = self.remove_pod(p);
            }
            return Err(e);
        }
        Ok(made)
    }

    /// Waits until pod `name` is ready (every container running, and healthy where it has a
    /// readiness check), for at most `limit`.
    fn wait_ready(&self, name: &str, limit: Duration) -> Result<()> {
        let until = Instant::now() + limit;
        loop {
            let p = self.kube_pod(name)?;
            let (ready, all) = p.ready();
            if ready == all && all > 0 {
                return Ok(());
            }
            if p.status() == "Error" || Instant::now() > until {
                return Err(EngineError::Failed(format!(
                    "pod {name} did not become ready ({ready}/{all} ready, {})",
                    p.status()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kube play`: runs the inputs, converging on what runs. Returns the names of the pods
    /// made.
    pub fn play(&mut self, inputs: &[Input], o: &PlayOptions) -> Result<Vec<String>> {
        let (_, plan) = read(inputs, o.say)?;
        let source = inputs
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n");
        self.run_plan(&plan, &source, o)
    }

    fn check_images(&self, plan: &Plan, o: &PlayOptions) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for w in &plan.workloads {
            for c in w.pod.init_containers.iter().chain(&w.pod.containers) {
                if !seen.insert(c.image.clone()) {
                    continue;
                }
                if self.images.resolve(&c.image).is_err() {
                    (o.pull)(&c.image).map_err(|e| {
                        EngineError::Failed(format!(
                            "{:?}/{}: container {}: image {}: {e}",
                            w.kind, w.name, c.name, c.image
                        ))
                    })?;
                    self.images.resolve(&c.image)?;
                }
            }
        }
        Ok(())
    }

    /// What the plan asks for that this engine does not do: each a warning naming it.
    fn unsupported(w: &Workload) -> Vec<String> {
        let mut out = Vec::new();
        let p = &w.pod;
        if p.share_process_namespace && !p.host_pid && p.containers.len() > 1 {
            out.push(format!(
                "shareProcessNamespace: the pod's PID namespace is its first container's ({}): when that one ends, the others end with it",
                p.containers[0].name
            ));
        }
        out
    }

    fn run_plan(&mut self, plan: &Plan, source: &str, o: &PlayOptions) -> Result<Vec<String>> {
        for w in &plan.workloads {
            for m in Self::unsupported(w) {
                (o.say)(&format!(
                    "warning: {}:{}: {:?}/{}: {m}",
                    w.file, w.line, w.kind, w.name
                ));
            }
        }
        self.ensure_network(o.network.as_deref())?;
        self.check_images(plan, o)?;
        let mut existing = self.kube_pods()?;
        if o.replace {
            for w in &plan.workloads {
                for p in existing.iter().filter(|p| p.owner() == owner_of(w)) {
                    self.remove_pod(&p.pod)?;
                }
            }
            existing = self.kube_pods()?;
        }
        let mine = |w: &Workload| -> Vec<KubePod> {
            existing
                .iter()
                .filter(|p| p.owner() == owner_of(w))
                .cloned()
                .collect()
        };
        // Refusals before anything is made.
        for w in &plan.workloads {
            let m = mine(w);
            if w.kind == WorkloadKind::Pod && m.iter().any(|p| p.hash() != w.template_hash) {
                return Err(EngineError::Failed(format!(
                    "pod {} exists with another spec: play with --replace to make it again",
                    w.name
                )));
            }
            if w.kind == WorkloadKind::Pod {
                if let Ok(id) = Pods::open(&self.containers)?.resolve(&w.name) {
                    if m.is_empty() {
                        return Err(EngineError::Failed(format!(
                            "the pod name {} is in use by a pod kube play did not make ({})",
                            w.name,
                            &id[..12]
                        )));
                    }
                }
            }
            if m.is_empty() {
                for p in w.pod.published_ports() {
                    let mapping = rbox_network::PortMapping {
                        host_ip: p.host_ip.as_deref().and_then(|i| i.parse().ok()),
                        host_port: p.host_port.unwrap_or(0),
                        container_port: p.container_port,
                        protocol: p.protocol.as_lower().into(),
                    };
                    rbox_network::ports::reserve(std::slice::from_ref(&mapping)).map_err(|e| {
                        EngineError::Failed(format!("{:?}/{}: hostPort: {e}", w.kind, w.name))
                    })?;
                }
            }
        }
        let mut wanted: Vec<(&Workload, String)> = Vec::new();
        let mut surplus: Vec<PodConfig> = Vec::new();
        let mut rolls: Vec<&Workload> = Vec::new();
        let mut jobs: Vec<&Workload> = Vec::new();
        for w in &plan.workloads {
            let m = mine(w);
            match w.kind {
                WorkloadKind::Pod => {
                    if m.is_empty() {
                        wanted.push((w, w.pod_names.next()));
                    }
                }
                WorkloadKind::ReplicaSet | WorkloadKind::DaemonSet => {
                    scale(w, m, &mut wanted, &mut surplus)
                }
                WorkloadKind::Deployment => {
                    if m.iter().all(|p| p.hash() == w.template_hash) {
                        scale(w, m, &mut wanted, &mut surplus);
                    } else {
                        rolls.push(w);
                    }
                }
                WorkloadKind::Job => {
                    if !m.iter().any(|p| p.hash() == w.template_hash) {
                        jobs.push(w);
                    }
                }
            }
        }
        // Names unique within this play.
        for i in 0..wanted.len() {
            while wanted[..i].iter().any(|(_, n)| *n == wanted[i].1)
                || existing.iter().any(|p| p.name() == wanted[i].1)
            {
                wanted[i].1 = wanted[i].0.pod_names.next();
            }
        }
        for c in &plan.claims {
            let mut labels = BTreeMap::new();
            labels.insert(CLAIM.to_owned(), c.name.clone());
            self.containers.create_volume(Some(&c.name), labels)?;
        }
        for w in &plan.workloads {
            let _ = self.state.save_workload(w, source);
        }
        for s in &plan.services {
            let _ = self.state.save_service(s);
        }
        let services = self.all_services(&plan.services);
        // The addresses of the pods to be are known once they are made: the Services'
        // entries are written before any of their containers start.
        let hosts = self.service_hosts(&services, &existing);
        let made = self.make_pods(&wanted, &hosts)?;
        let mut names: Vec<String> = made.iter().map(|p| p.name.clone()).collect();
        for p in &surplus {
            self.remove_pod(p)?;
        }
        self.refresh_hosts(&services)?;
        self.say_external(&plan.services, &services, o);
        for w in rolls {
            names.extend(self.roll(w, &services)?);
        }
        for w in &plan.workloads {
            if w.kind == WorkloadKind::Deployment {
                self.record_revision(w)?;
            }
        }
        for w in jobs {
            names.extend(self.run_job(w, &services)?);
        }
        Ok(names)
    }

    /// Warns of the ExternalName Services of `plan` whose name can't resolve as wanted here.
    fn say_external(&self, plan: &[ServicePlan], services: &[ServicePlan], o: &PlayOptions) {
        let all = self.kube_pods().unwrap_or_default();
        for s in plan {
            let ServiceKind::ExternalName(target) = &s.kind else {
                continue;
            };
            match external(target, services, &all) {
                External::Pods(_) => {}
                External::Address(ip) => (o.say)(&format!(
                    "warning: Service {}: type ExternalName: {ip} is no pod's address: the name is in the pods' /etc/hosts, not on the network's resolver",
                    s.name
                )),
                External::Outside => {}
            }
        }
    }

    fn record_revision(&self, w: &Workload) -> Result<()> {
        let Some(r) = &w.rollout else {
            return Ok(());
        };
        let mut h = self.state.history(&w.name);
        h.record(&r.template, &w.template_hash, r.change_cause.clone());
        h.prune(r.revision_history_limit);
        self.state
            .save_history(&h)
            .map_err(|e| EngineError::Failed(format!("recording the revision: {e}")))
    }

    /// A Deployment's rolling update: a new pod up (and ready) before an old one goes, one
    /// at a time, until only new pods run, as many as its replicas.
    fn roll(&self, w: &Workload, services: &[ServicePlan]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        loop {
            let all = self.kube_pods()?;
            let (new, old): (Vec<KubePod>, Vec<KubePod>) = all
                .into_iter()
                .filter(|p| p.owner() == owner_of(w))
                .partition(|p| p.hash() == w.template_hash);
            if (new.len() as u32) < w.replicas {
                let hosts = self.service_hosts(services, &self.kube_pods()?);
                let mut name = w.pod_names.next();
                while new.iter().chain(&old).any(|p| p.name() == name) {
                    name = w.pod_names.next();
                }
                self.make_pods(&[(w, name.clone())], &hosts)?;
                self.wait_ready(&name, Duration::from_secs(120))?;
                names.push(name);
                self.refresh_hosts(services)?;
            } else if new.len() as u32 > w.replicas {
                self.remove_pod(&new.last().expect("a pod").pod)?;
            }
            if let Some(p) = old.first() {
                self.remove_pod(&p.pod)?;
                self.refresh_hosts(services)?;
            } else if new.len() as u32 >= w.replicas {
                return Ok(names);
            }
        }
    }

    /// A Job: pods run to completion, `parallelism` at a time, until `completions` have
    /// succeeded; more than `backoffLimit` failures fail it.
    fn run_job(&self, w: &Workload, services: &[ServicePlan]) -> Result<Vec<String>> {
        let job = w.job.clone().unwrap_or(crate::plan::JobPlan {
            completions: 1,
            parallelism: 1,
            backoff_limit: 6,
            active_deadline_seconds: None,
        });
        let deadline = job
            .active_deadline_seconds
            .map(|s| Instant::now() + Duration::from_secs(s.max(0) as u64));
        let (mut done, mut failed) = (0u32, 0u32);
        let mut names = Vec::new();
        while done < job.completions {
            let n = job.parallelism.min(job.completions - done).max(1);
            let hosts = self.service_hosts(services, &self.kube_pods()?);
            let wanted: Vec<(&Workload, String)> =
                (0..n).map(|_| (w, w.pod_names.next())).collect();
            let made = match self.make_pods(&wanted, &hosts) {
                Ok(m) => m,
                Err(EngineError::Failed(msg)) if msg.contains("init container") => {
                    failed += 1;
                    if failed > job.backoff_limit {
                        return Err(EngineError::Failed(format!(
                            "job {} failed: backoff limit reached ({msg})",
                            w.name
                        )));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for p in &made {
                names.push(p.name.clone());
                let mut ok = true;
                for c in rpod::members(&self.containers, &p.id)? {
                    let (code, restarts) = self.wait_last_exit(c.id())?;
                    // Under OnFailure each restart in place was a failure.
                    failed += restarts;
                    ok &= code == 0;
                }
                if ok {
                    done += 1;
                } else {
                    failed += 1;
                }
            }
            if failed > job.backoff_limit {
                return Err(EngineError::Failed(format!(
                    "job {} failed: {failed} failures, more than its backoffLimit {}",
                    w.name, job.backoff_limit
                )));
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                return Err(EngineError::Failed(format!(
                    "job {} failed: activeDeadlineSeconds passed",
                    w.name
                )));
            }
        }
        Ok(names)
    }

    /// Waits for container `id`'s last exit (no restart to come: its monitor is gone);
    /// returns its code and how many times it was restarted.
    fn wait_last_exit(&self, id: &str) -> Result<(i32, u32)> {
        loop {
            let code = rbox_runtime::lifecycle::wait(&self.containers, id)?;
            let c = rbox_runtime::lifecycle::reconcile(&self.containers, id)?;
            let s = &c.state;
            let monitor =
                s.monitor_pid != 0 && rbox_runtime::process::alive(s.monitor_pid, s.monitor_start);
            if !s.is_running() && !monitor {
                return Ok((code, s.restart_count));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kube down`: removes the pods, Services and records of what the inputs make; their
    /// claims' volumes too with `volumes`.
    pub fn down(&self, inputs: &[Input], volumes: bool, say: &dyn Fn(&str)) -> Result<()> {
        let (_, plan) = read(inputs, say)?;
        let all = self.kube_pods()?;
        let mut gone = Vec::new();
        for w in &plan.workloads {
            for p in all.iter().filter(|p| p.owner() == owner_of(w)) {
                gone.push(p.pod.clone());
            }
            self.state.remove_workload(w.kind, &w.name);
        }
        // In parallel, two at a time.
        let queue = std::sync::Mutex::new(gone);
        let failed = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let Some(p) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    if let Err(e) = self.remove_pod(&p) {
                        failed.lock().unwrap().get_or_insert(e);
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap() {
            return Err(e);
        }
        for s in &plan.services {
            self.state.remove_service(&s.name);
        }
        if volumes {
            for c in &plan.claims {
                let _ = self.containers.remove_volume(&c.name);
            }
            for w in &plan.workloads {
                for v in &w.pod.volumes {
                    if let crate::plan::VolumeSource::Claim { claim, .. } = &v.source {
                        let _ = self.containers.remove_volume(claim);
                    }
                }
            }
        }
        let rest = self.all_services(&[]);
        self.refresh_hosts(&rest)?;
        if self.state.made_network()
            && self.kube_pods()?.is_empty()
            && self.state.workloads().is_empty()
        {
            let nets = rbox_network::Networks::open(&self.root);
            if nets.remove(DEFAULT_NETWORK).is_ok() {
                self.state.network_made(false);
            }
        }
        Ok(())
    }

    /// `kube delete pod NAME`: the pod goes (a controller's is made again at the next play).
    pub fn delete_pod(&self, name: &str) -> Result<()> {
        let p = self.kube_pod(name)?;
        self.remove_pod(&p.pod)?;
        self.refresh_hosts(&self.all_services(&[]))
    }

    /// `rollout undo`: the Deployment rolled back to a revision (the previous one by
    /// default), which becomes the newest.
    pub fn undo(&mut self, name: &str, to: Option<u64>, o: &PlayOptions) -> Result<u64> {
        let (w, source) = self
            .state
            .workload(WorkloadKind::Deployment, name)
            .ok_or_else(|| EngineError::Failed(format!("deployments.apps \"{name}\" not found")))?;
        let mut h = self.state.history(name);
        let rev = h.undo(to)?.clone();
        let network = self
            .kube_pods()?
            .into_iter()
            .find(|p| p.owner() == owner_of(&w))
            .map(|p| p.pod.network);
        let parsed = crate::parse(&w.file, &source)?;
        let mut objects = parsed.objects;
        for obj in objects.iter_mut() {
            if let Resource::Deployment(d) = &mut obj.resource {
                if d.metadata.name == name {
                    d.spec.template = rev.template.clone();
                }
            }
        }
        let plan = crate::plan(&objects)?;
        let plan = Plan {
            workloads: plan
                .workloads
                .into_iter()
                .filter(|x| x.kind == WorkloadKind::Deployment && x.name == name)
                .collect(),
            services: Vec::new(),
            claims: Vec::new(),
            warnings: Vec::new(),
        };
        self.state
            .save_history(&h)
            .map_err(|e| EngineError::Failed(format!("recording the revision: {e}")))?;
        let o = PlayOptions {
            network: o.network.clone().or(network),
            replace: false,
            pull: o.pull,
            say: o.say,
        };
        self.run_plan(&plan, &source, &o)?;
        Ok(rev.number)
    }
}
