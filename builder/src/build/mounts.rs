//! `RUN --mount`: BuildKit's `cache`, `bind`, `tmpfs`, `secret` and `ssh` mounts, parsed
//! from the flag's value, checked before the step's cache key is made, and made for the
//! step's container as the runtime's bind and tmpfs mounts.
//!
//! - `cache`: a directory under `<root>/build-cache/mounts/`, named by the SHA-256 of its
//!   id (so no id names a path: `id=../../..` is refused, and would name nothing anyway),
//!   kept between builds and never part of a layer; `sharing` is a lock on it (`shared`: a
//!   shared lock, `locked`: an exclusive one waited for, `private`: another instance when
//!   the first is in use).
//! - `bind`: a stage's or image's tree (an overlay of its snapshots: writes with `rw` go to
//!   a scratch upper directory thrown away after the step) or the context's files (copied,
//!   `.dockerignore` applied, to a scratch directory); `source` is resolved inside that
//!   tree as if it were `/`, so no path or link reaches the host's files.
//! - `secret`: the value written to a file on a tmpfs mounted for the step only (never on
//!   disk), bound read-only; or given as an environment variable with `env=`. Neither the
//!   value nor its digest goes into the cache key, the history or the log.
//! - `ssh`: a socket the builder listens on for the step, each connection forwarded to the
//!   agent `--ssh` named; `SSH_AUTH_SOCK` names the first.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rbox_image::{Digest, Store};
use rbox_runtime::model::mount::{Mount, MountKind};
use rbox_runtime::rootfs;
use rustix::fs::{FlockOperation, OFlags};

use super::copy::RootView;
use super::NamedContext;
use super::{Builder, Result, StageState};
use crate::context::{copy_into, hash_sources, Context, CopyTo};
use crate::instructions::Dockerfile;

/// How a cache mount is shared between the steps using it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// Any number of steps at once.
    Shared,
    /// Another instance of the cache when this one is in use.
    Private,
    /// One step at a time; the others wait.
    Locked,
}

/// One `RUN --mount=...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountSpec {
    /// `type=cache`.
    Cache {
        id: String,
        target: String,
        sharing: Sharing,
        from: Option<String>,
        source: String,
        mode: u32,
        uid: u32,
        gid: u32,
        readonly: bool,
    },
    /// `type=bind` (the default type).
    Bind {
        target: String,
        from: Option<String>,
        source: String,
        rw: bool,
    },
    /// `type=tmpfs`.
    Tmpfs { target: String, size: Option<u64> },
    /// `type=secret`.
    Secret {
        id: String,
        target: Option<String>,
        env: Option<String>,
        required: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// `type=ssh`.
    Ssh {
        id: String,
        target: Option<String>,
        required: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
}

/// The options each type takes (besides `type`).
fn accepted(kind: &str) -> &'static [&'static str] {
    match kind {
        "bind" => &["target", "source", "from", "readonly", "readwrite"],
        "cache" => &[
            "target",
            "id",
            "sharing",
            "from",
            "source",
            "mode",
            "uid",
            "gid",
            "readonly",
            "readwrite",
        ],
        "tmpfs" => &["target", "size"],
        "secret" => &["id", "target", "required", "mode", "uid", "gid", "env"],
        "ssh" => &["id", "target", "required", "mode", "uid", "gid"],
        _ => &[],
    }
}

/// An option's canonical name (BuildKit's aliases).
fn canonical(key: &str) -> &str {
    match key {
        "dst" | "destination" => "target",
        "src" => "source",
        "ro" => "readonly",
        "rw" => "readwrite",
        k => k,
    }
}

/// Splits a `--mount` value at its commas, as a CSV record (`"a,b"` keeps its comma).
fn fields(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("RUN --mount={spec}: unterminated quote"));
    }
    out.push(cur);
    Ok(out)
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("invalid value for {key}: {v:?} (true or false)")),
    }
}

/// `size=`: bytes, or with a unit (`64m`, `1g`, `512KiB`), as BuildKit's `RAMInBytes`.
pub(crate) fn parse_size(v: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {v:?}: a number of bytes, with k, m, g or t");
    let lower = v.trim().to_ascii_lowercase();
    let digits = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(bad()),
    };
    Ok((n * mult as f64) as u64)
}

