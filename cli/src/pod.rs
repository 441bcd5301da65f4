//! `rbox pod …`: groups of containers sharing network, IPC and UTS namespaces
//! (rbox-runtime's `ops::pod`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_runtime::ops::pod::{self, CreateOptions};
use rbox_runtime::store::pods::PodConfig;
use rbox_runtime::Containers;

use crate::{CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum PodCommand {
    /// Create a pod.
    Create(CreateArgs),
    /// List pods.
    #[command(alias = "ps", alias = "list")]
    Ls(LsArgs),
    /// Show pods as JSON.
    Inspect(NamesArgs),
    /// Start pods (their namespaces pinned, their containers started).
    Start(NamesArgs),
    /// Stop pods.
    Stop(StopArgs),
    /// Restart pods.
    Restart(StopArgs),
    /// Send a signal to the containers of pods.
    Kill(KillArgs),
    /// Pause the containers of pods.
    Pause(NamesArgs),
    /// Unpause the containers of pods.
    Unpause(NamesArgs),
    /// Remove pods and their containers.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Display the running processes of a pod's containers.
    Top(TopArgs),
    /// Display the resource usage of pods' containers (one sample).
    Stats(NamesArgs),
    /// Show the output of a pod's containers.
    Logs(LogsArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The pod's name.
    #[arg(long)]
    name: Option<String>,
    /// Publish a port of the pod (HOST:CONTAINER[/PROTO]).
    #[arg(short, long)]
    publish: Vec<String>,
    /// The pod's network: a network's name (bridge by default), none, or host (the host's
    /// network and UTS namespaces, no published ports).
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// The namespaces shared: a comma list of net, ipc, uts.
    #[arg(long)]
    share: Option<String>,
    /// Set metadata (KEY=VALUE).
    #[arg(short, long)]
    label: Vec<String>,
    /// The pod's hostname (its name by default).
    #[arg(long)]
    hostname: Option<String>,
    /// Add a host-to-IP mapping (NAME:IP).
    #[arg(long)]
    add_host: Vec<String>,
    /// A DNS server for the pod's containers.
    #[arg(long)]
    dns: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// Full ids.
    #[arg(long)]
    no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    /// Pods, by name or id.
    #[arg(required = true)]
    pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing each container.
    #[arg(short, long)]
    time: Option<u32>,
    /// Pods, by name or id.
    #[arg(required = true)]
    pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// The signal.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Pods, by name or id.
    #[arg(required = true)]
    pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Stop running containers first.
    #[arg(short, long)]
    force: bool,
    /// Pods, by name or id.
    #[arg(required = true)]
    pods: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// The pod.
    pod: String,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Only this container's output.
    #[arg(short, long)]
    container: Option<String>,
    /// Follow the output until the containers stop.
    #[arg(short, long)]
    follow: bool,
    /// The pod.
    pod: String,
}

pub fn run(root: &Path, cmd: PodCommand) -> CliResult {
    let containers = Containers::open(root)?;
    let c = &containers;
    match cmd {
        PodCommand::Create(a) => {
            let p = pod::create(
                c,
                &CreateOptions {
                    name: a.name,
                    publish: a.publish,
                    network: a.network,
                    share: a.share,
                    labels: a.label,
                    hostname: a.hostname,
                    add_hosts: a.add_host,
                    dns: a.dns,
                    ip: None,
                },
            )?;
            println!("{}", p.id);
            Ok(ExitCode::SUCCESS)
        }
        PodCommand::Ls(a) => ls(c, &a),
        PodCommand::Inspect(a) => {
            let mut out = Vec::new();
            each(c, &a.pods, |p| {
                out.push(pod::inspect(c, p)?);
                Ok(())
            })?;
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| CliError::Failed(e.to_string()))?
            );
            Ok(ExitCode::SUCCESS)
        }
        PodCommand::Start(a) => each_named(c, &a.pods, |p| pod::start(c, p)),
        PodCommand::Stop(a) => each_named(c, &a.pods, |p| pod::stop(c, p, a.time)),
        PodCommand::Restart(a) => each_named(c, &a.pods, |p| pod::restart(c, p, a.time)),
        PodCommand::Kill(a) => {
            let sig = rbox_runtime::create::parse_signal(&a.signal)?;
            each_named(c, &a.pods, |p| pod::kill(c, p, sig))
        }
        PodCommand::Pause(a) => each_named(c, &a.pods, |p| pod::pause(c, p, false)),
        PodCommand::Unpause(a) => each_named(c, &a.pods, |p| pod::pause(c, p, true)),
        PodCommand::Rm(a) => each_named(c, &a.pods, |p| pod::remove(c, p, a.force)),
        PodCommand::Top(a) => top(c, &a.pod),
        PodCommand::Stats(a) => stats(c, &a.pods),
        PodCommand::Logs(a) => logs(c, &a),
    }
}

