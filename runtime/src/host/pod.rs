//! A pod's namespaces, held by no process: made once, pinned by bind mounts (the network
//! namespace at `/run/netns/rbox-<id16>` as a container's is, IPC and UTS under the
//! runtime directory), its network set up on them; its containers join them by path at
//! each start. Pinned on the first start of a member, unpinned when the pod stops.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::container::ContainerConfig;
use crate::store::containers::Containers;
use crate::store::pods::{PodConfig, Pods};

/// What a pinned pod holds, in `<runtime>/pods/<id>/pinned.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pinned {
    /// The published ports, with host ports chosen.
    pub ports: Vec<rbox_network::PortMapping>,
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |e| Error::io(PathBuf::from(what), e)
}

/// The path of the pod's pinned namespace `ns` (`net`, `ipc`, `uts`).
pub fn ns_path(pods: &Pods, id: &str, ns: &str) -> PathBuf {
    match ns {
        "net" => rbox_network::netns::path_for(id),
        other => pods.run_path(id).join(other),
    }
}

/// Whether pod `id`'s namespaces are pinned.
pub fn is_pinned(pods: &Pods, id: &str) -> bool {
    pods.run_path(id).join("pinned.json").exists()
}

/// What pinned pod `id` holds.
pub fn pinned(pods: &Pods, id: &str) -> Option<Pinned> {
    let b = std::fs::read(pods.run_path(id).join("pinned.json")).ok()?;
    serde_json::from_slice(&b).ok()
}

/// New IPC and UTS namespaces (those of `flags`) pinned at `ipc` and `uts`, made on a
/// thread of their own that goes back to the host's before it ends.
fn pin_ipc_uts(flags: CloneFlags, hostname: &str, ipc: &Path, uts: &Path) -> Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    let hostname = hostname.to_owned();
    let (ipc, uts) = (ipc.to_owned(), uts.to_owned());
    std::thread::spawn(move || -> std::io::Result<()> {
        let home_ipc = File::open("/proc/thread-self/ns/ipc")?;
        let home_uts = File::open("/proc/thread-self/ns/uts")?;
        unshare(flags)?;
        let made = (|| -> std::io::Result<()> {
            for (flag, ns, at) in [
                (CloneFlags::CLONE_NEWIPC, "ipc", &ipc),
                (CloneFlags::CLONE_NEWUTS, "uts", &uts),
            ] {
                if !flags.contains(flag) {
                    continue;
                }
                if flag == CloneFlags::CLONE_NEWUTS {
                    nix::unistd::sethostname(&hostname)?;
                }
                File::create(at)?;
                mount(
                    Some(format!("/proc/thread-self/ns/{ns}").as_str()),
                    at.as_path(),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )?;
            }
            Ok(())
        })();
        setns(home_ipc.as_fd(), CloneFlags::CLONE_NEWIPC)?;
        setns(home_uts.as_fd(), CloneFlags::CLONE_NEWUTS)?;
        made
    })
    .join()
    .map_err(|_| Error::Runtime("pinning the pod's namespaces: the thread panicked".into()))?
    .map_err(io_err("pinning the pod's IPC and UTS namespaces"))
}