/// `path` made absolute against `workdir` and cleaned (`.` and `..` resolved as names);
/// `/`, and what lies under /proc or /sys, are refused.
fn clean_target(path: &str, workdir: &str) -> Result<String, String> {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", workdir.trim_end_matches('/'))
    };
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(&joined).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(format!("target {path:?}: can't mount over /"));
    }
    if parts[0] == "proc" || parts[0] == "sys" {
        return Err(format!(
            "target {path:?}: /{} belongs to the kernel",
            parts[0]
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A path inside a tree (`source=`): `..` may not climb above its top.
fn clean_source(path: &str) -> Result<String, String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir if parts.pop().is_none() => {
                return Err(format!("source {path:?} climbs out with '..'"));
            }
            _ => {}
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Parses one `--mount` value (its words expanded), `workdir` being the step's.
pub(crate) fn parse_mount(spec: &str, workdir: &str) -> Result<MountSpec, String> {
    parse_fields(spec, workdir).map_err(|m| format!("RUN --mount={spec}: {m}"))
}

fn parse_fields(spec: &str, workdir: &str) -> Result<MountSpec, String> {
    let mut kind = "bind".to_owned();
    let mut opts: Vec<(String, String, bool)> = Vec::new();
    for f in fields(spec)? {
        let f = f.trim();
        if f.is_empty() {
            continue;
        }
        let (k, v, bare) = match f.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.to_owned(), false),
            None => (f.to_ascii_lowercase(), String::new(), true),
        };
        if k == "type" {
            kind = v;
            continue;
        }
        let k = canonical(&k).to_owned();
        if bare && !matches!(k.as_str(), "readonly" | "readwrite" | "required") {
            return Err(format!("invalid field {f:?}: it must be a key=value pair"));
        }
        if opts.iter().any(|(o, _, _)| *o == k) {
            return Err(format!("{k} given twice"));
        }
        opts.push((k, v, bare));
    }
    let known = accepted(&kind);
    if known.is_empty() {
        return Err(format!(
            "unknown mount type {kind:?} (bind, cache, tmpfs, secret or ssh)"
        ));
    }
    for (k, _, _) in &opts {
        if !known.contains(&k.as_str()) {
            return Err(format!(
                "unknown option {k:?} for type={kind} (it takes {})",
                known.join(", ")
            ));
        }
    }
    let get = |k: &str| {
        opts.iter()
            .find(|(o, _, _)| o == k)
            .map(|(_, v, _)| v.clone())
    };
    let flag =
        |k: &str| -> Result<Option<bool>, String> { get(k).map(|v| parse_bool(k, &v)).transpose() };
    let num = |k: &str, default: u32| -> Result<u32, String> {
        get(k).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("invalid {k} {v:?}: a number"))
        })
    };
    let mode = |default: u32| -> Result<u32, String> {
        get("mode").map_or(Ok(default), |v| {
            u32::from_str_radix(&v, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| format!("invalid mode {v:?}: an octal mode"))
        })
    };
    let target = |required: bool| -> Result<Option<String>, String> {
        match get("target").filter(|t| !t.is_empty()) {
            Some(t) => clean_target(&t, workdir).map(Some),
            None if required => Err(format!("type={kind} needs a target")),
            None => Ok(None),
        }
    };
    let readonly = || -> Result<bool, String> {
        let ro = flag("readonly")?;
        let rw = flag("readwrite")?;
        match (ro, rw) {
            (Some(a), Some(b)) if a == b => Err("readonly and readwrite contradict".into()),
            (Some(a), _) => Ok(a),
            (_, Some(b)) => Ok(!b),
            (None, None) => Ok(kind == "bind"),
        }
    };
    let from = get("from").filter(|f| !f.is_empty());
    let source = clean_source(&get("source").unwrap_or_default());
    let spec = match kind.as_str() {
        "bind" => MountSpec::Bind {
            target: target(true)?.expect("required"),
            from,
            source: source?,
            rw: !readonly()?,
        },
        "cache" => {
            let target = target(true)?.expect("required");
            let id = get("id")
                .filter(|i| !i.is_empty())
                .unwrap_or(target.clone());
            if Path::new(&id)
                .components()
                .any(|c| c == Component::ParentDir)
                || id.contains('\0')
            {
                return Err(format!(
                    "cache id {id:?} climbs out with '..': an id names a cache, not a path"
                ));
            }
            let sharing = match get("sharing").as_deref() {
                None | Some("shared") => Sharing::Shared,
                Some("private") => Sharing::Private,
                Some("locked") => Sharing::Locked,
                Some(o) => {
                    return Err(format!("unknown sharing {o:?} (shared, private or locked)"))
                }
            };
            MountSpec::Cache {
                id,
                target,
                sharing,
                from,
                source: source?,
                mode: mode(0o755)?,
                uid: num("uid", 0)?,
                gid: num("gid", 0)?,
                readonly: readonly()?,
            }
        }
        "tmpfs" => MountSpec::Tmpfs {
            target: target(true)?.expect("required"),
            size: get("size").map(|s| parse_size(&s)).transpose()?,
        },
        "secret" => {
            let target = target(false)?;
            let id = match (get("id").filter(|i| !i.is_empty()), &target) {
                (Some(i), _) => i,
                (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_owned(),
                (None, None) => return Err("type=secret needs an id or a target".into()),
            };
            let env = get("env").filter(|e| !e.is_empty());
            if let Some(e) = &env {
                if !e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || e.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(format!("env {e:?}: not a variable name"));
                }
            }
            MountSpec::Secret {
                target: match (&target, &env) {
                    (None, None) => Some(format!("/run/secrets/{id}")),
                    _ => target,
                },
                id,
                env,
                required: flag("required")?.unwrap_or(false),
                mode: mode(0o400)?,
                uid: num("uid", 0)?,
                gid: num("gid", 0)?,
            }
        }
        _ => MountSpec::Ssh {
            id: get("id")
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "default".into()),
            target: target(false)?,
            required: flag("required")?.unwrap_or(false),
            mode: mode(0o600)?,
            uid: num("uid", 0)?,
            gid: num("gid", 0)?,
        },
    };
    if let MountSpec::Secret { id, .. } | MountSpec::Ssh { id, .. } = &spec {
        if id.contains('/') && id.contains("..") {
            return Err(format!("id {id:?}: not a name"));
        }
    }
    Ok(spec)
}

