//! Making a container from an image and `run`/`create` options, with Docker's meaning for
//! each: ENTRYPOINT/CMD, environment, working directory, user, limits, names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rbox_image::Store;

use crate::error::{Error, Result};
use crate::model::container::{ContainerConfig, HostConfig, ProcessConfig, RestartPolicy};
use crate::oci::spec;
use crate::store::containers::Containers;

pub use crate::model::ids::random_hex;
use crate::model::ids::random_name;
use crate::model::options::{check_pids_limit, parse_cpus, parse_memory, parse_memory_swap};
pub use crate::model::options::{parse_bytes, parse_signal, RunOptions};

/// Reads `--env-file` lines: `KEY=value`, or `KEY` to take it from this environment.
fn env_file(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidOption {
        flag: "--env-file".into(),
        reason: format!("{}: {e}", path.display()),
    })?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn resolve_env(entries: Vec<String>) -> Vec<String> {
    entries
        .into_iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e)
            } else {
                std::env::var(&e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// Makes container configuration from options and the image, and records the container.
pub fn create(images: &Store, containers: &Containers, o: &RunOptions) -> Result<ContainerConfig> {
    let image = images.resolve(&o.image)?;
    let chain = images.ensure_snapshots(&image)?;
    let full_config = images.image_config(image.id())?;
    if let Some(p) = &o.platform {
        crate::model::host_options::check_platform(
            p,
            &full_config.os,
            &full_config.architecture,
            full_config.variant.as_deref(),
        )?;
    }
    let ic = full_config.run();

    let id = random_hex(32);
    let pod = crate::ops::pod::for_member(containers, o)?;
    let network = match &pod {
        Some(p) => crate::ops::pod::member_mode(&p.id),
        None => o
            .network
            .clone()
            .unwrap_or_else(|| rbox_network::store::DEFAULT_NETWORK.into()),
    };
    let mut shared = crate::ops::namespaces::resolve(containers, o, &network)?;
    if let Some(p) = &pod {
        shared.hostname = Some(p.hostname.clone());
    }
    let network = shared.network.clone();
    let exposed = exposed_ports(o, &ic)?;
    let port_bindings = published_ports(o, &exposed, &network)?;
    let (entrypoint, cmd) = match &o.entrypoint {
        Some(e) => (
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            },
            o.command.clone(),
        ),
        None => (
            ic.entrypoint.cloned_or_default(),
            if o.command.is_empty() {
                ic.cmd.cloned_or_default()
            } else {
                o.command.clone()
            },
        ),
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(Error::NoCommand);
    }
    let mut env = ic.env.cloned_or_default();
    for f in &o.env_files {
        env.extend(resolve_env(env_file(f)?));
    }
    env.extend(resolve_env(o.env.clone()));
    let working_dir = o
        .workdir
        .clone()
        .or_else(|| ic.working_dir.get().cloned())
        .unwrap_or_default();
    if !working_dir.is_empty() && !working_dir.starts_with('/') {
        return Err(Error::InvalidOption {
            flag: "--workdir".into(),
            reason: format!(
                "the working directory {working_dir:?} is invalid: it needs to be an absolute path"
            ),
        });
    }
    let host_uts = network == "host" || shared.uts == "host";
    let hostname = match (&o.hostname, &shared.hostname) {
        (Some(h), _) | (None, Some(h)) => h.clone(),
        (None, None) if host_uts => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| id[..12].to_owned()),
        (None, None) => id[..12].to_owned(),
    };
    let healthcheck = crate::model::health::resolve(ic.healthcheck.get(), &o.health)?;
    let extras = extras(
        o,
        crate::host::net::on_networks(&network) || network == "none",
    )?;
    let stop_signal = o
        .stop_signal
        .clone()
        .or_else(|| ic.stop_signal.get().cloned());
    if let Some(s) = &stop_signal {
        parse_signal(s).map_err(|_| Error::InvalidOption {
            flag: "--stop-signal".into(),
            reason: format!("invalid signal: {s}"),
        })?;
    }
    let mut labels: BTreeMap<String, String> = ic.labels.cloned_or_default();
    let mut given_labels = Vec::new();
    for f in &o.label_files {
        given_labels.extend(crate::model::host_options::label_file(f)?);
    }
    given_labels.extend(o.labels.iter().cloned());
    for l in &given_labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_owned(), v.to_owned());
    }
    let memory = o.memory.as_deref().map(parse_memory).transpose()?;
    let memory_swap = o
        .memory_swap
        .as_deref()
        .map(|s| parse_memory_swap(s, memory))
        .transpose()?;
    let memory_reservation = o
        .memory_reservation
        .as_deref()
        .map(parse_memory)
        .transpose()?;
    if let (Some(m), Some(r)) = (memory, memory_reservation) {
        if m < r {
            return Err(Error::InvalidOption {
                flag: "--memory-reservation".into(),
                reason: "Minimum memory limit can not be less than memory reservation limit".into(),
            });
        }
    }
    let nano_cpus = o.cpus.as_deref().map(parse_cpus).transpose()?;
    if let Some(p) = o.pids_limit {
        check_pids_limit(p)?;
    }
    let log_config = crate::store::logs::LogConfig::new(
        o.log_driver.as_deref(),
        &o.log_opts,
        &containers.log_defaults()?,
    )
    .map_err(|reason| Error::InvalidOption {
        flag: "--log-opt".into(),
        reason,
    })?;
    let restart_policy =
        RestartPolicy::parse(o.restart.as_deref().unwrap_or("no")).map_err(|reason| {
            Error::InvalidOption {
                flag: "--restart".into(),
                reason,
            }
        })?;
    if o.rm && restart_policy.name != "no" {
        return Err(Error::InvalidOption {
            flag: "--rm".into(),
            reason: "conflicting options: --restart and --rm".into(),
        });
    }
    for h in &o.add_hosts {
        let ok = h
            .split_once(':')
            .is_some_and(|(n, ip)| !n.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !ok {
            return Err(Error::InvalidOption {
                flag: "--add-host".into(),
                reason: format!("invalid argument {h:?}: use NAME:IP"),
            });
        }
    }
    for c in &o.cap_add {
        spec::normalize_cap(c, "--cap-add")?;
    }
    for c in &o.cap_drop {
        spec::normalize_cap(c, "--cap-drop")?;
    }
    if o.init {
        crate::oci::etc::init_binary()?;
    }
    let mut requested = Vec::new();
    for v in &o.volumes {
        requested.push((crate::store::volumes::parse_volume_flag(v)?, true));
    }
    for m in &o.mounts {
        requested.push((crate::store::volumes::parse_mount_flag(m)?, false));
    }
    for t in &o.tmpfs {
        requested.push((crate::store::volumes::parse_tmpfs_flag(t)?, false));
    }
    let image_volumes: Vec<String> = ic
        .volumes
        .get()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let networks = crate::host::net::join(
        containers,
        &id,
        &network,
        o.ip.as_deref(),
        &o.network_aliases,
    )?;
    let give_back = |networks: &[rbox_network::Endpoint]| {
        let nets = crate::host::net::networks(containers);
        for ep in networks {
            ep.leave(&nets, &id);
        }
    };
    let (mounts, created_for_mounts) =
        match containers.prepare_mounts(&requested, &o.volumes_from, &image_volumes) {
            Ok(m) => m,
            Err(e) => {
                give_back(&networks);
                return Err(e);
            }
        };
    let config = ContainerConfig {
        id: id.clone(),
        name: o.name.clone().unwrap_or_else(random_name),
        created: crate::now(),
        image: o.image.clone(),
        image_id: image.id().to_string(),
        manifest: image.manifest_digest.to_string(),
        layers: chain.iter().map(|c| c.to_string()).collect(),
        config: ProcessConfig {
            hostname,
            user: o
                .user
                .clone()
                .or_else(|| ic.user.get().cloned())
                .unwrap_or_default(),
            env,
            cmd,
            entrypoint,
            working_dir,
            labels,
            stop_signal,
            stop_timeout: o.stop_timeout,
            tty: o.tty,
            open_stdin: o.interactive,
            healthcheck,
            exposed_ports: exposed
                .iter()
                .map(|k| (k.clone(), serde_json::Map::new()))
                .collect(),
        },
        host: HostConfig {
            network_mode: network,
            ipc_mode: shared.ipc,
            pid_mode: shared.pid,
            uts_mode: shared.uts,
            networks: networks.clone(),
            port_bindings,
            publish_all_ports: o.publish_all,
            memory,
            memory_swap,
            memory_reservation,
            cpuset_cpus: o
                .cpuset_cpus
                .as_deref()
                .map(crate::model::options::parse_cpuset)
                .transpose()?,
            nano_cpus,
            cpu_shares: o.cpu_shares.filter(|s| *s > 0),
            pids_limit: o.pids_limit.filter(|p| *p > 0),
            restart_policy,
            auto_remove: o.rm,
            cap_add: o.cap_add.clone(),
            cap_drop: o.cap_drop.clone(),
            privileged: o.privileged,
            readonly_rootfs: o.read_only,
            init: o.init,
            extra_hosts: o.add_hosts.clone(),
            dns: o.dns.clone(),
            dns_search: o.dns_search.clone(),
            dns_options: o.dns_options.clone(),
            ulimits: extras.ulimits,
            sysctls: extras.sysctls,
            devices: extras.devices,
            shm_size: extras.shm_size,
            group_add: o.group_add.clone(),
            security_opt: o.security_opts.clone(),
            security: extras.security,
            cgroupns_mode: extras.cgroupns,
            oom_score_adj: o.oom_score_adj,
            mounts,
            log_config,
        },
    };
    let mut config = config;
    let mut tries = 0;
    loop {
        match containers.create(&config) {
            // A generated name that is taken: another one, as Docker does.
            Err(Error::NameInUse { .. }) if o.name.is_none() && tries < 20 => {
                tries += 1;
                config.name = if tries < 10 {
                    random_name()
                } else {
                    format!("{}{}", random_name(), tries)
                };
            }
            Err(e) => {
                crate::store::volumes::undo_created(&created_for_mounts);
                give_back(&networks);
                return Err(e);
            }
            Ok(()) => {
                if let Err(e) = crate::host::fill::fill_at_create(images, containers, &config) {
                    let _ = crate::ops::lifecycle::remove(containers, &config.id, true, true);
                    return Err(e);
                }
                crate::store::events::container(containers.root(), &config, "create", &[]);
                return Ok(config);
            }
        }
    }
}

