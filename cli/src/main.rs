//! `rbox`: a daemonless container engine. Also `rbuild` (≡ `rbox build`) and `rrun`
//! (≡ `rbox run`), chosen by the name it is called by.

mod build;
mod check;
mod containers;
mod each;
mod events;
mod format;
mod images;
mod networks;
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
    /// Build an image from a Dockerfile (also `rbuild`).
    Build(build::BuildArgs),
    /// Show the history of an image.
    History(build::HistoryArgs),
    /// Create a new image from a container's changes.
    Commit(build::CommitArgs),
    /// Create and run a container from an image.
    #[command(disable_help_flag = true)]
    Run(containers::RunArgs),
    /// Create a container without starting it.
    #[command(disable_help_flag = true)]
    Create(containers::CreateArgs),
    /// Start stopped or created containers.
    Start(containers::StartArgs),
    /// Stop running containers (stop signal, then SIGKILL after the timeout).
    Stop(containers::StopArgs),
    /// Restart containers.
    Restart(containers::StopArgs),
    /// Send a signal to running containers.
    Kill(containers::KillArgs),
    /// Pause all processes of containers.
    Pause(containers::PauseArgs),
    /// Unpause all processes of containers.
    Unpause(containers::PauseArgs),
    /// Update the limits and restart policy of containers.
    Update(containers::UpdateArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Show a container's output.
    Logs(containers::LogsArgs),
    /// Show containers or images as JSON.
    Inspect(containers::InspectArgs),
    /// Wait for containers to stop and print their exit codes.
    Wait(containers::WaitArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Run a command in a running container.
    Exec(containers::ExecArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(tools::CpArgs),
    /// Display the running processes of a container.
    Top(tools::TopArgs),
    /// Display containers' resource usage.
    Stats(tools::StatsArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCommand),
    /// List a container's published ports.
    Port(containers::PortArgs),
    /// Manage rbox: disk usage, pruning.
    #[command(subcommand)]
    System(tools::SystemCommand),
    /// Show what happens to containers, images, volumes and networks.
    Events(events::EventsArgs),
    /// The monitor of one container (started by rbox itself).
    #[command(name = "__monitor", hide = true)]
    Monitor {
        /// The container's id.
        id: String,
    },
    /// List images.
    #[command(name = "images")]
    Images(images::ListArgs),
    /// Create a tag DST that refers to the image SRC.
    Tag(images::TagArgs),
    /// Remove images.
    Rmi(images::RmiArgs),
    /// Import a rootfs tarball as a one-layer image.
    Import(images::ImportArgs),
    /// Save images to a tar archive (OCI layout, readable as a docker archive too).
    Save(images::SaveArgs),
    /// Load images from a tar archive (OCI or docker archive).
    Load(images::LoadArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
    /// Log in to a registry (credentials go to auth.json).
    Login(registry::LoginArgs),
    /// Log out of a registry.
    Logout(registry::LogoutArgs),
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(images::ListArgs),
    /// Show an image's details as JSON.
    Inspect(images::InspectArgs),
    /// Remove unused images.
    Prune(images::PruneArgs),
    /// Remove images.
    Rm(images::RmiArgs),
    /// Create a tag DST that refers to the image SRC.
    Tag(images::TagArgs),
    /// Import a rootfs tarball as a one-layer image.
    Import(images::ImportArgs),
    /// Save images to a tar archive.
    Save(images::SaveArgs),
    /// Load images from a tar archive.
    Load(images::LoadArgs),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
}

#[derive(Subcommand, Debug)]
enum ContainerCommand {
    /// List containers.
    #[command(alias = "list", alias = "ps")]
    Ls(containers::PsArgs),
    /// Create and run a container.
    #[command(disable_help_flag = true)]
    Run(containers::RunArgs),
    /// Create a container.
    #[command(disable_help_flag = true)]
    Create(containers::CreateArgs),
    /// Start containers.
    Start(containers::StartArgs),
    /// Stop containers.
    Stop(containers::StopArgs),
    /// Restart containers.
    Restart(containers::StopArgs),
    /// Signal containers.
    Kill(containers::KillArgs),
    /// Pause containers.
    Pause(containers::PauseArgs),
    /// Unpause containers.
    Unpause(containers::PauseArgs),
    /// Update containers' limits and restart policy.
    Update(containers::UpdateArgs),
    /// Remove containers.
    Rm(containers::RmArgs),
    /// Show a container's output.
    Logs(containers::LogsArgs),
    /// Show containers as JSON.
    Inspect(containers::InspectArgs),
    /// Wait for containers to stop.
    Wait(containers::WaitArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Run a command in a running container.
    Exec(containers::ExecArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(tools::CpArgs),
    /// Display the running processes of a container.
    Top(tools::TopArgs),
    /// Display containers' resource usage.
    Stats(tools::StatsArgs),
    /// Remove all stopped containers.
    Prune(tools::ContainerPruneArgs),
    /// Create a new image from a container's changes.
    Commit(build::CommitArgs),
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
    let cli = match Cli::try_parse_from(args()) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
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
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&root, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&root, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::rmi(&root, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => images::import(&root, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => images::save(&root, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => images::load(&root, a),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&root, a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&root, a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => registry::pull(&root, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => registry::push(&root, a),
        Command::Login(a) => registry::login(&root, a),
        Command::Logout(a) => registry::logout(&root, a),
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => containers::run(&root, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            containers::create(&root, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            containers::start(&root, a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            containers::stop(&root, a)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            containers::restart(&root, a)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            containers::kill(&root, a)
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            containers::pause(&root, a)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            containers::unpause(&root, a)
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            containers::update(&root, a)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => containers::rm(&root, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => containers::ps(&root, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            containers::logs(&root, a)
        }
        Command::Inspect(a) | Command::Container(ContainerCommand::Inspect(a)) => {
            containers::inspect(&root, a)
        }
        Command::Events(a) => events::events(&root, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            containers::wait(&root, a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            containers::rename(&root, a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            containers::exec(&root, a)
        }
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => tools::cp(&root, a),
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => tools::top(&root, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            tools::stats(&root, a)
        }
        Command::Container(ContainerCommand::Prune(a)) => tools::container_prune(&root, a),
        Command::System(c) => tools::system(&root, c),
        Command::Volume(cmd) => volumes::run(&root, cmd),
        Command::Network(cmd) => networks::run(&root, cmd),
        Command::Port(a) => containers::port(&root, a),
        Command::Build(a) => build::build(&root, a),
        Command::History(a) => build::history(&root, a),
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            build::commit(&root, a)
        }
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