/// Where a secret's value comes from (`rbox build --secret`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `src=FILE`.
    File(PathBuf),
    /// `env=VAR`.
    Env(String),
}

/// Parses `rbox build --secret id=X[,src=FILE|,env=VAR][,type=file|env]`: without a source,
/// the variable named as the id if it is set, else the file of that name, as docker does.
pub fn parse_secret_flag(v: &str) -> Result<(String, SecretSource), String> {
    let mut id = None;
    let mut src = None;
    let mut env = None;
    let mut kind = None;
    for f in v.split(',') {
        match f.split_once('=') {
            Some(("id", x)) => id = Some(x.to_owned()),
            Some(("src" | "source", x)) => src = Some(x.to_owned()),
            Some(("env", x)) => env = Some(x.to_owned()),
            Some(("type", x @ ("file" | "env"))) => kind = Some(x.to_owned()),
            _ => {
                return Err(format!(
                    "--secret {v}: unknown field {f:?} (id=ID, src=FILE, env=VAR, type=file|env)"
                ))
            }
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| format!("--secret {v}: id=ID is required"))?;
    let source = match (src, env, kind.as_deref()) {
        (Some(_), Some(_), _) => {
            return Err(format!("--secret {v}: give src or env, not both"));
        }
        (Some(s), None, Some("env")) => SecretSource::Env(s),
        (Some(s), None, _) => SecretSource::File(PathBuf::from(s)),
        (None, Some(e), _) => SecretSource::Env(e),
        (None, None, Some("file")) => SecretSource::File(PathBuf::from(&id)),
        (None, None, Some(_)) => SecretSource::Env(id.clone()),
        (None, None, None) if std::env::var_os(&id).is_some() => SecretSource::Env(id.clone()),
        (None, None, None) => SecretSource::File(PathBuf::from(&id)),
    };
    Ok((id, source))
}

/// Parses `rbox build --ssh default|ID[=SOCKET]`: `default` (or an ID without a socket)
/// is `$SSH_AUTH_SOCK`. Only agent sockets are forwarded (not key files).
pub fn parse_ssh_flag(v: &str) -> Result<(String, PathBuf), String> {
    let (id, path) = match v.split_once('=') {
        Some((id, p)) => (id.to_owned(), p.to_owned()),
        None => (
            v.to_owned(),
            std::env::var("SSH_AUTH_SOCK")
                .map_err(|_| format!("--ssh {v}: SSH_AUTH_SOCK is not set; give ID=SOCKET"))?,
        ),
    };
    if id.is_empty() {
        return Err(format!("--ssh {v}: an id is required"));
    }
    if path.contains(',') {
        return Err(format!(
            "--ssh {v}: one agent socket per id (key files are not read)"
        ));
    }
    use std::os::unix::fs::FileTypeExt;
    match fs::metadata(&path) {
        Ok(m) if m.file_type().is_socket() => Ok((id, PathBuf::from(path))),
        Ok(_) => Err(format!(
            "--ssh {v}: {path} is not an agent socket (key files are not read: start ssh-agent and ssh-add the key)"
        )),
        Err(e) => Err(format!("--ssh {v}: {path}: {e}")),
    }
}

/// Where a mount's tree comes from.
#[derive(Clone)]
pub(super) enum Tree {
    /// The build context, or a named one (`--build-context NAME=DIR`).
    Context(Arc<Context>),
    /// A stage's or an image's snapshots.
    Chain(Vec<Digest>),
}

/// A mount checked, its sources found: ready to be made once the step runs.
pub(super) struct Resolved {
    spec: MountSpec,
    tree: Option<Tree>,
}

/// What a RUN's mounts hold while it runs; dropping it undoes them.
#[derive(Default)]
pub(super) struct Prepared {
    /// The container's mounts.
    pub(super) mounts: Vec<Mount>,
    /// Variables added to the step's environment (secrets with `env=`, `SSH_AUTH_SOCK`).
    pub(super) env: Vec<String>,
    /// The mount points, for taking the stubs made for them out of the layer.
    pub(super) targets: Vec<String>,
    views: Vec<RootView>,
    dirs: Vec<PathBuf>,
    tmpfs: Vec<PathBuf>,
    locks: Vec<File>,
    proxies: Vec<SshProxy>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        for p in self.proxies.drain(..) {
            p.stop();
        }
        self.views.clear();
        for d in self.tmpfs.drain(..) {
            let _ = rootfs::unmount(&d);
            let _ = fs::remove_dir(&d);
        }
        for d in self.dirs.drain(..) {
            let _ = fs::remove_dir_all(&d);
        }
        self.locks.clear();
    }
}

/// The directory holding the cache mounts.
pub fn cache_mounts_dir(root: &Path) -> PathBuf {
    root.join("build-cache").join("mounts")
}

