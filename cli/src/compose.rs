//! `rbox compose …`: the compose file loaded by rbox-compose, each verb a call into its
//! engine (or, for a verb acting on one container, the container command it amounts to).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Args, Subcommand};
use rbox_compose::engine::down::{rmi_all, DownOptions};
use rbox_compose::engine::logs::{short_name, Foreground, LogStyle};
use rbox_compose::engine::run::RunOverrides;
use rbox_compose::engine::up::UpOptions;
use rbox_compose::engine::{Engine, Member};
use rbox_compose::names::{LABEL_CONFIG_FILES, LABEL_PROJECT};
use rbox_compose::{output, Project};
use rbox_runtime::Containers;
use serde_json::{json, Value};

use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct ComposeArgs {
    /// Compose file (repeatable; - for standard input).
    #[arg(short = 'f', long = "file")]
    file: Vec<String>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    project_name: Option<String>,
    /// The project directory (default: the first file's).
    #[arg(long)]
    project_directory: Option<PathBuf>,
    /// An environment file instead of the project directory's .env (repeatable).
    #[arg(long)]
    env_file: Vec<PathBuf>,
    /// A profile to enable (repeatable).
    #[arg(long)]
    profile: Vec<String>,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Run containers in the background.
    #[arg(short, long)]
    detach: bool,
    /// Build images before starting containers.
    #[arg(long)]
    build: bool,
    /// Don't build an image, even if it is missing.
    #[arg(long)]
    no_build: bool,
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long)]
    force_recreate: bool,
    /// Don't recreate containers that exist.
    #[arg(long)]
    no_recreate: bool,
    /// Don't start linked services.
    #[arg(long)]
    no_deps: bool,
    /// Remove containers of services not in the file.
    #[arg(long)]
    remove_orphans: bool,
    /// Scale SERVICE to NUM containers (SERVICE=NUM; overrides the file's scale).
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    /// Wait for services to be running and healthy (implies -d).
    #[arg(long)]
    wait: bool,
    /// Maximum seconds to wait for a condition (depends_on, --wait).
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Stop every container if any container stops (foreground).
    #[arg(long)]
    abort_on_container_exit: bool,
    /// Exit with this service's exit code (implies --abort-on-container-exit).
    #[arg(long, value_name = "SERVICE")]
    exit_code_from: Option<String>,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    timeout: Option<u32>,
    /// Produce monochrome output.
    #[arg(long)]
    no_color: bool,
    /// Don't prefix lines with the container's name.
    #[arg(long)]
    no_log_prefix: bool,
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Remove named volumes of the file and anonymous volumes of the containers.
    #[arg(short, long)]
    volumes: bool,
    /// Remove containers of services not in the file.
    #[arg(long)]
    remove_orphans: bool,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    timeout: Option<u32>,
    /// Remove images: local (those built without an image name) or all.
    #[arg(long, value_name = "TYPE")]
    rmi: Option<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show stopped containers too.
    #[arg(short, long)]
    all: bool,
    /// Only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// The services' names.
    #[arg(long)]
    services: bool,
    /// table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Only containers in this state (repeatable): created, restarting, running, removing,
    /// paused, exited, dead.
    #[arg(long)]
    status: Vec<String>,
    /// Services.
    service: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines from the end of each container's log (or "all").
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since a timestamp or a relative time (42m).
    #[arg(long)]
    since: Option<String>,
    /// Don't prefix lines with the container's name.
    #[arg(long)]
    no_log_prefix: bool,
    /// Produce monochrome output.
    #[arg(long)]
    no_color: bool,
    /// Services.
    service: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// yaml or json.
    #[arg(long, default_value = "yaml")]
    format: String,
    /// Print the services' names.
    #[arg(long)]
    services: bool,
    /// Print the volumes' names.
    #[arg(long)]
    volumes: bool,
    /// Only validate.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Timeout in seconds.
    #[arg(short = 't', long)]
    timeout: Option<u32>,
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send.
    #[arg(short, long, default_value = "SIGKILL")]
    signal: String,
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm.
    #[arg(short, long)]
    force: bool,
    /// Stop the containers first.
    #[arg(short, long)]
    stop: bool,
    /// Remove anonymous volumes too.
    #[arg(short, long)]
    volumes: bool,
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Run in the background.
    #[arg(short, long)]
    detach: bool,
    /// Don't allocate a pseudo-terminal.
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// The container's number, for a service with several.
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// User.
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Give extended privileges (not supported).
    #[arg(long)]
    privileged: bool,
    service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run in the background, print the container's name.
    #[arg(short, long)]
    detach: bool,
    /// Keep standard input open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    tty: bool,
    /// Don't allocate a pseudo-terminal.
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// The container's name.
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Bind mount a volume.
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Publish a port.
    #[arg(short, long)]
    publish: Vec<String>,
    /// Publish the service's ports.
    #[arg(long)]
    service_ports: bool,
    /// Don't start linked services.
    #[arg(long)]
    no_deps: bool,
    /// Build the image first.
    #[arg(long)]
    build: bool,
    /// Override the entrypoint.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Working directory.
    #[arg(short, long)]
    workdir: Option<String>,
    /// User.
    #[arg(short, long)]
    user: Option<String>,
    service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Don't use the cache.
    #[arg(long)]
    no_cache: bool,
    /// Pull base images (they are pulled when missing).
    #[arg(long)]
    pull: bool,
    /// Only print the image ids.
    #[arg(short, long)]
    quiet: bool,
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Go on when a pull fails.
    #[arg(long)]
    ignore_pull_failures: bool,
    /// Pull quietly.
    #[arg(short, long)]
    quiet: bool,
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long)]
    build: bool,
    #[arg(long)]
    no_build: bool,
    #[arg(long)]
    force_recreate: bool,
    #[arg(long)]
    no_recreate: bool,
    #[arg(long)]
    remove_orphans: bool,
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    protocol: String,
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    private_port: u16,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    #[arg(long, default_value_t = 1)]
    index: u32,
    /// Archive mode (keep uid and gid).
    #[arg(short, long)]
    archive: bool,
    /// Follow symbolic links in SRC.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// SERVICE:SRC or a host path.
    source: String,
    /// SERVICE:DEST or a host path.
    destination: String,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[arg(long)]
    no_deps: bool,
    /// SERVICE=NUM.
    #[arg(required = true)]
    scale: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show stopped projects too.
    #[arg(short, long)]
    all: bool,
    /// Only the names.
    #[arg(short, long)]
    quiet: bool,
    /// table or json.
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Only the version number.
    #[arg(long)]
    short: bool,
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[arg(short, long)]
    quiet: bool,
    services: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Create and start containers.
    Up(UpArgs),
    /// Stop and remove containers and networks.
    Down(DownArgs),
    /// List containers.
    Ps(PsArgs),
    /// Show the containers' output.
    Logs(LogsArgs),
    /// Show the normalized, interpolated model.
    #[command(alias = "convert")]
    Config(ConfigArgs),
    /// List running projects.
    Ls(LsArgs),
    /// Stop services.
    Stop(StopArgs),
    /// Start services.
    Start(ServicesArgs),
    /// Restart services.
    Restart(StopArgs),
    /// Force stop services.
    Kill(KillArgs),
    /// Remove stopped service containers.
    Rm(RmArgs),
    /// Pause services.
    Pause(ServicesArgs),
    /// Unpause services.
    Unpause(ServicesArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Run a one-off command on a service.
    Run(RunArgs),
    /// Build services' images.
    Build(BuildArgs),
    /// Pull services' images.
    Pull(PullArgs),
    /// Push services' images.
    Push(ServicesArgs),
    /// Create containers without starting them.
    Create(CreateArgs),
    /// List the images the containers use.
    Images(ImagesArgs),
    /// Print the public port of a port binding.
    Port(PortArgs),
    /// Display the running processes.
    Top(ServicesArgs),
    /// Wait for containers to stop; print their exit codes.
    Wait(ServicesArgs),
    /// Scale services.
    Scale(ScaleArgs),
    /// Copy files between a service container and the local filesystem.
    Cp(CpArgs),
    /// Show the containers' events.
    Events(EventsArgs),
    /// Show the version.
    Version(VersionArgs),
}

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// Parses `argv` as a container command's arguments, to run that command.
fn parse_as<A: clap::Args + clap::FromArgMatches>(argv: &[String]) -> Result<A, CliError> {
    let cmd = A::augment_args(clap::Command::new("rbox").no_binary_name(false));
    let m = cmd.try_get_matches_from(argv).map_err(failed)?;
    A::from_arg_matches(&m).map_err(failed)
}