/// Runs `f` on each pod named; a failure is reported and the others still go.
fn each(
    c: &Containers,
    names: &[String],
    mut f: impl FnMut(&PodConfig) -> rbox_runtime::Result<()>,
) -> CliResult {
    let mut failed = false;
    for n in names {
        if let Err(e) = pod::find(c, n).and_then(|p| f(&p)) {
            eprintln!("rbox: {n}: {e}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// As [`each`], printing each name done.
fn each_named(
    c: &Containers,
    names: &[String],
    mut f: impl FnMut(&PodConfig) -> rbox_runtime::Result<()>,
) -> CliResult {
    each(c, names, |p| {
        f(p)?;
        println!("{}", p.id);
        Ok(())
    })
}

fn ls(c: &Containers, a: &LsArgs) -> CliResult {
    let pods = rbox_runtime::store::pods::Pods::open(c)?;
    let mut out = std::io::stdout().lock();
    let list = pods.list()?;
    if a.quiet {
        for p in &list {
            let id = if a.no_trunc { &p.id[..] } else { &p.id[..12] };
            writeln!(out, "{id}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "POD ID".to_string(),
        "NAME".into(),
        "STATUS".into(),
        "CREATED".into(),
        "# OF CONTAINERS".into(),
    ]];
    for p in &list {
        let m = pod::members(c, &p.id)?;
        rows.push([
            if a.no_trunc {
                p.id.clone()
            } else {
                p.id[..12].to_owned()
            },
            p.name.clone(),
            pod::status(&m).into(),
            p.created
                .chars()
                .take(19)
                .collect::<String>()
                .replace('T', " "),
            m.len().to_string(),
        ]);
    }
    write!(out, "{}", table(&rows))?;
    Ok(ExitCode::SUCCESS)
}

/// Rows aligned in columns three spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut w = [0usize; N];
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            w[i] = w[i].max(cell.chars().count());
        }
    }
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 < N {
                line.push_str(&format!("{cell:<width$}   ", width = w[i]));
            } else {
                line.push_str(cell);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn top(c: &Containers, name: &str) -> CliResult {
    let p = pod::find(c, name)?;
    let mut out = std::io::stdout().lock();
    let mut header = false;
    for m in pod::members(c, &p.id)? {
        if !m.state.is_running() {
            continue;
        }
        let t = rbox_runtime::top::top(c, m.id(), &[])?;
        if !header {
            writeln!(out, "CONTAINER\t{}", t.titles.join("\t"))?;
            header = true;
        }
        for row in t.processes {
            writeln!(out, "{}\t{}", m.config.name, row.join("\t"))?;
        }
    }
    if !header {
        return Err(CliError::Failed(format!(
            "pod {} has no running container",
            p.name
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(c: &Containers, names: &[String]) -> CliResult {
    use rbox_runtime::stats::Sample;
    let mut members = Vec::new();
    for n in names {
        let p = pod::find(c, n)?;
        for m in pod::members(c, &p.id)? {
            members.push((p.name.clone(), m));
        }
    }
    let first: Vec<Sample> = members.iter().map(|(_, m)| Sample::take(m)).collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut rows = vec![[
        "POD".to_string(),
        "CONTAINER".into(),
        "NAME".into(),
        "CPU %".into(),
        "MEM USAGE / LIMIT".into(),
        "PIDS".into(),
    ]];
    for ((pod_name, m), before) in members.iter().zip(&first) {
        let u = Sample::take(m).usage_since(before);
        rows.push([
            pod_name.clone(),
            m.id()[..12].to_owned(),
            m.config.name.clone(),
            format!("{:.2}%", u.cpu_percent),
            format!("{}B / {}B", u.memory, u.memory_limit),
            u.pids.to_string(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(ExitCode::SUCCESS)
}

fn logs(c: &Containers, a: &LogsArgs) -> CliResult {
    let p = pod::find(c, &a.pod)?;
    let members = pod::members(c, &p.id)?;
    let chosen: Vec<_> = match &a.container {
        Some(n) => {
            let id = c.resolve(n)?;
            let m: Vec<_> = members.into_iter().filter(|m| m.id() == id).collect();
            if m.is_empty() {
                return Err(CliError::Failed(format!(
                    "container {n} is not in pod {}",
                    p.name
                )));
            }
            m
        }
        None => members,
    };
    let prefix = chosen.len() > 1;
    let query = rbox_runtime::ops::logs::Query {
        follow: a.follow,
        ..Default::default()
    };
    let show = |m: &rbox_runtime::Container| {
        rbox_runtime::ops::logs::stream(c, m.id(), &query, |r| {
            let text = if prefix {
                format!("{} {}", m.config.name, r.log)
            } else {
                r.log.clone()
            };
            if r.stream == "stderr" {
                std::io::stderr().lock().write_all(text.as_bytes())
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(text.as_bytes())?;
                o.flush()
            }
        })
    };
    if a.follow {
        // Each container's output as it comes, until all have stopped.
        let results: Vec<rbox_runtime::Result<()>> = std::thread::scope(|s| {
            let hs: Vec<_> = chosen.iter().map(|m| s.spawn(|| show(m))).collect();
            hs.into_iter().map(|h| h.join().unwrap_or(Ok(()))).collect()
        });
        for r in results {
            r?;
        }
    } else {
        for m in &chosen {
            show(m)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