/// The cache mounts: how many, how many a build is using, their bytes, and the bytes of
/// those no build is using (what [`prune_cache_mounts`] frees).
pub fn cache_mounts_usage(root: &Path) -> io::Result<(usize, usize, u64, u64)> {
    let dir = cache_mounts_dir(root);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok((0, 0, 0, 0));
    };
    let (mut total, mut active, mut size, mut free) = (0, 0, 0, 0);
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(base) = name.strip_suffix(".lock") else {
            continue;
        };
        let lock = OpenOptions::new().read(true).open(e.path())?;
        let bytes = rbox_image::store::dir_size(&dir.join(base));
        total += 1;
        size += bytes;
        // In use while a build holds its lock, shared or not.
        if rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
            active += 1;
        } else {
            free += bytes;
        }
    }
    Ok((total, active, size, free))
}

/// Removes the cache mounts no build is using; returns the bytes they held.
pub fn prune_cache_mounts(root: &Path) -> io::Result<u64> {
    let dir = cache_mounts_dir(root);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut freed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(base) = name.strip_suffix(".lock") else {
            continue;
        };
        let lock = OpenOptions::new().read(true).open(e.path())?;
        if rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        let data = dir.join(base);
        freed += rbox_image::store::dir_size(&data);
        let _ = fs::remove_dir_all(&data);
        let _ = fs::remove_file(e.path());
    }
    // Instances being made when a build was killed.
    for e in fs::read_dir(&dir)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(".new-") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    Ok(freed)
}

