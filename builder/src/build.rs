//! The build executor: a parsed Dockerfile and a context become a layered image.
//!
//! Each stage starts from its base (an image in the store, an earlier stage, or scratch);
//! metadata instructions change the config and add an `empty_layer` history entry; RUN runs
//! in a container over the stage's snapshots and its upper directory becomes the layer (and,
//! moved, the next snapshot: nothing is unpacked again); COPY and ADD write into a fresh upper
//! directory over the same overlay. A step whose cache key (parent key + expanded instruction
//! + the content and metadata of its sources) was built before is reused without running.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rbox_image::{Digest, Image, Reference, Store};
use rbox_runtime::container::{ContainerConfig, HostConfig, ProcessConfig};
use rbox_runtime::monitor::Started;
use rbox_runtime::{lifecycle, rootfs, Containers};
use serde_json::{json, Map, Value};

use crate::context::{copy_into, hash_sources, Context};
use crate::expand::expand;
use crate::fetch::{fetch, is_url, parse_checksum, url_file_name};
use crate::instructions::{parse, Dockerfile, Instruction, Located, ShellOrExec, Stage};

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
            .field("pull", &self.pull.is_some())
            .finish_non_exhaustive()
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

type Result<T, E = BuildError> = std::result::Result<T, E>;

/// The state of a stage as its instructions run.
#[derive(Clone, Default)]
pub(crate) struct StageState {
    layers: Vec<(String, Digest, u64)>,
    diff_ids: Vec<Digest>,
    chain: Vec<Digest>,
    pub(crate) config: Map<String, Value>,
    history: Vec<Value>,
    args: BTreeMap<String, String>,
    key: Option<Digest>,
    cmd_set_here: bool,
    arch: String,
    os: String,
}

impl StageState {
    /// A state holding only `config`, for applying metadata instructions to it.
    pub(crate) fn with_config(config: Map<String, Value>) -> StageState {
        StageState {
            config,
            ..Default::default()
        }
    }

    fn env(&self) -> Vec<String> {
        self.config
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn lookup(&self, name: &str) -> Option<String> {
        for e in self.env().iter().rev() {
            if let Some(v) = e.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_owned());
            }
        }
        self.args.get(name).cloned()
    }

    fn set_env(&mut self, key: &str, value: &str) -> Result<(), String> {
        let mut env = self.env();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(format!("{key}={value}"));
        check_variables_size(&env, &self.args)?;
        self.config.insert("Env".into(), json!(env));
        Ok(())
    }

    /// Sets build argument `key` for the rest of the stage.
    fn set_arg(&mut self, key: &str, value: String) -> Result<(), String> {
        let mut args = std::mem::take(&mut self.args);
        args.insert(key.to_owned(), value);
        let checked = check_variables_size(&self.env(), &args);
        if checked.is_ok() {
            self.args = args;
        }
        checked
    }

    /// Docker's word expansion of `word` with this stage's ENV and ARG values.
    fn x(&self, escape: char, word: &str) -> Result<String, String> {
        expand(word, escape, &|n| self.lookup(n))
    }

    /// A command as the config keeps it: the exec form as it is, the shell form run by the
    /// stage's SHELL (`/bin/sh -c` by default).
    fn shell_words(&self, c: &ShellOrExec) -> Vec<String> {
        match c {
            ShellOrExec::Exec(v) => v.clone(),
            ShellOrExec::Shell(s) => {
                let mut shell: Vec<String> = self
                    .config
                    .get("Shell")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                shell.push(s.clone());
                shell
            }
        }
    }

    fn object(&self, key: &str) -> Map<String, Value> {
        self.config
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Applies a metadata instruction (one that changes only the config) with `escape` as
    /// the escape character of its words; [`Meta::No`] for the others (RUN, COPY, ADD, ARG,
    /// MAINTAINER).
    pub(crate) fn apply_metadata(
        &mut self,
        ins: &Instruction,
        escape: char,
    ) -> Result<Meta, String> {
        let key = match ins {
            Instruction::Env(pairs) => {
                for (k, v) in pairs {
                    let v = self.x(escape, v)?;
                    self.set_env(k, &v)?;
                }
                Some(format!("ENV {:?}", self.env()))
            }
            Instruction::Label(pairs) => {
                let mut labels = self.object("Labels");
                for (k, v) in pairs {
                    labels.insert(self.x(escape, k)?, json!(self.x(escape, v)?));
                }
                self.config.insert("Labels".into(), Value::Object(labels));
                None
            }
            Instruction::Workdir(w) => {
                let w = self.x(escape, w)?;
                let cur = self
                    .config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("/")
                    .to_owned();
                let full = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", cur.trim_end_matches('/'))
                };
                self.config.insert("WorkingDir".into(), json!(full));
                Some(format!("WORKDIR {full}"))
            }
            Instruction::User(u) => {
                let u = self.x(escape, u)?;
                self.config.insert("User".into(), json!(u));
                Some(format!("USER {u}"))
            }
            Instruction::Cmd(c) => {
                self.config.insert("Cmd".into(), json!(self.shell_words(c)));
                self.cmd_set_here = true;
                None
            }
            Instruction::Entrypoint(c) => {
                self.config
                    .insert("Entrypoint".into(), json!(self.shell_words(c)));
                // As Docker: an ENTRYPOINT drops a CMD inherited from the base image.
                if !self.cmd_set_here {
                    self.config.remove("Cmd");
                }
                None
            }
            Instruction::Expose(ports) => {
                let mut exposed = self.object("ExposedPorts");
                for p in ports {
                    let p = self.x(escape, p)?;
                    let p = if p.contains('/') {
                        p
                    } else {
                        format!("{p}/tcp")
                    };
                    exposed.insert(p, json!({}));
                }
                self.config
                    .insert("ExposedPorts".into(), Value::Object(exposed));
                None
            }
            Instruction::Volume(vols) => {
                let mut v = self.object("Volumes");
                for p in vols {
                    v.insert(self.x(escape, p)?, json!({}));
                }
                self.config.insert("Volumes".into(), Value::Object(v));
                Some(format!("VOLUME {vols:?}"))
            }
            Instruction::StopSignal(s) => {
                let s = self.x(escape, s)?;
                self.config.insert("StopSignal".into(), json!(s));
                None
            }
            Instruction::Shell(s) => {
                self.config.insert("Shell".into(), json!(s));
                Some(format!("SHELL {s:?}"))
            }
            Instruction::Healthcheck(h) => {
                let v = match h {
                    None => json!({"Test": ["NONE"]}),
                    Some(h) => {
                        let mut v = json!({"Test": h.test});
                        for (k, d) in [
                            ("Interval", &h.interval),
                            ("Timeout", &h.timeout),
                            ("StartPeriod", &h.start_period),
                            ("StartInterval", &h.start_interval),
                        ] {
                            if let Some(d) = d {
                                v[k] =
                                    json!(duration_ns(d)
                                        .ok_or_else(|| format!("bad duration {d:?}"))?);
                            }
                        }
                        if let Some(r) = h.retries {
                            v["Retries"] = json!(r);
                        }
                        v
                    }
                };
                self.config.insert("Healthcheck".into(), v);
                None
            }
            Instruction::Onbuild(t) => {
                let mut ob: Vec<Value> = self
                    .config
                    .get("OnBuild")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                ob.push(json!(t));
                self.config.insert("OnBuild".into(), json!(ob));
                None
            }
            _ => return Ok(Meta::No),
        };
        Ok(Meta::Applied(key))
    }

    fn next_key(&mut self, part: &str) -> Digest {
        let prev = self.key.as_ref().map(|k| k.to_string()).unwrap_or_default();
        let k = Digest::of(format!("{prev}\n{part}").as_bytes());
        self.key = Some(k.clone());
        k
    }
}

