//! Container commands: run, create, start, stop, restart, kill, rm, ps, logs, inspect,
//! wait, rename.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rbox_runtime::attach;
use rbox_runtime::container::Status;
use rbox_runtime::create::parse_signal;
use rbox_runtime::lifecycle;
use rbox_runtime::monitor::Started;
use rbox_runtime::{Container, Containers, RunOptions};
use serde_json::json;

use crate::format::{ago, human_duration, print_table};
use crate::template;
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
    /// Network: bridge (the default), none, host, or a network's name.
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Another name for the container on its network.
    #[arg(long, alias = "net-alias")]
    network_alias: Vec<String>,
    /// The container's IPv4 address on its network.
    #[arg(long)]
    ip: Option<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ports may be ranges.
    #[arg(short, long)]
    publish: Vec<String>,
    /// Publish every exposed port on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
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
            ip: self.ip.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
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
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    create: CreateArgs,
}

fn open(root: &Path) -> Result<(rbox_image::Store, Containers), CliError> {
    Ok((rbox_image::Store::open(root)?, Containers::open(root)?))
}

/// Exits as `docker run` does for an error before the container runs.
fn run_failure(e: rbox_runtime::Error) -> CliResult {
    eprintln!("rbox: {e}");
    Ok(ExitCode::from(e.run_exit_code()))
}

/// Refuses a terminal for a standard input that is not one (`-it` with a pipe or a file),
/// as docker does: the container would wait on a terminal that never comes.
fn check_tty(interactive: bool, tty: bool) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if interactive && tty && !io::stdin().is_terminal() {
        return Err(CliError::Failed("the input device is not a TTY".into()));
    }
    Ok(())
}

pub fn run(root: &Path, a: RunArgs) -> CliResult {
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
    start_container(&containers, &config.id, !a.detach, a.create.tty, a.detach)
}

/// Creates the container, first pulling its image when `--pull` asks for it (`always`, or
/// `missing` and the store doesn't have it).
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
    if a.pull == "always" {
        pull(&a.image)?;
    }
    match rbox_runtime::create::create(images, containers, &a.options()) {
        Err(rbox_runtime::Error::Image(rbox_image::Error::NoSuchImage(_)))
            if a.pull == "missing" && rbox_image::Reference::parse(&a.image).is_ok() =>
        {
            pull(&a.image)?;
            rbox_runtime::create::create(images, containers, &a.options())
        }
        other => other,
    }
}

