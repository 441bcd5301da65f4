//! `rbox build` (`rbuild`), `rbox history`, `rbox commit`.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rbox_builder::build::{
    build_to as run_build, parse_add_host, parse_cache_flag, parse_secret_flag, parse_ssh_flag,
    prune_cache_mounts, BuildError, BuildOptions, MoreOptions, NamedContext, Output, SecretSource,
    Sinks,
};
use rbox_builder::commit::{commit as run_commit, CommitOptions};
use rbox_builder::progress::TtyView;
use rbox_image::{Reference, Store};
use rbox_registry::Platform;
use rbox_runtime::Containers;

use crate::format::{ago, human_size};
use crate::{CliError, CliResult};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and tag the image (repeatable).
    #[arg(short, long)]
    tag: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile; - for standard input).
    #[arg(short, long)]
    file: Option<String>,
    /// Set a build-time variable (KEY=VALUE).
    #[arg(long)]
    build_arg: Vec<String>,
    /// Don't use the cache.
    #[arg(long)]
    no_cache: bool,
    /// Build up to this stage.
    #[arg(long)]
    target: Option<String>,
    /// Set metadata on the image (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    /// Network for RUN: default (a namespace of its own on the default bridge), none
    /// (loopback only), or host (the host's network, which RUN --network=host also needs).
    #[arg(long)]
    network: Option<String>,
    /// Print only the image id.
    #[arg(short, long)]
    quiet: bool,
    /// Progress output: plain (every step and its output, on standard output), tty (a live
    /// view of the steps on the terminal of standard error), auto (tty on a terminal, else
    /// plain), or quiet (nothing).
    #[arg(long, default_value = "auto")]
    progress: String,
    /// Write the image id (sha256:...) to this file.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Pull every FROM image again, even one in the store.
    #[arg(long)]
    pull: bool,
    /// An entry of every RUN's /etc/hosts: HOST:IP (or HOST:host-gateway, the host as the
    /// default network reaches it) (repeatable).
    #[arg(long, value_name = "HOST:IP")]
    add_host: Vec<String>,
    /// Where the result goes: type=local,dest=DIR or DIR (the files), type=tar,dest=FILE
    /// or "-" (a tar of them, "-" on standard output), type=image (an image in the store,
    /// as without it) (repeatable). Without type=image, no image is stored.
    #[arg(short, long, value_name = "TYPE=...")]
    output: Vec<String>,
    /// The platform of the base images: OS/ARCH[/VARIANT] (pulled as such; one the store
    /// has must be it).
    #[arg(long)]
    platform: Option<String>,
    /// Only parse and check the Dockerfile: every problem with its line.
    #[arg(long)]
    check: bool,
    /// A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (repeatable).
    #[arg(long)]
    secret: Vec<String>,
    /// An SSH agent for RUN --mount=type=ssh: default (SSH_AUTH_SOCK) or ID=SOCKET
    /// (repeatable).
    #[arg(long)]
    ssh: Vec<String>,
    /// Grant an entitlement: security.insecure (RUN --security=insecure), network.host
    /// (as --network host).
    #[arg(long)]
    allow: Vec<String>,
    /// A named context: NAME=DIR or NAME=docker-image://REF, for FROM NAME, COPY
    /// --from=NAME and RUN --mount=from=NAME (repeatable).
    #[arg(long)]
    build_context: Vec<String>,
    /// Take cached layers from a directory: type=local,src=DIR (repeatable).
    #[arg(long)]
    cache_from: Vec<String>,
    /// Write the build's layers to a directory for --cache-from: type=local,dest=DIR.
    #[arg(long)]
    cache_to: Option<String>,
    /// The build context: a directory, or - for standard input (a Dockerfile alone, or a
    /// tar archive of the context, plain, gzip or zstd, with its Dockerfile at the root).
    context: PathBuf,
}

/// A build context read from standard input, unpacked in a private temporary directory that
/// goes with it.
struct StdinContext {
    dir: PathBuf,
    /// The Dockerfile when the input was one (not an archive).
    dockerfile: Option<String>,
}

