//! docker's `HostConfig` of a container: its host-side settings as `inspect` shows them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::container::{HostConfig, RestartPolicy};
use crate::model::log_config::LogConfig;
use crate::model::mount::MountKind;
use crate::store::containers::Containers;

use super::PortMap;

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
    ipc_mode: &'a str,
    cgroup: &'static str,
    links: Option<Vec<String>>,
    oom_score_adj: i64,
    pid_mode: &'a str,
    privileged: bool,
    publish_all_ports: bool,
    readonly_rootfs: bool,
    security_opt: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmpfs: Option<BTreeMap<String, String>>,
    #[serde(rename = "UTSMode")]
    uts_mode: &'a str,
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
    cpuset_cpus: String,
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
            ipc_mode: if host.ipc_mode.is_empty() {
                "private"
            } else {
                &host.ipc_mode
            },
            cgroup: "",
            links: None,
            oom_score_adj: 0,
            pid_mode: &host.pid_mode,
            privileged: host.privileged,
            publish_all_ports: host.publish_all_ports,
            readonly_rootfs: host.readonly_rootfs,
            security_opt: None,
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            uts_mode: &host.uts_mode,
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
            cpuset_cpus: host.cpuset_cpus.clone().unwrap_or_default(),
            cpuset_mems: "",
            devices: [],
            device_cgroup_rules: None,
            device_requests: None,
            kernel_memory: 0,
            kernel_memory_tcp: 0,
            memory_reservation: host.memory_reservation.unwrap_or(0),
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