/// The run options past the basics, read and checked.
struct Extras {
    ulimits: Vec<crate::model::host_options::Ulimit>,
    sysctls: crate::model::host_options::Sysctls,
    devices: Vec<crate::model::host_options::DeviceMapping>,
    shm_size: Option<i64>,
    security: crate::model::host_options::SecurityOptions,
    cgroupns: String,
}

fn extras(o: &RunOptions, own_network: bool) -> Result<Extras> {
    use crate::model::host_options::{parse_security_opts, parse_sysctl, DeviceMapping, Ulimit};
    for d in &o.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| Error::InvalidOption {
                flag: "--dns".into(),
                reason: format!("{d:?} is not an IP address"),
            })?;
    }
    let shm_size = o
        .shm_size
        .as_deref()
        .map(|s| parse_bytes(s, "--shm-size"))
        .transpose()?;
    if shm_size.is_some_and(|s| s <= 0) {
        return Err(Error::InvalidOption {
            flag: "--shm-size".into(),
            reason: "must be greater than 0".into(),
        });
    }
    let cgroupns = match o.cgroupns.as_deref() {
        None | Some("private") => String::new(),
        Some("host") => "host".into(),
        Some(m) => {
            return Err(Error::InvalidOption {
                flag: "--cgroupns".into(),
                reason: format!("{m:?}: host or private"),
            })
        }
    };
    if let Some(adj) = o.oom_score_adj {
        let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1000);
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::InvalidOption {
                flag: "--oom-score-adj".into(),
                reason: format!("{adj}: the range is -1000 to 1000"),
            });
        }
        let can_lower = caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_RESOURCE,
        )
        .unwrap_or(false);
        if adj < own && !can_lower {
            return Err(Error::InvalidOption {
                flag: "--oom-score-adj".into(),
                reason: format!(
                    "{adj}: this host allows no lower than {own} (rbox lacks CAP_SYS_RESOURCE)"
                ),
            });
        }
    }
    Ok(Extras {
        ulimits: o
            .ulimits
            .iter()
            .map(|u| Ulimit::parse(u))
            .collect::<Result<_>>()?,
        sysctls: o
            .sysctls
            .iter()
            .map(|s| parse_sysctl(s, own_network))
            .collect::<Result<_>>()?,
        devices: o
            .devices
            .iter()
            .map(|d| DeviceMapping::parse(d))
            .collect::<Result<_>>()?,
        shm_size,
        security: parse_security_opts(&o.security_opts)?,
        cgroupns,
    })
}

