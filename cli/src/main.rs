//! `rbox`: a daemonless container engine. Also `rbuild` (≡ `rbox build`) and `rrun`
//! (≡ `rbox run`), chosen by the name it is called by.

mod build;
mod check;
mod commands;
mod completion;
mod compose;
mod containers;
mod each;
mod events;
mod flags;
mod format;
mod images;
mod info;
mod kube;
mod networks;
#[cfg(test)]
mod parity;
mod pod;
mod registry;
mod template;
mod timestamp;
mod tools;
mod volumes;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// rbox: build, ship and run OCI containers, without a daemon.
#[derive(Parser, Debug)]
#[command(name = "rbox", version, about, max_term_width = 100)]
struct Cli {
    /// Data root: images, snapshots, containers, volumes.
    #[arg(
        long,
        global = true,
        env = "RBOX_ROOT",
        default_value = "/var/lib/rbox"
    )]
    root: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    ContainerVerb(commands::ContainerVerb),
    #[command(flatten)]
    ImageVerb(commands::ImageVerb),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// List containers.
    Ps(containers::PsArgs),
    /// Show containers, images, volumes or networks as JSON.
    Inspect(containers::InspectArgs),
    /// List images.
    Images(images::ListArgs),
    /// Remove images.
    Rmi(images::RmiArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(commands::ContainerCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(commands::ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCommand),
    /// Manage pods: containers sharing network, IPC and UTS namespaces.
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Run Kubernetes manifests: play, down, get, logs, exec, delete, rollout.
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Manage rbox: disk usage, pruning.
    #[command(subcommand)]
    System(tools::SystemCommand),
    /// Show what happens to containers, images, volumes and networks.
    Events(events::EventsArgs),
    /// Run multi-container applications from compose files.
    Compose(compose::ComposeArgs),
    /// Show rbox's and the host's information.
    Info(info::FormatArgs),
    /// Show rbox's version.
    Version(info::FormatArgs),
    /// Search a registry's catalog for repositories.
    Search(registry::SearchArgs),
    /// Print a shell's completion script: bash, zsh or fish.
    Completion(completion::CompletionArgs),
    /// Write the man pages to a directory.
    #[command(name = "__man", hide = true)]
    Man(completion::ManArgs),
    /// Log in to a registry (credentials go to auth.json).
    Login(registry::LoginArgs),
    /// Log out of a registry.
    Logout(registry::LogoutArgs),
    /// The monitor of one container (started by rbox itself).
    #[command(name = "__monitor", hide = true)]
    Monitor {
        /// The container's id.
        id: String,
    },
}

/// `rbuild ARGS` is `rbox build ARGS`, `rrun ARGS` is `rbox run ARGS`.
fn args() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let verb = match called.as_str() {
        "rbuild" => Some("build"),
        "rrun" => Some("run"),
        _ => None,
    };
    if let Some(v) = verb {
        args[0] = "rbox".into();
        args.insert(1, v.into());
    }
    args
}