fn unpin_file(p: &Path) {
    let _ = umount2(p, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(p);
}

/// Pins pod `pod`'s namespaces and sets its network up on them, unless they are pinned.
/// On error nothing is left.
pub fn pin(containers: &Containers, pods: &Pods, pod: &PodConfig) -> Result<()> {
    let _lock = pods.lock(&pod.id)?;
    if is_pinned(pods, &pod.id) {
        return Ok(());
    }
    // As recorded now (its names may have changed since the caller read it).
    let pod = &pods.load(&pod.id)?;
    let dir = pods.run_path(&pod.id);
    std::fs::create_dir_all(&dir).map_err(io_err(dir.display().to_string()))?;
    let made = (|| -> Result<Pinned> {
        let mut flags = CloneFlags::empty();
        if pod.shares("ipc") {
            flags |= CloneFlags::CLONE_NEWIPC;
        }
        if pod.shares("uts") {
            flags |= CloneFlags::CLONE_NEWUTS;
        }
        pin_ipc_uts(
            flags,
            &pod.hostname,
            &ns_path(pods, &pod.id, "ipc"),
            &ns_path(pods, &pod.id, "uts"),
        )?;
        let mut ports = Vec::new();
        // On the host's network, its members join the host's namespace: nothing to pin.
        if pod.shares("net") && !on_host_network(pod) {
            if pod.networks.is_empty() {
                // `--network none`: loopback only.
                let path = ns_path(pods, &pod.id, "net");
                let _ = rbox_network::netns::remove(&path);
                rbox_network::netns::create(&path, || {
                    let mut nl = rbox_network::netlink::Netlink::open()?;
                    if let Some(lo) = nl.link_index("lo")? {
                        nl.set_up(lo, None)?;
                    }
                    Ok(())
                })
                .map_err(io_err(path.display().to_string()))?;
            } else {
                let nets = crate::host::net::networks(containers);
                // The host ports are held while the rules are written; the rules publish them.
                let a = rbox_network::endpoint::setup(
                    &nets,
                    &pod.id,
                    &pod.networks,
                    &pod.port_bindings,
                )?;
                ports = a.ports.clone();
            }
        }
        let pinned = Pinned { ports };
        crate::store::containers::write_json(&dir.join("pinned.json"), &pinned)?;
        Ok(pinned)
    })();
    match made {
        Ok(_) => {
            register_names(containers, pod);
            Ok(())
        }
        Err(e) => {
            undo(containers, pods, pod, &[]);
            Err(e)
        }
    }
}

fn undo(
    containers: &Containers,
    pods: &Pods,
    pod: &PodConfig,
    published: &[rbox_network::PortMapping],
) {
    unregister_names(containers, pod);
    if !pod.networks.is_empty() {
        let nets = crate::host::net::networks(containers);
        rbox_network::endpoint::teardown(&nets, &pod.id, &pod.networks, published);
    }
    let _ = rbox_network::netns::remove(&ns_path(pods, &pod.id, "net"));
    for ns in ["ipc", "uts"] {
        unpin_file(&ns_path(pods, &pod.id, ns));
    }
    let dir = pods.run_path(&pod.id);
    let _ = std::fs::remove_file(dir.join("pinned.json"));
    let _ = std::fs::remove_dir(&dir);
}

/// Undoes [`pin`]: the network taken down, the namespaces unpinned (each goes when the
/// last process in it ends).
pub fn unpin(containers: &Containers, pods: &Pods, pod: &PodConfig) {
    let Ok(_lock) = pods.lock(&pod.id) else {
        return;
    };
    let published = pinned(pods, &pod.id).map(|p| p.ports).unwrap_or_default();
    undo(containers, pods, pod, &published);
}

/// Whether the pod's network is the host's (`--network host`).
pub fn on_host_network(pod: &PodConfig) -> bool {
    pod.network == "host"
}

/// The namespaces a member of pod `id` joins, as (OCI type, path), pinning them first
/// (called by the member's monitor, which also makes sure the network's resolver runs).
/// A pod on the host's network has its members join the monitor's own, the host's.
pub fn joined(containers: &Containers, id: &str) -> Result<Vec<(&'static str, PathBuf)>> {
    let pods = Pods::open(containers)?;
    let pod = pods
        .load(id)
        .map_err(|_| Error::Conflict(format!("the pod {id} of this container is gone")))?;
    pin(containers, &pods, &pod)?;
    ensure_resolvers(containers, &pods.load(id)?);
    let mut out = Vec::new();
    for (ns, oci) in [("net", "network"), ("ipc", "ipc"), ("uts", "uts")] {
        if ns == "net" && pod.shares(ns) && on_host_network(&pod) {
            let own = PathBuf::from(format!("/proc/{}/ns/net", std::process::id()));
            out.push((oci, own));
        } else if pod.shares(ns) {
            out.push((oci, ns_path(&pods, id, ns)));
        }
    }
    Ok(out)
}

/// The /etc/hosts lines of pod `pod` (its address, hostname and name, `--add-host`).
pub fn hosts(pod: &PodConfig) -> String {
    crate::oci::etc::hosts(&pod.hostname, pod.ip(), &pod.extra_hosts, "")
}

/// A member's hostname, hosts and resolv.conf: the pod's, written into `dir`.
pub fn write_files(
    containers: &Containers,
    config: &ContainerConfig,
    id: &str,
    dir: &Path,
) -> Result<()> {
    let pods = Pods::open(containers)?;
    let pod = pods.load(id)?;
    let mut view = config.clone();
    view.config.hostname = pod.hostname.clone();
    view.host.networks = pod.networks.clone();
    view.host.extra_hosts = pod.extra_hosts.clone();
    if !pod.dns.is_empty() {
        view.host.dns = pod.dns.clone();
    }
    view.host.network_mode = pod.network.clone();
    crate::oci::etc::write_files(&view, dir, "")
}

/// Rewrites the hosts files of pod `pod`'s running members in place (they are
/// bind-mounted by inode).
pub fn refresh_hosts(containers: &Containers, pod: &PodConfig) {
    let mode = format!("pod:{}", pod.id);
    let text = hosts(pod);
    for id in containers.ids().unwrap_or_default() {
        let Ok(c) = containers.read_config(&id) else {
            continue;
        };
        if c.host.network_mode != mode {
            continue;
        }
        let p = containers.run_path(&id).join("hosts");
        if p.exists() {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&p)
                .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        }
    }
}

/// Registers the pod's names (its name, hostname and aliases) at its address on its user
/// network's resolver, and makes sure the resolver runs.
pub fn register_names(containers: &Containers, pod: &PodConfig) {
    use rbox_network::dns::Names;
    let root = containers.root();
    let nets = crate::host::net::networks(containers);
    let mut own = vec![pod.name.clone()];
    if pod.hostname != pod.name {
        own.push(pod.hostname.clone());
    }
    own.extend(pod.aliases.iter().cloned());
    for ep in pod
        .networks
        .iter()
        .filter(|e| e.network != rbox_network::store::DEFAULT_NETWORK)
    {
        let Ok(net) = nets.get(&ep.network_id) else {
            continue;
        };
        if let Err(e) = Names::open(root).register(&net, ep.ip_address, &pod.id, &own) {
            tracing::warn!(network = %net.name, error = %e, "registering the pod's names");
        }
    }
}

/// Makes sure the resolvers of the pod's user networks run. It forks: only from a
/// single-threaded process (a member's monitor, as it joins the pod).
fn ensure_resolvers(containers: &Containers, pod: &PodConfig) {
    let nets = crate::host::net::networks(containers);
    for ep in pod
        .networks
        .iter()
        .filter(|e| e.network != rbox_network::store::DEFAULT_NETWORK)
    {
        let Ok(net) = nets.get(&ep.network_id) else {
            continue;
        };
        if let Err(e) = rbox_network::dns::server::ensure(containers.root(), &net) {
            tracing::warn!(network = %net.name, error = %e, "starting the network's resolver");
        }
    }
}

fn unregister_names(containers: &Containers, pod: &PodConfig) {
    let names = rbox_network::dns::Names::open(containers.root());
    let nets = crate::host::net::networks(containers);
    for ep in &pod.networks {
        if let Ok(net) = nets.get(&ep.network_id) {
            names.unregister(&net, ep.ip_address, &pod.id);
        }
    }
}