/// The ports the container exposes: the image's `ExposedPorts` and each `--expose`
/// (`80`, `80/udp`, `7000-7002/tcp`), as docker's keys (`80/tcp`), sorted and once each.
fn exposed_ports(
    o: &RunOptions,
    image_config: &rbox_image::config::RunConfig,
) -> Result<std::collections::BTreeSet<String>> {
    let mut keys: std::collections::BTreeSet<String> = image_config
        .exposed_ports
        .get()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for e in &o.expose {
        let bad = || Error::InvalidOption {
            flag: "--expose".into(),
            reason: format!("invalid port {e:?}: PORT[-PORT][/tcp|udp] expected"),
        };
        let (range, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        if !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(bad());
        }
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let (lo, hi): (u16, u16) = match (lo.parse(), hi.parse()) {
            (Ok(l), Ok(h)) if l > 0 && l <= h => (l, h),
            _ => return Err(bad()),
        };
        keys.extend((lo..=hi).map(|p| format!("{p}/{proto}")));
    }
    Ok(keys)
}

/// `-p` and `-P` (every port exposed, each on a free host port). A host port that is
/// taken now is refused before anything is made.
fn published_ports(
    o: &RunOptions,
    exposed: &std::collections::BTreeSet<String>,
    network: &str,
) -> Result<Vec<rbox_network::PortMapping>> {
    let mut ports = Vec::new();
    for p in &o.publish {
        ports.extend(rbox_network::ports::parse_publish(p)?);
    }
    if o.publish_all {
        for key in exposed {
            if let Some((port, protocol)) = rbox_network::ports::parse_exposed(key) {
                let taken = ports
                    .iter()
                    .any(|m| m.container_port == port && m.protocol == protocol);
                if !taken {
                    ports.push(rbox_network::PortMapping {
                        host_ip: None,
                        host_port: 0,
                        container_port: port,
                        protocol,
                    });
                }
            }
        }
    }
    if !ports.is_empty() && !crate::host::net::on_networks(network) {
        // As docker: published ports mean nothing without a network of the container's own.
        tracing::warn!("published ports are discarded with --network {network}");
        return Ok(Vec::new());
    }
    for (i, a) in ports.iter().enumerate() {
        let clash = ports[..i].iter().any(|b| {
            a.host_port != 0
                && a.host_port == b.host_port
                && a.protocol == b.protocol
                && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
        });
        if clash {
            return Err(Error::InvalidOption {
                flag: "--publish".into(),
                reason: format!("host port {} is published twice", a.host_port),
            });
        }
    }
    drop(rbox_network::ports::reserve(&ports)?);
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_dockers() {
        assert_eq!(parse_bytes("64m", "--memory").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G", "--memory").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512k", "--memory").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("100mb", "--memory").unwrap(), 100 << 20);
        assert_eq!(parse_bytes("1000", "--memory").unwrap(), 1000);
        let e = parse_bytes("12q", "--memory").unwrap_err().to_string();
        assert!(e.contains("--memory") && e.contains("12q"), "{e}");
        assert!(parse_bytes("", "--memory").is_err());
        assert!(parse_bytes("-5m", "--memory").is_err());
    }

    #[test]
    fn signals_parse_by_name_or_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("kill").unwrap(), 9);
        assert_eq!(parse_signal("2").unwrap(), 2);
        assert!(parse_signal("SIGNOPE").is_err());
    }
}
