//! `rbox build` (`rbuild`), `rbox history`, `rbox commit`.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use rbox_builder::build::{
    build_with as run_build, parse_cache_flag, parse_secret_flag, parse_ssh_flag,
    prune_cache_mounts, BuildError, BuildOptions, MoreOptions, NamedContext, SecretSource,
};
use rbox_builder::commit::{commit as run_commit, CommitOptions};
use rbox_image::{Reference, Store};
use rbox_runtime::Containers;

use crate::format::{ago, human_size, print_table};
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
    /// Progress output: auto or plain (the same here).
    #[arg(long, default_value = "auto")]
    progress: String,
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
    };
    let store = Store::open(root)?;
    let containers = Containers::open(root)?;
    let pull = |image: &str| crate::registry::pull_missing(root, image).map_err(|e| e.to_string());
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
        quiet: a.quiet,
        secrets,
        ssh,
        allow_insecure,
        pull: Some(&pull),
    };
    let mut sink = io::sink();
    let mut out = io::stdout();
    let log: &mut dyn Write = if a.quiet { &mut sink } else { &mut out };
    match run_build(&store, &containers, &opts, &more, log) {
        Ok(image) => {
            if !a.quiet {
                for t in &tags {
                    println!("Successfully tagged {}", t.familiar());
                }
            }
            println!("{}", image.id());
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

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Show full commands.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image ids.
    #[arg(short, long)]
    quiet: bool,
    /// The image.
    image: String,
}

pub fn history(root: &Path, a: HistoryArgs) -> CliResult {
    let store = Store::open(root)?;
    let mut rows = vec![["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .map(String::from)
        .to_vec()];
    for h in rbox_runtime::ops::images::history(&store, &a.image)? {
        let by = h.created_by.replace('\n', " ");
        let by = if a.no_trunc || by.chars().count() <= 45 {
            by
        } else {
            format!("{}…", by.chars().take(44).collect::<String>())
        };
        let id =
            h.id.map_or_else(|| "<missing>".into(), |d| d.short().to_owned());
        if a.quiet {
            println!("{id}");
            continue;
        }
        rows.push(vec![
            id,
            ago(h.created.as_deref()),
            by,
            human_size(h.size),
            h.comment,
        ]);
    }
    if !a.quiet {
        print_table(&mut io::stdout().lock(), &rows)?;
    }
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
    let freed = prune_cache_mounts(root)?;
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
