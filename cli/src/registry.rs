//! Registry commands: pull, push, login, logout.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rbox_image::{Digest, Reference, Store};
use rbox_registry::auth::{default_auth_file, read_secret_line};
use rbox_registry::{AuthFile, Client, Credentials, Event, Options, Platform, RegistriesConf};

use crate::{CliError, CliResult};

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// Pulls an image that `run`, `create` or `build` needs and the store lacks, with docker
/// run's messages on standard error (standard output stays the command's own).
pub fn pull_missing(root: &Path, reference: &str) -> Result<(), CliError> {
    let reference = Reference::parse(reference)?;
    eprintln!("Unable to find image '{}' locally", reference.familiar());
    let store = Store::open(root)?;
    let client = connect_default(root, reference.registry())?;
    let progress = |e: Event<'_>| {
        if let Event::Done(b) = e {
            if b.layer {
                eprintln!("{}: Pull complete", b.digest.short());
            }
        }
    };
    let pulled = rbox_registry::pull(&store, &client, &reference, &Platform::host(), &progress)
        .map_err(fail)?;
    eprintln!("Digest: {}", pulled.image.manifest_digest);
    eprintln!(
        "Status: Downloaded newer image for {}",
        reference.familiar()
    );
    Ok(())
}

/// A client of `registry` as a command without registry flags connects: the root's
/// credentials file, TLS unless registries.json lists the registry as insecure.
pub fn connect_default(root: &Path, registry: &str) -> Result<Client, CliError> {
    RegistryFlags {
        tls_verify: None,
        authfile: None,
    }
    .connect(root, registry)
}

/// Flags every registry command shares.
#[derive(Args, Debug)]
pub struct RegistryFlags {
    /// Verify the registry's TLS certificate; false also allows plain HTTP (loopback
    /// registries always use plain HTTP). Default: true, unless registries.json lists the
    /// registry as insecure.
    #[arg(long, value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    tls_verify: Option<bool>,
    /// The credentials file (default: $REGISTRY_AUTH_FILE, else <root>/auth.json).
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
}

impl RegistryFlags {
    fn auth_file(&self, root: &Path) -> AuthFile {
        AuthFile::new(
            self.authfile
                .clone()
                .unwrap_or_else(|| default_auth_file(root)),
        )
    }

    /// `--tls-verify` if given, else false only for a registry registries.json lists as
    /// insecure.
    fn tls_verify(&self, root: &Path, registry: &str) -> Result<bool, CliError> {
        match self.tls_verify {
            Some(v) => Ok(v),
            None => Ok(!RegistriesConf::for_root(root)
                .map_err(fail)?
                .insecure(registry)),
        }
    }

