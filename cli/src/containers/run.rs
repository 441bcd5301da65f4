//! `run` and `create`: their options, the pull before, the start and attach after.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rbox_runtime::attach;
use rbox_runtime::lifecycle;
use rbox_runtime::monitor::Started;
use rbox_runtime::ops::run::PullPolicy;
use rbox_runtime::{Containers, RunOptions};

use super::{check_tty, run_failure};
use crate::{CliError, CliResult};

/// Options shared by `run` and `create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Print help (-h is --hostname, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass this one's).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long)]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// User: name or uid, with an optional :group or :gid.
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the image's ENTRYPOINT.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name.
    #[arg(long, short = 'h')]
    hostname: Option<String>,
    /// Network: bridge (the default), none, host, a network's name, or container:NAME (another
    /// running container's: its address, its ports, its localhost).
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Another name for the container on its network.
    #[arg(long, alias = "net-alias")]
    network_alias: Vec<String>,
    /// The pod to run it in (its network, IPC and UTS namespaces).
    #[arg(long)]
    pod: Option<String>,
    /// The container's IPv4 address on its network.
    #[arg(long)]
    ip: Option<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ports may be ranges.
    #[arg(short, long)]
    publish: Vec<String>,
    /// Publish every exposed port on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or a range of ports (PORT[-PORT][/tcp|udp]), beside the image's.
    #[arg(long)]
    expose: Vec<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long)]
    memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    cpus: Option<String>,
    /// Limit on the number of processes (-1: none).
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    restart: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    tty: bool,
    /// Keep standard input open.
    #[arg(short, long)]
    interactive: bool,
    /// Add Linux capabilities.
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Give the container every capability and lift the security defaults.
    #[arg(long)]
    privileged: bool,
    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    read_only: bool,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// Signal to stop the container.
    #[arg(long)]
    stop_signal: Option<String>,
    /// Seconds to wait for the container to stop before killing it.
    #[arg(long)]
    stop_timeout: Option<u32>,
    /// Set metadata on the container (KEY=VALUE).
    #[arg(short, long)]
    label: Vec<String>,
    /// Add a custom host-to-IP mapping (NAME:IP).
    #[arg(long)]
    add_host: Vec<String>,
    /// Bind mount or volume: HOST_PATH:PATH[:ro], NAME:PATH[:ro], or PATH (anonymous).
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// A mount: type=bind|volume|tmpfs,source=…,target=…[,readonly].
    #[arg(long)]
    mount: Vec<String>,
    /// A tmpfs mount: PATH[:size=…,mode=…].
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Mount the volumes of another container: CONTAINER[:ro|rw].
    #[arg(long)]
    volumes_from: Vec<String>,
    /// The log driver: json-file (the only one).
    #[arg(long)]
    log_driver: Option<String>,
    /// A log option: max-size=SIZE (a file's size before rotation, -1: no limit; default
    /// 20m), max-file=N (files kept; default 5). `log-opts` in <root>/defaults.json sets the
    /// root's defaults.
    #[arg(long = "log-opt")]
    log_opt: Vec<String>,
    /// A DNS server for the container's resolv.conf (instead of the host's).
    #[arg(long)]
    dns: Vec<String>,
    /// A DNS search domain ("." for none).
    #[arg(long)]
    dns_search: Vec<String>,
    /// A resolv.conf option (ndots:2, …).
    #[arg(long, alias = "dns-opt")]
    dns_option: Vec<String>,
    /// A resource limit: NAME=SOFT[:HARD] (nofile=1024:2048).
    #[arg(long)]
    ulimit: Vec<String>,
    /// A namespaced kernel parameter: KEY=VALUE (net.*, kernel.shm*, kernel.msg*, fs.mqueue.*).
    #[arg(long)]
    sysctl: Vec<String>,
    /// A host device: HOST[:CONTAINER][:PERMISSIONS].
    #[arg(long)]
    device: Vec<String>,
    /// Size of /dev/shm (default 64m).
    #[arg(long)]
    shm_size: Option<String>,
    /// An additional group (a name from the image's /etc/group, or a number).
    #[arg(long)]
    group_add: Vec<String>,
    /// seccomp=unconfined|PROFILE.json, no-new-privileges, label=disable.
    #[arg(long)]
    security_opt: Vec<String>,
    /// Cgroup namespace: private (the default) or host.
    #[arg(long)]
    cgroupns: Option<String>,
    /// The container's OOM score adjustment (-1000 to 1000, no lower than rbox's own).
    #[arg(long, allow_hyphen_values = true)]
    oom_score_adj: Option<i32>,
    /// The platform the image must be (os/arch[/variant]); rbox runs this host's.
    #[arg(long)]
    platform: Option<String>,
    /// Write the container's id to this file (which must not exist).
    #[arg(long)]
    cidfile: Option<PathBuf>,
    /// A file of labels, KEY=VALUE a line.
    #[arg(long)]
    label_file: Vec<PathBuf>,
    /// Memory and swap together (-1: unlimited swap); needs --memory.
    #[arg(long)]
    memory_swap: Option<String>,
    /// Memory soft limit (e.g. 32m): what the kernel keeps the container under when
    /// memory runs short (memory.low on cgroup v2, memory.soft_limit_in_bytes on v1).
    #[arg(long, value_name = "BYTES")]
    memory_reservation: Option<String>,
    /// The CPUs the container may run on: 0-2,4.
    #[arg(long, value_name = "CPUS")]
    cpuset_cpus: Option<String>,
    /// CPU shares (relative weight; 1024 is the default share).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// IPC namespace: private (the default), shareable (others may join it), host, or
    /// container:NAME (a shareable container's).
    #[arg(long, value_name = "MODE")]
    ipc: Option<String>,
    /// PID namespace: host, or container:NAME (another running container's).
    #[arg(long, value_name = "MODE")]
    pid: Option<String>,
    /// UTS namespace: host.
    #[arg(long, value_name = "MODE")]
    uts: Option<String>,
    /// Command to run to check health (run by the container's /bin/sh).
    #[arg(long, value_name = "COMMAND")]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h), default 30s.
    #[arg(long, value_name = "DURATION")]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h), default 30s.
    #[arg(long, value_name = "DURATION")]
    health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy, default 3.
    #[arg(long, value_name = "N")]
    health_retries: Option<u32>,
    /// Start period for the container to initialize before failures count (ms|s|m|h).
    #[arg(long, value_name = "DURATION")]
    health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h), default 5s.
    #[arg(long, value_name = "DURATION")]
    health_start_interval: Option<String>,
    /// What to do when the check turns unhealthy: none (the default), kill (the restart
    /// policy then applies) or stop.
    #[arg(long, value_name = "ACTION", value_parser = ["none", "kill", "stop"])]
    health_on_failure: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    no_healthcheck: bool,
    /// Pull the image: missing (when the store lacks it), always, or never.
    #[arg(long, default_value = "missing", value_parser = ["missing", "always", "never"])]
    pull: String,
    /// The image.
    image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl CreateArgs {
    fn options(&self) -> RunOptions {
        RunOptions {
            image: self.image.clone(),
            command: self.command.clone(),
            name: self.name.clone(),
            entrypoint: self.entrypoint.clone(),
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            network: self.network.clone(),
            network_aliases: self.network_alias.clone(),
            pod: self.pod.clone(),
            ip: self.ip.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            pids_limit: self.pids_limit,
            restart: self.restart.clone(),
            rm: self.rm,
            tty: self.tty,
            interactive: self.interactive,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            read_only: self.read_only,
            init: self.init,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            labels: self.label.clone(),
            add_hosts: self.add_host.clone(),
            volumes: self.volume.clone(),
            mounts: self.mount.clone(),
            tmpfs: self.tmpfs.clone(),
            volumes_from: self.volumes_from.clone(),
            log_driver: self.log_driver.clone(),
            log_opts: self.log_opt.clone(),
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            ulimits: self.ulimit.clone(),
            sysctls: self.sysctl.clone(),
            devices: self.device.clone(),
            shm_size: self.shm_size.clone(),
            group_add: self.group_add.clone(),
            security_opts: self.security_opt.clone(),
            cgroupns: self.cgroupns.clone(),
            oom_score_adj: self.oom_score_adj,
            platform: self.platform.clone(),
            label_files: self.label_file.clone(),
            cpu_shares: self.cpu_shares,
            ipc: self.ipc.clone(),
            pid: self.pid.clone(),
            uts: self.uts.clone(),
            health: rbox_runtime::model::health::HealthFlags {
                cmd: self.health_cmd.clone(),
                interval: self.health_interval.clone(),
                timeout: self.health_timeout.clone(),
                retries: self.health_retries,
                start_period: self.health_start_period.clone(),
                start_interval: self.health_start_interval.clone(),
                disable: self.no_healthcheck,
                on_failure: self.health_on_failure.clone(),
                ..Default::default()
            },
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    detach: bool,
    /// Pass the signals this process receives on to the container (false: a terminating
    /// signal ends this process and leaves the container running).
    #[arg(long, value_name = "true|false", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    sig_proxy: Option<bool>,
    /// Attach only these streams: stdin, stdout, stderr (repeatable; all by default).
    #[arg(short, long, value_name = "STDIN|STDOUT|STDERR")]
    attach: Vec<String>,
    /// The keys that detach from the container, leaving it running (ctrl-p,ctrl-q).
    #[arg(long, value_name = "KEYS")]
    detach_keys: Option<String>,
    #[command(flatten)]
    create: CreateArgs,
}

fn open(root: &Path) -> Result<(rbox_image::Store, Containers), CliError> {
    Ok((rbox_image::Store::open(root)?, Containers::open(root)?))
}

pub fn run(root: &Path, a: RunArgs) -> CliResult {
    if a.detach && !a.attach.is_empty() {
        eprintln!("rbox: conflicting options: cannot specify both --attach and --detach");
        return Ok(ExitCode::from(125));
    }
    let attach = match attach_streams(&a.attach, a.create.interactive, a.detach_keys.as_deref()) {
        Ok(x) => x,
        Err(e) => return run_failure(e),
    };
    if !a.detach {
        check_tty(a.create.interactive, a.create.tty)?;
    }
    // The container's cgroup migration waits for the kernel: start that wait now.
    rbox_runtime::cgroup::prime_migration();
    let (images, containers) = match open(root) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("rbox: {e}");
            return Ok(ExitCode::from(125));
        }
    };
    let config = match create_pulling(root, &images, &containers, &a.create) {
        Ok(c) => c,
        Err(e) => return run_failure(e),
    };
    let attach = (!a.detach).then_some(attach);
    let proxy = a.sig_proxy.unwrap_or(true);
    start_container(
        &containers,
        &config.id,
        attach,
        a.create.tty,
        a.detach,
        proxy,
    )
}

