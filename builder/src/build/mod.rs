//! The build executor: a parsed Dockerfile and a context become a layered image.
//!
//! Each stage starts from its base (an image in the store, an earlier stage, or scratch);
//! metadata instructions change the config and add an `empty_layer` history entry; RUN runs
//! in a container over the stage's snapshots and its upper directory becomes the layer (and,
//! moved, the next snapshot: nothing is unpacked again); COPY and ADD write into a fresh upper
//! directory over the same overlay. A step whose cache key (parent key + expanded instruction
//! + the content and metadata of its sources) was built before is reused without running.
//!
//! Each instruction's words are expanded once, as it is dispatched
//! ([`Instruction::expand`], with the step's ARG and ENV values): what runs it sees only
//! expanded words. The parts:
//! - `plan`: the global ARGs, the target, the stages it needs, what each is built FROM;
//! - `state`: a stage's layers, config, ARG values and cache key as its instructions run;
//! - `metadata`: the instructions that change only the config;
//! - `cache`: the cache keys (a typed encoding per kind of step) and entries;
//! - `run`: RUN in a container, its network, the runtime's leftovers dropped;
//! - `copy`: COPY and ADD.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rbox_image::config::{History, ImageConfig, RootFs};
use rbox_image::{Digest, Image, Reference, Store};
use rbox_runtime::Containers;

use crate::context::Context;
use crate::instructions::{parse, ArgDecl, Dockerfile, Instruction, Located, Stage};

mod cache;
mod copy;
mod metadata;
mod mounts;
mod output;
mod plan;
mod run;
mod state;

use cache::{same_image_as_before, StepKey};
use copy::CopyStep;
pub(crate) use metadata::Meta;
pub use metadata::MAX_CONFIG_SIZE;
pub use mounts::{
    cache_mounts_dir, cache_mounts_usage, parse_secret_flag, parse_ssh_flag, prune_cache_mounts,
    SecretSource,
};
pub use output::Output;
use plan::{base_stage, stage_base, stage_deps, Plan};
pub(crate) use run::mount_points;
pub use run::{parse_add_host, run_network};
pub(crate) use state::StageState;
pub use state::MAX_VARIABLES_SIZE;

/// Checks a `RUN --mount` value as the parser sees it (its variables not expanded yet).
pub(crate) fn check_mount(spec: &str) -> std::result::Result<(), String> {
    // A relative target is under the step's WORKDIR, not known yet: any directory but /.
    mounts::parse_mount(spec, "/.workdir").map(|_| ())
}

/// Pulls an image the store lacks (`rbox pull`'s work, which the CLI provides).
pub type Pull<'a> = &'a dyn Fn(&str) -> std::result::Result<(), String>;

/// What `rbox build` was asked.
#[derive(Clone, Default)]
pub struct BuildOptions<'a> {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The Dockerfile's name, for messages.
    pub dockerfile_name: String,
    /// Tags for the result.
    pub tags: Vec<Reference>,
    /// `--build-arg K=V`.
    pub build_args: Vec<(String, String)>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--target STAGE`.
    pub target: Option<String>,
    /// `--label K=V`.
    pub labels: Vec<(String, String)>,
    /// `--network` for RUN: `default` (the default bridge, also without it), `none`, or
    /// `host` (which also lets `RUN --network=host` have the host's network).
    pub network: Option<String>,
    /// Show no RUN output.
    pub quiet: bool,
    /// `--secret id=ID,src=FILE|env=VAR`: what `RUN --mount=type=secret,id=ID` sees.
    pub secrets: Vec<(String, SecretSource)>,
    /// `--ssh ID=SOCKET`: the agents `RUN --mount=type=ssh,id=ID` may use.
    pub ssh: Vec<(String, PathBuf)>,
    /// `--allow security.insecure`: lets `RUN --security=insecure` run privileged.
    pub allow_insecure: bool,
    /// Called for a FROM image that is not in the store (and whose name is a reference),
    /// to pull it; without it, such a FROM fails.
    pub pull: Option<Pull<'a>>,
}

impl std::fmt::Debug for BuildOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("context", &self.context)
            .field("dockerfile_name", &self.dockerfile_name)
            .field("tags", &self.tags)
            .field("build_args", &self.build_args)
            .field("no_cache", &self.no_cache)
            .field("target", &self.target)
            .field("labels", &self.labels)
            .field("network", &self.network)
            .field("quiet", &self.quiet)
            .field(
                "secrets",
                &self.secrets.iter().map(|(i, _)| i).collect::<Vec<_>>(),
            )
            .field("ssh", &self.ssh)
            .field("allow_insecure", &self.allow_insecure)
            .field("pull", &self.pull.is_some())
            .finish_non_exhaustive()
    }
}

/// A named build context (`--build-context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory, for `COPY --from` and bind mounts.
    Dir(PathBuf),
    /// An image (`docker-image://REF`), for `FROM`, `COPY --from` and mounts.
    Image(String),
}

