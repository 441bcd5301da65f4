//! The documents of `inspect` for containers and volumes, in the shape of docker's (API
//! 1.41 `ContainerJSON`, `Volume`): every field docker writes, with docker's zero values
//! (`0`, `""`, `[]`, or `null` where docker has a nil list or pointer) for what rbox
//! doesn't have.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::model::container::{HostConfig, ProcessConfig, RestartPolicy, Status};
use crate::model::log_config::LogConfig;
use crate::model::mount::MountKind;
use crate::store::containers::{Container, Containers};
use crate::store::volumes::Volume;

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

/// The size of every container's /dev/shm (64 MiB, docker's default).
const SHM_SIZE: i64 = 64 << 20;

/// docker's `HostConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfigJson<'a> {
    /// `-v` bind mounts and named volumes as `SOURCE:DESTINATION[:ro]`; null when none.
    binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    container_id_file: &'static str,
    log_config: &'a LogConfig,
    network_mode: &'a str,
    port_bindings: PortMap,
    restart_policy: &'a RestartPolicy,
    auto_remove: bool,
    volume_driver: &'static str,
    volumes_from: Option<Vec<String>>,
    cap_add: Option<&'a [String]>,
    cap_drop: Option<&'a [String]>,
    cgroupns_mode: &'static str,
    dns: [String; 0],
    dns_options: [String; 0],
    dns_search: [String; 0],
    extra_hosts: Option<&'a [String]>,
    group_add: Option<Vec<String>>,
    ipc_mode: &'static str,
    cgroup: &'static str,
    links: Option<Vec<String>>,
    oom_score_adj: i64,
    pid_mode: &'static str,
    privileged: bool,
    publish_all_ports: bool,
    readonly_rootfs: bool,
    security_opt: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmpfs: Option<BTreeMap<String, String>>,
    #[serde(rename = "UTSMode")]
    uts_mode: &'static str,
    userns_mode: &'static str,
    shm_size: i64,
    console_size: [u32; 2],
    isolation: &'static str,
    cpu_shares: i64,
    memory: i64,
    nano_cpus: i64,
    cgroup_parent: &'static str,
    blkio_weight: u16,
    blkio_weight_device: [String; 0],
    blkio_device_read_bps: Option<Vec<String>>,
    blkio_device_write_bps: Option<Vec<String>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    blkio_device_read_iops: Option<Vec<String>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    blkio_device_write_iops: Option<Vec<String>>,
    cpu_period: i64,
    cpu_quota: i64,
    cpu_realtime_period: i64,
    cpu_realtime_runtime: i64,
    cpuset_cpus: &'static str,
    cpuset_mems: &'static str,
    devices: [String; 0],
    device_cgroup_rules: Option<Vec<String>>,
    device_requests: Option<Vec<String>>,
    kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP")]
    kernel_memory_tcp: i64,
    memory_reservation: i64,
    memory_swap: i64,
    memory_swappiness: Option<i64>,
    oom_kill_disable: bool,
    pids_limit: Option<i64>,
    ulimits: Option<Vec<String>>,
    cpu_count: i64,
    cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps")]
    io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth")]
    io_maximum_bandwidth: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<bool>,
}

/// `None` for an empty list: docker's nil slice, `null` in JSON.
fn non_empty(v: &[String]) -> Option<&[String]> {
    (!v.is_empty()).then_some(v)
}

impl<'a> HostConfigJson<'a> {
    /// The `HostConfig` of a container whose host side is `host`; `port_bindings` is its
    /// `PortBindings` map.
    pub fn new(
        containers: &Containers,
        host: &'a HostConfig,
        port_bindings: PortMap,
    ) -> HostConfigJson<'a> {
        let mode = |read_only: bool| if read_only { ":ro" } else { "" };
        let binds: Vec<String> = host
            .mounts
            .iter()
            .filter(|m| !m.borrowed)
            .filter_map(|m| match m.kind {
                MountKind::Bind => Some(format!(
                    "{}:{}{}",
                    m.source,
                    m.destination,
                    mode(m.read_only)
                )),
                // An anonymous volume is in Config.Volumes only, as docker has it.
                MountKind::Volume if !containers.volume(&m.source).is_ok_and(|v| v.anonymous) => {
                    Some(format!(
                        "{}:{}{}",
                        m.source,
                        m.destination,
                        mode(m.read_only)
                    ))
                }
                _ => None,
            })
            .collect();
        let tmpfs: BTreeMap<String, String> = host
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Tmpfs)
            .map(|m| (m.destination.clone(), m.options.join(",")))
            .collect();
        HostConfigJson {
            binds: (!binds.is_empty()).then_some(binds),
            container_id_file: "",
            log_config: &host.log_config,
            network_mode: &host.network_mode,
            port_bindings,
            restart_policy: &host.restart_policy,
            auto_remove: host.auto_remove,
            volume_driver: "",
            volumes_from: None,
            cap_add: non_empty(&host.cap_add),
            cap_drop: non_empty(&host.cap_drop),
            cgroupns_mode: "private",
            dns: [],
            dns_options: [],
            dns_search: [],
            extra_hosts: non_empty(&host.extra_hosts),
            group_add: None,
            ipc_mode: "private",
            cgroup: "",
            links: None,
            oom_score_adj: 0,
            pid_mode: "",
            privileged: host.privileged,
            publish_all_ports: host.publish_all_ports,
            readonly_rootfs: host.readonly_rootfs,
            security_opt: None,
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            uts_mode: "",
            userns_mode: "",
            shm_size: SHM_SIZE,
            console_size: [0, 0],
            isolation: "",
            cpu_shares: 0,
            memory: host.memory.unwrap_or(0),
            nano_cpus: host.nano_cpus.unwrap_or(0),
            cgroup_parent: "",
            blkio_weight: 0,
            blkio_weight_device: [],
            blkio_device_read_bps: None,
            blkio_device_write_bps: None,
            blkio_device_read_iops: None,
            blkio_device_write_iops: None,
            cpu_period: 0,
            cpu_quota: 0,
            cpu_realtime_period: 0,
            cpu_realtime_runtime: 0,
            cpuset_cpus: "",
            cpuset_mems: "",
            devices: [],
            device_cgroup_rules: None,
            device_requests: None,
            kernel_memory: 0,
            kernel_memory_tcp: 0,
            memory_reservation: 0,
            memory_swap: 0,
            memory_swappiness: None,
            oom_kill_disable: false,
            pids_limit: host.pids_limit,
            ulimits: None,
            cpu_count: 0,
            cpu_percent: 0,
            io_maximum_iops: 0,
            io_maximum_bandwidth: 0,
            init: host.init.then_some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
