//! The verbs that docker has both at the top level and under a management command: each is
//! defined once here, flattened into `rbox VERB` and into `rbox container VERB` or
//! `rbox image VERB`, and run by one function whichever way it was typed.

use std::path::Path;

use clap::Subcommand;

use crate::{build, containers, images, registry, tools, CliResult};

/// The container verbs of both `rbox VERB` and `rbox container VERB`.
// Made once a process, moved into its function: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
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
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// Show a container's output.
    Logs(containers::LogsArgs),
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
    /// List a container's published ports.
    Port(containers::PortArgs),
    /// Create a new image from a container's changes.
    Commit(build::CommitArgs),
    /// Show a container's changes to its image's filesystem.
    Diff(tools::DiffArgs),
    /// Write a container's filesystem as a tar archive.
    Export(tools::ExportArgs),
    /// Attach this terminal's input and output to a running container.
    Attach(containers::AttachArgs),
}

impl ContainerVerb {
    pub fn run(self, root: &Path) -> CliResult {
        match self {
            ContainerVerb::Run(a) => containers::run(root, a),
            ContainerVerb::Create(a) => containers::create(root, a),
            ContainerVerb::Start(a) => containers::start(root, a),
            ContainerVerb::Stop(a) => containers::stop(root, a),
            ContainerVerb::Restart(a) => containers::restart(root, a),
            ContainerVerb::Kill(a) => containers::kill(root, a),
            ContainerVerb::Pause(a) => containers::pause(root, a),
            ContainerVerb::Unpause(a) => containers::unpause(root, a),
            ContainerVerb::Update(a) => containers::update(root, a),
            ContainerVerb::Rm(a) => containers::rm(root, a),
            ContainerVerb::Logs(a) => containers::logs(root, a),
            ContainerVerb::Wait(a) => containers::wait(root, a),
            ContainerVerb::Rename(a) => containers::rename(root, a),
            ContainerVerb::Exec(a) => containers::exec(root, a),
            ContainerVerb::Cp(a) => tools::cp(root, a),
            ContainerVerb::Top(a) => tools::top(root, a),
            ContainerVerb::Stats(a) => tools::stats(root, a),
            ContainerVerb::Port(a) => containers::port(root, a),
            ContainerVerb::Commit(a) => build::commit(root, a),
            ContainerVerb::Diff(a) => tools::diff(root, a),
            ContainerVerb::Export(a) => tools::export(root, a),
            ContainerVerb::Attach(a) => containers::attach(root, a),
        }
    }
}

/// `rbox container …`: the shared verbs and those only there.
// Made once a process, moved into its function: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// List containers.
    #[command(alias = "list", alias = "ps")]
    Ls(containers::PsArgs),
    /// Show containers as JSON.
    Inspect(containers::ContainerInspectArgs),
    /// Remove all stopped containers.
    Prune(tools::ContainerPruneArgs),
}

impl ContainerCommand {
    pub fn run(self, root: &Path) -> CliResult {
        match self {
            ContainerCommand::Verb(v) => v.run(root),
            ContainerCommand::Ls(a) => containers::ps(root, a),
            ContainerCommand::Inspect(a) => containers::container_inspect(root, a),
            ContainerCommand::Prune(a) => tools::container_prune(root, a),
        }
    }
}

/// The image verbs of both `rbox VERB` and `rbox image VERB`.
// Made once a process, moved into its function: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ImageVerb {
    /// Build an image from a Dockerfile (also `rbuild`).
    Build(build::BuildArgs),
    /// Show the history of an image.
    History(build::HistoryArgs),
    /// Create a tag DST that refers to the image SRC.
    Tag(images::TagArgs),
    /// Import a rootfs tarball as a one-layer image.
    Import(images::ImportArgs),
    /// Save images to a tar archive (OCI layout, readable as a docker archive too).
    Save(images::SaveArgs),
    /// Load images from a tar archive (OCI or docker archive).
    Load(images::LoadArgs),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
}

impl ImageVerb {
    pub fn run(self, root: &Path) -> CliResult {
        match self {
            ImageVerb::Build(a) => build::build(root, a),
            ImageVerb::History(a) => build::history(root, a),
            ImageVerb::Tag(a) => images::tag(root, a),
            ImageVerb::Import(a) => images::import(root, a),
            ImageVerb::Save(a) => images::save(root, a),
            ImageVerb::Load(a) => images::load(root, a),
            ImageVerb::Pull(a) => registry::pull(root, a),
            ImageVerb::Push(a) => registry::push(root, a),
        }
    }
}

/// `rbox image …`: the shared verbs and those only there.
// Made once a process, moved into its function: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    #[command(flatten)]
    Verb(ImageVerb),
    /// List images.
    #[command(alias = "list", alias = "images")]
    Ls(images::ListArgs),
    /// Remove images.
    #[command(alias = "rmi", alias = "remove")]
    Rm(images::RmiArgs),
    /// Show an image's details as JSON.
    Inspect(images::InspectArgs),
    /// Remove unused images.
    Prune(images::PruneArgs),
}

impl ImageCommand {
    pub fn run(self, root: &Path) -> CliResult {
        match self {
            ImageCommand::Verb(v) => v.run(root),
            ImageCommand::Ls(a) => images::list(root, a),
            ImageCommand::Rm(a) => images::rmi(root, a),
            ImageCommand::Inspect(a) => images::inspect(root, a),
            ImageCommand::Prune(a) => images::prune(root, a),
        }
    }
}
