//! A service's container as `rbox run` options: every key the runtime supports mapped, and a
//! warning naming each key it doesn't (never silently dropped).

use std::path::Path;

use rbox_runtime::RunOptions;

use crate::health::HealthTest;
use crate::mounts::MountType;
use crate::names;
use crate::parts::{NetworkMode, Restart};
use crate::ports::{PortBinding, Protocol};
use crate::project::{Project, Source};
use crate::service::Service;

/// A network the container joins after it is made (the first is joined at create).
#[derive(Debug, Clone)]
pub struct Join {
    pub network: String,
    pub ip: Option<String>,
    pub aliases: Vec<String>,
}

/// A container's options, the networks it joins besides the first, and the keys the runtime
/// can't act on.
#[derive(Debug, Clone)]
pub struct Planned {
    pub options: RunOptions,
    pub more_networks: Vec<Join>,
    pub unsupported: Vec<&'static str>,
}

/// What changes a container of a service from the service's own config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Anonymous volumes to keep (target, volume name): a recreated container's data.
    pub keep_volumes: Vec<(String, String)>,
    /// For `run`: publish the service's ports (`--service-ports`; `up` always does).
    pub no_ports: bool,
}

fn quote_words(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

fn secs(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// `-p`'s form of a port.
pub fn publish_spec(p: &PortBinding) -> String {
    let proto = match p.protocol {
        Protocol::Tcp => "",
        Protocol::Udp => "/udp",
        Protocol::Sctp => "/sctp",
    };
    let host = match &p.published {
        Some(h) if h.start == h.end => format!("{}:", h.start),
        Some(h) => format!("{}-{}:", h.start, h.end),
        None => String::new(),
    };
    match (&p.host_ip, host.is_empty()) {
        (Some(ip), true) => format!("{ip}::{}{proto}", p.target),
        (Some(ip), false) => format!("{ip}:{host}{}{proto}", p.target),
        (None, _) => format!("{host}{}{proto}", p.target),
    }
}

/// The container name another key's `service:X` refers to (its first container).
fn service_container(project: &Project, service: &str) -> String {
    match project.services.get(service) {
        Some(s) => names::container_name(&project.name, s, 1),
        None => format!("{}-{service}-1", project.name),
    }
}

/// The options of container `number` of `service` (`name`: its container's name).
pub fn plan(
    project: &Project,
    service: &Service,
    name: &str,
    number: u32,
    oneoff: bool,
    secrets_dir: &Path,
    o: &Overrides,
) -> std::result::Result<Planned, String> {
    let mut unsupported = Vec::new();
    let mut r = RunOptions {
        image: names::image_name(&project.name, service),
        name: Some(name.to_string()),
        ..Default::default()
    };
    // ENTRYPOINT as a list: its first word is --entrypoint, the rest lead the command.
    match &service.entrypoint {
        Some(e) if e.is_empty() => {
            r.entrypoint = Some(String::new());
            r.command = service.command.clone().unwrap_or_default();
        }
        Some(e) => {
            r.entrypoint = Some(e[0].clone());
            r.command = e[1..].to_vec();
            r.command
                .extend(service.command.clone().unwrap_or_default());
        }
        None => r.command = service.command.clone().unwrap_or_default(),
    }
    for (k, v) in &service.environment {
        if let Some(v) = v {
            r.env.push(format!("{k}={v}"));
        }
    }
    r.workdir = service.working_dir.clone();
    r.user = service.user.clone();
    r.hostname = service.hostname.clone();
    // Networks: the first at create, the others joined before the start.
    let mut more = Vec::new();
    match &service.network_mode {
        Some(NetworkMode::Host) => r.network = Some("host".into()),
        Some(NetworkMode::None) => r.network = Some("none".into()),
        Some(NetworkMode::Bridge) => r.network = Some("bridge".into()),
        Some(NetworkMode::Service(x)) => {
            r.network = Some(format!("container:{}", service_container(project, x)))
        }
        Some(NetworkMode::Container(x)) => r.network = Some(format!("container:{x}")),
        None => {
            let mut nets: Vec<(&String, &crate::parts::ServiceNetwork)> =
                service.networks.iter().collect();
            // Higher priority first, as compose connects them.
            nets.sort_by_key(|(_, n)| std::cmp::Reverse(n.priority.unwrap_or(0)));
            let mut joined: Vec<String> = Vec::new();
            for (key, sn) in nets {
                let host = names::network_name(project, key).unwrap_or_else(|| key.to_string());
                // Two keys may name one network (an external one under both).
                if joined.contains(&host) {
                    continue;
                }
                let i = joined.len();
                joined.push(host.clone());
                let mut aliases = vec![service.name.clone()];
                if !oneoff {
                    if let Some(c) = &service.container_name {
                        if c != name {
                            aliases.push(c.clone());
                        }
                    }
                }
                for a in &sn.aliases {
                    if !aliases.contains(a) {
                        aliases.push(a.clone());
                    }
                }
                if oneoff {
                    aliases.clear();
                }
                if sn.ipv4_address.is_some() && number > 1 {
                    return Err(format!(
                        "service {}: a fixed ipv4_address can't be given to {} containers",
                        service.name,
                        service.replicas()
                    ));
                }
                let ip = if oneoff {
                    None
                } else {
                    sn.ipv4_address.clone()
                };
                if sn.ipv6_address.is_some() {
                    unsupported.push("networks.ipv6_address");
                }
                if sn.mac_address.is_some() {
                    unsupported.push("networks.mac_address");
                }
                if i == 0 {
                    r.network = Some(host);
                    r.network_aliases = aliases;
                    r.ip = ip;
                } else {
                    more.push(Join {
                        network: host,
                        ip,
                        aliases,
                    });
                }
            }
        }
    }
    if !o.no_ports {
        r.publish = service.ports.iter().map(publish_spec).collect();
    }
    r.expose = service.expose.clone();
    // Limits: the service's own keys, else deploy.resources.limits.
    let limits = service.deploy.as_ref().and_then(|d| d.limits.as_ref());
    r.memory = service
        .mem_limit
        .or(limits.and_then(|l| l.memory))
        .map(|m| m.to_string());
    r.memory_swap = service.memswap_limit.map(|m| m.to_string());
    r.cpus = service
        .cpus
        .or(limits.and_then(|l| l.cpus))
        .map(|c| c.to_string());
    r.cpu_shares = service.cpu_shares;
    r.pids_limit = service.pids_limit.or(limits.and_then(|l| l.pids));
    // The soft limit: the service's own key, else deploy.resources.reservations.memory.
    let reservations = service
        .deploy
        .as_ref()
        .and_then(|d| d.reservations.as_ref());
    r.memory_reservation = service
        .mem_reservation
        .or(reservations.and_then(|x| x.memory))
        .map(|m| m.to_string());
    if let Some(d) = &service.deploy {
        if reservations.is_some_and(|x| x.cpus.is_some() || x.pids.is_some()) {
            unsupported
                .push("deploy.resources.reservations (cpus, pids: a single host reserves nothing)");
        }
        if d.placement.is_some() {
            unsupported.push("deploy.placement (one node)");
        }
    }
    if !oneoff {
        r.restart = match &service.restart {
            Some(Restart::No) => None,
            Some(Restart::Always) => Some("always".into()),
            Some(Restart::UnlessStopped) => Some("unless-stopped".into()),
            Some(Restart::OnFailure(None)) => Some("on-failure".into()),
            Some(Restart::OnFailure(Some(n))) => Some(format!("on-failure:{n}")),
            None => service
                .deploy
                .as_ref()
                .and_then(|d| d.restart_policy.as_ref())
                .map(|p| {
                    use crate::deploy::RestartCondition as C;
                    match (p.condition, p.max_attempts) {
                        (C::None, _) => "no".to_string(),
                        (C::OnFailure, Some(n)) => format!("on-failure:{n}"),
                        (C::OnFailure, None) => "on-failure".to_string(),
                        (C::Any, _) => "always".to_string(),
                    }
                }),
        };
    }
    r.tty = service.tty;
    r.interactive = service.stdin_open;
    r.cap_add = service.cap_add.clone();
    r.cap_drop = service.cap_drop.clone();
    r.privileged = service.privileged;
    r.read_only = service.read_only;
    r.init = service.init.unwrap_or(false);
    r.stop_signal = service.stop_signal.clone();
    r.stop_timeout = service
        .stop_grace_period
        .map(|d| d.as_secs().min(u32::MAX as u64) as u32);
    r.labels = names::container_labels(project, service, number, oneoff)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    r.add_hosts = service
        .extra_hosts
        .iter()
        .map(|(h, a)| format!("{h}:{a}"))
        .collect();
    for v in &service.volumes {
        let ro = if v.read_only { ":ro" } else { "" };
        match v.kind {
            MountType::Bind => {
                let src = v.source.clone().unwrap_or_default();
                let create = v.bind.as_ref().is_none_or(|b| b.create_host_path);
                if create && !Path::new(&src).exists() {
                    std::fs::create_dir_all(&src)
                        .map_err(|e| format!("service {}: creating {src}: {e}", service.name))?;
                }
                if v.bind.as_ref().is_some_and(|b| b.propagation.is_some()) {
                    unsupported.push("volumes.bind.propagation");
                }
                r.volumes.push(format!("{src}:{}{ro}", v.target));
            }
            MountType::Volume => match &v.source {
                Some(key) => {
                    let host = names::volume_name(project, key).unwrap_or_else(|| key.clone());
                    let mut modes: Vec<&str> = Vec::new();
                    if v.read_only {
                        modes.push("ro");
                    }
                    if v.volume.as_ref().is_some_and(|x| x.nocopy) {
                        modes.push("nocopy");
                    }
                    let modes = if modes.is_empty() {
                        String::new()
                    } else {
                        format!(":{}", modes.join(","))
                    };
                    r.volumes.push(format!("{host}:{}{modes}", v.target));
                }
                None => match o.keep_volumes.iter().find(|(t, _)| *t == v.target) {
                    Some((_, name)) => r.volumes.push(format!("{name}:{}{ro}", v.target)),
                    None => r.volumes.push(format!("{}{ro}", v.target)),
                },
            },
            MountType::Tmpfs => {
                let mut opts = Vec::new();
                if let Some(t) = &v.tmpfs {
                    if let Some(s) = t.size {
                        opts.push(format!("size={s}"));
                    }
                    if let Some(m) = t.mode {
                        opts.push(format!("mode={m:o}"));
                    }
                }
                r.tmpfs.push(if opts.is_empty() {
                    v.target.clone()
                } else {
                    format!("{}:{}", v.target, opts.join(","))
                });
            }
        }
    }
    r.tmpfs.extend(service.tmpfs.iter().cloned());
    for vf in &service.volumes_from {
        let (src, mode) = match vf.rsplit_once(':') {
            Some((s, m)) if m == "ro" || m == "rw" => (s, Some(m)),
            _ => (vf.as_str(), None),
        };
        let c = match src.strip_prefix("container:") {
            Some(c) => c.to_string(),
            None => service_container(project, src),
        };
        r.volumes_from.push(match mode {
            Some(m) => format!("{c}:{m}"),
            None => c,
        });
    }
    // Secrets and configs: files bind-mounted read-only at their targets.
    for (refs, secret) in [(&service.secrets, true), (&service.configs, false)] {
        for f in refs {
            let top = if secret {
                project.secrets.get(&f.source)
            } else {
                project.configs.get(&f.source)
            };
            let Some(top) = top else { continue };
            let target = f.mount_path(secret);
            let path = match &top.source {
                Source::File(p) => p.clone(),
                Source::Environment(var) | Source::Content(var) => {
                    let text = match &top.source {
                        Source::Environment(_) => std::env::var(var).unwrap_or_default(),
                        _ => var.clone(),
                    };
                    let p = secrets_dir.join(format!(
                        "{}-{}",
                        if secret { "secret" } else { "config" },
                        f.source
                    ));
                    std::fs::create_dir_all(secrets_dir)
                        .and_then(|_| std::fs::write(&p, text))
                        .map_err(|e| format!("{}: {e}", p.display()))?;
                    p.display().to_string()
                }
                Source::External => {
                    unsupported.push("external secrets and configs");
                    continue;
                }
            };
            if f.uid.is_some() || f.gid.is_some() || f.mode.is_some() {
                unsupported.push("secrets/configs uid, gid, mode");
            }
            r.volumes.push(format!("{path}:{target}:ro"));
        }
    }
    if let Some(l) = &service.logging {
        r.log_driver = l.driver.clone();
        r.log_opts = l.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
    }
    let ns = |m: &Option<String>| {
        m.as_ref().map(|v| match v.strip_prefix("service:") {
            Some(s) => format!("container:{}", service_container(project, s)),
            None => v.clone(),
        })
    };
    r.ipc = ns(&service.ipc);
    r.pid = ns(&service.pid);
    if let Some(h) = &service.healthcheck {
        let f = &mut r.health;
        match &h.test {
            Some(HealthTest::None) => f.disable = true,
            Some(HealthTest::CmdShell(s)) => f.cmd = Some(s.clone()),
            Some(HealthTest::Cmd(a)) => f.cmd = Some(quote_words(a)),
            None => {}
        }
        if h.disable {
            f.disable = true;
            f.cmd = None;
        }
        if !f.disable {
            f.interval = h.interval.map(secs);
            f.timeout = h.timeout.map(secs);
            f.retries = h.retries;
            f.start_period = h.start_period.map(secs);
            f.start_interval = h.start_interval.map(secs);
        }
    }
    r.dns = service.dns.clone();
    r.dns_search = service.dns_search.clone();
    r.dns_options = service.dns_opt.clone();
    r.sysctls = service
        .sysctls
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    r.ulimits = service
        .ulimits
        .iter()
        .map(|(k, u)| format!("{k}={}:{}", u.soft, u.hard))
        .collect();
    r.devices = service
        .devices
        .iter()
        .map(|d| match d.permissions.as_str() {
            "" => format!("{}:{}", d.source, d.target),
            p => format!("{}:{}:{p}", d.source, d.target),
        })
        .collect();
    r.shm_size = service.shm_size.map(|b| b.to_string());
    r.security_opts = service.security_opt.clone();
    r.platform = service.platform.clone();
    // Keys of the file the runtime has no option for.
    let lacking: [(&'static str, bool); 4] = [
        ("domainname", service.domainname.is_some()),
        (
            "depends_on.restart (dependents are not restarted with their dependency)",
            service.depends_on.values().any(|d| d.restart),
        ),
        (
            "build.secrets",
            service
                .build
                .as_ref()
                .is_some_and(|b| !b.secrets.is_empty()),
        ),
        (
            "deploy.labels",
            service
                .deploy
                .as_ref()
                .is_some_and(|d| !d.labels.is_empty()),
        ),
    ];
    unsupported.extend(lacking.iter().filter(|(_, on)| *on).map(|(k, _)| *k));
    Ok(Planned {
        options: r,
        more_networks: more,
        unsupported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::HostPorts;

    #[test]
    fn ports_as_run_takes_them() {
        let p = |host_ip: Option<&str>, published: Option<(u16, u16)>, target, protocol| {
            publish_spec(&PortBinding {
                mode: crate::ports::PortMode::Ingress,
                host_ip: host_ip.map(Into::into),
                target,
                published: published.map(|(start, end)| HostPorts { start, end }),
                protocol,
                name: None,
                app_protocol: None,
            })
        };
        assert_eq!(p(None, Some((8080, 8080)), 80, Protocol::Tcp), "8080:80");
        assert_eq!(p(None, None, 80, Protocol::Tcp), "80");
        assert_eq!(
            p(Some("127.0.0.1"), Some((53, 53)), 53, Protocol::Udp),
            "127.0.0.1:53:53/udp"
        );
        assert_eq!(
            p(Some("127.0.0.1"), None, 80, Protocol::Tcp),
            "127.0.0.1::80"
        );
        assert_eq!(
            p(None, Some((9000, 9010)), 80, Protocol::Tcp),
            "9000-9010:80"
        );
    }

    #[test]
    fn entrypoint_list_and_environment() {
        let mut s = Service {
            name: "app".into(),
            image: Some("busybox".into()),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            command: Some(vec!["echo hi".into()]),
            ..Default::default()
        };
        s.environment.insert("A".into(), Some("1".into()));
        s.environment.insert("UNSET".into(), None);
        s.networks.insert("default".into(), Default::default());
        s.domainname = Some("example".into());
        let mut p = Project {
            name: "proj".into(),
            ..Default::default()
        };
        p.networks.insert(
            "default".into(),
            crate::project::Network {
                name: "proj_default".into(),
                ..Default::default()
            },
        );
        p.services.insert("app".into(), s.clone());
        let tmp = std::env::temp_dir();
        let planned = plan(&p, &s, "proj-app-1", 1, false, &tmp, &Overrides::default()).unwrap();
        let r = &planned.options;
        assert_eq!(r.entrypoint.as_deref(), Some("sh"));
        assert_eq!(r.command, ["-c", "echo hi"]);
        assert_eq!(r.env, ["A=1"]);
        assert_eq!(r.network.as_deref(), Some("proj_default"));
        assert_eq!(r.network_aliases, ["app"]);
        assert!(r
            .labels
            .contains(&"com.docker.compose.container-number=1".to_string()));
        assert_eq!(planned.unsupported, ["domainname"]);
    }
}