impl Builder<'_> {
    /// Parses and checks each mount of a RUN step (its stages, images, secrets and agents
    /// found), and returns them with what each adds to the step's cache key.
    pub(super) fn resolve_mounts(
        &mut self,
        df: &Dockerfile,
        st: &StageState,
        line: usize,
        specs: &[String],
    ) -> Result<(Vec<Resolved>, Vec<String>)> {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for raw in specs {
            let spec = parse_mount(raw, st.workdir()).map_err(|e| self.fail(line, e))?;
            let from = match &spec {
                MountSpec::Cache { from, .. } | MountSpec::Bind { from, .. } => from.clone(),
                _ => None,
            };
            let tree = match (&spec, from) {
                (MountSpec::Bind { .. }, None) => Some(Tree::Context(self.ctx.clone())),
                (_, Some(f)) => Some(self.mount_from(df, line, &f, &spec)?),
                _ => None,
            };
            let key = match (&spec, &tree) {
                (MountSpec::Bind { target, source, rw, .. }, Some(t)) => {
                    let content = match t {
                        Tree::Context(ctx) => hash_sources(
                            ctx.root(),
                            std::slice::from_ref(source),
                            Some(ctx),
                        )
                        .map_err(|e| self.fail(line, format!("RUN --mount={raw}: {e}")))?
                        .to_string(),
                        Tree::Chain(c) => Self::tree_key(c, source),
                    };
                    format!("bind target={target} source={source} rw={rw} content={content}")
                }
                (
                    MountSpec::Cache {
                        id,
                        target,
                        sharing,
                        source,
                        mode,
                        uid,
                        gid,
                        readonly,
                        ..
                    },
                    t,
                ) => format!(
                    "cache id={id:?} target={target} sharing={sharing:?} source={source} mode={mode:o} uid={uid} gid={gid} readonly={readonly} from={}",
                    match t {
                        Some(Tree::Chain(c)) => c.last().map_or("scratch".into(), |d| d.to_string()),
                        _ => String::new(),
                    }
                ),
                (MountSpec::Tmpfs { target, size }, _) => {
                    format!("tmpfs target={target} size={size:?}")
                }
                (
                    MountSpec::Secret {
                        id,
                        target,
                        env,
                        required,
                        mode,
                        uid,
                        gid,
                    },
                    _,
                ) => {
                    if *required && !self.o.secrets.iter().any(|(i, _)| i == id) {
                        return Err(self.fail(
                            line,
                            format!("RUN --mount={raw}: secret {id} is required but was not given (rbox build --secret id={id},src=FILE)"),
                        ));
                    }
                    format!("secret id={id:?} target={target:?} env={env:?} required={required} mode={mode:o} uid={uid} gid={gid}")
                }
                (
                    MountSpec::Ssh {
                        id,
                        target,
                        required,
                        mode,
                        uid,
                        gid,
                    },
                    _,
                ) => {
                    if *required && !self.o.ssh.iter().any(|(i, _)| i == id) {
                        return Err(self.fail(
                            line,
                            format!("RUN --mount={raw}: ssh agent {id} is required but was not given (rbox build --ssh {id})"),
                        ));
                    }
                    format!("ssh id={id:?} target={target:?} required={required} mode={mode:o} uid={uid} gid={gid}")
                }
                (MountSpec::Bind { .. }, None) => unreachable!("a bind has a tree"),
            };
            keys.push(key);
            out.push(Resolved { spec, tree });
        }
        let mut targets: Vec<&str> = out
            .iter()
            .filter_map(|r| match &r.spec {
                MountSpec::Cache { target, .. }
                | MountSpec::Bind { target, .. }
                | MountSpec::Tmpfs { target, .. } => Some(target.as_str()),
                MountSpec::Secret { target, .. } | MountSpec::Ssh { target, .. } => {
                    target.as_deref()
                }
            })
            .collect();
        targets.sort_unstable();
        if let Some(w) = targets.windows(2).find(|w| w[0] == w[1]) {
            return Err(self.fail(line, format!("RUN: two mounts on {}", w[0])));
        }
        Ok((out, keys))
    }

    /// The snapshots `from=` names: an earlier stage (built already), else an image.
    fn mount_from(&self, df: &Dockerfile, line: usize, f: &str, spec: &MountSpec) -> Result<Tree> {
        match (df.stage_index(f), self.named(f)) {
            (Some(i), _) => self
                .done
                .get(&i)
                .map(|s| Tree::Chain(s.chain.clone()))
                .ok_or_else(|| {
                    self.fail(line, format!("RUN --mount from={f}: stage not built yet"))
                }),
            (None, Some(NamedContext::Dir(dir))) => {
                if !matches!(spec, MountSpec::Bind { .. }) {
                    return Err(self.fail(
                        line,
                        format!("RUN --mount from={f}: a cache mount is seeded from a stage or an image, not a directory"),
                    ));
                }
                Ok(Tree::Context(Arc::new(Context::open(dir).map_err(
                    |e| self.fail(line, format!("--build-context {f}: {}: {e}", dir.display())),
                )?)))
            }
            (None, named) => {
                let f = match named {
                    Some(NamedContext::Image(r)) => r.as_str(),
                    _ => f,
                };
                let image = self.store.resolve(f).map_err(|_| {
                    self.fail(
                        line,
                        format!("RUN --mount from={f}: no such stage or image"),
                    )
                })?;
                Ok(Tree::Chain(self.store.ensure_snapshots(&image)?))
            }
        }
    }

    /// The key of a stage's or image's tree below `source`: its top snapshot, and the
    /// subpath (the snapshots are content-addressed).
    fn tree_key(chain: &[Digest], source: &str) -> String {
        format!(
            "{}:{source}",
            chain.last().map_or("scratch".into(), |d| d.to_string())
        )
    }

    /// Makes each mount for the step's container.
    pub(super) fn prepare_mounts(
        &mut self,
        line: usize,
        resolved: &[Resolved],
    ) -> Result<Prepared> {
        let mut p = Prepared::default();
        let mut ssh_count = 0;
        for r in resolved {
            match (&r.spec, &r.tree) {
                (
                    MountSpec::Bind {
                        target, source, rw, ..
                    },
                    Some(tree),
                ) => {
                    let src = self.tree_source(&mut p, tree, source, *rw, line)?;
                    p.mounts.push(bind(&src, target, !rw));
                    p.targets.push(target.clone());
                }
                (
                    MountSpec::Cache {
                        id,
                        target,
                        sharing,
                        source,
                        mode,
                        uid,
                        gid,
                        readonly,
                        ..
                    },
                    tree,
                ) => {
                    let (dir, lock) = self.cache_dir(
                        &mut p,
                        id,
                        *sharing,
                        tree.as_ref(),
                        source,
                        (*mode, *uid, *gid),
                        line,
                    )?;
                    p.locks.push(lock);
                    p.mounts.push(bind(&dir, target, *readonly));
                    p.targets.push(target.clone());
                }
                (MountSpec::Tmpfs { target, size }, _) => {
                    let mut options = vec!["exec".to_owned()];
                    if let Some(s) = size {
                        options.push(format!("size={s}"));
                    }
                    p.mounts.push(Mount {
                        kind: MountKind::Tmpfs,
                        source: String::new(),
                        destination: target.clone(),
                        read_only: false,
                        options,
                        borrowed: false,
                    });
                    p.targets.push(target.clone());
                }
                (
                    MountSpec::Secret {
                        id,
                        target,
                        env,
                        mode,
                        uid,
                        gid,
                        ..
                    },
                    _,
                ) => {
                    let Some((_, source)) = self.o.secrets.iter().find(|(i, _)| i == id) else {
                        // Not required and not given: no mount, as BuildKit.
                        continue;
                    };
                    let value = match source {
                        SecretSource::File(f) => fs::read(f).map_err(|e| {
                            self.fail(line, format!("secret {id}: {}: {e}", f.display()))
                        })?,
                        SecretSource::Env(v) => std::env::var_os(v)
                            .map(|v| std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()).to_vec())
                            .ok_or_else(|| {
                                self.fail(line, format!("secret {id}: ${v} is not set"))
                            })?,
                    };
                    if let Some(e) = env {
                        let text = String::from_utf8(value.clone()).map_err(|_| {
                            self.fail(line, format!("secret {id}: env={e} needs a UTF-8 value"))
                        })?;
                        p.env.push(format!("{e}={text}"));
                    }
                    if let Some(t) = target {
                        let dir = self.secret_tmpfs(&mut p)?;
                        let file = dir.join(format!("{}", p.mounts.len()));
                        write_private(&file, &value, *mode, *uid, *gid)?;
                        p.mounts.push(bind(&file, t, true));
                        p.targets.push(t.clone());
                    }
                }
                (
                    MountSpec::Ssh {
                        id,
                        target,
                        mode,
                        uid,
                        gid,
                        ..
                    },
                    _,
                ) => {
                    let Some((_, agent)) = self.o.ssh.iter().find(|(i, _)| i == id) else {
                        continue;
                    };
                    let target = target
                        .clone()
                        .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_count}"));
                    let dir = self.store.tmp_path("build-ssh");
                    fs::create_dir_all(&dir)?;
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
                    p.dirs.push(dir.clone());
                    let sock = dir.join("agent.sock");
                    let proxy = SshProxy::start(&sock, agent.clone(), *mode, *uid, *gid)
                        .map_err(|e| self.fail(line, format!("ssh {id}: {e}")))?;
                    p.proxies.push(proxy);
                    if ssh_count == 0 {
                        p.env.push(format!("SSH_AUTH_SOCK={target}"));
                    }
                    ssh_count += 1;
                    p.mounts.push(bind(&sock, &target, false));
                    p.targets.push(target);
                }
                (MountSpec::Bind { .. }, None) => unreachable!("a bind has a tree"),
            }
        }
        Ok(p)
    }

    /// The host path of `source` in `tree`, resolved inside it as if it were `/`.
    fn tree_source(
        &mut self,
        p: &mut Prepared,
        tree: &Tree,
        source: &str,
        rw: bool,
        line: usize,
    ) -> Result<PathBuf> {
        match tree {
            Tree::Context(ctx) => {
                // The context's files as a build sees them (.dockerignore applied), copied.
                let dir = self.store.tmp_path("build-bind");
                fs::create_dir_all(&dir)?;
                p.dirs.push(dir.clone());
                let ctx_root = rootfs::open_root(ctx.root())?;
                let is_dir = rootfs::open_in_root(&ctx_root, Path::new(source), OFlags::PATH)
                    .ok()
                    .and_then(|fd| rustix::fs::fstat(&fd).ok())
                    .is_none_or(|s| {
                        rustix::fs::FileType::from_raw_mode(s.st_mode)
                            == rustix::fs::FileType::Directory
                    });
                let name = Path::new(source)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let dest = if is_dir {
                    "/".to_owned()
                } else {
                    format!("/{name}")
                };
                let to = CopyTo {
                    root: &dir,
                    dest: &dest,
                    owner: (0, 0),
                    mode: None,
                };
                copy_into(ctx.root(), &[source.to_owned()], Some(ctx), &to, false)
                    .map_err(|e| self.fail(line, format!("RUN --mount source={source}: {e}")))?;
                Ok(if is_dir { dir } else { dir.join(name) })
            }
            Tree::Chain(chain) => {
                let upper = rw.then(|| self.store.tmp_path("build-bind-upper"));
                let view = RootView::mount(self.store, chain, upper)?;
                let found = in_tree(&view.root, source)
                    .map_err(|e| self.fail(line, format!("RUN --mount source={source}: {e}")));
                p.views.push(view);
                found
            }
        }
    }

    /// A tmpfs for the step's secrets, mounted on the host for the step only.
    fn secret_tmpfs(&self, p: &mut Prepared) -> Result<PathBuf> {
        if let Some(d) = p.tmpfs.first() {
            return Ok(d.clone());
        }
        let dir = self.store.tmp_path("build-secrets");
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        rustix::mount::mount(
            "rbox-secrets",
            &dir,
            "tmpfs",
            rustix::mount::MountFlags::NOSUID
                | rustix::mount::MountFlags::NODEV
                | rustix::mount::MountFlags::NOEXEC,
            c"mode=0700,size=4m",
        )
        .map_err(|e| io::Error::other(format!("a tmpfs for secrets: {e}")))?;
        p.tmpfs.push(dir.clone());
        Ok(dir)
    }

    /// The directory of cache mount `id`, locked as `sharing` says, made (and filled from
    /// `tree`'s `source`) when new.
    #[allow(clippy::too_many_arguments)]
    fn cache_dir(
        &mut self,
        p: &mut Prepared,
        id: &str,
        sharing: Sharing,
        tree: Option<&Tree>,
        source: &str,
        (mode, uid, gid): (u32, u32, u32),
        line: usize,
    ) -> Result<(PathBuf, File)> {
        let base = cache_mounts_dir(self.store.root());
        fs::create_dir_all(&base)?;
        let hex = Digest::of(id.as_bytes()).hex().to_owned();
        let mut n = 0;
        let (name, lock) = loop {
            let name = if n == 0 {
                hex.clone()
            } else {
                format!("{hex}-{n}")
            };
            let lock = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(base.join(format!("{name}.lock")))?;
            let op = match sharing {
                Sharing::Shared => FlockOperation::LockShared,
                Sharing::Locked => FlockOperation::LockExclusive,
                Sharing::Private => FlockOperation::NonBlockingLockExclusive,
            };
            match rustix::fs::flock(&lock, op) {
                Ok(()) => break (name, lock),
                Err(_) if sharing == Sharing::Private && n < 64 => n += 1,
                Err(e) => return Err(io::Error::from(e).into()),
            }
        };
        let dir = base.join(&name);
        if !dir.is_dir() {
            let new = base.join(format!(".new-{}", rbox_runtime::create::random_hex(8)));
            fs::create_dir(&new)?;
            let filled = (|| -> Result<()> {
                if let Some(Tree::Chain(chain)) = tree {
                    let view = RootView::mount(self.store, chain, None)?;
                    let src = in_tree(&view.root, source).map_err(|e| {
                        self.fail(line, format!("RUN --mount source={source}: {e}"))
                    })?;
                    let s = rootfs::open_root(&src)?;
                    let d = rootfs::open_root(&new)?;
                    rbox_runtime::host::tree::copy_dir_contents(&s, &d, source)
                        .map_err(|e| self.fail(line, format!("cache from {source}: {e}")))?;
                    p.views.push(view);
                }
                fs::set_permissions(&new, fs::Permissions::from_mode(mode))?;
                std::os::unix::fs::chown(&new, Some(uid), Some(gid))?;
                Ok(())
            })();
            if let Err(e) = filled {
                let _ = fs::remove_dir_all(&new);
                return Err(e);
            }
            if fs::rename(&new, &dir).is_err() {
                // Another build made it meanwhile.
                let _ = fs::remove_dir_all(&new);
            }
        }
        Ok((dir, lock))
    }
}