/// The network a RUN step runs on (a runtime network mode), from its `--network` flag and
/// `rbox build --network`: `default` (the default bridge, as docker build: a namespace of
/// its own that reaches out through NAT but not the host's loopback), `none` (loopback
/// only), or `host`. As BuildKit's `network.host` entitlement, the host's network is given
/// only when `rbox build --network host` asks for it: a Dockerfile (or a base image's
/// ONBUILD trigger) can't choose it on its own.
pub fn run_network(step: Option<&str>, build: Option<&str>) -> Result<&'static str, String> {
    let mode = |v: &str, what: &str| match v {
        "default" | "bridge" => Ok("bridge"),
        "none" => Ok("none"),
        "host" => Ok("host"),
        other => Err(format!("{what} {other:?}: use default, none or host")),
    };
    let build = build.map(|b| mode(b, "--network")).transpose()?;
    let step = step.map(|s| mode(s, "RUN --network")).transpose()?;
    match (step, build) {
        (Some("host"), Some("host")) => Ok("host"),
        (Some("host"), _) => Err(
            "RUN --network=host needs the host's network granted: rbox build --network host".into(),
        ),
        // The build's choice is the default of its steps: `default` there means it.
        (Some("bridge"), Some(b)) => Ok(b),
        (Some(s), _) => Ok(s),
        (None, Some(b)) => Ok(b),
        (None, None) => Ok("bridge"),
    }
}

/// The most bytes a stage's ENV and ARG values may hold together (4 MiB): far more than
/// a process can be given (Linux takes 128 KiB per variable), and a bound on what a
/// Dockerfile doubling a variable line after line can make the builder hold.
pub const MAX_VARIABLES_SIZE: usize = 4 << 20;

/// The most bytes a stage's image config may take (4 MiB): labels and the like, line after
/// line, are bounded too (the store reads no document over 8 MiB).
pub const MAX_CONFIG_SIZE: usize = 4 << 20;

/// Refuses ENV and ARG values over [`MAX_VARIABLES_SIZE`] in all.
fn check_variables_size(env: &[String], args: &BTreeMap<String, String>) -> Result<(), String> {
    let total: usize = env.iter().map(String::len).sum::<usize>()
        + args
            .iter()
            .map(|(k, v)| k.len() + v.len() + 1)
            .sum::<usize>();
    if total > MAX_VARIABLES_SIZE {
        return Err(format!(
            "the stage's ENV and ARG values would take {total} bytes, over the limit of {MAX_VARIABLES_SIZE}"
        ));
    }
    Ok(())
}

/// What [`StageState::apply_metadata`] did.
pub(crate) enum Meta {
    /// Not a metadata instruction.
    No,
    /// Applied; what it adds to the cache key, if anything.
    Applied(Option<String>),
}

/// A cached step: the layer it made.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    digest: String,
    size: u64,
    media_type: String,
}

