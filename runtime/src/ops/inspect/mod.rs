//! The documents of `inspect` for containers and volumes, in the shape of docker's (API
//! 1.41 `ContainerJSON`, `Volume`): every field docker writes, with docker's zero values
//! (`0`, `""`, `[]`, or `null` where docker has a nil list or pointer) for what rbox
//! doesn't have.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::model::container::{ProcessConfig, Status};
use crate::model::mount::MountKind;
use crate::store::containers::{Container, Containers};
use crate::store::volumes::Volume;

mod host_config;

pub use host_config::HostConfigJson;

/// docker's zero time, for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One published port in a `PortMap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// The host address; empty for all (configured bindings) or `0.0.0.0`.
    pub host_ip: String,
    /// The host port; empty until one is chosen.
    pub host_port: String,
}

/// docker's ports by container port: `{"8080/tcp": [{"HostIp": "", "HostPort": "9000"}]}`.
pub type PortMap = BTreeMap<String, Vec<PortBinding>>;

/// `ports` as docker's map; `configured` ports (`PortBindings`) show an unset host address
/// as empty, published ones as `0.0.0.0`.
pub fn port_map(ports: &[rbox_network::PortMapping], configured: bool) -> PortMap {
    let mut map = PortMap::new();
    for p in ports {
        let host_ip = match (configured, p.host_ip) {
            (true, None) => String::new(),
            _ => p.host_ip_text(),
        };
        let host_port = if p.host_port == 0 {
            String::new()
        } else {
            p.host_port.to_string()
        };
        map.entry(p.container_key())
            .or_default()
            .push(PortBinding { host_ip, host_port });
    }
    map
}

/// The ports of a running container `port [PORT[/PROTO]]` lists: every one, or those of
/// one container port (`tcp` unless it names the protocol).
pub fn published<'a>(c: &'a Container, wanted: Option<&str>) -> Vec<&'a rbox_network::PortMapping> {
    let wanted = wanted.map(|p| p.split_once('/').unwrap_or((p, "tcp")));
    c.state
        .ports
        .iter()
        .filter(|p| {
            wanted.is_none_or(|(n, proto)| n == p.container_port.to_string() && proto == p.protocol)
        })
        .collect()
}

/// A container as `docker inspect` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerJson<'a> {
    id: &'a str,
    created: &'a str,
    path: Option<&'a String>,
    args: Vec<&'a String>,
    state: StateJson<'a>,
    image: &'a str,
    resolv_conf_path: PathBuf,
    hostname_path: PathBuf,
    hosts_path: PathBuf,
    log_path: PathBuf,
    name: String,
    restart_count: u32,
    driver: &'static str,
    platform: &'static str,
    mount_label: &'static str,
    process_label: &'static str,
    app_armor_profile: &'static str,
    #[serde(rename = "ExecIDs")]
    exec_ids: Option<Vec<String>>,
    host_config: HostConfigJson<'a>,
    graph_driver: GraphDriver,
    mounts: Vec<MountJson>,
    config: ConfigJson<'a>,
    network_settings: NetworkSettings,
}

/// docker's `State`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StateJson<'a> {
    status: &'static str,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    monitor_pid: i32,
    exit_code: i32,
    error: &'a str,
    started_at: &'a str,
    finished_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a crate::model::health::Health>,
}

/// docker's `GraphDriver`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriver {
    name: &'static str,
    data: GraphDriverData,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriverData {
    upper_dir: PathBuf,
    work_dir: PathBuf,
    merged_dir: PathBuf,
}

/// One of docker's `Mounts`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MountJson {
    #[serde(rename = "Type")]
    kind: &'static str,
    source: String,
    destination: String,
    mode: &'static str,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<&'static str>,
}

/// docker's `Config`: the process side, the image and whether stdin is attached.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigJson<'a> {
    #[serde(flatten)]
    process: &'a ProcessConfig,
    image: &'a str,
    attach_stdin: bool,
}

/// docker's `NetworkSettings`: the container's networks, its first address, its ports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettings {
    networks: BTreeMap<String, EndpointJson>,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u8,
    gateway: String,
    mac_address: String,
    ports: PortMap,
    sandbox_key: String,
}

/// docker's `EndpointSettings` (empty for `host` and `none`).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointJson {
    #[serde(rename = "NetworkID", skip_serializing_if = "Option::is_none")]
    network_id: Option<String>,
    #[serde(rename = "IPAddress", skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(rename = "IPPrefixLen", skip_serializing_if = "Option::is_none")]
    ip_prefix_len: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aliases: Option<Vec<String>>,
}