/// What `-a`, `-i` and `--detach-keys` attach: the streams named (every one if none is,
/// stdin only with `-i`), and the keys.
pub(super) fn attach_streams(
    streams: &[String],
    interactive: bool,
    detach_keys: Option<&str>,
) -> rbox_runtime::Result<attach::Attach> {
    let mut a = attach::Attach {
        stdin: interactive,
        ..Default::default()
    };
    if !streams.is_empty() {
        let named = |s: &str| streams.iter().any(|x| x.eq_ignore_ascii_case(s));
        if let Some(bad) = streams
            .iter()
            .find(|s| !["stdin", "stdout", "stderr"].contains(&s.to_ascii_lowercase().as_str()))
        {
            return Err(rbox_runtime::Error::InvalidOption {
                flag: "--attach".into(),
                reason: format!("invalid argument {bad:?}: STDIN, STDOUT or STDERR expected"),
            });
        }
        a.stdin = interactive && named("stdin");
        a.stdout = named("stdout");
        a.stderr = named("stderr");
    }
    if let Some(k) = detach_keys {
        a.detach_keys = rbox_runtime::ops::attach::parse_detach_keys(k)?;
    }
    Ok(a)
}

/// Creates the container, first pulling its image when `--pull` asks for it.
fn create_pulling(
    root: &Path,
    images: &rbox_image::Store,
    containers: &Containers,
    a: &CreateArgs,
) -> rbox_runtime::Result<rbox_runtime::ContainerConfig> {
    let pull = |image: &str| {
        crate::registry::pull_missing(root, image)
            .map_err(|e| rbox_runtime::Error::Runtime(e.to_string()))
    };
    let policy = PullPolicy::parse(&a.pull).unwrap_or_default();
    // --cidfile: made first (it must not exist, as docker's), given the id, or removed.
    let cidfile = match &a.cidfile {
        None => None,
        Some(p) => Some((
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)
                .map_err(|e| rbox_runtime::Error::InvalidOption {
                    flag: "--cidfile".into(),
                    reason: format!(
                        "{}: {e} (make sure no other container uses it)",
                        p.display()
                    ),
                })?,
            p,
        )),
    };
    let created =
        rbox_runtime::ops::run::create_pulling(images, containers, &a.options(), policy, pull);
    if let Some((mut f, path)) = cidfile {
        use std::io::Write;
        match &created {
            Ok(c) => f
                .write_all(c.id.as_bytes())
                .map_err(|e| rbox_runtime::Error::io(path.clone(), e))?,
            Err(_) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    created
}

/// Starts a container, attached or not, and ends as `docker run`/`docker start` does.
pub(super) fn start_container(
    containers: &Containers,
    id: &str,
    attach: Option<attach::Attach>,
    tty: bool,
    print_id: bool,
    sig_proxy: bool,
) -> CliResult {
    let attached = attach.is_some();
    let signals = if attached {
        match attach::catch_signals() {
            Ok(s) => Some(s),
            Err(e) => return run_failure(e.into()),
        }
    } else {
        None
    };
    let _raw = (attached && tty)
        .then(attach::RawTerminal::enable)
        .flatten();
    let mut spawned = match lifecycle::start(containers, id, attach.as_ref()) {
        Ok(s) => s,
        Err(e) => return run_failure(e),
    };
    match spawned.wait_started() {
        Started::Failed(code, msg) => {
            drop(_raw);
            eprintln!("rbox: {msg}");
            let _ = spawned.child.wait();
            Ok(ExitCode::from(code))
        }
        Started::Running(pid) => {
            if print_id {
                println!("{id}");
            }
            match &signals {
                Some(sig) => Ok(match attach::wait(spawned, pid, sig, sig_proxy) {
                    attach::Waited::Exited(code) => ExitCode::from(code.clamp(0, 255) as u8),
                    attach::Waited::Detached => ExitCode::SUCCESS,
                    attach::Waited::Signalled(s) => ExitCode::from((128 + s).clamp(0, 255) as u8),
                }),
                None => Ok(ExitCode::SUCCESS),
            }
        }
    }
}

pub fn create(root: &Path, a: CreateArgs) -> CliResult {
    let (images, containers) = open(root)?;
    match create_pulling(root, &images, &containers, &a) {
        Ok(c) => {
            println!("{}", c.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => run_failure(e),
    }
}