/// The monitor of container `id` (see rbox_runtime::monitor).
fn monitor(root: &Path, id: &str) -> ExitCode {
    // No log output unless asked for: the container's first process starts as a clone
    // of the monitor, and its stderr is the container's.
    if std::env::var_os("RBOX_LOG").is_some() {
        let dir = root.join("containers").join(id);
        if let Ok(f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("monitor.log"))
        {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_env("RBOX_LOG"))
                .with_writer(std::sync::Mutex::new(f))
                .with_ansi(false)
                .init();
        }
    }
    let code = rbox_runtime::monitor::main(root, id);
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn main() -> ExitCode {
    // rbox starts its monitors with a fixed command line (`__monitor --root ROOT ID`): it
    // is read without building the whole command-line parser, half a millisecond of
    // every container start.
    let raw: Vec<OsString> = std::env::args_os().collect();
    // `rbox-runc …` and `rbox oci …`: the OCI runtime's command line (runc's).
    if let Some(code) = rbox_oci::dispatch(&raw) {
        return code;
    }
    if let [_, verb, flag, root, id] = raw.as_slice() {
        if verb == rbox_runtime::monitor::MONITOR_VERB && flag == "--root" {
            if let Some(id) = id.to_str() {
                return monitor(Path::new(root), id);
            }
        }
        // A health probe, started by a monitor from its own read-only binary.
        if verb == rbox_runtime::supervise::health::PROBE_VERB && flag == "--root" {
            if let (Some(id), true) = (id.to_str(), rbox_runtime::sealed::running_protected()) {
                let code = match rbox_runtime::Containers::open(Path::new(root)) {
                    Ok(c) => rbox_runtime::ops::health::probe_main(&c, id),
                    Err(e) => {
                        eprintln!("{e}");
                        125
                    }
                };
                return ExitCode::from(code.clamp(0, 255) as u8);
            }
        }
    }
    let cli = match parse(args()) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if let Command::Monitor { id } = &cli.command {
        return monitor(&cli.root, id);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RBOX_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,libcontainer=off,libcgroups=off")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(stderr_in_colour())
        .with_target(false)
        .without_time()
        .init();
    let root = cli.root.clone();
    let result = match cli.command {
        Command::ContainerVerb(v) => v.run(&root),
        Command::ImageVerb(v) => v.run(&root),
        Command::Container(c) => c.run(&root),
        Command::Image(c) => c.run(&root),
        Command::Ps(a) => containers::ps(&root, a),
        Command::Inspect(a) => containers::inspect(&root, a),
        Command::Images(a) => images::list(&root, a),
        Command::Rmi(a) => images::rmi(&root, a),
        Command::Info(a) => info::info(&root, a),
        Command::Version(a) => info::version(a),
        Command::Search(a) => registry::search(&root, a),
        Command::Completion(a) => completion::completion(a),
        Command::Man(a) => completion::man(a),
        Command::Login(a) => registry::login(&root, a),
        Command::Logout(a) => registry::logout(&root, a),
        Command::Events(a) => events::events(&root, a),
        Command::Compose(a) => compose::run(&root, a),
        Command::System(c) => tools::system(&root, c),
        Command::Volume(cmd) => volumes::run(&root, cmd),
        Command::Network(cmd) => networks::run(&root, cmd),
        Command::Pod(cmd) => pod::run(&root, cmd),
        Command::Kube(cmd) => kube::run(&root, cmd),
        Command::Builder(c) => build::builder(&root, c),
        Command::Monitor { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rbox: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The command tree as rbox parses it: [`Cli`]'s with docker's no-op and refused flags,
/// every boolean flag taking `=true|false`.
fn command() -> clap::Command {
    flags::bool_values(flags::docker_flags(<Cli as clap::CommandFactory>::command()))
}

/// Parses a command line over [`command`]; what it refuses is reported, with the exit code.
fn parse(args: Vec<OsString>) -> Result<Cli, ExitCode> {
    let cmd = command();
    let mut m = cmd
        .clone()
        .try_get_matches_from(args)
        .map_err(|e| usage_error(&e))?;
    if let Some(msg) = flags::refused(&cmd, &m) {
        eprintln!("{msg}");
        return Err(ExitCode::from(125));
    }
    <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut m).map_err(|e| usage_error(&e))
}

/// Ends a command line clap refused as docker does: the message with its hints and usage,
/// exit 125 (`--help`, `--version` and help for a missing subcommand: 0).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
        _ => ExitCode::from(125),
    }
}

/// Whether diagnostics on standard error may carry colour: only on a terminal, and never
/// with `NO_COLOR` set to a non-empty value (https://no-color.org).
fn stderr_in_colour() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// An error as the CLI reports it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the image store.
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    /// From the runtime.
    #[error(transparent)]
    Runtime(#[from] rbox_runtime::Error),
    /// From the networks.
    #[error(transparent)]
    Network(#[from] rbox_network::Error),
    /// A failure with its context (the file or name it concerns).
    #[error("{0}")]
    Failed(String),
    /// Writing output or reading input failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// Docker's CLI exits 1 for a failed command other than `run`.
    fn exit_code(&self) -> u8 {
        1
    }
}

/// What every command returns.
pub type CliResult = Result<ExitCode, CliError>;