impl NamedContext {
    /// Parses `rbox build --build-context NAME=VALUE`.
    pub fn parse_flag(v: &str) -> std::result::Result<(String, NamedContext), String> {
        let (name, value) = v
            .split_once('=')
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| {
                format!("--build-context {v}: use NAME=DIR or NAME=docker-image://REF")
            })?;
        if let Some(r) = value.strip_prefix("docker-image://") {
            Reference::parse(r).map_err(|e| format!("--build-context {v}: {e}"))?;
            return Ok((name.to_ascii_lowercase(), NamedContext::Image(r.to_owned())));
        }
        if value.contains("://") || value.starts_with("git@") {
            return Err(format!(
                "--build-context {v}: only a directory or docker-image://REF is supported"
            ));
        }
        let dir = PathBuf::from(value);
        if !dir.is_dir() {
            return Err(format!("--build-context {v}: {value} is not a directory"));
        }
        Ok((name.to_ascii_lowercase(), NamedContext::Dir(dir)))
    }
}

/// Why a build failed: each names the Dockerfile and line when it concerns one.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile doesn't parse.
    #[error("{}", .0.join("\n"))]
    Parse(Vec<String>),
    /// A step failed.
    #[error("{file}:{line}: {message}")]
    Step {
        /// The Dockerfile.
        file: String,
        /// The line.
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// Anything else, with what it concerns.
    #[error("{0}")]
    Failed(String),
    /// From the image store.
    #[error(transparent)]
    Image(#[from] rbox_image::Error),
    /// From the runtime.
    #[error(transparent)]
    Runtime(#[from] rbox_runtime::Error),
    /// I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub(crate) type Result<T, E = BuildError> = std::result::Result<T, E>;

/// More of what `rbox build` may ask, besides [`BuildOptions`].
#[derive(Debug, Clone, Default)]
pub struct MoreOptions {
    /// `--build-context NAME=DIR|docker-image://REF`: what `FROM NAME`, `COPY --from=NAME`
    /// and `RUN --mount=from=NAME` name (a stage of that name comes first).
    pub contexts: Vec<(String, NamedContext)>,
    /// `--cache-from type=local,src=DIR`: layers of steps built elsewhere.
    pub cache_from: Vec<PathBuf>,
    /// `--cache-to type=local,dest=DIR`: where the layers of the build's steps are written.
    pub cache_to: Option<PathBuf>,
    /// `--pull`: every FROM image is pulled again, even one in the store.
    pub pull_always: bool,
    /// `--add-host HOST:IP` (or `HOST:host-gateway`): entries of every RUN's /etc/hosts.
    pub add_hosts: Vec<String>,
    /// `--platform OS/ARCH[/VARIANT]`: what the base images must be.
    pub platform: Option<String>,
    /// `--output`: where the result goes; none is an image in the store.
    pub outputs: Vec<Output>,
}

/// Where a build's output goes, besides the store.
#[derive(Default)]
pub struct Sinks<'a> {
    /// Told of every step as it happens (`--progress tty`); RUN's output then comes
    /// through it and the log, never straight to the terminal.
    pub watch: Option<&'a dyn crate::progress::Watch>,
    /// The writer of a `--output type=tar` without a file (standard output).
    pub tar: Option<&'a mut dyn Write>,
}

/// Parses `--cache-from type=local,src=DIR` (`dest=` for `--cache-to`): only local
/// directories are supported.
pub fn parse_cache_flag(flag: &str, v: &str, key: &str) -> std::result::Result<PathBuf, String> {
    let fields: Vec<(&str, &str)> = v
        .split(',')
        .map(|f| f.split_once('=').unwrap_or((f, "")))
        .collect();
    match fields.iter().find(|(k, _)| *k == "type").map(|(_, t)| *t) {
        Some("local") => {}
        Some(t) => {
            return Err(format!(
                "{flag} {v}: cache type {t:?} is not supported (type=local,{key}=DIR)"
            ))
        }
        None => return Err(format!("{flag} {v}: type=local,{key}=DIR")),
    }
    let mut dir = None;
    for (k, d) in fields {
        match (k, d) {
            ("type", _) => {}
            (k, d) if k == key && !d.is_empty() => dir = Some(PathBuf::from(d)),
            // BuildKit's export modes: every layer the build used is written either way.
            ("mode", "min" | "max") if flag == "--cache-to" => {}
            _ => {
                return Err(format!(
                    "{flag} {v}: unknown field {k:?} (type=local,{key}=DIR)"
                ))
            }
        }
    }
    dir.ok_or_else(|| format!("{flag} {v}: {key}=DIR is required"))
}

/// Builds the image; progress and RUN output go to `log`.
pub fn build(
    store: &Store,
    containers: &Containers,
    o: &BuildOptions<'_>,
    log: &mut dyn Write,
) -> Result<Image> {
    build_with(store, containers, o, &MoreOptions::default(), log)
}

/// [`build`], with `more`.
pub fn build_with(
    store: &Store,
    containers: &Containers,
    o: &BuildOptions<'_>,
    more: &MoreOptions,
    log: &mut dyn Write,
) -> Result<Image> {
    build_to(store, containers, o, more, Sinks::default(), log)?
        .ok_or_else(|| BuildError::Failed("the build's --output stores no image".into()))
}

/// [`build_with`], its output going to `sinks` too: the image when one of `more.outputs`
/// (or none given) stores one.
pub fn build_to(
    store: &Store,
    containers: &Containers,
    o: &BuildOptions<'_>,
    more: &MoreOptions,
    mut sinks: Sinks<'_>,
    log: &mut dyn Write,
) -> Result<Option<Image>> {
    let outputs = if more.outputs.is_empty() {
        vec![Output::Image { names: Vec::new() }]
    } else {
        more.outputs.clone()
    };
    let names: Option<Vec<Reference>> = outputs
        .iter()
        .filter_map(|out| match out {
            Output::Image { names } => Some(names.clone()),
            _ => None,
        })
        .reduce(|mut a, b| {
            a.extend(b);
            a
        });
    if names.is_none() && !o.tags.is_empty() {
        return Err(BuildError::Failed(
            "--tag: --output stores no image to tag (add --output type=image to store one too)"
                .into(),
        ));
    }
    if let Some(p) = &more.platform {
        let parts: Vec<&str> = p.split('/').collect();
        if parts.len() > 3 || parts.iter().any(|s| s.is_empty()) {
            return Err(BuildError::Failed(format!(
                "--platform {p:?}: use OS/ARCH[/VARIANT]"
            )));
        }
    }
    let extra_hosts = more
        .add_hosts
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(BuildError::Failed)?;
    // Held for the whole build: the layers it writes are referenced by no image until the
    // end, and garbage collection must not take them meanwhile.
    let _content = store.lock_content()?;
    run_network(None, o.network.as_deref()).map_err(BuildError::Failed)?;
    let df = parse(&o.dockerfile).map_err(|diags| {
        BuildError::Parse(
            diags
                .iter()
                .map(|d| format!("{}:{}: {}", o.dockerfile_name, d.line, d.message))
                .collect(),
        )
    })?;
    let build_args: HashMap<String, String> = o.build_args.iter().cloned().collect();
    let plan =
        Plan::new(&df, &build_args, o.target.as_deref()).map_err(|message| BuildError::Step {
            file: o.dockerfile_name.clone(),
            line: 1,
            message,
        })?;
    let steps = plan.steps(&df);
    let Plan {
        global,
        target,
        needed,
    } = plan;
    let ctx =
        Arc::new(Context::open(&o.context)?.with_stat_cache(&store.root().join("build-cache")));
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let opts = Opts {
        dockerfile_name: o.dockerfile_name.clone(),
        no_cache: o.no_cache,
        network: o.network.clone(),
        quiet: o.quiet,
        secrets: o.secrets.clone(),
        ssh: o.ssh.clone(),
        allow_insecure: o.allow_insecure,
        contexts: more.contexts.clone(),
        imported: cache::read_cache_dirs(&more.cache_from)?,
        extra_hosts: run::resolve_hosts(containers, &extra_hosts)?,
        platform: more.platform.clone(),
    };
    let order: Vec<&Stage> = df
        .stages
        .iter()
        .filter(|s| needed.contains(&s.index) && s.index <= target)
        .collect();
    // The images the stages are FROM, pulled first (the stages then run apart).
    for stage in &order {
        let Ok(base) = stage_base(&df, stage, &global) else {
            continue;
        };
        if base == "scratch" || base_stage(&df, stage, &base).is_some() {
            continue;
        }
        let base = match opts.named(&base) {
            Some(NamedContext::Image(r)) => r.clone(),
            Some(NamedContext::Dir(_)) => {
                return Err(BuildError::Step {
                    file: o.dockerfile_name.clone(),
                    line: stage.line,
                    message: format!(
                        "FROM {base}: a directory given as --build-context can't be a base"
                    ),
                })
            }
            None => base,
        };
        let missing = matches!(store.resolve(&base), Err(rbox_image::Error::NoSuchImage(_)));
        if let (true, Some(pull)) = (missing || more.pull_always, o.pull) {
            if Reference::parse(&base).is_ok() {
                pull(&base).map_err(|e| BuildError::Step {
                    file: o.dockerfile_name.clone(),
                    line: stage.line,
                    message: e,
                })?;
            }
        }
    }
    let shared = Shared {
        store,
        containers,
        o: &opts,
        df: &df,
        ctx,
        epoch,
        build_args,
        global,
        steps,
        multi: order.len() > 1,
        numbered: AtomicUsize::new(0),
        used: std::sync::Mutex::new(Vec::new()),
        watch: sinks.watch,
        // Standard output is the tar's, or the terminal the watch's.
        lend_terminal: sinks.watch.is_none() && sinks.tar.is_none(),
    };
    let outcome = shared.run_stages(&order, log);
    // What was learned of the context's files holds whether or not the build succeeded.
    shared.ctx.save_stats();
    let mut done = outcome?;
    if let Some(dir) = &more.cache_to {
        let used = shared.used.lock().unwrap_or_else(|e| e.into_inner());
        cache::write_cache_dir(store, dir, &used)
            .map_err(|e| BuildError::Failed(format!("--cache-to {}: {e}", dir.display())))?;
    }
    let now = shared.now();
    let mut state = done.remove(&target).expect("the target stage was built");
    for out in &outputs {
        output::export(store, &state.chain, out, sinks.tar.as_deref_mut())?;
    }
    let Some(names) = names else {
        return Ok(None);
    };
    if !o.labels.is_empty() {
        let labels = state.config.labels.get_mut_or_default();
        for (k, v) in &o.labels {
            labels.insert(k.clone(), v.clone());
        }
    }
    let config = ImageConfig {
        created: Some(now),
        architecture: state.arch,
        os: state.os,
        config: Some(state.config),
        rootfs: RootFs {
            diff_ids: state.diff_ids.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        },
        history: state.history,
        ..Default::default()
    };
    let config = same_image_as_before(store, config);
    let image = store.commit_image(&config, &state.layers)?;
    if o.tags.is_empty() && names.is_empty() {
        store.add_untagged(&image)?;
    }
    for t in o.tags.iter().chain(&names) {
        store.tag(&image, t)?;
    }
    Ok(Some(image))
}

/// What `rbox build` asked that the stages use (the options a stage's thread may share).
pub(crate) struct Opts {
    pub(super) dockerfile_name: String,
    pub(super) no_cache: bool,
    pub(super) network: Option<String>,
    pub(super) quiet: bool,
    pub(super) secrets: Vec<(String, SecretSource)>,
    pub(super) ssh: Vec<(String, PathBuf)>,
    pub(super) allow_insecure: bool,
    pub(super) contexts: Vec<(String, NamedContext)>,
    /// `--cache-from`'s layers by step key.
    pub(super) imported: HashMap<String, (PathBuf, cache::CacheEntry)>,
    /// `--add-host`'s entries, `NAME:IP`, host-gateway resolved.
    pub(super) extra_hosts: Vec<String>,
    /// `--platform`.
    pub(super) platform: Option<String>,
}

/// What every stage of a build shares.
struct Shared<'a> {
    store: &'a Store,
    containers: &'a Containers,
    o: &'a Opts,
    df: &'a Dockerfile,
    ctx: Arc<Context>,
    epoch: Option<u64>,
    build_args: HashMap<String, String>,
    global: BTreeMap<String, String>,
    steps: usize,
    /// More than one stage: each line of output is prefixed with its stage's.
    multi: bool,
    /// The steps announced so far, over all stages.
    numbered: AtomicUsize,
    /// The layers the build made or took from the cache, by step key.
    used: std::sync::Mutex<Vec<(String, cache::CacheEntry)>>,
    watch: Option<&'a dyn crate::progress::Watch>,
    /// A single stage's RUN may write to this process's standard output and error.
    lend_terminal: bool,
}

/// What a stage's thread tells the build.
enum Event {
    /// A line of output.
    Line(String),
    /// The stage ended.
    Done(usize, Box<Result<StageState>>),
}

/// A stage's output: whole lines, each prefixed with the stage's `#N`, sent to the build.
struct StageLog {
    tx: std::sync::mpsc::Sender<Event>,
    prefix: String,
    partial: Vec<u8>,
}

impl Write for StageLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(n) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=n).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            let _ = self.tx.send(Event::Line(format!("{}{text}", self.prefix)));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for StageLog {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            let _ = self.tx.send(Event::Line(format!("{}{text}", self.prefix)));
        }
    }
}