/// A bind mount of `src` on `target`.
fn bind(src: &Path, target: &str, read_only: bool) -> Mount {
    Mount {
        kind: MountKind::Bind,
        source: src.to_string_lossy().into_owned(),
        destination: target.to_owned(),
        read_only,
        options: Vec::new(),
        borrowed: false,
    }
}

/// `source` inside the tree at `root`, resolved as if `root` were `/` (links included),
/// as a host path under `root`.
fn in_tree(root: &Path, source: &str) -> Result<PathBuf, String> {
    let fd = rootfs::open_root(root).map_err(|e| e.to_string())?;
    let found = rootfs::open_in_root(&fd, Path::new(source), OFlags::PATH)
        .map_err(|e| format!("not found: {e}"))?;
    let real = fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&found)
    ))
    .map_err(|e| e.to_string())?;
    let root_real = fs::canonicalize(root).map_err(|e| e.to_string())?;
    if !real.starts_with(&root_real) {
        return Err("resolves outside its tree".into());
    }
    Ok(real)
}

/// Writes `value` to a new file `path` with `mode` and owner.
fn write_private(path: &Path, value: &[u8], mode: u32, uid: u32, gid: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_o_nofollow())
        .open(path)?;
    f.write_all(value)?;
    std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn libc_o_nofollow() -> i32 {
    OFlags::NOFOLLOW.bits() as i32
}