impl NetworkSettings {
    fn new(c: &Container) -> NetworkSettings {
        let host = &c.config.host;
        let running = c.state.is_running();
        let networks = match host.network_mode.as_str() {
            "host" | "none" => [(host.network_mode.clone(), EndpointJson::default())]
                .into_iter()
                .collect(),
            _ => host
                .networks
                .iter()
                .map(|e| {
                    let j = EndpointJson {
                        network_id: Some(e.network_id.clone()),
                        ip_address: Some(e.ip_address.to_string()),
                        ip_prefix_len: Some(e.ip_prefix_len),
                        gateway: Some(e.gateway.to_string()),
                        mac_address: Some(e.mac_address.clone()),
                        aliases: Some(e.aliases.clone()),
                    };
                    (e.network.clone(), j)
                })
                .collect(),
        };
        let first = host.networks.first();
        NetworkSettings {
            networks,
            ip_address: first.map(|e| e.ip_address.to_string()).unwrap_or_default(),
            ip_prefix_len: first.map_or(0, |e| e.ip_prefix_len),
            gateway: first.map(|e| e.gateway.to_string()).unwrap_or_default(),
            mac_address: first.map(|e| e.mac_address.clone()).unwrap_or_default(),
            ports: if running {
                port_map(&c.state.ports, false)
            } else {
                PortMap::new()
            },
            sandbox_key: if running && !host.networks.is_empty() {
                rbox_network::netns::path_for(c.id()).display().to_string()
            } else {
                String::new()
            },
        }
    }
}

impl<'a> ContainerJson<'a> {
    /// The document of `c`.
    pub fn new(containers: &Containers, c: &'a Container) -> ContainerJson<'a> {
        let p = &c.config.config;
        let mut args = p.entrypoint.iter().chain(p.cmd.iter());
        let path = args.next();
        let s = &c.state;
        let dir = containers.dir(c.id());
        let run = containers.run_path(c.id());
        let mounts = c
            .config
            .host
            .mounts
            .iter()
            .map(|m| {
                let (kind, name, source) = match m.kind {
                    MountKind::Bind => ("bind", None, m.source.clone()),
                    MountKind::Volume => (
                        "volume",
                        Some(m.source.clone()),
                        containers.volume_data(&m.source).display().to_string(),
                    ),
                    MountKind::Tmpfs => ("tmpfs", None, String::new()),
                };
                MountJson {
                    kind,
                    driver: name.as_ref().map(|_| "local"),
                    name,
                    source,
                    destination: m.destination.clone(),
                    mode: if m.read_only { "ro" } else { "" },
                    rw: !m.read_only,
                    propagation: if m.kind == MountKind::Bind {
                        "rprivate"
                    } else {
                        ""
                    },
                }
            })
            .collect();
        ContainerJson {
            id: c.id(),
            created: &c.config.created,
            path,
            args: args.collect(),
            state: StateJson {
                status: s.status_word(),
                running: s.status == Status::Running,
                paused: s.paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: s.pid,
                monitor_pid: s.monitor_pid,
                exit_code: s.exit_code,
                error: &s.error,
                started_at: s.started_at.as_deref().unwrap_or(ZERO_TIME),
                finished_at: s.finished_at.as_deref().unwrap_or(ZERO_TIME),
                health: s
                    .health
                    .as_ref()
                    .filter(|_| c.config.config.healthcheck.is_some()),
            },
            image: &c.config.image_id,
            resolv_conf_path: run.join("resolv.conf"),
            hostname_path: run.join("hostname"),
            hosts_path: run.join("hosts"),
            log_path: dir.join("container.log"),
            name: format!("/{}", c.config.name),
            restart_count: s.restart_count,
            driver: "overlay",
            platform: "linux",
            mount_label: "",
            process_label: "",
            app_armor_profile: "",
            exec_ids: None,
            host_config: HostConfigJson::new(
                containers,
                &c.config.host,
                port_map(&c.config.host.port_bindings, true),
            ),
            graph_driver: GraphDriver {
                name: "overlay",
                data: GraphDriverData {
                    upper_dir: dir.join("upper"),
                    work_dir: dir.join("work"),
                    merged_dir: dir.join("rootfs"),
                },
            },
            mounts,
            config: ConfigJson {
                process: p,
                image: &c.config.image,
                attach_stdin: p.open_stdin,
            },
            network_settings: NetworkSettings::new(c),
        }
    }
}

/// Container `name` reconciled and as `inspect` shows it, as JSON.
pub fn container(containers: &Containers, name: &str) -> crate::Result<serde_json::Value> {
    let c = crate::ops::lifecycle::reconcile(containers, &containers.resolve(name)?)?;
    serde_json::to_value(ContainerJson::new(containers, &c))
        .map_err(|e| crate::Error::Runtime(e.to_string()))
}

/// A volume as `docker volume inspect` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeJson {
    created_at: String,
    driver: &'static str,
    labels: BTreeMap<String, String>,
    mountpoint: PathBuf,
    name: String,
    options: BTreeMap<String, String>,
    scope: &'static str,
}