impl Drop for StdinContext {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new private directory under the system's temporary directory.
fn private_temp_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0u32..100 {
        let dir = base.join(format!(
            "rbox-build-{}-{nanos:08x}{attempt:02}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary directory name",
    ))
}

/// Whether `head` (the input's first bytes) starts an archive, as docker decides: a
/// compressed stream, or a tar header whose checksum holds.
fn is_archive(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 4] = [
        &[0x1f, 0x8b],
        &[0x28, 0xb5, 0x2f, 0xfd],
        b"BZh",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
    ];
    if MAGICS.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    if head.len() < 512 {
        return false;
    }
    let field = &head[148..156];
    let text = String::from_utf8_lossy(field);
    let Ok(recorded) = u32::from_str_radix(text.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == recorded
}

/// Reads the context from standard input: an archive is unpacked (refusing absolute paths,
/// `..` and anything through a symlink, as a layer is), a Dockerfile is kept as the
/// Dockerfile of an empty context.
fn stdin_context() -> Result<StdinContext, CliError> {
    let mut stdin = io::stdin().lock();
    let mut head = Vec::with_capacity(512);
    (&mut stdin).take(512).read_to_end(&mut head)?;
    let dir = private_temp_dir()
        .map_err(|e| CliError::Failed(format!("a temporary directory for the context: {e}")))?;
    let mut ctx = StdinContext {
        dir,
        dockerfile: None,
    };
    let mut input = io::Cursor::new(head).chain(stdin);
    if !is_archive(input.get_ref().0.get_ref()) {
        let mut text = Vec::new();
        input.read_to_end(&mut text)?;
        ctx.dockerfile = Some(String::from_utf8(text).map_err(|_| {
            CliError::Failed("the Dockerfile on standard input is not UTF-8".into())
        })?);
        return Ok(ctx);
    }
    let (_, tar) = rbox_image::compression::decompressed(input)
        .map_err(|e| CliError::Failed(format!("the context on standard input: {e}")))?;
    rbox_image::layer::apply(tar, &ctx.dir)
        .map_err(|e| CliError::Failed(format!("the context on standard input: {e}")))?;
    Ok(ctx)
}

fn pairs(v: &[String]) -> Vec<(String, String)> {
    v.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            // As docker: --build-arg KEY takes KEY from this environment.
            None => (kv.clone(), std::env::var(kv).unwrap_or_default()),
        })
        .collect()
}

