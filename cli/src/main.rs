//! `rbox`: a daemonless container engine. Also `rbuild` (≡ `rbox build`) and `rrun`
//! (≡ `rbox run`), chosen by the name it is called by.

mod format;
mod images;

use std::ffi::OsString;
use std::path::PathBuf;
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let cli = Cli::parse_from(args());
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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rbox: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// An error as the CLI reports it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the image store.
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
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
