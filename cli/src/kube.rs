//! `rbox kube …`: Kubernetes manifests run here (rbox-kube's engine).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rbox_kube::engine::get::{Output, Selector, What};
use rbox_kube::engine::{Engine, EngineError, Input, PlayOptions};

use crate::{CliError, CliResult};

#[derive(Subcommand, Debug)]
pub enum KubeCommand {
    /// Run the pods, workloads and Services of manifests (again: converge on them).
    Play(PlayArgs),
    /// Remove what manifests made.
    Down(DownArgs),
    /// List pods, deployments, replicasets or services as kubectl does.
    Get(GetArgs),
    /// Show the output of a pod's container.
    Logs(LogsArgs),
    /// Run a command in a pod's container.
    Exec(ExecArgs),
    /// Remove a pod (`delete pod NAME`), or what manifests made (`delete -f FILE`).
    Delete(DeleteArgs),
    /// A Deployment's revisions: history, undo.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Kubernetes YAML for containers, pods or a compose project that run here.
    Generate(GenerateArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A Deployment of this many replicas (else a Pod).
    #[arg(long)]
    replicas: Option<u32>,
    /// The containers of this compose project: each service a Deployment.
    #[arg(long, value_name = "PROJECT")]
    compose: Option<String>,
    /// Containers or pods.
    #[arg(required_unless_present = "compose", conflicts_with = "compose")]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// The network of the pods (kube, made when absent).
    #[arg(long)]
    network: Option<String>,
    /// Remove the pods of the manifests' workloads first and make them again.
    #[arg(long)]
    replace: bool,
    /// Manifest files, or - for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove the volumes of PersistentVolumeClaims too.
    #[arg(long)]
    force: bool,
    /// Manifest files, or - for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// pods, deployments, replicasets or services.
    what: String,
    /// Only those whose labels match (k=v, k!=v, k, !k; comma-separated).
    #[arg(short = 'l', long)]
    selector: Option<String>,
    /// wide, yaml or json.
    #[arg(short, long)]
    output: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the output.
    #[arg(short, long)]
    follow: bool,
    /// The container (the pod's first by default).
    #[arg(short, long)]
    container: Option<String>,
    /// The pod.
    pod: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Keep standard input open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a terminal.
    #[arg(short, long)]
    tty: bool,
    /// The container (the pod's first by default).
    #[arg(short, long)]
    container: Option<String>,
    /// The pod.
    pod: String,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Manifest files whose objects go.
    #[arg(short, long)]
    filename: Vec<PathBuf>,
    /// `pod NAME…`.
    what: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// A Deployment's revisions, or one in detail.
    History {
        /// The Deployment (`NAME` or `deployment/NAME`).
        name: String,
        /// Show this revision's template.
        #[arg(long)]
        revision: Option<u64>,
    },
    /// Roll a Deployment back to its previous revision, or to one given.
    Undo {
        /// The Deployment (`NAME` or `deployment/NAME`).
        name: String,
        /// The revision to roll back to.
        #[arg(long)]
        to_revision: Option<u64>,
    },
}

fn failed(e: EngineError) -> CliError {
    CliError::Failed(e.to_string())
}

/// The files' texts (`-`: standard input).
fn inputs(files: &[PathBuf]) -> Result<Vec<Input>, CliError> {
    let mut out = Vec::new();
    for f in files {
        if f.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            out.push(("<stdin>".into(), s));
        } else {
            let s = std::fs::read_to_string(f)
                .map_err(|e| CliError::Failed(format!("{}: {e}", f.display())))?;
            out.push((f.display().to_string(), s));
        }
    }
    Ok(out)
}

fn say(s: &str) {
    eprintln!("{s}");
}

fn deployment_name(n: &str) -> &str {
    n.strip_prefix("deployment/")
        .or_else(|| n.strip_prefix("deployments/"))
        .or_else(|| n.strip_prefix("deploy/"))
        .unwrap_or(n)
}

/// The container id of a pod's container (`-c`, else its first).
fn container_of(e: &Engine, pod: &str, c: Option<&str>) -> Result<String, CliError> {
    let p = e.kube_pod(pod).map_err(failed)?;
    let m = match c {
        Some(name) => p.container(name).ok_or_else(|| {
            CliError::Failed(format!("container {name} is not valid for pod {pod}"))
        })?,
        None => p
            .members
            .first()
            .ok_or_else(|| CliError::Failed(format!("pod {pod} has no container")))?,
    };
    Ok(m.config.id.clone())
}