pub fn build(root: &Path, mut a: BuildArgs) -> CliResult {
    let from_stdin = a.context.as_os_str() == "-";
    if from_stdin && a.file.as_deref() == Some("-") {
        return Err(CliError::Failed(
            "invalid argument: can't use stdin for both build context and dockerfile".into(),
        ));
    }
    // Kept until the build ends: its directory is the context.
    let stdin_ctx = from_stdin.then(stdin_context).transpose()?;
    if let Some(ctx) = &stdin_ctx {
        a.context = ctx.dir.clone();
    }
    let (name, text) = match (&stdin_ctx, a.file.as_deref()) {
        (
            Some(StdinContext {
                dockerfile: Some(text),
                ..
            }),
            _,
        ) => ("Dockerfile".to_owned(), text.clone()),
        // In an archive, the Dockerfile is named from the archive's root.
        (Some(ctx), f) => {
            let rel = f.unwrap_or("Dockerfile").trim_start_matches('/');
            let text = std::fs::read_to_string(ctx.dir.join(rel)).map_err(|_| {
                CliError::Failed(format!("Cannot locate specified Dockerfile: {rel}"))
            })?;
            (rel.to_owned(), text)
        }
        (None, Some("-")) => {
            let mut s = String::new();
            io::stdin().read_to_string(&mut s)?;
            ("Dockerfile".to_owned(), s)
        }
        (None, f) => {
            let path = f
                .map(PathBuf::from)
                .unwrap_or_else(|| a.context.join("Dockerfile"));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
            (path.display().to_string(), text)
        }
    };
    if a.check {
        return Ok(match rbox_builder::parse(&text) {
            Ok(df) => {
                println!("{name}: {} stage(s), no problem found", df.stages.len());
                ExitCode::SUCCESS
            }
            Err(diags) => {
                for d in diags {
                    eprintln!("{name}:{}: {}", d.line, d.message);
                }
                ExitCode::FAILURE
            }
        });
    }
    let tags = a
        .tag
        .iter()
        .map(|t| Reference::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut secrets = Vec::new();
    for v in &a.secret {
        let (id, source) = parse_secret_flag(v).map_err(CliError::Failed)?;
        match &source {
            SecretSource::File(f) if !f.is_file() => {
                return Err(CliError::Failed(format!(
                    "--secret {v}: {}: no such file",
                    f.display()
                )))
            }
            SecretSource::Env(e) if std::env::var_os(e).is_none() => {
                return Err(CliError::Failed(format!("--secret {v}: ${e} is not set")))
            }
            _ => {}
        }
        secrets.push((id, source));
    }
    let ssh = a
        .ssh
        .iter()
        .map(|v| parse_ssh_flag(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::Failed)?;
    let mut allow_insecure = false;
    let mut network = a.network.clone();
    for e in a.allow.iter().flat_map(|e| e.split(',')) {
        match e {
            "security.insecure" => allow_insecure = true,
            "network.host" if network.as_deref().is_none_or(|n| n == "host") => {
                network = Some("host".into())
            }
            "network.host" => {
                return Err(CliError::Failed(
                    "--allow network.host with another --network".into(),
                ))
            }
            other => {
                return Err(CliError::Failed(format!(
                    "--allow {other}: unknown entitlement (security.insecure or network.host)"
                )))
            }
        }
    }
    let more = MoreOptions {
        contexts: a
            .build_context
            .iter()
            .map(|v| NamedContext::parse_flag(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CliError::Failed)?,
        cache_from: a
            .cache_from
            .iter()
            .map(|v| parse_cache_flag("--cache-from", v, "src"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CliError::Failed)?,
        cache_to: a
            .cache_to
            .as_deref()
            .map(|v| parse_cache_flag("--cache-to", v, "dest"))
            .transpose()
            .map_err(CliError::Failed)?,
        ..Default::default()
    };
    let outputs = a
        .output
        .iter()
        .map(|v| Output::parse_flag(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::Failed)?;
    let tar_on_stdout = outputs.iter().filter(|o| **o == Output::Tar(None)).count();
    if tar_on_stdout > 1 {
        return Err(CliError::Failed(
            "--output: standard output can take one tar archive only".into(),
        ));
    }
    let tar_on_stdout = tar_on_stdout == 1;
    if tar_on_stdout && io::stdout().is_terminal() {
        return Err(CliError::Failed(
            "--output -: refusing to write a tar archive to a terminal (redirect standard output or give type=tar,dest=FILE)".into(),
        ));
    }
    let stores_image =
        outputs.is_empty() || outputs.iter().any(|o| matches!(o, Output::Image { .. }));
    // The image's names: -t's, then type=image's name=.
    let mut named = tags.clone();
    for o in &outputs {
        if let Output::Image { names } = o {
            named.extend(names.iter().cloned());
        }
    }
    if !stores_image && !tags.is_empty() {
        return Err(CliError::Failed(
            "--tag: --output stores no image to tag (add --output type=image to store one too)"
                .into(),
        ));
    }
    if !stores_image && a.iidfile.is_some() {
        return Err(CliError::Failed(
            "--iidfile: --output stores no image, so there is no image id to write (add --output type=image)".into(),
        ));
    }
    for h in &a.add_host {
        parse_add_host(h).map_err(CliError::Failed)?;
    }
    let platform: Option<Platform> = a
        .platform
        .as_deref()
        .map(|p| {
            p.parse()
                .map_err(|e| CliError::Failed(format!("--platform {p}: {e}")))
        })
        .transpose()?;
    let mode = progress_mode(&a)?;
    if let Some(f) = &a.iidfile {
        // As docker: a failed build leaves no id of an earlier one.
        match std::fs::remove_file(f) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(CliError::Failed(format!("--iidfile {}: {e}", f.display())))
            }
            _ => {}
        }
    }
    let more = MoreOptions {
        pull_always: a.pull,
        add_hosts: a.add_host.clone(),
        platform: a.platform.clone(),
        outputs,
        ..more
    };
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let pull =
        |image: &str| pull_base(root, image, platform.as_ref(), a.pull).map_err(|e| e.to_string());
    let opts = BuildOptions {
        context: a.context.clone(),
        dockerfile: text,
        dockerfile_name: name,
        tags: tags.clone(),
        build_args: pairs(&a.build_arg),
        no_cache: a.no_cache,
        target: a.target.clone(),
        labels: pairs(&a.label),
        network,
        quiet: mode == Progress::Quiet,
        secrets,
        ssh,
        allow_insecure,
        pull: Some(&pull),
    };
    // The build's own lines go to standard error when standard output is the tar.
    let mut say: Box<dyn Write> = if tar_on_stdout {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let mut sink = io::sink();
    let view = (mode == Progress::Tty).then(TtyView::on_stderr);
    let mut stdout = io::stdout().lock();
    let sinks = Sinks {
        watch: view
            .as_ref()
            .map(|v| v as &dyn rbox_builder::progress::Watch),
        tar: if tar_on_stdout {
            Some(&mut stdout)
        } else {
            None
        },
    };
    let log: &mut dyn Write = if mode == Progress::Plain {
        &mut *say
    } else {
        &mut sink
    };
    let result = run_build(&store, &containers, &opts, &more, sinks, log);
    if let Some(v) = view {
        v.finish(result.is_ok());
    }
    match result {
        Ok(image) => {
            if let (Some(image), Some(f)) = (&image, &a.iidfile) {
                std::fs::write(f, image.id().to_string())
                    .map_err(|e| CliError::Failed(format!("--iidfile {}: {e}", f.display())))?;
            }
            match (&image, mode) {
                (Some(image), Progress::Plain | Progress::Tty) => {
                    for t in &named {
                        writeln!(say, "Successfully tagged {}", t.familiar())?;
                    }
                    writeln!(say, "{}", image.id())?;
                }
                (Some(image), Progress::Quiet) if a.quiet => writeln!(say, "{}", image.id())?,
                _ => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ BuildError::Parse(_)) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("rbox: build failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What `--progress` and `-q` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Plain,
    Tty,
    Quiet,
}

fn progress_mode(a: &BuildArgs) -> Result<Progress, CliError> {
    let terminal = io::stderr().is_terminal();
    Ok(match a.progress.as_str() {
        _ if a.quiet => Progress::Quiet,
        "plain" => Progress::Plain,
        "quiet" => Progress::Quiet,
        "tty" if terminal => Progress::Tty,
        "tty" => {
            return Err(CliError::Failed(
                "--progress tty: standard error is not a terminal (use --progress plain)".into(),
            ))
        }
        "auto" if terminal => Progress::Tty,
        "auto" => Progress::Plain,
        other => {
            return Err(CliError::Failed(format!(
                "--progress {other}: use auto, plain, tty or quiet"
            )))
        }
    })
}

/// Pulls a FROM image for a build: one the store lacks, or with `--pull` every one, for
/// `platform` (this host's without it); docker's messages on standard error.
fn pull_base(
    root: &Path,
    image: &str,
    platform: Option<&Platform>,
    always: bool,
) -> Result<(), CliError> {
    let reference = Reference::parse(image)?;
    let store = Store::open(root)?;
    let present = store.resolve(image).is_ok();
    if !present {
        if platform.is_none() {
            return crate::registry::pull_missing(root, image);
        }
        eprintln!("Unable to find image '{}' locally", reference.familiar());
    } else if !always {
        return Ok(());
    }
    let client = crate::registry::connect_default(root, reference.registry())?;
    let what = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, t) => t.unwrap_or("latest").to_owned(),
    };
    eprintln!("{what}: Pulling from {}", reference.familiar_name());
    let platform = platform.cloned().unwrap_or_else(Platform::host);
    let pulled = rbox_registry::pull(&store, &client, &reference, &platform, &|_| {})
        .map_err(|e| CliError::Failed(format!("pulling {}: {e}", reference.familiar())))?;
    eprintln!("Digest: {}", pulled.image.manifest_digest);
    if pulled.up_to_date {
        eprintln!("Status: Image is up to date for {}", reference.familiar());
    } else {
        eprintln!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show full commands and ids.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image ids.
    #[arg(short, long)]
    quiet: bool,
    /// Format the rows: table, table TEMPLATE, json, or a Go template (fields .ID,
    /// .CreatedSince, .CreatedAt, .CreatedBy, .Size, .Comment).
    #[arg(long)]
    format: Option<String>,
    /// Sizes and dates for people (false: bytes, and RFC 3339 times).
    #[arg(short = 'H', long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    human: bool,
    /// The image.
    image: String,
}

/// `history`'s columns, as docker's.
const HISTORY: crate::format::Listing = crate::format::Listing {
    default: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    headers: &[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ],
};

pub fn history(root: &Path, a: HistoryArgs) -> CliResult {
    let store = Store::open(root)?;
    let format = if a.quiet {
        Some("{{.ID}}")
    } else {
        a.format.as_deref()
    };
    let mut rows = Vec::new();
    for h in rbox_runtime::ops::images::history(&store, &a.image)? {
        let by = h.created_by.replace(['\n', '\t'], " ");
        let by = if a.no_trunc || by.chars().count() <= 45 {
            by
        } else {
            format!("{}…", by.chars().take(44).collect::<String>())
        };
        let id = match &h.id {
            None => "<missing>".to_owned(),
            Some(d) if a.no_trunc => d.to_string(),
            Some(d) => d.short().to_owned(),
        };
        let at = h
            .created
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_default();
        let (since, size) = if a.human {
            (ago(h.created.as_deref()), human_size(h.size))
        } else {
            (at.clone(), h.size.to_string())
        };
        rows.push(crate::format::Row {
            fields: serde_json::json!({
                "ID": id,
                "CreatedSince": since,
                "CreatedAt": at,
                "CreatedBy": by,
                "Size": size,
                "Comment": h.comment,
            }),
            labels: Default::default(),
        });
    }
    let text = crate::format::render_rows(format, &HISTORY, &rows)?;
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Commit message (the history entry's comment).
    #[arg(short, long)]
    message: Option<String>,
    /// Author (e.g. "Jane Doe <jane@example.com>").
    #[arg(short, long)]
    author: Option<String>,
    /// Apply a Dockerfile instruction to the image's config: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable).
    #[arg(short, long)]
    change: Vec<String>,
    /// Accepted for docker's sake: the container is not paused; a running container's
    /// changes are read as they are.
    #[arg(short, long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    /// The container.
    container: String,
    /// The new image's name: REPOSITORY[:TAG].
    reference: Option<String>,
}

pub fn commit(root: &Path, a: CommitArgs) -> CliResult {
    let reference = a.reference.as_deref().map(Reference::parse).transpose()?;
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let _ = a.pause;
    let opts = CommitOptions {
        container: a.container,
        reference,
        message: a.message,
        author: a.author,
        changes: a.change,
    };
    match run_commit(&store, &containers, &opts) {
        Ok(image) => {
            println!("{}", image.id());
            Ok(ExitCode::SUCCESS)
        }
        Err(BuildError::Runtime(e)) => Err(e.into()),
        Err(BuildError::Image(e)) => Err(e.into()),
        Err(e) => Err(CliError::Failed(e.to_string())),
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove the build cache: RUN --mount=type=cache directories no build is using, and
    /// the steps' cache entries (their layers go with the next prune of the images).
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Don't ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Accepted for docker's sake: all of the cache is removed.
    #[arg(short, long)]
    all: bool,
}

/// `rbox builder prune`.
pub fn builder(root: &Path, c: BuilderCommand) -> CliResult {
    let BuilderCommand::Prune(a) = c;
    let _ = a.all;
    if !a.force {
        eprint!("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let store = Store::open(root)?;
    let _content = store.lock_content()?;
    let freed = prune_cache_mounts(root)? + store.empty_trash()?;
    let dir = root.join("build-cache");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Step entries are named by their key, records of COPY steps `copy-<slot>.json`;
            // the context's file records stay.
            let step = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if step || (name.starts_with("copy-") && name.ends_with(".json")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    println!("Total reclaimed space: {}", human_size(freed));
    Ok(ExitCode::SUCCESS)
}