impl VolumeJson {
    /// The document of `v`.
    pub fn new(containers: &Containers, v: Volume) -> VolumeJson {
        VolumeJson {
            mountpoint: containers.volume_data(&v.name),
            created_at: v.created_at,
            driver: "local",
            labels: v.labels,
            name: v.name,
            options: BTreeMap::new(),
            scope: "local",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::container::HostConfig;
    use crate::model::container::{ContainerConfig, State};

    fn container(ports: Vec<rbox_network::PortMapping>) -> Container {
        Container {
            config: ContainerConfig {
                id: "c".repeat(64),
                name: "web".into(),
                created: "2026-12-01T00:00:00Z".into(),
                image: "busybox".into(),
                image_id: "sha256:abc".into(),
                manifest: String::new(),
                layers: Vec::new(),
                config: ProcessConfig {
                    cmd: vec!["sleep".into(), "60".into()],
                    ..Default::default()
                },
                host: HostConfig {
                    network_mode: "none".into(),
                    ..Default::default()
                },
            },
            state: State {
                status: Status::Running,
                ports,
                ..Default::default()
            },
            orphaned: false,
        }
    }

    fn port(container_port: u16, protocol: &str, host_port: u16) -> rbox_network::PortMapping {
        rbox_network::PortMapping {
            host_ip: None,
            host_port,
            container_port,
            protocol: protocol.into(),
        }
    }

    #[test]
    fn port_selects_one_container_port_tcp_by_default() {
        let c = container(vec![port(80, "tcp", 8080), port(80, "udp", 8081)]);
        assert_eq!(published(&c, None).len(), 2);
        assert_eq!(published(&c, Some("80"))[0].host_port, 8080);
        assert_eq!(published(&c, Some("80/udp"))[0].host_port, 8081);
        assert!(published(&c, Some("81")).is_empty());
    }

    #[test]
    fn port_maps_read_as_dockers() {
        let ports = [port(80, "tcp", 0), port(80, "tcp", 9000)];
        let v = serde_json::to_value(port_map(&ports, true)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"80/tcp": [
                {"HostIp": "", "HostPort": ""},
                {"HostIp": "", "HostPort": "9000"},
            ]})
        );
        let v = serde_json::to_value(port_map(&ports[1..], false)).unwrap();
        assert_eq!(v["80/tcp"][0]["HostIp"], "0.0.0.0");
    }

    #[test]
    fn documents_have_dockers_field_names() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::open(dir.path()).unwrap();
        let c = container(Vec::new());
        let v = serde_json::to_value(ContainerJson::new(&containers, &c)).unwrap();
        assert_eq!(v["Path"], "sleep");
        assert_eq!(v["Args"], serde_json::json!(["60"]));
        assert_eq!(v["Name"], "/web");
        assert_eq!(v["State"]["OOMKilled"], false);
        assert_eq!(v["State"]["FinishedAt"], ZERO_TIME);
        assert_eq!(v["ExecIDs"], serde_json::Value::Null);
        assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sleep", "60"]));
        assert_eq!(v["Config"]["Image"], "busybox");
        assert_eq!(v["Config"]["AttachStdin"], false);
        assert_eq!(
            v["NetworkSettings"]["Networks"],
            serde_json::json!({"none": {}})
        );
        assert_eq!(v["NetworkSettings"]["SandboxKey"], "");
        assert_eq!(v["HostConfig"]["ShmSize"], 64 << 20);
        assert_eq!(v["GraphDriver"]["Name"], "overlay");
    }
}