fn colour(no_color: bool) -> bool {
    !no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

fn scale_map(items: &[String]) -> Result<HashMap<String, u32>, CliError> {
    items
        .iter()
        .map(|s| {
            s.split_once('=')
                .and_then(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .ok_or_else(|| failed(format!("--scale {s}: expected SERVICE=NUM")))
        })
        .collect()
}

/// The services a verb names, for the loader (which enables them whatever their profiles).
fn named_services(v: &Verb) -> Vec<String> {
    match v {
        Verb::Up(a) => a.services.clone(),
        Verb::Run(a) => vec![a.service.clone()],
        Verb::Exec(a) => vec![a.service.clone()],
        Verb::Create(a) => a.services.clone(),
        _ => Vec::new(),
    }
}

fn load(a: &ComposeArgs) -> Result<Project, CliError> {
    let stdin = if a.file.iter().any(|f| f == "-") {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
        Some(b)
    } else {
        None
    };
    let opts = rbox_compose::Options {
        cwd: std::env::current_dir()?,
        files: a.file.clone(),
        project_name: a.project_name.clone(),
        project_dir: a.project_directory.clone(),
        env_files: a.env_file.clone(),
        profiles: a.profile.clone(),
        services: named_services(&a.verb),
        env: std::env::vars().collect(),
        stdin,
    };
    match rbox_compose::load(&opts) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("WARN: {w}");
            }
            Ok(l.project)
        }
        // `-p NAME` alone names a project to act on without its file.
        Err(rbox_compose::Error::Discovery(_))
            if a.file.is_empty()
                && a.project_name.is_some()
                && !matches!(
                    a.verb,
                    Verb::Up(_) | Verb::Run(_) | Verb::Create(_) | Verb::Config(_)
                ) =>
        {
            Ok(Project {
                name: a.project_name.clone().unwrap_or_default(),
                ..Default::default()
            })
        }
        Err(e) => Err(failed(e)),
    }
}

