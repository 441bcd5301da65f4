//! runc's command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The default state directory.
pub const DEFAULT_ROOT: &str = "/run/rbox-runc";

#[derive(Parser, Debug)]
#[command(
    name = "rbox-runc",
    about = "rbox as an OCI runtime: runc's command line",
    disable_version_flag = true
)]
pub struct Cli {
    /// Where the state of containers is kept (one directory per container id).
    #[arg(long, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Where log lines go (default: stderr).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// The format of log lines.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug lines too.
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd (`linux.cgroupsPath` as slice:prefix:name).
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless mode: `false` and `auto` (which is false for root) are accepted.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container: its first process waits for `start`.
    Create(CreateArgs),
    /// Start the user process of a created container.
    Start(IdArg),
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// The OCI state of a container, as JSON.
    State(IdArg),
    /// Send a signal to a container's first process (or all its processes).
    Kill(KillArgs),
    /// Delete a container's state and resources.
    Delete(DeleteArgs),
    /// Run a new process in a container.
    Exec(ExecArgs),
    /// The processes of a container.
    Ps(PsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a container's resource limits.
    Update(UpdateArgs),
    /// The containers under --root.
    #[command(alias = "ls")]
    List(ListArgs),
    /// What this runtime supports, as JSON (the OCI runtime features document).
    Features,
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Checkpointing is not supported.
    #[command(hide = true)]
    Checkpoint(Unsupported),
    /// Restoring is not supported.
    #[command(hide = true)]
    Restore(Unsupported),
    /// Events are not supported.
    #[command(hide = true)]
    Events(Unsupported),
}

#[derive(Args, Debug)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// The bundle: a directory holding config.json and the root filesystem.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Where the pid of the container's first process is written.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to which the master of the container's pty is sent.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use chroot's kind of root (MS_MOVE) instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring (a new one is made by default).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// How many descriptors after stdio (3, 4, …) the container inherits.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to every process of the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The container id.
    pub id: String,
    /// A signal: a number, a name (KILL) or SIG name (SIGKILL).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A JSON file holding the OCI process to run.
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Where the pid of the process is written.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to which the master of the process's pty is sent.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Give the process a pty.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// The working directory of the process.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables (NAME=VALUE), added to the container's.
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// The user: UID[:GID].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group ids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the process's.
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    /// Set no_new_privileges.
    #[arg(long)]
    pub no_new_privs: bool,
    /// How many descriptors after stdio the process inherits.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Exec even in a paused container.
    #[arg(long)]
    pub ignore_paused: bool,
    /// The container id.
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// The output: a `ps` table, or a JSON array of pids.
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// The container id.
    pub id: String,
    /// Options of ps(1) for the table (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// A table or JSON.
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only the ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where config.json is written.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for rootless containers.
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The new resources as OCI LinuxResources JSON, from a file or `-` (stdin).
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with k, m, g), -1 for none.
    #[arg(short = 'm', long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit, -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota, microseconds per period.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period, microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU realtime period, microseconds.
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime, microseconds.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes, -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Kernel memory limit (not supported: kernels have dropped it).
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// The container id.
    pub id: String,
}