pub fn run(root: &Path, cmd: KubeCommand) -> CliResult {
    let mut e = Engine::open(root).map_err(failed)?;
    let pull = |image: &str| crate::registry::pull_missing(root, image).map_err(|e| e.to_string());
    let play_options = |network: Option<String>, replace: bool| PlayOptions {
        network,
        replace,
        pull: &pull,
        say: &say,
    };
    match cmd {
        KubeCommand::Play(a) => {
            let made = e
                .play(&inputs(&a.files)?, &play_options(a.network, a.replace))
                .map_err(failed)?;
            for n in made {
                println!("pod/{n} created");
            }
        }
        KubeCommand::Down(a) => e.down(&inputs(&a.files)?, a.force, &say).map_err(failed)?,
        KubeCommand::Get(a) => {
            let what = What::parse(&a.what).ok_or_else(|| {
                CliError::Failed(format!(
                    "the server doesn't have a resource type {:?} (pods, deployments, replicasets, services)",
                    a.what
                ))
            })?;
            let sel =
                Selector::parse(a.selector.as_deref().unwrap_or("")).map_err(CliError::Failed)?;
            let out = match a.output.as_deref() {
                None => Output::Table,
                Some(o) => Output::parse(o)
                    .ok_or_else(|| CliError::Failed(format!("-o {o:?}: wide, yaml or json")))?,
            };
            let text = e.get(what, &sel, out).map_err(failed)?;
            if text.is_empty() {
                eprintln!("No resources found in default namespace.");
            }
            print!("{text}");
        }
        KubeCommand::Logs(a) => {
            let id = container_of(&e, &a.pod, a.container.as_deref())?;
            let query = rbox_runtime::ops::logs::Query {
                follow: a.follow,
                ..Default::default()
            };
            rbox_runtime::ops::logs::stream(&e.containers, &id, &query, |r| {
                if r.stream == "stderr" {
                    std::io::stderr().lock().write_all(r.log.as_bytes())
                } else {
                    let mut o = std::io::stdout().lock();
                    o.write_all(r.log.as_bytes())?;
                    o.flush()
                }
            })?;
        }
        KubeCommand::Exec(a) => {
            let id = container_of(&e, &a.pod, a.container.as_deref())?;
            let exe = std::env::current_exe()?;
            let mut c = std::process::Command::new(exe);
            c.env("RBOX_ROOT", root).arg("exec");
            if a.interactive {
                c.arg("-i");
            }
            if a.tty {
                c.arg("-t");
            }
            let st = c.arg(&id).args(&a.command).status()?;
            return Ok(ExitCode::from(st.code().unwrap_or(1).clamp(0, 255) as u8));
        }
        KubeCommand::Delete(a) => {
            if !a.filename.is_empty() {
                if !a.what.is_empty() {
                    return Err(CliError::Failed(
                        "delete: give -f FILE or pod NAME, not both".into(),
                    ));
                }
                e.down(&inputs(&a.filename)?, false, &say).map_err(failed)?;
            } else {
                match a.what.split_first() {
                    Some((kind, names))
                        if matches!(kind.as_str(), "pod" | "pods" | "po") && !names.is_empty() =>
                    {
                        for n in names {
                            e.delete_pod(n).map_err(failed)?;
                            println!("pod \"{n}\" deleted");
                        }
                    }
                    _ => return Err(CliError::Failed("delete: give pod NAME… or -f FILE".into())),
                }
            }
        }
        KubeCommand::Generate(a) => {
            let inputs = match &a.compose {
                Some(p) => e.generate_compose(p),
                None => e.generate_inputs(&a.names, a.replicas),
            }
            .map_err(failed)?;
            let g = rbox_kube::generate(&inputs);
            for w in &g.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", g.yaml);
        }
        KubeCommand::Rollout(RolloutCommand::History { name, revision }) => {
            let name = deployment_name(&name);
            if !e.state.has_history(name) {
                return Err(CliError::Failed(format!(
                    "deployments.apps \"{name}\" not found"
                )));
            }
            let h = e.state.history(name);
            match revision {
                Some(n) => print!("{}", h.describe(n).map_err(|x| failed(x.into()))?),
                None => print!("{}", h.table()),
            }
        }
        KubeCommand::Rollout(RolloutCommand::Undo { name, to_revision }) => {
            let name = deployment_name(&name).to_owned();
            e.undo(&name, to_revision, &play_options(None, false))
                .map_err(failed)?;
            println!("deployment.apps/{name} rolled back");
        }
    }
    Ok(ExitCode::SUCCESS)
}