fn pull_fn(root: &Path) -> impl Fn(&str) -> Result<(), String> + Sync + '_ {
    move |image: &str| crate::registry::pull_missing(root, image).map_err(|e| e.to_string())
}

pub fn run(root: &Path, a: ComposeArgs) -> CliResult {
    match &a.verb {
        Verb::Version(v) => {
            let ver = rbox_compose::names::VERSION;
            match (v.short, v.format.as_deref()) {
                (true, _) => println!("{ver}"),
                (_, Some("json")) => println!("{}", json!({ "version": ver })),
                _ => println!("rbox compose version {ver}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        Verb::Ls(l) => return ls(root, l),
        _ => {}
    }
    let project = load(&a)?;
    if let Verb::Config(c) = &a.verb {
        return config(&project, c);
    }
    let pull = pull_fn(root);
    let mut engine = Engine::open(&project, root, Box::new(std::io::stderr())).map_err(failed)?;
    engine.pull = Some(&pull);
    let e = &engine;
    let ok =
        |r: Result<(), rbox_compose::engine::Error>| r.map(|_| ExitCode::SUCCESS).map_err(failed);
    match a.verb {
        Verb::Up(u) => up(e, u),
        Verb::Down(d) => ok(e.down(&DownOptions {
            volumes: d.volumes,
            remove_orphans: d.remove_orphans,
            timeout: d.timeout,
            rmi: d.rmi.as_deref().map(rmi_all).transpose().map_err(failed)?,
        })),
        Verb::Ps(p) => ps(e, p),
        Verb::Logs(l) => logs(e, l),
        Verb::Stop(s) => ok(e.stop(&s.services, s.timeout)),
        Verb::Start(s) => ok(e.start(&s.services)),
        Verb::Restart(s) => ok(e.restart(&s.services, s.timeout)),
        Verb::Kill(k) => {
            let sig = rbox_runtime::create::parse_signal(&k.signal)?;
            ok(e.kill(&k.services, sig))
        }
        Verb::Rm(r) => {
            let gone = e.rm(&r.services, r.stop, r.volumes).map_err(failed)?;
            if gone.is_empty() {
                eprintln!("No stopped containers");
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Pause(s) => ok(e.pause(&s.services, true)),
        Verb::Unpause(s) => ok(e.pause(&s.services, false)),
        Verb::Exec(x) => exec(root, e, x),
        Verb::Run(r) => run_oneoff(root, e, r),
        Verb::Build(b) => {
            let targets = if b.services.is_empty() {
                project.services.keys().cloned().collect()
            } else {
                b.services.clone()
            };
            e.check_services(&targets).map_err(failed)?;
            e.check_builds(&targets).map_err(failed)?;
            let mut err = std::io::stderr();
            for s in &targets {
                e.build_service(s, b.no_cache, &mut err).map_err(failed)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Pull(p) => {
            let targets = services_or_all(&project, &p.services);
            e.check_services(&targets).map_err(failed)?;
            for s in &targets {
                let svc = &project.services[s];
                let Some(image) = &svc.image else { continue };
                let r = crate::registry::pull(
                    root,
                    parse_as(&["pull".into(), "-q".into(), image.clone()])?,
                );
                if let Err(err) = r {
                    if !p.ignore_pull_failures {
                        return Err(failed(format!("service {s}: pulling {image}: {err}")));
                    }
                    eprintln!("WARN: service {s}: pulling {image}: {err}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Push(p) => {
            for s in services_or_all(&project, &p.services) {
                if project.services[&s].image.is_some() && project.services[&s].build.is_some() {
                    crate::registry::push(root, parse_as(&["push".into(), e.image_of(&s)])?)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Create(c) => ok(e.up(&UpOptions {
            services: c.services,
            build: c.build,
            no_build: c.no_build,
            force_recreate: c.force_recreate,
            no_recreate: c.no_recreate,
            remove_orphans: c.remove_orphans,
            scale: scale_map(&c.scale)?,
            start: false,
            ..Default::default()
        })),
        Verb::Images(i) => images(e, i),
        Verb::Port(p) => port(e, p),
        Verb::Top(t) => {
            for m in e.service_members(&t.services).map_err(failed)? {
                if m.running() {
                    println!("{}", m.name());
                    crate::tools::top(root, parse_as(&["top".into(), m.id().into()])?)?;
                    println!();
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Verb::Wait(w) => {
            let mut code = 0;
            for m in e.service_members(&w.services).map_err(failed)? {
                code = rbox_runtime::lifecycle::wait(&e.containers, m.id())?;
                println!("{code}");
            }
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Verb::Scale(s) => {
            let scale = scale_map(&s.scale)?;
            ok(e.up(&UpOptions {
                services: scale.keys().cloned().collect(),
                no_deps: s.no_deps,
                scale,
                start: true,
                ..Default::default()
            }))
        }
        Verb::Cp(c) => {
            let at = |p: &str| -> Result<String, CliError> {
                match p.split_once(':') {
                    Some((svc, path)) if !svc.contains('/') => {
                        let m = member(e, svc, c.index)?;
                        Ok(format!("{}:{path}", m.id()))
                    }
                    _ => Ok(p.to_string()),
                }
            };
            let mut argv = vec!["cp".to_string()];
            if c.archive {
                argv.push("-a".into());
            }
            if c.follow_link {
                argv.push("-L".into());
            }
            argv.push(at(&c.source)?);
            argv.push(at(&c.destination)?);
            crate::tools::cp(root, parse_as(&argv)?)
        }
        Verb::Events(ev) => {
            let mut argv = vec![
                "events".to_string(),
                "--filter".into(),
                format!("label={LABEL_PROJECT}={}", project.name),
            ];
            for s in &ev.services {
                argv.push("--filter".into());
                argv.push(format!("label=com.docker.compose.service={s}"));
            }
            if ev.json {
                argv.extend(["--format".into(), "{{json .}}".into()]);
            }
            crate::events::events(root, parse_as(&argv)?)
        }
        Verb::Version(_) | Verb::Ls(_) | Verb::Config(_) => unreachable!("handled above"),
    }
}

fn services_or_all(p: &Project, named: &[String]) -> Vec<String> {
    if named.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        named.to_vec()
    }
}

fn member(e: &Engine, service: &str, index: u32) -> Result<Member, CliError> {
    e.service_members(&[service.to_string()])
        .map_err(failed)?
        .into_iter()
        .find(|m| m.number == index)
        .ok_or_else(|| {
            failed(format!(
                "service \"{service}\" is not running container #{index}"
            ))
        })
}

fn up(e: &Engine, u: UpArgs) -> CliResult {
    let detach = u.detach || u.wait;
    if detach && (u.abort_on_container_exit || u.exit_code_from.is_some()) {
        return Err(failed(
            "--abort-on-container-exit and --exit-code-from can't be used with -d",
        ));
    }
    e.up(&UpOptions {
        services: u.services.clone(),
        no_deps: u.no_deps,
        build: u.build,
        no_build: u.no_build,
        force_recreate: u.force_recreate,
        no_recreate: u.no_recreate,
        remove_orphans: u.remove_orphans,
        scale: scale_map(&u.scale)?,
        wait: u.wait,
        wait_timeout: u.wait_timeout.map(Duration::from_secs),
        timeout: u.timeout,
        start: true,
    })
    .map_err(failed)?;
    if detach {
        return Ok(ExitCode::SUCCESS);
    }
    let code = e
        .foreground(
            &u.services,
            &Foreground {
                abort_on_container_exit: u.abort_on_container_exit,
                exit_code_from: u.exit_code_from,
                timeout: u.timeout,
                style: LogStyle {
                    prefix: !u.no_log_prefix,
                    colour: colour(u.no_color),
                    timestamps: false,
                },
            },
        )
        .map_err(failed)?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn status_text(m: &Member) -> String {
    use rbox_runtime::Status;
    let s = &m.container.state;
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .num_seconds()
                    .max(0)
            })
            .unwrap_or(0)
    };
    let human = |secs: i64| match secs {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "About a minute".to_string(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if s < 7200 => "About an hour".to_string(),
        s => format!("{} hours", s / 3600),
    };
    match s.status {
        Status::Running if s.paused => format!("Up {} (Paused)", human(since(&s.started_at))),
        Status::Running => {
            let health = s
                .health
                .as_ref()
                .filter(|_| m.container.config.config.healthcheck.is_some())
                .map(|h| format!(" ({})", h.status.as_str()))
                .unwrap_or_default();
            format!("Up {}{health}", human(since(&s.started_at)))
        }
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human(since(&s.finished_at))
        ),
        Status::Restarting => format!("Restarting ({})", s.exit_code),
        other => {
            let w = other.as_str();
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

fn state_word(m: &Member) -> &'static str {
    if m.container.state.paused {
        "paused"
    } else {
        m.container.state.status.as_str()
    }
}

fn row_value(e: &Engine, m: &Member) -> Value {
    let c = &m.container;
    let command: Vec<String> = c
        .config
        .config
        .entrypoint
        .iter()
        .chain(c.config.config.cmd.iter())
        .cloned()
        .collect();
    let ports: Vec<String> = c.state.ports.iter().map(|p| p.to_string()).collect();
    let labels: Vec<String> = m.labels().iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "ID": c.id(),
        "Name": m.name(),
        "Names": m.name(),
        "Image": c.config.image,
        "Command": format!("\"{}\"", command.join(" ")),
        "Project": e.project.name,
        "Service": m.service,
        "Created": c.config.created,
        "CreatedAt": c.config.created,
        "State": state_word(m),
        "Status": status_text(m),
        "Health": c.state.health.as_ref().filter(|_| c.config.config.healthcheck.is_some()).map_or("", |h| h.status.as_str()),
        "ExitCode": c.state.exit_code,
        "Ports": ports.join(", "),
        "Labels": labels.join(","),
    })
}

fn ps(e: &Engine, p: PsArgs) -> CliResult {
    let mut members = e.members().map_err(failed)?;
    e.check_services(&p.service).map_err(failed)?;
    members.retain(|m| p.service.is_empty() || p.service.contains(&m.service));
    if !p.all && p.status.is_empty() {
        members.retain(|m| m.running());
    }
    if !p.status.is_empty() {
        members.retain(|m| p.status.iter().any(|s| s == state_word(m)));
    }
    let mut out = std::io::stdout().lock();
    if p.services {
        let mut seen: Vec<&str> = Vec::new();
        for m in &members {
            if !seen.contains(&m.service.as_str()) {
                seen.push(&m.service);
                writeln!(out, "{}", m.service)?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if p.quiet {
        for m in &members {
            writeln!(out, "{}", m.id())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Value> = members.iter().map(|m| row_value(e, m)).collect();
    match p.format.as_deref() {
        None | Some("table") => {
            let mut table = vec![vec![
                "NAME".to_string(),
                "IMAGE".into(),
                "COMMAND".into(),
                "SERVICE".into(),
                "CREATED".into(),
                "STATUS".into(),
                "PORTS".into(),
            ]];
            for (m, r) in members.iter().zip(&rows) {
                let mut cmd = r["Command"].as_str().unwrap_or_default().to_string();
                if cmd.chars().count() > 22 {
                    cmd = cmd.chars().take(20).collect::<String>() + "…\"";
                }
                table.push(vec![
                    m.name().to_string(),
                    m.container.config.image.clone(),
                    cmd,
                    m.service.clone(),
                    crate::format::ago(Some(&m.container.config.created)),
                    r["Status"].as_str().unwrap_or_default().to_string(),
                    r["Ports"].as_str().unwrap_or_default().to_string(),
                ]);
            }
            crate::format::print_table(&mut out, &table)?;
        }
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}")?;
            }
        }
        Some(f) => {
            let (header, body) = match f.strip_prefix("table ") {
                Some(b) => (true, b),
                None => (false, f),
            };
            let t = crate::template::Template::parse(&crate::template::unescape(body))
                .map_err(|e| failed(format!("--format: {e}")))?;
            if header {
                writeln!(out, "{}", t.execute_header(&json!({})))?;
            }
            for r in &rows {
                let line = t
                    .execute(r, None)
                    .map_err(|e| failed(format!("--format: {e}")))?;
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn logs(e: &Engine, l: LogsArgs) -> CliResult {
    let members = e.service_members(&l.service).map_err(failed)?;
    let tail = match l.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| failed(format!("--tail {n}: a number or \"all\"")))?,
        ),
    };
    let since = l
        .since
        .as_deref()
        .map(|s| crate::timestamp::flag("since", s))
        .transpose()?;
    let q = rbox_runtime::ops::logs::Query {
        tail,
        since,
        follow: l.follow,
        ..Default::default()
    };
    let style = LogStyle {
        prefix: !l.no_log_prefix,
        colour: colour(l.no_color),
        timestamps: l.timestamps,
    };
    let out: Mutex<Box<dyn Write + Send>> = Mutex::new(Box::new(std::io::stdout()));
    e.logs(&members, &q, &style, &out, None).map_err(failed)?;
    Ok(ExitCode::SUCCESS)
}

fn config(p: &Project, c: &ConfigArgs) -> CliResult {
    if c.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    if c.services {
        for s in output::services(p) {
            println!("{s}");
        }
    } else if c.volumes {
        for v in output::volumes(p) {
            println!("{v}");
        }
    } else {
        match c.format.as_str() {
            "json" => println!("{}", output::to_json(p)),
            "yaml" => print!("{}", output::to_yaml(p)),
            f => return Err(failed(format!("--format {f}: must be yaml or json"))),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ls(root: &Path, l: &LsArgs) -> CliResult {
    let containers = Containers::open(root)?;
    let all = rbox_runtime::lifecycle::reconcile_all(&containers)?;
    // project → (states with counts, config files)
    let mut projects: std::collections::BTreeMap<String, (Vec<(String, usize)>, String)> =
        Default::default();
    for c in &all {
        let labels = &c.config.config.labels;
        let Some(p) = labels.get(LABEL_PROJECT) else {
            continue;
        };
        let entry = projects.entry(p.clone()).or_default();
        let st = c.state.status.as_str().to_string();
        match entry.0.iter_mut().find(|(s, _)| *s == st) {
            Some((_, n)) => *n += 1,
            None => entry.0.push((st, 1)),
        }
        if entry.1.is_empty() {
            entry.1 = labels.get(LABEL_CONFIG_FILES).cloned().unwrap_or_default();
        }
    }
    let mut out = std::io::stdout().lock();
    let shown: Vec<(&String, String, &String)> = projects
        .iter()
        .filter(|(_, (states, _))| l.all || states.iter().any(|(s, _)| s == "running"))
        .map(|(name, (states, files))| {
            let status: Vec<String> = states.iter().map(|(s, n)| format!("{s}({n})")).collect();
            (name, status.join(", "), files)
        })
        .collect();
    if l.quiet {
        for (n, _, _) in &shown {
            writeln!(out, "{n}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if l.format == "json" {
        let v: Vec<Value> = shown
            .iter()
            .map(|(n, s, f)| json!({"Name": n, "Status": s, "ConfigFiles": f}))
            .collect();
        writeln!(out, "{}", Value::Array(v))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![vec![
        "NAME".to_string(),
        "STATUS".into(),
        "CONFIG FILES".into(),
    ]];
    for (n, s, f) in shown {
        table.push(vec![n.clone(), s, f.clone()]);
    }
    crate::format::print_table(&mut out, &table)?;
    Ok(ExitCode::SUCCESS)
}

fn exec(root: &Path, e: &Engine, x: ExecArgs) -> CliResult {
    if x.privileged {
        return Err(failed("exec --privileged is not supported"));
    }
    let m = member(e, &x.service, x.index)?;
    let mut argv = vec!["exec".to_string()];
    if x.detach {
        argv.push("-d".into());
    } else {
        argv.push("-i".into());
        if !x.no_tty && std::io::stdin().is_terminal() {
            argv.push("-t".into());
        }
    }
    for v in &x.env {
        argv.extend(["-e".into(), v.clone()]);
    }
    if let Some(u) = &x.user {
        argv.extend(["-u".into(), u.clone()]);
    }
    if let Some(w) = &x.workdir {
        argv.extend(["-w".into(), w.clone()]);
    }
    argv.push(m.id().to_string());
    argv.extend(x.command.iter().cloned());
    crate::containers::exec(root, parse_as(&argv)?)
}

fn run_oneoff(root: &Path, e: &Engine, r: RunArgs) -> CliResult {
    let tty = if r.no_tty {
        Some(false)
    } else if r.tty {
        Some(true)
    } else if r.detach {
        None
    } else {
        Some(std::io::stdin().is_terminal())
    };
    let (id, name) = e
        .create_oneoff(
            &r.service,
            &RunOverrides {
                command: r.command.clone(),
                entrypoint: r.entrypoint.clone(),
                env: r.env.clone(),
                volumes: r.volume.clone(),
                publish: r.publish.clone(),
                service_ports: r.service_ports,
                name: r.name.clone(),
                workdir: r.workdir.clone(),
                user: r.user.clone(),
                tty,
                interactive: r.interactive || !r.detach,
                rm: r.rm,
                no_deps: r.no_deps,
                build: r.build,
            },
        )
        .map_err(failed)?;
    if r.detach {
        rbox_runtime::ops::run::start_detached(&e.containers, &id)?;
        println!("{name}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut argv = vec!["start".to_string(), "-a".into()];
    if r.interactive || std::io::stdin().is_terminal() {
        argv.push("-i".into());
    }
    argv.push(id);
    crate::containers::start(root, parse_as(&argv)?)
}

fn images(e: &Engine, i: ImagesArgs) -> CliResult {
    let members = e.service_members(&i.services).map_err(failed)?;
    let mut out = std::io::stdout().lock();
    if i.quiet {
        let mut seen = Vec::new();
        for m in &members {
            let id = &m.container.config.image_id;
            if !seen.contains(id) {
                writeln!(out, "{}", id.trim_start_matches("sha256:"))?;
                seen.push(id.clone());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![vec![
        "CONTAINER".to_string(),
        "REPOSITORY".into(),
        "TAG".into(),
        "IMAGE ID".into(),
    ]];
    for m in &members {
        let image = &m.container.config.image;
        let (repo, tag) = match image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (image.clone(), "latest".to_string()),
        };
        let id = m.container.config.image_id.trim_start_matches("sha256:");
        table.push(vec![
            m.name().to_string(),
            repo,
            tag,
            id.chars().take(12).collect(),
        ]);
    }
    crate::format::print_table(&mut out, &table)?;
    Ok(ExitCode::SUCCESS)
}

fn port(e: &Engine, p: PortArgs) -> CliResult {
    let m = member(e, &p.service, p.index)?;
    let wanted = format!("->{}/{}", p.private_port, p.protocol);
    for mapping in &m.container.state.ports {
        let text = mapping.to_string();
        if let Some(host) = text.strip_suffix(&wanted) {
            println!("{host}");
            return Ok(ExitCode::SUCCESS);
        }
    }
    Err(failed(format!(
        "no port {}/{} published for service {} ({})",
        p.private_port,
        p.protocol,
        p.service,
        short_name(&e.project.name, m.name())
    )))
}