impl Shared<'_> {
    fn now(&self) -> String {
        stamp(self.epoch)
    }

    /// Runs the stages, each as soon as the stages it needs are built, as many at once as
    /// there are cores; returns every stage's state. The first failure stops the build
    /// once the stages running then have ended.
    fn run_stages(
        &self,
        order: &[&Stage],
        log: &mut dyn Write,
    ) -> Result<HashMap<usize, StageState>> {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let deps: HashMap<usize, Vec<usize>> = order
            .iter()
            .map(|s| (s.index, stage_deps(self.df, s, &self.global)))
            .collect();
        let mut done: HashMap<usize, StageState> = HashMap::new();
        if !self.multi {
            // One stage: its output goes straight to `log`, and RUN's to the terminal.
            for stage in order {
                let mut b = self.builder(log, HashMap::new(), stage, true);
                let st = b.run_stage(self.df, stage)?;
                done.insert(stage.index, st);
            }
            return Ok(done);
        }
        let mut pending: Vec<&Stage> = order.to_vec();
        let mut failed: Option<BuildError> = None;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<Event>();
            let mut running = 0;
            loop {
                while failed.is_none() && running < jobs {
                    let Some(pos) = pending
                        .iter()
                        .position(|s| deps[&s.index].iter().all(|d| done.contains_key(d)))
                    else {
                        break;
                    };
                    let stage = pending.remove(pos);
                    let given: HashMap<usize, StageState> = deps[&stage.index]
                        .iter()
                        .map(|d| (*d, done[d].clone()))
                        .collect();
                    let tx = tx.clone();
                    running += 1;
                    scope.spawn(move || {
                        let mut slog = StageLog {
                            tx: tx.clone(),
                            prefix: format!("#{} ", stage.index + 1),
                            partial: Vec::new(),
                        };
                        let result = {
                            let mut b = self.builder(&mut slog, given, stage, false);
                            b.run_stage(self.df, stage)
                        };
                        drop(slog);
                        let _ = tx.send(Event::Done(stage.index, Box::new(result)));
                    });
                }
                if running == 0 {
                    break;
                }
                match rx.recv() {
                    Ok(Event::Line(l)) => {
                        let _ = writeln!(log, "{l}");
                    }
                    Ok(Event::Done(i, r)) => {
                        running -= 1;
                        match *r {
                            Ok(st) => {
                                done.insert(i, st);
                            }
                            Err(e) => {
                                failed.get_or_insert(e);
                            }
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let _ = log.flush();
        match failed {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    fn builder<'b>(
        &'b self,
        log: &'b mut dyn Write,
        done: HashMap<usize, StageState>,
        stage: &Stage,
        attached: bool,
    ) -> Builder<'b> {
        Builder {
            store: self.store,
            containers: self.containers,
            o: self.o,
            log,
            ctx: self.ctx.clone(),
            epoch: self.epoch,
            build_args: self.build_args.clone(),
            global: self.global.clone(),
            done,
            step: 0,
            steps: self.steps,
            stage_steps: stage.instructions.len() + 1,
            stage_name: stage
                .name
                .clone()
                .unwrap_or_else(|| format!("stage-{}", stage.index)),
            multi: self.multi,
            numbered: &self.numbered,
            used: &self.used,
            attached: attached && self.lend_terminal,
            watch: self.watch,
            current: 0,
        }
    }
}

/// The time a build records: SOURCE_DATE_EPOCH's when set, else now.
fn stamp(epoch: Option<u64>) -> String {
    match epoch {
        Some(e) => chrono::DateTime::from_timestamp(e as i64, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(rbox_runtime::now),
        None => rbox_runtime::now(),
    }
}

pub(crate) struct Builder<'a> {
    pub(super) store: &'a Store,
    pub(super) containers: &'a Containers,
    pub(super) o: &'a Opts,
    pub(super) log: &'a mut dyn Write,
    pub(super) ctx: Arc<Context>,
    pub(super) epoch: Option<u64>,
    pub(super) build_args: HashMap<String, String>,
    pub(super) global: BTreeMap<String, String>,
    pub(super) done: HashMap<usize, StageState>,
    /// The steps of this stage announced so far.
    pub(super) step: usize,
    /// The build's steps, over all stages.
    pub(super) steps: usize,
    /// This stage's steps (its FROM included).
    pub(super) stage_steps: usize,
    pub(super) stage_name: String,
    /// Several stages: steps are shown as `[stage k/n]` and errors name the stage.
    pub(super) multi: bool,
    pub(super) numbered: &'a AtomicUsize,
    pub(super) used: &'a std::sync::Mutex<Vec<(String, cache::CacheEntry)>>,
    /// RUN's output goes to the terminal as it is (else through `log`, a line at a time).
    pub(super) attached: bool,
    pub(super) watch: Option<&'a dyn crate::progress::Watch>,
    /// The number of the step running (over the build).
    pub(super) current: usize,
}

impl Opts {
    /// The named context `name` (`--build-context`), if given.
    pub(super) fn named(&self, name: &str) -> Option<&NamedContext> {
        let name = name.to_ascii_lowercase();
        self.contexts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
    }
}

impl Builder<'_> {
    pub(super) fn now(&self) -> String {
        stamp(self.epoch)
    }

    pub(super) fn named(&self, name: &str) -> Option<&NamedContext> {
        self.o.named(name)
    }

    pub(super) fn fail(&self, line: usize, message: impl Into<String>) -> BuildError {
        let message = message.into();
        BuildError::Step {
            file: self.o.dockerfile_name.clone(),
            line,
            message: if self.multi {
                format!("[{}] {message}", self.stage_name)
            } else {
                message
            },
        }
    }

    fn announce(&mut self, text: &str) {
        self.step += 1;
        let n = self.numbered.fetch_add(1, Ordering::SeqCst) + 1;
        self.current = n;
        if let Some(w) = self.watch {
            let name = if self.multi {
                format!(
                    "[{} {}/{}] {text}",
                    self.stage_name, self.step, self.stage_steps
                )
            } else {
                format!("[{}/{}] {text}", self.step, self.stage_steps)
            };
            w.event(crate::progress::Event::Step { id: n, name: &name });
        }
        let _ = if self.multi {
            writeln!(
                self.log,
                "[{} {}/{}] STEP {n}/{}: {text}",
                self.stage_name, self.step, self.stage_steps, self.steps
            )
        } else {
            writeln!(self.log, "STEP {n}/{}: {text}", self.steps)
        };
    }

    fn run_stage(&mut self, df: &Dockerfile, stage: &Stage) -> Result<StageState> {
        let base = stage_base(df, stage, &self.global).map_err(|e| self.fail(stage.line, e))?;
        self.announce(&format!(
            "FROM {base}{}",
            stage
                .name
                .as_deref()
                .map(|n| format!(" AS {n}"))
                .unwrap_or_default()
        ));
        let mut st = self.base_state(df, stage, &base)?;
        let from_image = base != "scratch" && base_stage(df, stage, &base).is_none();
        if from_image {
            self.onbuild_triggers(df, stage, &mut st)?;
        }
        self.step_done();
        for ins in &stage.instructions {
            self.announce(ins.original.trim());
            let started = Instant::now();
            self.instruction(df, &mut st, ins)?;
            let _ = writeln!(self.log, "--> {:.2}s", started.elapsed().as_secs_f64());
            self.step_done();
        }
        Ok(st)
    }

    fn step_done(&self) {
        if let Some(w) = self.watch {
            w.event(crate::progress::Event::Done { id: self.current });
        }
    }

    /// A line the build says of the running step: `--> TEXT`.
    pub(super) fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "--> {text}");
        if let Some(w) = self.watch {
            let line = format!("{text}\n");
            w.event(crate::progress::Event::Output {
                id: self.current,
                text: line.as_bytes(),
            });
        }
    }

    /// The running step's layer comes from the cache (`how`: where from).
    pub(super) fn note_cached(&mut self, how: &str) {
        let _ = writeln!(self.log, "--> {how}");
        if let Some(w) = self.watch {
            w.event(crate::progress::Event::Cached { id: self.current });
        }
    }

    /// Output of the running step's process.
    pub(super) fn output(&mut self, bytes: &[u8]) {
        let _ = self.log.write_all(bytes);
        if let Some(w) = self.watch {
            w.event(crate::progress::Event::Output {
                id: self.current,
                text: bytes,
            });
        }
    }

    /// Runs the ONBUILD triggers of the stage's base image right after its FROM, each
    /// parsed as a line of the Dockerfile, and clears them from the new image's config, as
    /// Docker does. A failing trigger names the FROM line.
    fn onbuild_triggers(
        &mut self,
        df: &Dockerfile,
        stage: &Stage,
        st: &mut StageState,
    ) -> Result<()> {
        let Some(triggers) = st.config.on_build.take() else {
            return Ok(());
        };
        for t in triggers {
            let ins = parse(&format!("FROM scratch\n{t}\n"))
                .ok()
                .and_then(|d| d.stages.into_iter().next())
                .map(|s| s.instructions)
                .filter(|i| i.len() == 1)
                .and_then(|mut i| i.pop())
                .ok_or_else(|| {
                    self.fail(stage.line, format!("ONBUILD trigger {t:?} doesn't parse"))
                })?;
            if matches!(
                ins.inner,
                Instruction::Onbuild(_) | Instruction::Maintainer(_)
            ) {
                return Err(self.fail(
                    stage.line,
                    format!(
                        "ONBUILD trigger {t:?}: {} is not allowed as a trigger",
                        ins.inner.keyword()
                    ),
                ));
            }
            let ins = Located {
                line: stage.line,
                end_line: stage.line,
                original: t.clone(),
                inner: ins.inner,
            };
            self.note(&format!("Running ONBUILD trigger: {}", t.trim()));
            let started = Instant::now();
            self.instruction(df, st, &ins).map_err(|e| match e {
                BuildError::Step {
                    file,
                    line,
                    message,
                } => BuildError::Step {
                    file,
                    line,
                    message: format!("ONBUILD trigger: {message}"),
                },
                e => e,
            })?;
            let _ = writeln!(self.log, "--> {:.2}s", started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    pub(super) fn history(&self, st: &mut StageState, created_by: &str, empty: bool) {
        st.history.push(History {
            created: Some(self.now()),
            created_by: Some(created_by.to_owned()),
            comment: Some("rbox build".into()),
            empty_layer: empty.then_some(true),
            ..Default::default()
        });
    }

    /// Runs one instruction: its words expanded with the step's ARG and ENV values (ARG's a
    /// declaration at a time, as each sets a variable), then dispatched on its kind.
    fn instruction(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
    ) -> Result<()> {
        let line = ins.line;
        let text = ins.original.trim().to_owned();
        let escape = df.directives.escape;
        if let Instruction::Arg(decls) = &ins.inner {
            return self.arg(st, line, decls, escape);
        }
        let expanded = ins
            .inner
            .expand(escape, &|n| st.lookup(n))
            .map_err(|e| self.fail(line, e))?;
        match st.apply(&expanded) {
            Err(e) => return Err(self.fail(line, e)),
            Ok(Meta::Applied(key)) => {
                let size = serde_json::to_vec(&st.config).map_or(0, |v| v.len());
                if size > MAX_CONFIG_SIZE {
                    return Err(self.fail(
                        line,
                        format!("the image config would take {size} bytes, over the limit of {MAX_CONFIG_SIZE}"),
                    ));
                }
                if let Some(k) = key {
                    st.next_key(&k);
                }
                self.history(st, &text, true);
                return Ok(());
            }
            Ok(Meta::No) => {}
        }
        match &expanded {
            Instruction::Maintainer(_) => self.history(st, &text, true),
            Instruction::Run {
                command,
                network,
                heredocs,
                mounts,
                security,
            } => self.run(
                df,
                st,
                ins,
                run::RunStep {
                    command,
                    heredocs,
                    network: network.as_deref(),
                    mounts,
                    security: security.as_deref(),
                },
            )?,
            Instruction::Copy {
                sources,
                dest,
                from,
                chown,
                chmod,
                heredocs,
                ..
            } => {
                let step = CopyStep {
                    sources,
                    dest,
                    from: from.as_deref(),
                    chown: chown.as_deref(),
                    chmod: chmod.as_deref(),
                    checksum: None,
                    add: false,
                };
                if heredocs.is_empty() {
                    self.copy(df, st, ins, step)?
                } else {
                    self.copy_heredocs(df, st, ins, heredocs, step)?
                }
            }
            Instruction::Add {
                sources,
                dest,
                chown,
                chmod,
                checksum,
                ..
            } => {
                let step = CopyStep {
                    sources,
                    dest,
                    from: None,
                    chown: chown.as_deref(),
                    chmod: chmod.as_deref(),
                    checksum: checksum.as_deref(),
                    add: true,
                };
                self.copy(df, st, ins, step)?
            }
            // Metadata instructions were applied above, ARG before.
            _ => {}
        }
        Ok(())
    }

    /// `ARG`: each name set to its `--build-arg` value, else (for a bare `ARG NAME`) the
    /// global ARG's, else its default, expanded with the values set so far.
    fn arg(
        &mut self,
        st: &mut StageState,
        line: usize,
        decls: &[ArgDecl],
        escape: char,
    ) -> Result<()> {
        for d in decls {
            let given = self.build_args.get(&d.name).cloned().or_else(|| {
                self.global
                    .get(&d.name)
                    .cloned()
                    .filter(|_| d.default.is_none())
            });
            let v = match given {
                Some(v) => Some(v),
                None => {
                    d.expand(escape, &|n| st.lookup(n))
                        .map_err(|e| self.fail(line, e))?
                        .default
                }
            };
            if let Some(v) = v {
                st.set_arg(&d.name, v.clone())
                    .map_err(|e| self.fail(line, e))?;
                st.next_key(&StepKey::Arg {
                    name: d.name.clone(),
                    value: v,
                });
            }
        }
        Ok(())
    }

    /// Makes `upper` the next layer of `st`.
    pub(super) fn add_layer(
        &mut self,
        st: &mut StageState,
        upper: &Path,
        key: &Digest,
        created_by: &str,
        base: Option<&crate::layer::Base>,
    ) -> Result<()> {
        let (diff, chain) =
            crate::layer::commit_dir(self.store, upper, st.chain.last(), self.epoch, base)?;
        self.remember(key, &diff)?;
        st.layers.push((
            "application/vnd.oci.image.layer.v1.tar".into(),
            diff.digest.clone(),
            diff.size,
        ));
        st.diff_ids.push(diff.digest);
        st.chain.push(chain);
        self.history(st, created_by, false);
        Ok(())
    }
}
