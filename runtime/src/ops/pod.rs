//! Pods: groups of containers sharing a network namespace (one address; each reaches the
//! others on localhost), and IPC and UTS namespaces. No process holds a pod's namespaces:
//! they are pinned by bind mounts ([`crate::host::pod`]) and its members join them by path.
//! A member's network mode is `pod:<pod id>`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::container::Status;
use crate::model::options::RunOptions;
use crate::ops::{lifecycle, run};
use crate::store::containers::{Container, Containers};
use crate::store::pods::{PodConfig, Pods};

/// `pod create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    /// `-p`.
    pub publish: Vec<String>,
    /// `--network` (the default network when absent; `host`: the host's network namespace,
    /// nothing pinned for it).
    pub network: Option<String>,
    /// `--share` (`net,ipc,uts` when absent).
    pub share: Option<String>,
    /// `--label KEY=VALUE`.
    pub labels: Vec<String>,
    pub hostname: Option<String>,
    /// `--add-host NAME:IP`.
    pub add_hosts: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--ip` on the network.
    pub ip: Option<String>,
}

fn invalid(flag: &str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        flag: flag.into(),
        reason: reason.into(),
    }
}

/// Reads `--share`: a comma list of `net`, `ipc`, `uts` (`pid` is not shared: each
/// container has its own PID namespace).
pub fn parse_share(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ns =
            match part {
                "net" | "network" => "net",
                "ipc" => "ipc",
                "uts" => "uts",
                "pid" => return Err(invalid(
                    "--share",
                    "pid: pods share net, ipc and uts; each container keeps its own PID namespace",
                )),
                other => {
                    return Err(invalid(
                        "--share",
                        format!("{other:?}: it takes net, ipc, uts"),
                    ))
                }
            };
        if !out.iter().any(|o| o == ns) {
            out.push(ns.to_owned());
        }
    }
    Ok(out)
}

/// The mode a member of pod `id` has as its network mode.
pub fn member_mode(id: &str) -> String {
    format!("pod:{id}")
}

/// Makes a pod: its name, an address on its network, its ports checked free. Its
/// namespaces are made when a member first starts.
pub fn create(containers: &Containers, o: &CreateOptions) -> Result<PodConfig> {
    let pods = Pods::open(containers)?;
    let id = crate::model::ids::random_hex(32);
    let name = o
        .name
        .clone()
        .unwrap_or_else(crate::model::ids::random_name);
    let share = parse_share(o.share.as_deref().unwrap_or("net,ipc,uts"))?;
    let network = o
        .network
        .clone()
        .unwrap_or_else(|| rbox_network::store::DEFAULT_NETWORK.into());
    if network.starts_with("container:") || network.starts_with("pod:") {
        return Err(invalid(
            "--network",
            format!("{network:?}: a pod takes a network's name, host or none"),
        ));
    }
    let mut ports = Vec::new();
    for p in &o.publish {
        ports.extend(rbox_network::ports::parse_publish(p)?);
    }
    if !ports.is_empty()
        && (network == "none" || network == "host" || !share.iter().any(|s| s == "net"))
    {
        return Err(invalid(
            "--publish",
            "published ports need a pod network: a network other than none or host, and net shared",
        ));
    }
    drop(rbox_network::ports::reserve(&ports)?);
    for h in &o.add_hosts {
        let ok = h
            .split_once(':')
            .is_some_and(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !ok {
            return Err(invalid(
                "--add-host",
                format!("invalid argument {h:?}: use NAME:IP"),
            ));
        }
    }
    for d in &o.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| invalid("--dns", format!("{d:?} is not an IP address")))?;
    }
    let mut labels = BTreeMap::new();
    for l in &o.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_owned(), v.to_owned());
    }
    let networks = if network == "none" || network == "host" || !share.iter().any(|s| s == "net") {
        Vec::new()
    } else {
        crate::host::net::join(containers, &id, &network, o.ip.as_deref(), &[])?
    };
    let pod = PodConfig {
        id: id.clone(),
        hostname: o.hostname.clone().unwrap_or_else(|| name.clone()),
        name,
        created: crate::now(),
        labels,
        share,
        network,
        networks,
        port_bindings: ports,
        extra_hosts: o.add_hosts.clone(),
        dns: o.dns.clone(),
        aliases: Vec::new(),
    };
    if let Err(e) = pods.create(&pod) {
        give_back(containers, &pod);
        return Err(e);
    }
    Ok(pod)
}

fn give_back(containers: &Containers, pod: &PodConfig) {
    let nets = crate::host::net::networks(containers);
    for ep in &pod.networks {
        ep.leave(&nets, &pod.id);
    }
}

/// For a new container with `--pod`: the pod it joins (its conflicts with the other
/// options refused, as Docker refuses them for `--network container:X`).
pub fn for_member(containers: &Containers, o: &RunOptions) -> Result<Option<PodConfig>> {
    let Some(name) = &o.pod else {
        return Ok(None);
    };
    let pods = Pods::open(containers)?;
    let pod = pods.load(&pods.resolve(name)?)?;
    let conflicts = [
        ("--network", o.network.is_some()),
        ("--publish", !o.publish.is_empty() || o.publish_all),
        ("--hostname", o.hostname.is_some()),
        ("--add-host", !o.add_hosts.is_empty()),
        ("--dns", !o.dns.is_empty()),
        ("--ip", o.ip.is_some()),
    ];
    for (flag, given) in conflicts {
        if given {
            return Err(invalid(
                flag,
                format!(
                    "conflicting options: {flag} and --pod (the pod {} has it)",
                    pod.name
                ),
            ));
        }
    }
    Ok(Some(pod))
}

/// The containers of pod `id`, oldest first.
pub fn members(containers: &Containers, id: &str) -> Result<Vec<Container>> {
    let mode = member_mode(id);
    // Containers of other pods may be going as this reads: one gone is not an error.
    let mut v: Vec<Container> = containers
        .ids()?
        .into_iter()
        .filter(|c| {
            containers
                .read_config(c)
                .is_ok_and(|c| c.host.network_mode == mode)
        })
        .filter_map(|c| containers.load(&c).ok())
        .collect();
    v.sort_by(|a, b| a.config.created.cmp(&b.config.created));
    Ok(v)
}

/// The pod (id and name) of a container, if it is in one.
pub fn pod_of(
    containers: &Containers,
    c: &crate::model::container::ContainerConfig,
) -> Option<PodConfig> {
    let id = c.host.network_mode.strip_prefix("pod:")?;
    Pods::open(containers).ok()?.load(id).ok()
}

/// A pod's status from its members', as podman words it: Created, Running, Degraded
/// (some run), Paused, Exited.
pub fn status(members: &[Container]) -> &'static str {
    let running = members.iter().filter(|c| c.state.is_running()).count();
    let paused = members.iter().filter(|c| c.state.paused).count();
    if members.is_empty() || members.iter().all(|c| c.state.status == Status::Created) {
        "Created"
    } else if paused > 0 && paused == running && running == members.len() {
        "Paused"
    } else if running == members.len() {
        "Running"
    } else if running > 0 {
        "Degraded"
    } else {
        "Exited"
    }
}

/// A pod looked up by name or id.
pub fn find(containers: &Containers, name: &str) -> Result<PodConfig> {
    let pods = Pods::open(containers)?;
    pods.load(&pods.resolve(name)?)
}

/// Runs `f` on each member, two at a time; the first error is returned once all ran.
fn each(members: &[Container], f: impl Fn(&Container) -> Result<()> + Sync) -> Result<()> {
    let mut first = None;
    for chunk in members.chunks(2) {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|c| s.spawn(|| f(c))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Runtime("a thread panicked".into())))
                })
                .collect()
        });
        for r in results {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// Members that join another container's PID or IPC namespace (`--pid container:X`), and
/// the others.
fn joiners_and_others(members: Vec<Container>) -> (Vec<Container>, Vec<Container>) {
    members.into_iter().partition(|c| {
        let h = &c.config.host;
        [&h.pid_mode, &h.ipc_mode]
            .iter()
            .any(|m| m.starts_with("container:"))
    })
}

/// Pins the pod's namespaces and starts its members that don't run: those that join
/// another member's namespace after the others.
pub fn start(containers: &Containers, pod: &PodConfig) -> Result<()> {
    let pods = Pods::open(containers)?;
    crate::host::pod::pin(containers, &pods, pod)?;
    let (joiners, others) = joiners_and_others(members(containers, &pod.id)?);
    each(&others, |c| run::start_detached(containers, c.id()))?;
    each(&joiners, |c| run::start_detached(containers, c.id()))
}

/// Stops the members, then unpins the pod's namespaces.
pub fn stop(containers: &Containers, pod: &PodConfig, timeout: Option<u32>) -> Result<()> {
    let m = members(containers, &pod.id)?;
    let r = each(&m, |c| {
        lifecycle::stop(containers, c.id(), timeout).map(|_| ())
    });
    let still = members(containers, &pod.id)?
        .iter()
        .any(|c| c.state.is_running());
    if !still {
        crate::host::pod::unpin(containers, &Pods::open(containers)?, pod);
    }
    r
}

/// Stops and starts the pod.
pub fn restart(containers: &Containers, pod: &PodConfig, timeout: Option<u32>) -> Result<()> {
    stop(containers, pod, timeout)?;
    start(containers, pod)
}

/// Sends `signal` to the running members.
pub fn kill(containers: &Containers, pod: &PodConfig, signal: i32) -> Result<()> {
    let m: Vec<Container> = members(containers, &pod.id)?
        .into_iter()
        .filter(|c| c.state.is_running())
        .collect();
    if m.is_empty() {
        return Err(Error::Conflict(format!(
            "pod {} has no running container",
            pod.name
        )));
    }
    each(&m, |c| lifecycle::kill(containers, c.id(), signal))
}

/// Pauses (or with `resume`, unpauses) the running members.
pub fn pause(containers: &Containers, pod: &PodConfig, resume: bool) -> Result<()> {
    let m: Vec<Container> = members(containers, &pod.id)?
        .into_iter()
        .filter(|c| c.state.is_running() && c.state.paused == resume)
        .collect();
    if m.is_empty() {
        let what = if resume { "paused" } else { "running" };
        return Err(Error::Conflict(format!(
            "pod {} has no {what} container",
            pod.name
        )));
    }
    each(&m, |c| {
        if resume {
            crate::ops::pause::unpause(containers, c.id())
        } else {
            crate::ops::pause::pause(containers, c.id())
        }
    })
}

/// Removes a pod with its members; running members only with `force`.
pub fn remove(containers: &Containers, pod: &PodConfig, force: bool) -> Result<()> {
    let m = members(containers, &pod.id)?;
    if !force {
        let running: Vec<&str> = m
            .iter()
            .filter(|c| c.state.is_running())
            .map(|c| c.config.name.as_str())
            .collect();
        if !running.is_empty() {
            return Err(Error::Conflict(format!(
                "cannot remove pod {}: {} running: stop the pod first or force remove",
                pod.name,
                running.join(", ")
            )));
        }
    }
    // Those that joined another member's namespace go first.
    let (joiners, others) = joiners_and_others(m);
    each(&joiners, |c| {
        lifecycle::remove(containers, c.id(), true, true)
    })?;
    each(&others, |c| {
        lifecycle::remove(containers, c.id(), true, true)
    })?;
    let pods = Pods::open(containers)?;
    crate::host::pod::unpin(containers, &pods, pod);
    give_back(containers, pod);
    pods.remove(pod)
}

/// `pod inspect`'s view of a pod.
pub fn inspect(containers: &Containers, pod: &PodConfig) -> Result<serde_json::Value> {
    let pods = Pods::open(containers)?;
    let m = members(containers, &pod.id)?;
    let pinned = crate::host::pod::pinned(&pods, &pod.id);
    let mut ns = serde_json::Map::new();
    if pinned.is_some() {
        for s in &pod.share {
            if s == "net" && crate::host::pod::on_host_network(pod) {
                continue;
            }
            ns.insert(
                s.clone(),
                crate::host::pod::ns_path(&pods, &pod.id, s)
                    .display()
                    .to_string()
                    .into(),
            );
        }
    }
    Ok(serde_json::json!({
        "Id": pod.id,
        "Name": pod.name,
        "Created": pod.created,
        "State": status(&m),
        "Hostname": pod.hostname,
        "Labels": pod.labels,
        "SharedNamespaces": pod.share,
        "Network": pod.network,
        "IPAddress": pod.ip().map(|i| i.to_string()).unwrap_or_default(),
        "Networks": pod.networks,
        "PortBindings": pod.port_bindings,
        "Ports": pinned.as_ref().map(|p| p.ports.clone()).unwrap_or_default(),
        "ExtraHosts": pod.extra_hosts,
        "Dns": pod.dns,
        "PinnedNamespaces": ns,
        "NumContainers": m.len(),
        "Containers": m.iter().map(|c| serde_json::json!({
            "Id": c.config.id,
            "Name": c.config.name,
            "State": c.state.status_word(),
        })).collect::<Vec<_>>(),
    }))
}

/// Replaces the pod's `--add-host` entries and rewrites its running members' hosts files.
pub fn set_extra_hosts(containers: &Containers, pod: &PodConfig, hosts: Vec<String>) -> Result<()> {
    let pods = Pods::open(containers)?;
    let _lock = pods.lock(&pod.id)?;
    let mut p = pods.load(&pod.id)?;
    if p.extra_hosts == hosts {
        return Ok(());
    }
    p.extra_hosts = hosts;
    pods.write(&p)?;
    crate::host::pod::refresh_hosts(containers, &p);
    Ok(())
}

/// Replaces the names the pod answers to on its network's resolver besides its own.
pub fn set_aliases(containers: &Containers, pod: &PodConfig, aliases: Vec<String>) -> Result<()> {
    let pods = Pods::open(containers)?;
    let _lock = pods.lock(&pod.id)?;
    let mut p = pods.load(&pod.id)?;
    if p.aliases == aliases {
        return Ok(());
    }
    p.aliases = aliases;
    pods.write(&p)?;
    if crate::host::pod::is_pinned(&pods, &p.id) {
        crate::host::pod::register_names(containers, &p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_reads_net_ipc_uts() {
        assert_eq!(parse_share("net,ipc").unwrap(), vec!["net", "ipc"]);
        assert_eq!(parse_share("network,uts,uts").unwrap(), vec!["net", "uts"]);
        assert!(parse_share("").unwrap().is_empty());
        assert!(parse_share("pid")
            .unwrap_err()
            .to_string()
            .contains("--share"));
        assert!(parse_share("cgroup").is_err());
    }
}