    fn connect(&self, root: &Path, registry: &str) -> Result<Client, CliError> {
        let credentials = self.auth_file(root).get(registry).map_err(fail)?;
        Client::connect(
            registry,
            &Options {
                tls_verify: self.tls_verify(root, registry)?,
                credentials,
            },
        )
        .map_err(fail)
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// The image: NAME[:TAG] or NAME@sha256:DIGEST.
    reference: String,
    /// The platform to pick from a multi-platform image: os/arch[/variant].
    #[arg(long)]
    platform: Option<String>,
    /// Print only the image's name.
    #[arg(short, long)]
    quiet: bool,
    /// Pull every tag of the repository (NAME without a tag).
    #[arg(short, long)]
    all_tags: bool,
    #[command(flatten)]
    flags: RegistryFlags,
}

/// Whether `reference` as typed names a tag or a digest (not only a repository).
fn names_a_version(reference: &str) -> bool {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.contains(':') || last.contains('@')
}

/// The first 12 hex digits of a blob, as docker names layers in its progress.
fn short(b: &rbox_registry::manifest::Blob) -> &str {
    b.digest.short()
}

/// The words a transfer shows for each layer.
struct Words {
    exists: &'static str,
    active: &'static str,
    done: &'static str,
}

const PULL_WORDS: Words = Words {
    exists: "Already exists",
    active: "Downloading",
    done: "Pull complete",
};

const PUSH_WORDS: Words = Words {
    exists: "Layer already exists",
    active: "Pushing",
    done: "Pushed",
};

/// How a transfer is shown: a bar per layer on a terminal, docker's lines otherwise,
/// nothing with `-q`. Events come from the transfer threads.
enum Reporter {
    Quiet,
    Lines(Words),
    Bars {
        words: Words,
        multi: MultiProgress,
        bars: Mutex<HashMap<Digest, ProgressBar>>,
    },
}

impl Reporter {
    fn new(quiet: bool, words: Words) -> Reporter {
        if quiet {
            Reporter::Quiet
        } else if io::stdout().is_terminal() {
            Reporter::Bars {
                words,
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Reporter::Lines(words)
        }
    }

    fn event(&self, e: Event<'_>) {
        match self {
            Reporter::Quiet => {}
            Reporter::Lines(w) => match e {
                Event::Exists(b) if b.layer => println!("{}: {}", short(b), w.exists),
                Event::Done(b) if b.layer => println!("{}: {}", short(b), w.done),
                Event::Mounted(b, from) if b.layer => {
                    println!("{}: Mounted from {from}", short(b))
                }
                _ => {}
            },
            Reporter::Bars { words, multi, bars } => {
                let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
                match e {
                    Event::Exists(b) if b.layer => line(multi, short(b), words.exists.into()),
                    Event::Mounted(b, from) if b.layer => {
                        line(multi, short(b), format!("Mounted from {from}"))
                    }
                    Event::Started(b) if b.layer => {
                        let bar = multi.add(
                            ProgressBar::new(b.size)
                                .with_style(bar_style())
                                .with_prefix(short(b).to_owned())
                                .with_message(words.active),
                        );
                        bars.insert(b.digest.clone(), bar);
                    }
                    Event::Progress(b, n) => {
                        if let Some(bar) = bars.get(&b.digest) {
                            bar.set_position(n);
                        }
                    }
                    Event::Done(b) if b.layer => {
                        if let Some(bar) = bars.remove(&b.digest) {
                            bar.set_style(done_style());
                            bar.finish_with_message(words.done);
                        } else {
                            line(multi, short(b), words.done.into());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A finished line among the bars: `PREFIX: MESSAGE`.
fn line(multi: &MultiProgress, prefix: &str, message: String) {
    multi
        .add(
            ProgressBar::new(0)
                .with_style(done_style())
                .with_prefix(prefix.to_owned()),
        )
        .finish_with_message(message);
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix}: {msg:<11} [{bar:30}] {bytes:>10} / {total_bytes:<10} {binary_bytes_per_sec}",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template")
}

pub fn pull(root: &Path, a: PullArgs) -> CliResult {
    if a.all_tags {
        if names_a_version(&a.reference) {
            return Err(CliError::Failed(
                "tag can't be used with --all-tags/-a".into(),
            ));
        }
        let repo = Reference::parse(&a.reference)?;
        let client = a.flags.connect(root, repo.registry())?;
        let tags = rbox_registry::search::tags(&client, repo.repository()).map_err(fail)?;
        if tags.is_empty() {
            return Err(CliError::Failed(format!(
                "{}: no tags",
                repo.familiar_name()
            )));
        }
        for tag in tags {
            pull(
                root,
                PullArgs {
                    reference: repo.with_tag(&tag).to_string(),
                    platform: a.platform.clone(),
                    quiet: a.quiet,
                    all_tags: false,
                    flags: RegistryFlags {
                        tls_verify: a.flags.tls_verify,
                        authfile: a.flags.authfile.clone(),
                    },
                },
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let reference = Reference::parse(&a.reference)?;
    let platform: Platform = match &a.platform {
        Some(p) => p.parse().map_err(fail)?,
        None => Platform::host(),
    };
    let store = Store::open(root)?;
    let client = a.flags.connect(root, reference.registry())?;
    let quiet = a.quiet;
    if !quiet {
        let what = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, t) => t.unwrap_or("latest").to_owned(),
        };
        println!("{what}: Pulling from {}", reference.familiar_name());
    }
    let reporter = Reporter::new(quiet, PULL_WORDS);
    let progress = |e: Event<'_>| reporter.event(e);
    let pulled =
        rbox_registry::pull(&store, &client, &reference, &platform, &progress).map_err(fail)?;
    let name = reference.familiar();
    rbox_runtime::store::events::other(root, "image", "pull", &name, &[("name", name.clone())]);
    if quiet {
        println!("{reference}");
    } else {
        println!("Digest: {}", pulled.image.manifest_digest);
        if pulled.up_to_date {
            println!("Status: Image is up to date for {}", reference.familiar());
        } else {
            println!(
                "Status: Downloaded newer image for {}",
                reference.familiar()
            );
        }
        println!("{reference}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The image to push: NAME[:TAG] (its name says where it goes).
    image: String,
    /// Push it under this name instead: REGISTRY/NAME[:TAG].
    destination: Option<String>,
    /// Print only the pushed digest.
    #[arg(short, long)]
    quiet: bool,
    /// Push every local tag of the repository (NAME without a tag).
    #[arg(short, long)]
    all_tags: bool,
    #[command(flatten)]
    flags: RegistryFlags,
}

pub fn push(root: &Path, a: PushArgs) -> CliResult {
    if a.all_tags {
        if names_a_version(&a.image) || a.destination.is_some() {
            return Err(CliError::Failed(
                "tag can't be used with --all-tags/-a".into(),
            ));
        }
        let store = Store::open(root)?;
        let rows = rbox_runtime::ops::images::list(&store, Some(&a.image))?;
        if rows.is_empty() {
            return Err(CliError::Failed(format!(
                "An image does not exist locally with the tag: {}",
                a.image
            )));
        }
        let repo = Reference::parse(&a.image)?;
        for r in rows.iter().filter(|r| r.tag != "<none>") {
            push(
                root,
                PushArgs {
                    image: repo.with_tag(&r.tag).to_string(),
                    destination: None,
                    quiet: a.quiet,
                    all_tags: false,
                    flags: RegistryFlags {
                        tls_verify: a.flags.tls_verify,
                        authfile: a.flags.authfile.clone(),
                    },
                },
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(root)?;
    let image = store.resolve(&a.image)?;
    let target = Reference::parse(a.destination.as_deref().unwrap_or(&a.image))?;
    let client = a.flags.connect(root, target.registry())?;
    let quiet = a.quiet;
    if !quiet {
        println!("The push refers to repository [{}]", target.familiar_name());
    }
    let reporter = Reporter::new(quiet, PUSH_WORDS);
    let progress = |e: Event<'_>| reporter.event(e);
    let pushed = rbox_registry::push(&store, &client, &image, &target, &progress).map_err(fail)?;
    let name = target.familiar();
    rbox_runtime::store::events::other(root, "image", "push", &name, &[("name", name.clone())]);
    if quiet {
        println!("{}", pushed.digest);
    } else {
        let name = match (target.tag(), target.digest()) {
            (Some(t), _) => t.to_owned(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "latest".into(),
        };
        println!("{name}: digest: {} size: {}", pushed.digest, pushed.size);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The registry: HOST[:PORT] (default: Docker Hub).
    registry: Option<String>,
    /// User name.
    #[arg(short, long)]
    username: Option<String>,
    /// Password (prefer --password-stdin: arguments are visible to other users).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    flags: RegistryFlags,
}

/// `https://host:port/v1/` → `host:port`; Docker Hub's names → `docker.io`.
fn registry_name(arg: Option<&str>) -> String {
    let s = arg.unwrap_or("docker.io");
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        h => h.to_owned(),
    }
}

fn prompt(what: &str) -> Result<String, CliError> {
    eprint!("{what}: ");
    io::stderr().flush()?;
    let mut line = String::new();
    io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

pub fn login(root: &Path, a: LoginArgs) -> CliResult {
    let registry = registry_name(a.registry.as_deref());
    let username = match a.username {
        Some(u) => u,
        None if io::stdin().is_terminal() && !a.password_stdin => prompt("Username")?,
        None => {
            return Err(fail(
                "a user name is needed: -u USER (standard input is not a terminal)",
            ))
        }
    };
    let password = if a.password_stdin {
        if a.password.is_some() {
            return Err(fail(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        let mut s = String::new();
        io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_owned()
    } else if let Some(p) = a.password {
        p
    } else if io::stdin().is_terminal() {
        eprint!("Password: ");
        io::stderr().flush()?;
        let p = read_secret_line()?;
        eprintln!();
        p
    } else {
        return Err(fail(
            "a password is needed: --password-stdin (standard input is not a terminal)",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(fail("user name and password must not be empty"));
    }
    let creds = Credentials { username, password };
    let client = Client::connect(
        &registry,
        &Options {
            tls_verify: a.flags.tls_verify(root, &registry)?,
            credentials: Some(creds.clone()),
        },
    )
    .map_err(fail)?;
    client.check_credentials().map_err(fail)?;
    a.flags
        .auth_file(root)
        .set(&registry, &creds)
        .map_err(fail)?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry: HOST[:PORT] (default: Docker Hub).
    registry: Option<String>,
    /// The credentials file (default: $REGISTRY_AUTH_FILE, else <root>/auth.json).
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
}

pub fn logout(root: &Path, a: LogoutArgs) -> CliResult {
    let registry = registry_name(a.registry.as_deref());
    let file = AuthFile::new(a.authfile.unwrap_or_else(|| default_auth_file(root)));
    if file.remove(&registry).map_err(fail)? {
        println!("Removing login credentials for {registry}");
    } else {
        println!("Not logged in to {registry}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Show at most this many results.
    #[arg(long, default_value_t = 25)]
    limit: usize,
    /// A Go template for each row ("{{.Name}}"), "table TEMPLATE", "table" or "json".
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Filter: stars=N, is-official=true|false (a catalog has neither: no stars, none
    /// official).
    #[arg(short, long)]
    filter: Vec<String>,
    /// REGISTRY/TERM: the repositories of REGISTRY's catalog whose name holds TERM
    /// (a term without a registry is Docker Hub's, which has no catalog).
    term: String,
    #[command(flatten)]
    flags: RegistryFlags,
}

/// `search`'s default table and docker's column titles.
const SEARCH: crate::format::Listing = crate::format::Listing {
    default: "{{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
    headers: &[
        ("Name", "NAME"),
        ("Description", "DESCRIPTION"),
        ("StarCount", "STARS"),
        ("IsOfficial", "OFFICIAL"),
        ("IsAutomated", "AUTOMATED"),
    ],
};

/// `search`: a registry's catalog filtered by the term.
pub fn search(root: &Path, a: SearchArgs) -> CliResult {
    // `host[:port]/term` names a registry as an image reference does.
    let (registry, term) = match a.term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => {
            (host.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), a.term.clone()),
    };
    let mut keep_all = true;
    for f in &a.filter {
        match f.split_once('=') {
            Some(("stars", n)) => {
                let n: u64 = n
                    .parse()
                    .map_err(|_| CliError::Failed(format!("invalid filter 'stars={n}'")))?;
                keep_all &= n == 0;
            }
            Some(("is-official", v)) => match v {
                "true" | "1" => keep_all = false,
                "false" | "0" => {}
                _ => {
                    return Err(CliError::Failed(format!(
                        "invalid filter 'is-official={v}'"
                    )))
                }
            },
            Some(("is-automated", v)) if v == "false" || v == "true" => keep_all &= v == "false",
            _ => return Err(CliError::Failed(format!("invalid filter '{f}'"))),
        }
    }
    let client = a.flags.connect(root, &registry)?;
    let found = rbox_registry::search::search(&client, &term, a.limit).map_err(fail)?;
    let rows: Vec<crate::format::Row> = found
        .iter()
        .filter(|_| keep_all)
        .map(|name| crate::format::Row {
            fields: crate::template::object([
                (
                    "Name",
                    serde_json::Value::String(format!("{registry}/{name}")),
                ),
                ("Description", serde_json::Value::String(String::new())),
                ("StarCount", serde_json::Value::from(0)),
                ("IsOfficial", serde_json::Value::Bool(false)),
                ("IsAutomated", serde_json::Value::Bool(false)),
            ]),
            labels: Default::default(),
        })
        .collect();
    // An empty description needs no truncating: --no-trunc changes nothing else here.
    let _ = a.no_trunc;
    let text = crate::format::render_rows(a.format.as_deref(), &SEARCH, &rows)?;
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