/// Builds the image; progress and RUN output go to `log`.
pub fn build(
    store: &Store,
    containers: &Containers,
    o: &BuildOptions<'_>,
    log: &mut dyn Write,
) -> Result<Image> {
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
    let mut global: BTreeMap<String, String> = BTreeMap::new();
    for a in &df.global_args {
        let v = build_args
            .get(&a.inner.name)
            .cloned()
            .or_else(|| a.inner.default.clone());
        if let Some(v) = v {
            global.insert(a.inner.name.clone(), v);
        }
    }
    let target = match &o.target {
        Some(t) => df.stage_index(t).ok_or_else(|| BuildError::Step {
            file: o.dockerfile_name.clone(),
            line: 1,
            message: format!("--target {t}: no such stage"),
        })?,
        None => df
            .stages
            .len()
            .checked_sub(1)
            .ok_or_else(|| BuildError::Step {
                file: o.dockerfile_name.clone(),
                line: 1,
                message: "no FROM instruction".into(),
            })?,
    };
    let needed = needed_stages(&df, target, &global);
    let ctx = Context::open(&o.context)?.with_stat_cache(&store.root().join("build-cache"));
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let mut b = Builder {
        store,
        containers,
        o,
        log,
        ctx,
        epoch,
        build_args,
        global,
        done: HashMap::new(),
        step: 0,
        steps: df
            .stages
            .iter()
            .filter(|s| needed.contains(&s.index))
            .map(|s| s.instructions.len() + 1)
            .sum(),
    };
    let mut outcome = Ok(());
    for stage in &df.stages {
        if !needed.contains(&stage.index) {
            continue;
        }
        match b.run_stage(&df, stage) {
            Ok(state) => {
                b.done.insert(stage.index, state);
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
        if stage.index == target {
            break;
        }
    }
    // What was learned of the context's files holds whether or not the build succeeded.
    b.ctx.save_stats();
    outcome?;
    let mut state = b.done.remove(&target).expect("the target stage was built");
    let mut labels = state
        .config
        .get("Labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &o.labels {
        labels.insert(k.clone(), json!(v));
    }
    if !labels.is_empty() {
        state.config.insert("Labels".into(), Value::Object(labels));
    }
    let created = b.now();
    let config = json!({
        "created": created,
        "architecture": state.arch,
        "os": state.os,
        "config": state.config,
        "rootfs": {"type": "layers", "diff_ids": state.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "history": state.history,
    });
    let config = same_image_as_before(store, config);
    let image = store.commit_image(&config, &state.layers)?;
    if o.tags.is_empty() {
        store.add_untagged(&image)?;
    }
    for t in &o.tags {
        store.tag(&image, t)?;
    }
    Ok(image)
}

/// A build whose every layer and setting is what an earlier build made is that image, as
/// Docker's: the earlier config (with its times) is used again, so the image id is the same
/// and nothing is left dangling. Builds are known by their config without its times, under
/// `build-cache/image-<digest>`.
fn same_image_as_before(store: &Store, config: Value) -> Value {
    let timeless = |c: &Value| {
        let mut c = c.clone();
        if let Some(o) = c.as_object_mut() {
            o.remove("created");
        }
        for h in c["history"].as_array_mut().into_iter().flatten() {
            if let Some(o) = h.as_object_mut() {
                o.remove("created");
            }
        }
        Digest::of(&serde_json::to_vec(&c).expect("a config serializes"))
    };
    let key = timeless(&config);
    let record = store
        .root()
        .join("build-cache")
        .join(format!("image-{}", key.hex()));
    let earlier = fs::read_to_string(&record)
        .ok()
        .and_then(|d| d.trim().parse::<Digest>().ok())
        .and_then(|d| store.open_blob(&d).ok())
        .and_then(|f| serde_json::from_reader::<_, Value>(std::io::BufReader::new(f)).ok())
        .filter(|old| timeless(old) == key);
    if let Some(old) = earlier {
        return old;
    }
    let digest = Digest::of(&serde_json::to_vec(&config).expect("a config serializes"));
    let _ = fs::create_dir_all(record.parent().expect("in build-cache"))
        .and_then(|_| fs::write(&record, digest.to_string()));
    config
}

/// The stages the target needs: itself, the stages it builds FROM, and those it copies from.
fn needed_stages(
    df: &Dockerfile,
    target: usize,
    global: &BTreeMap<String, String>,
) -> HashSet<usize> {
    let mut needed = HashSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &df.stages[i];
        let base = expand(&stage.base, '\\', &|n| global.get(n).cloned()).unwrap_or_default();
        if let Some(j) = df.stage_index(&base).filter(|j| *j < i) {
            todo.push(j);
        }
        for ins in &stage.instructions {
            if let Instruction::Copy { from: Some(f), .. } = &ins.inner {
                if let Some(j) = df.stage_index(f).filter(|j| *j < i) {
                    todo.push(j);
                }
            }
        }
    }
    needed
}

struct Builder<'a> {
    store: &'a Store,
    containers: &'a Containers,
    o: &'a BuildOptions<'a>,
    log: &'a mut dyn Write,
    ctx: Context,
    epoch: Option<u64>,
    build_args: HashMap<String, String>,
    global: BTreeMap<String, String>,
    done: HashMap<usize, StageState>,
    step: usize,
    steps: usize,
}

impl Builder<'_> {
    fn now(&self) -> String {
        match self.epoch {
            Some(e) => chrono::DateTime::from_timestamp(e as i64, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(rbox_runtime::now),
            None => rbox_runtime::now(),
        }
    }

    fn fail(&self, line: usize, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            file: self.o.dockerfile_name.clone(),
            line,
            message: message.into(),
        }
    }

    fn announce(&mut self, text: &str) {
        self.step += 1;
        let _ = writeln!(self.log, "STEP {}/{}: {}", self.step, self.steps, text);
    }

    fn run_stage(&mut self, df: &Dockerfile, stage: &Stage) -> Result<StageState> {
        let base = expand(&stage.base, df.directives.escape, &|n| {
            self.global.get(n).cloned()
        })
        .map_err(|e| self.fail(stage.line, e))?;
        self.announce(&format!(
            "FROM {base}{}",
            stage
                .name
                .as_deref()
                .map(|n| format!(" AS {n}"))
                .unwrap_or_default()
        ));
        let mut st = self.base_state(df, stage, &base)?;
        let from_image =
            base != "scratch" && df.stage_index(&base).filter(|i| *i < stage.index).is_none();
        if from_image {
            self.onbuild_triggers(df, stage, &mut st)?;
        }
        for ins in &stage.instructions {
            self.announce(ins.original.trim());
            let started = Instant::now();
            self.instruction(df, &mut st, ins)?;
            let _ = writeln!(self.log, "--> {:.2}s", started.elapsed().as_secs_f64());
        }
        Ok(st)
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
        let Some(triggers) = st.config.remove("OnBuild") else {
            return Ok(());
        };
        let triggers: Vec<String> = triggers
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
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
            let _ = writeln!(self.log, "--> Running ONBUILD trigger: {}", t.trim());
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

    fn base_state(&mut self, df: &Dockerfile, stage: &Stage, base: &str) -> Result<StageState> {
        let arch = rbox_image::import::oci_arch().to_owned();
        if base == "scratch" {
            return Ok(StageState {
                arch,
                os: "linux".into(),
                key: Some(Digest::of(b"scratch")),
                ..Default::default()
            });
        }
        if let Some(i) = df.stage_index(base).filter(|i| *i < stage.index) {
            let mut s = self
                .done
                .get(&i)
                .cloned()
                .ok_or_else(|| self.fail(stage.line, format!("stage {base} was not built")))?;
            s.args.clear();
            s.cmd_set_here = false;
            return Ok(s);
        }
        let image = match (self.store.resolve(base), self.o.pull) {
            (Err(rbox_image::Error::NoSuchImage(_)), Some(pull))
                if Reference::parse(base).is_ok() =>
            {
                pull(base).map_err(|e| self.fail(stage.line, e))?;
                self.store.resolve(base)
            }
            (r, _) => r,
        }
        .map_err(|e| self.fail(stage.line, e.to_string()))?;
        let chain = self.store.ensure_snapshots(&image)?;
        let raw: Value = serde_json::from_slice(&self.store.read_document(image.id(), "config")?)
            .map_err(|e| self.fail(stage.line, format!("image config: {e}")))?;
        let layers = image
            .manifest
            .layers()
            .iter()
            .map(|l| {
                Ok((
                    l.media_type().to_string(),
                    Digest::try_from(l.digest())?,
                    l.size(),
                ))
            })
            .collect::<rbox_image::Result<Vec<_>>>()?;
        Ok(StageState {
            layers,
            diff_ids: image.diff_ids()?,
            chain,
            config: raw
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            history: raw
                .get("history")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            args: BTreeMap::new(),
            key: Some(Digest::of(image.id().to_string().as_bytes())),
            cmd_set_here: false,
            arch: raw
                .get("architecture")
                .and_then(Value::as_str)
                .unwrap_or(&arch)
                .to_owned(),
            os: raw
                .get("os")
                .and_then(Value::as_str)
                .unwrap_or("linux")
                .to_owned(),
        })
    }

    fn x(&self, df: &Dockerfile, st: &StageState, line: usize, word: &str) -> Result<String> {
        expand(word, df.directives.escape, &|n| st.lookup(n)).map_err(|e| self.fail(line, e))
    }

    fn history(&self, st: &mut StageState, created_by: &str, empty: bool) {
        let mut h =
            json!({"created": self.now(), "created_by": created_by, "comment": "rbox build"});
        if empty {
            h["empty_layer"] = json!(true);
        }
        st.history.push(h);
    }

    fn instruction(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
    ) -> Result<()> {
        let line = ins.line;
        let text = ins.original.trim().to_owned();
        match st.apply_metadata(&ins.inner, df.directives.escape) {
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
        match &ins.inner {
            Instruction::Arg(decls) => {
                for d in decls {
                    let given = self.build_args.get(&d.name).cloned().or_else(|| {
                        self.global
                            .get(&d.name)
                            .cloned()
                            .filter(|_| d.default.is_none())
                    });
                    let v = match (given, &d.default) {
                        (Some(v), _) => Some(v),
                        (None, Some(default)) => Some(self.x(df, st, line, default)?),
                        (None, None) => None,
                    };
                    if let Some(v) = v {
                        st.set_arg(&d.name, v.clone())
                            .map_err(|e| self.fail(line, e))?;
                        st.next_key(&format!("ARG {}={v}", d.name));
                    }
                }
            }
            Instruction::Maintainer(m) => {
                self.history(st, &text, true);
                let _ = m;
            }
            Instruction::Run {
                command,
                network,
                heredocs,
                ..
            } => self.run(df, st, ins, command, heredocs, network.as_deref())?,
            Instruction::Copy {
                sources,
                dest,
                from,
                chown,
                chmod,
                heredocs,
                ..
            } => {
                if heredocs.is_empty() {
                    self.copy(
                        df,
                        st,
                        ins,
                        sources,
                        dest,
                        from.as_deref(),
                        chown.as_deref(),
                        chmod.as_deref(),
                        false,
                        None,
                    )?
                } else {
                    self.copy_heredocs(
                        df,
                        st,
                        ins,
                        heredocs,
                        dest,
                        chown.as_deref(),
                        chmod.as_deref(),
                    )?
                }
            }
            Instruction::Add {
                sources,
                dest,
                chown,
                chmod,
                checksum,
                ..
            } => self.copy(
                df,
                st,
                ins,
                sources,
                dest,
                None,
                chown.as_deref(),
                chmod.as_deref(),
                true,
                checksum.as_deref(),
            )?,
            // Metadata instructions were applied above.
            _ => {}
        }
        Ok(())
    }

    fn cache_path(&self, key: &Digest) -> PathBuf {
        self.store.root().join("build-cache").join(key.hex())
    }

    /// A cached layer for `key`, if its blob is still in the store.
    fn cached(&mut self, key: &Digest, st: &mut StageState) -> Result<bool> {
        if self.o.no_cache {
            return Ok(false);
        }
        let Ok(bytes) = fs::read(self.cache_path(key)) else {
            return Ok(false);
        };
        let Ok(e) = serde_json::from_slice::<CacheEntry>(&bytes) else {
            return Ok(false);
        };
        let Ok(d) = e.digest.parse::<Digest>() else {
            return Ok(false);
        };
        if !self.store.has_blob(&d) {
            return Ok(false);
        }
        let parent = st.chain.last().cloned();
        let chain = match &parent {
            Some(p) => p.chain(&d),
            None => d.clone(),
        };
        if self.store.snapshot_info(&chain)?.is_none() {
            let blob = self.store.open_blob(&d)?;
            self.store
                .unpack_layer(blob, parent.as_ref(), Some(&d), &d.to_string())?;
        }
        st.layers.push((e.media_type, d.clone(), e.size));
        st.diff_ids.push(d);
        st.chain.push(chain);
        let _ = writeln!(self.log, "--> Using cache {}", &key.hex()[..12]);
        Ok(true)
    }

    fn remember(&self, key: &Digest, diff: &rbox_image::diff::Diff) -> Result<()> {
        let dir = self.store.root().join("build-cache");
        fs::create_dir_all(&dir)?;
        let e = CacheEntry {
            digest: diff.digest.to_string(),
            size: diff.size,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        };
        rbox_image::store::replace_file(
            &self.cache_path(key),
            &serde_json::to_vec(&e).expect("json"),
        )?;
        Ok(())
    }

    /// Makes `upper` the next layer of `st`.
    fn add_layer(
        &mut self,
        st: &mut StageState,
        upper: &Path,
        key: &Digest,
        created_by: &str,
    ) -> Result<()> {
        let (diff, chain) =
            crate::layer::commit_dir(self.store, upper, st.chain.last(), self.epoch)?;
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

    fn run(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        command: &ShellOrExec,
        heredocs: &[crate::Heredoc],
        network: Option<&str>,
    ) -> Result<()> {
        let words = match (command, heredocs) {
            (ShellOrExec::Shell(text), [h, ..]) => {
                // `RUN <<EOF` alone runs the heredoc as a script; `RUN cmd <<EOF` gives the
                // shell the command followed by the document, as BuildKit does.
                let lone = text
                    .trim()
                    .trim_start_matches("<<")
                    .trim_start_matches('-')
                    .trim_matches(|c| c == '"' || c == '\'')
                    == h.name;
                let script = if lone && heredocs.len() == 1 {
                    h.body()
                } else {
                    let mut s = text.clone();
                    for h in heredocs {
                        s.push('\n');
                        s.push_str(&h.body());
                        if !s.ends_with('\n') {
                            s.push('\n');
                        }
                        s.push_str(&h.name);
                    }
                    s
                };
                st.shell_words(&ShellOrExec::Shell(script))
            }
            _ => st.shell_words(command),
        };
        let mut env = st.env();
        for (k, v) in &st.args {
            if !env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                env.push(format!("{k}={v}"));
            }
        }
        let key = st.next_key(&format!("RUN {words:?} {env:?}"));
        let created_by = ins.original.trim().to_owned();
        if self.cached(&key, st)? {
            self.history(st, &created_by, false);
            return Ok(());
        }
        if st.chain.is_empty() {
            return Err(self.fail(
                ins.line,
                "RUN needs a base image with a shell: this stage is FROM scratch",
            ));
        }
        let _ = df;
        let mode =
            run_network(network, self.o.network.as_deref()).map_err(|e| self.fail(ins.line, e))?;
        let id = rbox_runtime::create::random_hex(32);
        let config = ContainerConfig {
            id: id.clone(),
            name: format!("rbox-build-{}", &id[..12]),
            created: rbox_runtime::now(),
            image: "build".into(),
            image_id: String::new(),
            manifest: String::new(),
            layers: st.chain.iter().map(|c| c.to_string()).collect(),
            config: ProcessConfig {
                hostname: id[..12].to_owned(),
                user: st
                    .config
                    .get("User")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                env,
                cmd: words,
                entrypoint: vec![],
                working_dir: st
                    .config
                    .get("WorkingDir")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                ..Default::default()
            },
            host: HostConfig {
                network_mode: mode.to_owned(),
                networks: Vec::new(),
                ..Default::default()
            },
        };
        let mut config = config;
        // On the default bridge, as docker build: an address taken now, given back when the
        // step's container is removed.
        config.host.networks = rbox_runtime::net::join(self.containers, &id, mode, None, &[])?;
        if let Err(e) = self.containers.create(&config) {
            let nets = rbox_runtime::net::networks(self.containers);
            for ep in &config.host.networks {
                ep.leave(&nets, &id);
            }
            return Err(e.into());
        }
        let _ = self.log.flush();
        let result = (|| -> Result<i32> {
            let mut spawned = lifecycle::start(self.containers, &id, !self.o.quiet)?;
            match spawned.wait_started() {
                Started::Failed(code, msg) => {
                    let _ = spawned.child.wait();
                    Err(self.fail(
                        ins.line,
                        format!("{}: {msg} (exit {code})", ins.original.trim()),
                    ))
                }
                Started::Running(_) => {
                    let status = spawned.child.wait()?;
                    Ok(status.code().unwrap_or(125))
                }
            }
        })();
        let upper = self.store.tmp_path("build-upper");
        let moved = match &result {
            Ok(0) => fs::rename(self.containers.dir(&id).join("upper"), &upper).is_ok(),
            _ => false,
        };
        let _ = lifecycle::remove(self.containers, &id, true, true);
        match result {
            Ok(0) if moved => {
                drop_mount_points(&upper, &st.chain, self.store);
                self.add_layer(st, &upper, &key, &created_by)
            }
            Ok(0) => Err(self.fail(ins.line, "the container's changes could not be kept")),
            Ok(code) => Err(self.fail(
                ins.line,
                format!("{}: exited with {code}", ins.original.trim()),
            )),
            Err(e) => Err(e),
        }
    }

    /// `COPY <<EOF /path`: each document becomes a file (named by the delimiter when the
    /// destination is a directory).
    #[allow(clippy::too_many_arguments)]
    fn copy_heredocs(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        heredocs: &[crate::Heredoc],
        dest: &str,
        chown: Option<&str>,
        chmod: Option<&str>,
    ) -> Result<()> {
        let dir = self.store.tmp_path("heredocs");
        fs::create_dir_all(&dir)?;
        let mut names = Vec::new();
        for h in heredocs {
            let body = if h.expand {
                crate::expand::expand_heredoc(&h.body(), &|n| st.lookup(n))
                    .map_err(|e| self.fail(ins.line, e))?
            } else {
                h.body()
            };
            fs::write(dir.join(&h.name), body)?;
            names.push(h.name.clone());
        }
        let saved = std::mem::replace(&mut self.ctx, Context::open(&dir)?);
        let result = self.copy(df, st, ins, &names, dest, None, chown, chmod, false, None);
        self.ctx = saved;
        let _ = fs::remove_dir_all(&dir);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn copy(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        sources: &[String],
        dest: &str,
        from: Option<&str>,
        chown: Option<&str>,
        chmod: Option<&str>,
        add: bool,
        checksum: Option<&str>,
    ) -> Result<()> {
        let line = ins.line;
        let sources: Vec<String> = sources
            .iter()
            .map(|s| self.x(df, st, line, s))
            .collect::<Result<_>>()?;
        let dest = self.x(df, st, line, dest)?;
        let workdir = st
            .config
            .get("WorkingDir")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_owned();
        let dest = if dest.starts_with('/') {
            dest
        } else {
            format!("{}/{dest}", workdir.trim_end_matches('/'))
        };
        if sources.len() > 1 && !dest.ends_with('/') {
            return Err(self.fail(
                line,
                "when copying several sources the destination must be a directory ending with /",
            ));
        }
        let mode = chmod
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .map_err(|_| self.fail(line, format!("--chmod {m}: not an octal mode")))
            })
            .transpose()?;
        // ADD's http(s) sources are fetched; the others come from the context (or --from).
        let (urls, local): (Vec<String>, Vec<String>) = if add && from.is_none() {
            sources.iter().cloned().partition(|s| is_url(s))
        } else {
            (Vec::new(), sources.clone())
        };
        let expected = checksum
            .map(|c| self.x(df, st, line, c))
            .transpose()?
            .map(|c| parse_checksum(&c))
            .transpose()
            .map_err(|e| self.fail(line, e))?;
        if expected.is_some() && (urls.len() != 1 || !local.is_empty()) {
            return Err(self.fail(
                line,
                "ADD --checksum needs exactly one source, an http(s) URL",
            ));
        }
        let downloads = Downloads::new(self.store, &urls, &dest).map_err(|e| self.fail(line, e))?;
        // The cache key of a URL: the checksum when given (nothing is fetched on a hit),
        // else its content's digest, so it is fetched each time.
        let mut url_keys = Vec::new();
        for (url, path) in urls.iter().zip(&downloads.files) {
            match &expected {
                Some(d) => url_keys.push(format!("{url} {d}")),
                None => {
                    let _ = writeln!(self.log, "--> Fetching {url}");
                    let f = fetch(url, path, None).map_err(|e| self.fail(line, e))?;
                    url_keys.push(format!("{url} {}", f.digest));
                }
            }
        }
        // Where the sources come from: the context, an earlier stage, or an image.
        let from_state =
            match from {
                None => None,
                Some(f) => Some(match df.stage_index(f) {
                    Some(i) => self.done.get(&i).cloned().ok_or_else(|| {
                        self.fail(line, format!("--from={f}: stage not built yet"))
                    })?,
                    None => {
                        let image = self.store.resolve(f).map_err(|_| {
                            self.fail(line, format!("--from={f}: no such stage or image"))
                        })?;
                        StageState {
                            chain: self.store.ensure_snapshots(&image)?,
                            ..Default::default()
                        }
                    }
                }),
            };
        let src_mount = match &from_state {
            Some(s) => Some(RootView::mount(self.store, &s.chain, None)?),
            None => None,
        };
        let src_root = match &src_mount {
            Some(m) => m.root.clone(),
            None => self.ctx.root().to_path_buf(),
        };
        let in_context = src_mount.is_none();
        let hash = hash_sources(&src_root, &local, in_context.then_some(&self.ctx))
            .map_err(|e| self.fail(line, e))?;
        let mut key_text = format!(
            "{} {sources:?} {dest} {chown:?} {chmod:?} {hash}",
            if add { "ADD" } else { "COPY" }
        );
        if !url_keys.is_empty() {
            key_text.push_str(&format!(" {url_keys:?}"));
        }
        let key = st.next_key(&key_text);
        let created_by = ins.original.trim().to_owned();
        if self.cached(&key, st)? {
            self.history(st, &created_by, false);
            return Ok(());
        }
        if let Some(d) = &expected {
            for (url, path) in urls.iter().zip(&downloads.files) {
                let _ = writeln!(self.log, "--> Fetching {url}");
                fetch(url, path, Some(d)).map_err(|e| self.fail(line, e))?;
            }
        }
        let view = RootView::mount(
            self.store,
            &st.chain,
            Some(self.store.tmp_path("build-upper")),
        )?;
        let (uid, gid) = match chown {
            None => (0, 0),
            Some(c) => {
                let passwd = rootfs::read_in_root(&view.root, "/etc/passwd")?.unwrap_or_default();
                let group = rootfs::read_in_root(&view.root, "/etc/group")?.unwrap_or_default();
                let u = rbox_runtime::user::resolve(c, &passwd, &group)
                    .map_err(|e| self.fail(line, e.to_string()))?;
                (u.uid, u.gid)
            }
        };
        let mut copied = if local.is_empty() {
            Ok(())
        } else {
            copy_into(
                &src_root,
                &local,
                in_context.then_some(&self.ctx),
                &view.root,
                &dest,
                (uid, gid),
                mode,
                add,
            )
        };
        // A fetched file is copied as it is (never extracted), under its URL's name when
        // the destination is a directory.
        for path in &downloads.files {
            if copied.is_err() {
                break;
            }
            let (dir, name) = (
                path.parent().expect("a download is in a directory"),
                path.file_name().expect("a download has a name"),
            );
            copied = copy_into(
                dir,
                &[name.to_string_lossy().into_owned()],
                None,
                &view.root,
                &dest,
                (uid, gid),
                mode,
                false,
            );
        }
        let copied = copied.map_err(|e| self.fail(line, e));
        drop(src_mount);
        let upper = view.finish();
        if let Err(e) = copied {
            let _ = fs::remove_dir_all(&upper);
            return Err(e);
        }
        self.add_layer(st, &upper, &key, &created_by)
    }
}

/// Where an ADD's URLs are fetched to: one directory per URL in the store's `tmp/`, each to
/// hold a file named as the URL's last path component; removed when dropped.
struct Downloads {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

impl Downloads {
    fn new(store: &Store, urls: &[String], dest: &str) -> Result<Downloads, String> {
        if urls.is_empty() {
            return Ok(Downloads {
                dir: None,
                files: Vec::new(),
            });
        }
        let dir = store.tmp_path("build-fetch");
        let mut d = Downloads {
            dir: Some(dir.clone()),
            files: Vec::new(),
        };
        for (i, url) in urls.iter().enumerate() {
            let name = match url_file_name(url) {
                Some(n) => n,
                None if dest.ends_with('/') => {
                    return Err(format!(
                        "ADD {url}: the URL names no file; give the destination a file name"
                    ))
                }
                // The destination names the file.
                None => "download".to_owned(),
            };
            let sub = dir.join(i.to_string());
            fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
            d.files.push(sub.join(name));
        }
        Ok(d)
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// The merged view of a stack of snapshots, with a writable upper directory when given one.
struct RootView {
    root: PathBuf,
    upper: Option<PathBuf>,
    work: Option<PathBuf>,
    mounted: bool,
}

impl RootView {
    fn mount(store: &Store, chain: &[Digest], upper: Option<PathBuf>) -> Result<RootView> {
        let lowers: Vec<PathBuf> = chain.iter().map(|c| store.snapshot_fs(c)).collect();
        let root = store.tmp_path("build-root");
        fs::create_dir_all(&root)?;
        let upper = match upper {
            Some(u) => u,
            None => store.tmp_path("build-scratch-upper"),
        };
        fs::create_dir_all(&upper)?;
        if lowers.is_empty() {
            // FROM scratch: the fresh directory is the whole root.
            fs::remove_dir(&root)?;
            return Ok(RootView {
                root: upper.clone(),
                upper: Some(upper),
                work: None,
                mounted: false,
            });
        }
        let work = store.tmp_path("build-work");
        fs::create_dir_all(&work)?;
        rootfs::mount_overlay(&lowers, &upper, &work, &root)?;
        Ok(RootView {
            root,
            upper: Some(upper),
            work: Some(work),
            mounted: true,
        })
    }

    /// Unmounts and returns the upper directory (the changes).
    fn finish(mut self) -> PathBuf {
        self.cleanup();
        self.upper.take().expect("a view has an upper directory")
    }

    fn cleanup(&mut self) {
        if self.mounted {
            let _ = rootfs::unmount(&self.root);
            let _ = fs::remove_dir(&self.root);
            self.mounted = false;
        }
        if let Some(w) = self.work.take() {
            let _ = fs::remove_dir_all(w);
        }
    }
}

impl Drop for RootView {
    fn drop(&mut self) {
        self.cleanup();
        if let Some(u) = self.upper.take() {
            let _ = fs::remove_dir_all(u);
        }
    }
}

/// Removes from a RUN's upper directory the empty mount points the runtime made for
/// /etc/hostname, /etc/hosts and /etc/resolv.conf when the image had none: they are not
/// the build's doing. Relative to the directory's fd: an /etc the step made a link is
/// never followed.
fn drop_mount_points(upper: &Path, chain: &[Digest], store: &Store) {
    let Some(etc) = open_etc(upper) else {
        return;
    };
    for rel in mount_points(upper, chain, store) {
        match rel.strip_prefix("etc").ok().and_then(|r| r.file_name()) {
            Some(name) => {
                let _ = rustix::fs::unlinkat(&etc, name, rustix::fs::AtFlags::empty());
            }
            None => {
                if let Ok(top) = open_nofollow_dir(rustix::fs::CWD, upper.as_os_str()) {
                    let _ = rustix::fs::unlinkat(&top, "etc", rustix::fs::AtFlags::REMOVEDIR);
                }
            }
        }
    }
}

fn open_nofollow_dir(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::DIRECTORY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// `dir/etc` opened as a directory, following no link on the way.
fn open_etc(dir: &Path) -> Option<std::os::fd::OwnedFd> {
    let top = open_nofollow_dir(rustix::fs::CWD, dir.as_os_str()).ok()?;
    open_nofollow_dir(&top, std::ffi::OsStr::new("etc")).ok()
}

/// The status of `dir/etc/name`, following no link.
fn etc_entry(dir: &Path, name: &str) -> Option<rustix::fs::Stat> {
    let etc = open_etc(dir)?;
    rustix::fs::statat(&etc, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()
}

/// The runtime's leftovers in a container's upper directory (relative paths, files before
/// the directory holding them): the empty mount points of /etc/hostname, /etc/hosts and
/// /etc/resolv.conf when the image (`chain`) has none, and /etc itself when they are all it
/// holds and the image has an /etc. Looked at relative to directory fds, following no link.
pub(crate) fn mount_points(upper: &Path, chain: &[Digest], store: &Store) -> Vec<PathBuf> {
    use rustix::fs::FileType;
    let mut out = Vec::new();
    let names = ["hostname", "hosts", "resolv.conf"];
    for f in names {
        let empty_file = etc_entry(upper, f).is_some_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && st.st_size == 0
        });
        let in_image = chain
            .iter()
            .any(|c| etc_entry(&store.snapshot_fs(c), f).is_some());
        if empty_file && !in_image {
            out.push(Path::new("etc").join(f));
        }
    }
    let only_leftovers = open_etc(upper).is_some_and(|etc| {
        rustix::fs::Dir::read_from(&etc).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_owned())
                .filter(|n| n != "." && n != "..")
                .all(|n| out.contains(&Path::new("etc").join(n)))
        })
    });
    if only_leftovers
        && chain
            .iter()
            .any(|c| open_etc(&store.snapshot_fs(c)).is_some())
    {
        out.push(PathBuf::from("etc"));
    }
    out
}

/// `30s`, `1m30s`, `500ms` as nanoseconds.
fn duration_ns(s: &str) -> Option<u64> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(n) = chars.peek().filter(|n| n.is_ascii_alphabetic()) {
            unit.push(*n);
            chars.next();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    Some(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_network_only_when_the_build_grants_it() {
        assert_eq!(run_network(None, None), Ok("bridge"));
        assert_eq!(run_network(Some("default"), None), Ok("bridge"));
        assert_eq!(run_network(Some("none"), None), Ok("none"));
        assert_eq!(run_network(None, Some("none")), Ok("none"));
        assert_eq!(run_network(Some("default"), Some("none")), Ok("none"));
        assert_eq!(run_network(None, Some("host")), Ok("host"));
        assert_eq!(run_network(Some("none"), Some("host")), Ok("none"));
        assert_eq!(run_network(Some("host"), Some("host")), Ok("host"));
        let e = run_network(Some("host"), None).unwrap_err();
        assert!(e.contains("rbox build --network host"), "{e}");
        assert!(run_network(Some("host"), Some("default")).is_err());
        assert!(run_network(None, Some("mynet")).is_err());
        assert!(run_network(Some("container:x"), None).is_err());
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_ns("500ms"), Some(500_000_000));
        assert_eq!(duration_ns("5"), None);
    }
}