/// A socket forwarding each connection to an SSH agent's, while a RUN step runs.
pub(super) struct SshProxy {
    stop: Arc<AtomicBool>,
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SshProxy {
    fn start(path: &Path, agent: PathBuf, mode: u32, uid: u32, gid: u32) -> io::Result<SshProxy> {
        let listener = UnixListener::bind(path)?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let agent = agent.clone();
                std::thread::spawn(move || {
                    let Ok(up) = UnixStream::connect(&agent) else {
                        return;
                    };
                    let (Ok(mut a), Ok(mut b)) = (conn.try_clone(), up.try_clone()) else {
                        return;
                    };
                    let there = std::thread::spawn(move || {
                        let _ = io::copy(&mut a, &mut b);
                        let _ = b.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut c, mut u) = (conn, up);
                    let _ = io::copy(&mut u, &mut c);
                    let _ = c.shutdown(std::net::Shutdown::Both);
                    let _ = there.join();
                });
            }
        });
        Ok(SshProxy {
            stop,
            path: path.to_owned(),
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

/// Takes out of a RUN's upper directory the mount points made for its mounts: each target
/// and the directories made to hold it, when they are empty and were not in the image
/// (`chain`); a directory of the image that only gained a mount point goes too when it
/// looks as in the image. Relative to directory fds, following no link.
pub(super) fn drop_mount_stubs(upper: &Path, chain: &[Digest], store: &Store, targets: &[String]) {
    let lowers: Vec<PathBuf> = chain.iter().map(|c| store.snapshot_fs(c)).collect();
    let mut targets: Vec<&String> = targets.iter().collect();
    // Deeper first, so a parent shared by two targets is looked at once emptied.
    targets.sort_by_key(|t| std::cmp::Reverse(t.matches('/').count()));
    for t in targets {
        let parts: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
        for depth in (1..=parts.len()).rev() {
            if !drop_stub(upper, &lowers, &parts[..depth], depth == parts.len()) {
                break;
            }
        }
    }
}

/// Removes `upper/parts` if it is a stub; false when it isn't (or is gone already).
fn drop_stub(upper: &Path, lowers: &[PathBuf], parts: &[&str], leaf: bool) -> bool {
    use rustix::fs::{AtFlags, FileType};
    let Ok(mut dir) = rustix::fs::open(
        upper,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return false;
    };
    let (name, parents) = parts.split_last().expect("a path has a name");
    for p in parents {
        match rustix::fs::openat(
            &dir,
            *p,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            Ok(d) => dir = d,
            Err(_) => return false,
        }
    }
    let Ok(st) = rustix::fs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW) else {
        return false;
    };
    let rel: PathBuf = parts.iter().collect();
    let in_image = lowers.iter().rev().find_map(|l| {
        let root = rootfs::open_root(l).ok()?;
        let fd = rootfs::open_in_root(&root, &rel, OFlags::PATH | OFlags::NOFOLLOW).ok()?;
        rustix::fs::fstat(&fd).ok()
    });
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let Ok(d) = rustix::fs::openat(
                &dir,
                *name,
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) else {
                return false;
            };
            let empty = rustix::fs::Dir::read_from(&d).is_ok_and(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .all(|e| matches!(e.file_name().to_bytes(), b"." | b".."))
            });
            if !empty {
                return false;
            }
            if let Some(lower) = in_image {
                // A directory of the image, copied up: it goes only if nothing else changed.
                let mut buf = [0u8; 8];
                let opaque = rustix::fs::fgetxattr(&d, "trusted.overlay.opaque", &mut buf)
                    .is_ok_and(|n| &buf[..n] == b"y");
                let same = FileType::from_raw_mode(lower.st_mode) == FileType::Directory
                    && lower.st_mode == st.st_mode
                    && lower.st_uid == st.st_uid
                    && lower.st_gid == st.st_gid;
                if leaf || opaque || !same {
                    return false;
                }
            }
            rustix::fs::unlinkat(&dir, *name, AtFlags::REMOVEDIR).is_ok()
        }
        FileType::RegularFile if leaf && st.st_size == 0 && in_image.is_none() => {
            rustix::fs::unlinkat(&dir, *name, AtFlags::empty()).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_as_buildkit_reads_them() {
        let m = parse_mount("type=cache,target=/root/.cache", "/").unwrap();
        assert_eq!(
            m,
            MountSpec::Cache {
                id: "/root/.cache".into(),
                target: "/root/.cache".into(),
                sharing: Sharing::Shared,
                from: None,
                source: "/".into(),
                mode: 0o755,
                uid: 0,
                gid: 0,
                readonly: false,
            }
        );
        let m = parse_mount("target=src,source=a/b,from=build,rw", "/app").unwrap();
        assert_eq!(
            m,
            MountSpec::Bind {
                target: "/app/src".into(),
                from: Some("build".into()),
                source: "/a/b".into(),
                rw: true,
            }
        );
        let m = parse_mount("type=secret,id=tok", "/").unwrap();
        assert!(
            matches!(&m, MountSpec::Secret { target: Some(t), mode: 0o400, required: false, .. } if t == "/run/secrets/tok"),
            "{m:?}"
        );
        let m = parse_mount("type=secret,id=tok,env=TOKEN,required", "/").unwrap();
        assert!(
            matches!(&m, MountSpec::Secret { target: None, env: Some(e), required: true, .. } if e == "TOKEN"),
            "{m:?}"
        );
        let m = parse_mount("type=tmpfs,dst=/t,size=64m", "/").unwrap();
        assert_eq!(
            m,
            MountSpec::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20)
            }
        );
        let m = parse_mount("type=ssh", "/").unwrap();
        assert!(
            matches!(&m, MountSpec::Ssh { id, target: None, mode: 0o600, .. } if id == "default")
        );
        let m = parse_mount(
            "type=cache,target=/c,sharing=locked,mode=0700,uid=10,gid=20,ro",
            "/",
        )
        .unwrap();
        assert!(matches!(
            m,
            MountSpec::Cache {
                sharing: Sharing::Locked,
                mode: 0o700,
                uid: 10,
                gid: 20,
                readonly: true,
                ..
            }
        ));
    }

    #[test]
    fn bad_mounts_are_refused_by_name() {
        for (spec, says) in [
            ("type=volume,target=/x", "unknown mount type \"volume\""),
            (
                "type=cache,target=/x,colour=red",
                "unknown option \"colour\"",
            ),
            ("type=tmpfs,target=/x,id=a", "unknown option \"id\""),
            ("type=cache", "needs a target"),
            ("type=cache,target=/x,id=../../..", "climbs out"),
            ("type=cache,target=/x,id=a/../../b", "climbs out"),
            ("type=bind,target=/x,source=../../etc", "climbs out"),
            ("type=cache,target=/x,sharing=sometimes", "unknown sharing"),
            ("type=cache,target=/x,mode=999", "invalid mode"),
            ("type=cache,target=/", "can't mount over /"),
            ("type=bind,target=/proc/x", "belongs to the kernel"),
            ("type=tmpfs,target=/x,size=lots", "invalid size"),
            ("type=secret", "needs an id or a target"),
            ("type=cache,target=/x,ro,rw", "contradict"),
            ("type=cache,target,id=a", "key=value"),
            ("type=secret,id=a,env=1A", "not a variable name"),
        ] {
            let e = parse_mount(spec, "/").unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }

    #[test]
    fn secret_and_ssh_flags() {
        assert_eq!(
            parse_secret_flag("id=a,src=/f").unwrap(),
            ("a".into(), SecretSource::File("/f".into()))
        );
        assert_eq!(
            parse_secret_flag("id=a,env=TOKEN").unwrap(),
            ("a".into(), SecretSource::Env("TOKEN".into()))
        );
        assert!(parse_secret_flag("src=/f").is_err());
        assert!(parse_secret_flag("id=a,colour=red").is_err());
        assert!(parse_ssh_flag("x=/nonexistent/sock").is_err());
        assert!(parse_ssh_flag("x=/etc/passwd")
            .unwrap_err()
            .contains("not an agent socket"));
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
    }
}