/// Starts a container, attached or not, and ends as `docker run`/`docker start` does.
fn start_container(
    containers: &Containers,
    id: &str,
    attached: bool,
    tty: bool,
    print_id: bool,
) -> CliResult {
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
    let mut spawned = match lifecycle::start(containers, id, attached) {
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
                Some(sig) => {
                    let code = attach::wait(spawned, pid, sig);
                    Ok(ExitCode::from(code.clamp(0, 255) as u8))
                }
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

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and exit with its code.
    #[arg(short, long)]
    attach: bool,
    /// Attach standard input.
    #[arg(short, long)]
    interactive: bool,
    /// Containers to start.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(root: &Path, a: StartArgs) -> CliResult {
    let containers = Containers::open(root)?;
    if a.attach {
        if a.containers.len() > 1 {
            return Err(CliError::Failed(
                "you cannot start and attach multiple containers at once".into(),
            ));
        }
        let id = containers.resolve(&a.containers[0])?;
        let c = lifecycle::reconcile(&containers, &id)?;
        check_tty(a.interactive, c.config.config.tty)?;
        return start_container(&containers, &id, true, c.config.config.tty, false);
    }
    each(&containers, &a.containers, |id| {
        let c = lifecycle::reconcile(&containers, id)?;
        if c.state.is_running() {
            return Ok(());
        }
        let mut spawned = lifecycle::start(&containers, id, false)?;
        match spawned.wait_started() {
            Started::Running(_) => Ok(()),
            Started::Failed(_, msg) => Err(CliError::Failed(msg)),
        }
    })
}

/// Runs `f` on each named container, printing each name as docker does; an error for one
/// doesn't stop the others but makes the exit code 1.
fn each(
    containers: &Containers,
    names: &[String],
    mut f: impl FnMut(&str) -> Result<(), CliError>,
) -> CliResult {
    each_printing(containers, names, |id, name| {
        f(id).map(|()| name.to_owned())
    })
}

/// Runs `f` on each named container and prints what it returns; an error for one doesn't
/// stop the others but makes the exit code 1.
fn each_printing(
    containers: &Containers,
    names: &[String],
    mut f: impl FnMut(&str, &str) -> Result<String, CliError>,
) -> CliResult {
    let mut failed = false;
    for n in names {
        let res = containers
            .resolve(n)
            .map_err(CliError::from)
            .and_then(|id| f(&id, n));
        match res {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("rbox: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(short, long)]
    time: Option<u32>,
    /// Containers to stop.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(root: &Path, a: StopArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        lifecycle::stop(&containers, id, a.time)?;
        Ok(())
    })
}

pub fn restart(root: &Path, a: StopArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        lifecycle::stop(&containers, id, a.time)?;
        let mut spawned = lifecycle::start(&containers, id, false)?;
        match spawned.wait_started() {
            Started::Running(_) => Ok(()),
            Started::Failed(_, msg) => Err(CliError::Failed(msg)),
        }
    })
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Containers to signal.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(root: &Path, a: KillArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let sig = parse_signal(&a.signal)?;
    each(&containers, &a.containers, |id| {
        lifecycle::kill(&containers, id, sig)?;
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill and remove running containers.
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes too.
    #[arg(short, long)]
    volumes: bool,
    /// Containers to remove.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(root: &Path, a: RmArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each(&containers, &a.containers, |id| {
        lifecycle::remove(&containers, id, a.force, a.volumes)?;
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Containers to wait for.
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(root: &Path, a: WaitArgs) -> CliResult {
    let containers = Containers::open(root)?;
    each_printing(&containers, &a.containers, |id, _| {
        Ok(lifecycle::wait(&containers, id)?.to_string())
    })
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The container.
    container: String,
    /// Its new name.
    new_name: String,
}

pub fn rename(root: &Path, a: RenameArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    containers.rename(&id, &a.new_name)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Only show ids.
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Filter: status=, name=, id=, label=KEY[=VALUE], exited=CODE, ancestor=IMAGE.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Go-template-like format, e.g. "{{.Names}} {{.Status}}" or "table {{.ID}}\t{{.Status}}".
    #[arg(long)]
    format: Option<String>,
    /// Show the last created container.
    #[arg(short = 'l', long)]
    latest: bool,
}

/// `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`, as docker ps shows them.
pub fn status_text(c: &Container) -> String {
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64
                    / 1000.0
            })
            .unwrap_or(0.0)
            .max(0.0)
    };
    match c.state.status {
        Status::Running => format!("Up {}", human_duration(since(&c.state.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code,
            human_duration(since(&c.state.finished_at))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            human_duration(since(&c.state.finished_at))
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// The COMMAND column as docker shows it: the path and its arguments, an argument with a
/// space in single quotes (`sh -c 'exit 3'`), cut to 20 characters unless `full`, in Go's
/// double-quoted form.
fn command_text(c: &Container, full: bool) -> String {
    let mut words = c
        .config
        .config
        .entrypoint
        .iter()
        .chain(c.config.config.cmd.iter());
    let mut cmd = words.next().cloned().unwrap_or_default();
    for w in words {
        cmd.push(' ');
        if w.contains(' ') {
            cmd.push_str(&format!("'{w}'"));
        } else {
            cmd.push_str(w);
        }
    }
    if !full && cmd.chars().count() > 20 {
        cmd = format!("{}…", cmd.chars().take(19).collect::<String>());
    }
    go_quote(&cmd)
}

/// `s` in double quotes with Go's escapes (`strconv.Quote`).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn matches_filter(c: &Container, f: &str) -> Result<bool, CliError> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| CliError::Failed(format!("bad filter {f:?}: use KEY=VALUE")))?;
    Ok(match k {
        "status" => c.state.status.as_str() == v,
        "name" => c.config.name.contains(v),
        "id" => c.config.id.starts_with(v),
        "label" => match v.split_once('=') {
            Some((lk, lv)) => c.config.config.labels.get(lk).is_some_and(|x| x == lv),
            None => c.config.config.labels.contains_key(v),
        },
        "exited" => c.state.status == Status::Exited && c.state.exit_code.to_string() == v,
        "ancestor" => c.config.image == v || c.config.image_id.contains(v),
        _ => return Err(CliError::Failed(format!("invalid filter {k:?}"))),
    })
}

pub fn ps(root: &Path, a: PsArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let mut list = lifecycle::reconcile_all(&containers)?;
    if a.latest {
        list.truncate(1);
    }
    let mut shown = Vec::new();
    for c in list {
        // As docker: a status or exited filter looks at stopped containers too.
        let everything = a.all
            || a.latest
            || a.filter
                .iter()
                .any(|f| f.starts_with("status=") || f.starts_with("exited="));
        if !everything && !c.state.is_running() {
            continue;
        }
        let mut keep = true;
        for f in &a.filter {
            keep &= matches_filter(&c, f)?;
        }
        if keep {
            shown.push(c);
        }
    }
    let mut out = io::stdout().lock();
    if a.quiet {
        for c in &shown {
            let id = if a.no_trunc { c.id() } else { &c.id()[..12] };
            writeln!(out, "{id}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let fields = |c: &Container| {
        let labels = c
            .config
            .config
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        vec![
            (
                "ID",
                if a.no_trunc {
                    c.id().to_owned()
                } else {
                    c.id()[..12].to_owned()
                },
            ),
            ("Image", c.config.image.clone()),
            ("Command", command_text(c, a.no_trunc)),
            ("CreatedAt", c.config.created.clone()),
            ("RunningFor", ago(Some(&c.config.created))),
            ("Status", status_text(c)),
            ("State", c.state.status.as_str().to_owned()),
            (
                "Ports",
                c.state
                    .ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("Names", c.config.name.clone()),
            ("Labels", labels),
        ]
    };
    if let Some(fmt) = &a.format {
        let (table, body) = match fmt.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, fmt.as_str()),
        };
        if table {
            writeln!(out, "{}", template::header(body))?;
        }
        for c in &shown {
            writeln!(out, "{}", template::render(body, &fields(c)))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for c in &shown {
        let f = fields(c);
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        rows.push(vec![
            get("ID"),
            get("Image"),
            get("Command"),
            get("RunningFor"),
            get("Status"),
            get("Ports"),
            get("Names"),
        ]);
    }
    print_table(&mut out, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines from the end (or "all").
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since a time: RFC 3339 (local time without a zone, e.g.
    /// 2026-12-01T00:00:00), a date, a Unix time (1733011200.5), or a duration back from now
    /// (10m, 1h30m).
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Show logs before a time (the same forms as --since).
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// The container.
    container: String,
}

/// A `--since`/`--until` time, as docker reads it (see [`crate::timestamp`]).
fn parse_time(flag: &str, s: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    crate::timestamp::parse(s)
        .map_err(|e| CliError::Failed(format!("invalid value for \"{flag}\": {e}")))
}

pub fn logs(root: &Path, a: LogsArgs) -> CliResult {
    use rbox_runtime::logs::Record;
    let containers = Containers::open(root)?;
    let id = containers.resolve(&a.container)?;
    let path = containers.dir(&id).join("container.log");
    let since = a
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    let tail: Option<usize> = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| CliError::Failed(format!("--tail {n:?}: a number or \"all\"")))?,
        ),
    };
    let print = |r: &Record| -> io::Result<()> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&r.time) {
            if since.is_some_and(|s| t < s) || until.is_some_and(|u| t > u) {
                return Ok(());
            }
        }
        let text = if a.timestamps {
            format!("{} {}", r.time, r.log)
        } else {
            r.log.clone()
        };
        if r.stream == "stderr" {
            io::stderr().lock().write_all(text.as_bytes())
        } else {
            let mut o = io::stdout().lock();
            o.write_all(text.as_bytes())?;
            o.flush()
        }
    };
    // One reader for what is kept and what comes: nothing twice, nothing lost to a rotation.
    let mut follower = rbox_runtime::logs::Follower::new(&path);
    let records = follower
        .poll()
        .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    let start = tail.map_or(0, |t| records.len().saturating_sub(t));
    for r in &records[start..] {
        print(r)?;
    }
    if a.follow {
        loop {
            let running = containers
                .load(&id)
                .map(|c| c.state.is_running())
                .unwrap_or(false);
            for r in follower.poll().unwrap_or_default() {
                print(&r)?;
            }
            // As docker: following ends at --until.
            if !running || until.is_some_and(|u| chrono::Utc::now() > u) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Ports as docker's maps: `{"8080/tcp": [{"HostIp": "", "HostPort": "9000"}]}`.
fn port_map(ports: &[rbox_network::PortMapping], configured: bool) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for p in ports {
        let ip = match (configured, p.host_ip) {
            (true, None) => String::new(),
            _ => p.host_ip_text(),
        };
        let port = if p.host_port == 0 {
            String::new()
        } else {
            p.host_port.to_string()
        };
        if let Some(list) = map
            .entry(p.container_key())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            list.push(json!({"HostIp": ip, "HostPort": port}));
        }
    }
    serde_json::Value::Object(map)
}

/// docker's `NetworkSettings`: the container's networks, its first address, its ports.
fn network_settings(c: &Container) -> serde_json::Value {
    let host = &c.config.host;
    let running = c.state.is_running();
    let networks: serde_json::Map<String, serde_json::Value> = match host.network_mode.as_str() {
        "host" | "none" => [(host.network_mode.clone(), json!({}))]
            .into_iter()
            .collect(),
        _ => host
            .networks
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.remove("Network");
                }
                (e.network.clone(), v)
            })
            .collect(),
    };
    let first = host.networks.first();
    json!({
        "Networks": networks,
        "IPAddress": first.map(|e| e.ip_address.to_string()).unwrap_or_default(),
        "IPPrefixLen": first.map_or(0, |e| e.ip_prefix_len),
        "Gateway": first.map(|e| e.gateway.to_string()).unwrap_or_default(),
        "MacAddress": first.map(|e| e.mac_address.clone()).unwrap_or_default(),
        "Ports": if running { port_map(&c.state.ports, false) } else { json!({}) },
        "SandboxKey": if running && !host.networks.is_empty() {
            rbox_network::netns::path_for(c.id()).display().to_string()
        } else {
            String::new()
        },
    })
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// The container.
    container: String,
    /// Only this port: PORT[/tcp|udp].
    port: Option<String>,
}

/// `port`: a running container's published ports.
pub fn port(root: &Path, a: PortArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let c = lifecycle::reconcile(&containers, &containers.resolve(&a.container)?)?;
    let wanted = a.port.as_deref().map(|p| match p.split_once('/') {
        Some((n, proto)) => (n.to_owned(), proto.to_owned()),
        None => (p.to_owned(), "tcp".to_owned()),
    });
    let mut out = std::io::stdout().lock();
    let mut found = false;
    for p in &c.state.ports {
        if let Some((n, proto)) = &wanted {
            if *n != p.container_port.to_string() || *proto != p.protocol {
                continue;
            }
            writeln!(out, "{}:{}", p.host_ip_text(), p.host_port)?;
        } else {
            writeln!(
                out,
                "{} -> {}:{}",
                p.container_key(),
                p.host_ip_text(),
                p.host_port
            )?;
        }
        found = true;
    }
    if let (Some(p), false) = (&a.port, found) {
        return Err(CliError::Failed(format!(
            "no public port '{p}' published for {}",
            c.config.name
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// docker's zero time, for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A container as `docker inspect` shows it.
pub fn inspect_json(containers: &Containers, c: &Container) -> serde_json::Value {
    let args: Vec<String> = c
        .config
        .config
        .entrypoint
        .iter()
        .chain(c.config.config.cmd.iter())
        .cloned()
        .collect();
    let s = &c.state;
    let dir = containers.dir(c.id());
    let run = containers.run_path(c.id());
    let mut config = serde_json::to_value(&c.config.config).unwrap_or_default();
    config["Image"] = json!(c.config.image);
    let host = crate::inspect::HostConfigJson::new(
        containers,
        &c.config.host,
        port_map(&c.config.host.port_bindings, true),
    );
    config["AttachStdin"] = json!(c.config.config.open_stdin);
    json!({
        "Id": c.id(),
        "Created": c.config.created,
        "Path": args.first(),
        "Args": args.get(1..).unwrap_or(&[]),
        "State": {
            "Status": s.status.as_str(),
            "Running": s.status == Status::Running,
            "Paused": false,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "MonitorPid": s.monitor_pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
        },
        "Image": c.config.image_id,
        "ResolvConfPath": run.join("resolv.conf"),
        "HostnamePath": run.join("hostname"),
        "HostsPath": run.join("hosts"),
        "LogPath": dir.join("container.log"),
        "Name": format!("/{}", c.config.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
                "MergedDir": dir.join("rootfs"),
            },
        },
        "Mounts": c.config.host.mounts.iter().map(|m| {
            use rbox_runtime::volumes::MountKind;
            let (kind, name, source) = match m.kind {
                MountKind::Bind => ("bind", None, m.source.clone()),
                MountKind::Volume => (
                    "volume",
                    Some(m.source.clone()),
                    containers.volume_data(&m.source).display().to_string(),
                ),
                MountKind::Tmpfs => ("tmpfs", None, String::new()),
            };
            let mut j = json!({
                "Type": kind,
                "Source": source,
                "Destination": m.destination,
                "Mode": if m.read_only { "ro" } else { "" },
                "RW": !m.read_only,
                "Propagation": if m.kind == MountKind::Bind { "rprivate" } else { "" },
            });
            if let Some(n) = name {
                j["Name"] = json!(n);
                j["Driver"] = json!("local");
            }
            j
        }).collect::<Vec<_>>(),
        "Config": config,
        "NetworkSettings": network_settings(c),
    })
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Print each object through a template, e.g. '{{.NetworkSettings.IPAddress}}'.
    #[arg(short, long)]
    format: Option<String>,
    /// Containers or images.
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn inspect(root: &Path, a: InspectArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let mut out = Vec::new();
    let mut failed = false;
    for n in &a.names {
        match containers
            .resolve(n)
            .and_then(|id| lifecycle::reconcile(&containers, &id))
        {
            Ok(c) => out.push(inspect_json(&containers, &c)),
            Err(_) => match crate::images::inspect_one(root, n) {
                Ok(v) => out.push(v),
                Err(_) => {
                    eprintln!("rbox: no such object: {n}");
                    failed = true;
                }
            },
        }
    }
    match &a.format {
        Some(f) => {
            for v in &out {
                println!("{}", template::render_json(f, v));
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&out).expect("json")),
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Run the command in the background.
    #[arg(short, long)]
    detach: bool,
    /// Keep standard input open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// User: name or uid, with an optional :group or :gid.
    #[arg(short, long)]
    user: Option<String>,
    /// The container.
    container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn exec(root: &Path, a: ExecArgs) -> CliResult {
    if !a.detach {
        check_tty(a.interactive, a.tty)?;
    }
    // Whatever enters a container runs from a sealed copy of rbox (CVE-2019-5736).
    if !rbox_runtime::sealed::running_protected() {
        let e = rbox_runtime::sealed::reexec_sealed();
        eprintln!("rbox: {e}");
        return Ok(ExitCode::from(126));
    }
    let containers = Containers::open(root)?;
    let id = match containers.resolve(&a.container) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("rbox: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let opts = rbox_runtime::exec::ExecOptions {
        command: a.command,
        env: a.env,
        workdir: a.workdir,
        user: a.user,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    match rbox_runtime::exec::exec(&containers, &id, &opts) {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Err(e) => {
            eprintln!("rbox: {e}");
            Ok(ExitCode::from(match e {
                rbox_runtime::Error::Conflict(_) => 1,
                e => e.run_exit_code(),
            }))
        }
    }
}
