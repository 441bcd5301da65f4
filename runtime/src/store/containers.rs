//! The containers of a data root: where each lives on disk, names, lookup, and state that
//! tells the truth even when a monitor died unseen.
//!
//! ```text
//! containers/<id>/container.json   configuration (fixed at create; rename changes the name)
//! containers/<id>/state.json       state when no monitor runs it (created, exited)
//! containers/<id>/upper, work      the overlay's writable layer: changes survive stop/start
//! containers/<id>/rootfs           the overlay mount point while the container runs
//! containers/<id>/container.log    JSON lines: {"log","stream","time"}
//! names/<name>                     the id that holds the name (created exclusively)
//! ```
//!
//! What only lives while a container runs is kept on a tmpfs, in the runtime directory
//! (`/run/rbox-<key>`, or `/dev/shm/rbox-<key>` where /run is not a tmpfs; `<key>` names the
//! data root): `<id>/state.json` (the live state), `<id>/bundle/config.json`, `<id>/hostname`,
//! `hosts`, `resolv.conf`, and `libcontainer/<id>/`. Rewriting a file on the data root's
//! filesystem costs a forced data flush (ext4 flushes a file renamed over another), several
//! times per start; on a tmpfs it costs nothing, and a reboot clears it as it should.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

use crate::error::{Error, IoContext, Result};
use crate::model::container::{ContainerConfig, State, Status};
use crate::store::process;

/// A container as loaded from disk.
#[derive(Debug, Clone)]
pub struct Container {
    /// Its configuration.
    pub config: ContainerConfig,
    /// Its state, corrected for monitors that died.
    pub state: State,
    /// Its state file says it runs but its monitor is gone: what the run left (mounts,
    /// network, cgroups) is still on the host.
    pub orphaned: bool,
}

impl Container {
    /// The id.
    pub fn id(&self) -> &str {
        &self.config.id
    }
}

/// The file a container's directory gets when a monitor first runs it.
pub const RAN_MARK: &str = "ran";

/// The containers of a data root.
#[derive(Debug, Clone)]
pub struct Containers {
    root: PathBuf,
    runtime: PathBuf,
}

/// A held per-container lock.
#[derive(Debug)]
pub struct ContainerLock {
    _file: File,
}

/// The tmpfs that holds runtime state: /run where it is one, else /dev/shm.
fn runtime_base() -> PathBuf {
    let is_tmpfs =
        |p: &str| rustix::fs::statfs(p).is_ok_and(|s| s.f_type == nix::libc::TMPFS_MAGIC);
    if is_tmpfs("/run") {
        PathBuf::from("/run")
    } else if is_tmpfs("/dev/shm") {
        PathBuf::from("/dev/shm")
    } else {
        PathBuf::from("/run")
    }
}

/// Makes `dir` (mode 0700, root's). It sits in a world-writable directory (/dev/shm where
/// /run is no tmpfs), so anyone may have made that name first: a link, a file, or a
/// directory that is not ours or open to others is moved aside and removed, and ours made.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    for _ in 0..8 {
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(dir, e)),
        }
        let m = fs::symlink_metadata(dir).at(dir)?;
        if m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o077 == 0 {
            return Ok(());
        }
        tracing::warn!(
            "{}: not a private directory of ours (someone else made it): replaced",
            dir.display()
        );
        let aside = dir.with_file_name(format!(
            ".{}.foreign-{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("rbox"),
            crate::model::ids::random_hex(8)
        ));
        // A rename in a sticky directory is allowed to root whoever owns the entry; what is
        // moved aside is never followed (remove_dir_all doesn't follow links).
        fs::rename(dir, &aside).at(dir)?;
        if fs::symlink_metadata(&aside).is_ok_and(|m| m.is_dir()) {
            let _ = fs::remove_dir_all(&aside);
        } else {
            let _ = fs::remove_file(&aside);
        }
    }
    Err(Error::io(
        dir,
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the runtime directory keeps being taken by someone else",
        ),
    ))
}

impl Containers {
    /// Opens the container area of the data root `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Containers> {
        let root: PathBuf = root.into();
        rbox_image::store::private_root(&root)?;
        let root = fs::canonicalize(&root).unwrap_or(root);
        let key = rbox_image::Digest::of(root.as_os_str().as_encoded_bytes());
        let runtime = runtime_base().join(format!("rbox-{}", &key.hex()[..16]));
        let c = Containers { root, runtime };
        for d in [c.root.join("containers"), c.root.join("names")] {
            fs::create_dir_all(&d).at(&d)?;
        }
        private_dir(&c.runtime)?;
        let lc = c.run_dir();
        fs::create_dir_all(&lc).at(&lc)?;
        Ok(c)
    }

    /// The root's own defaults for containers' log options: the `log-opts` of
    /// `<root>/defaults.json` (as in Docker's daemon.json), none when there is no file.
    pub fn log_defaults(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let p = self.root.join("defaults.json");
        let v: serde_json::Value = match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::io(&p, io::Error::new(io::ErrorKind::InvalidData, e)))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Default::default()),
            Err(e) => return Err(Error::io(&p, e)),
        };
        for k in v.as_object().into_iter().flat_map(|o| o.keys()) {
            // dns-forward is the networks' resolvers' (rbox_network::dns::forward).
            if k != "log-opts" && k != "dns-forward" {
                tracing::warn!(
                    "{}: {k:?} is not a setting rbox knows; ignored",
                    p.display()
                );
            }
        }
        let mut out = std::collections::BTreeMap::new();
        for (k, val) in v["log-opts"].as_object().into_iter().flatten() {
            let val = val.as_str().ok_or_else(|| {
                Error::io(
                    &p,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("log-opts {k:?}: the value must be a string"),
                    ),
                )
            })?;
            out.insert(k.clone(), val.to_owned());
        }
        Ok(out)
    }

    /// The runtime directory (on a tmpfs) of this data root.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime
    }

    /// A running container's runtime files: live state, bundle, hostname, hosts,
    /// resolv.conf.
    pub fn run_path(&self, id: &str) -> PathBuf {
        self.runtime.join(id)
    }

    /// The data root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `containers/<id>`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Where libcontainer keeps the state of running containers.
    pub fn run_dir(&self) -> PathBuf {
        self.runtime.join("libcontainer")
    }

    fn name_path(&self, name: &str) -> PathBuf {
        self.root.join("names").join(name)
    }

    /// Records a new container: reserves its name, writes its configuration and a
    /// `created` state, and makes its directories.
    pub fn create(&self, config: &ContainerConfig) -> Result<()> {
        let _name = self.reserve_name(&config.name, &config.id)?;
        let dir = self.dir(&config.id);
        let made = (|| {
            for d in ["upper", "work", "rootfs"] {
                fs::create_dir_all(dir.join(d)).at(dir.join(d))?;
            }
            self.write_config(config)?;
            write_json(&dir.join("state.json"), &State::default())
        })();
        if made.is_err() {
            let _ = fs::remove_dir_all(&dir);
            let _ = fs::remove_file(self.name_path(&config.name));
        }
        made
    }

    /// Takes `name` for `id`. The name file comes into being whole and locked: written and
    /// locked as `.new-<id>` first, then linked to the name (which fails if it is taken),
    /// so that no one sees it empty or unlocked while its creator lives; it stays locked
    /// (the returned file) until the caller has written the container's configuration: a
    /// creator still at work is never mistaken for one that died between steps.
    fn reserve_name(&self, name: &str, id: &str) -> Result<File> {
        validate_name(name)?;
        let p = self.name_path(name);
        let new = p.with_file_name(format!(".new-{id}"));
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&new)
            .at(&new)?;
        let taken = (|| {
            rustix::fs::flock(&f, FlockOperation::LockExclusive)
                .map_err(|e| Error::io(&new, e.into()))?;
            f.write_all(id.as_bytes()).at(&new)?;
            for _ in 0..8 {
                match fs::hard_link(&new, &p) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        if !self.name_is_stale(&p)? {
                            break;
                        }
                    }
                    Err(e) => return Err(Error::io(&p, e)),
                }
            }
            Err(Error::NameInUse {
                name: name.to_owned(),
                id: fs::read_to_string(&p).unwrap_or_default(),
            })
        })();
        let _ = fs::remove_file(&new);
        taken.map(|()| f)
    }

    /// Whether the name file at `p` was left by a creator that died before recording its
    /// container; if so it is removed (and `true` returned, also when it vanished
    /// meanwhile). Locked by a live creator, or naming a recorded container, it is not.
    fn name_is_stale(&self, p: &Path) -> Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let mut f = match File::open(p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(Error::io(p, e)),
        };
        if rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Ok(false);
        }
        // Still the file at that path (not one removed meanwhile by another)?
        let held = f.metadata().at(p)?;
        match fs::symlink_metadata(p) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {}
            _ => return Ok(true),
        }
        let mut holder = String::new();
        f.read_to_string(&mut holder).at(p)?;
        let old = held
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a.as_secs() >= 10);
        // An empty file (of an rbox that made the file before writing it): its creator
        // died, or is just there; a holder without a configuration died before writing it.
        let stale = if holder.is_empty() {
            old
        } else {
            !self.dir(&holder).join("container.json").exists()
        };
        if stale {
            fs::remove_file(p).at(p)?;
        }
        Ok(stale)
    }

    /// Gives a container another name.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let _l = self.lock(id)?;
        let mut c = self.read_config(id)?;
        let _name = self.reserve_name(new_name, id)?;
        let old = std::mem::replace(&mut c.name, new_name.to_owned());
        if let Err(e) = self.write_config(&c) {
            let _ = fs::remove_file(self.name_path(new_name));
            return Err(e);
        }
        let _ = fs::remove_file(self.name_path(&old));
        crate::store::events::container(self.root(), &c, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// Rewrites a container's configuration (under its lock).
    pub fn write_config(&self, c: &ContainerConfig) -> Result<()> {
        write_json(&self.dir(&c.id).join("container.json"), c)
    }

    /// Reads a container's configuration.
    pub fn read_config(&self, id: &str) -> Result<ContainerConfig> {
        read_json(&self.dir(id).join("container.json")).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                Error::NoSuchContainer(id.to_owned())
            }
            e => e,
        })
    }

    /// Reads a container's state as recorded, without correcting it: the live state while
    /// a monitor runs it, else the one on disk.
    pub fn read_state(&self, id: &str) -> Result<State> {
        let not_found = |e: &Error| matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound);
        match read_json(&self.run_path(id).join("state.json")) {
            Ok(s) => Ok(s),
            Err(e) if not_found(&e) => match read_json(&self.dir(id).join("state.json")) {
                // A create killed between its configuration and its first state: the
                // container was made and never started.
                Err(e) if not_found(&e) && self.dir(id).join("container.json").is_file() => {
                    Ok(State::default())
                }
                r => r,
            },
            Err(e) => Err(e),
        }
    }

    /// Writes a container's state: on the tmpfs while a monitor runs it, on disk (and the
    /// live copy removed) once none does.
    pub fn write_state(&self, id: &str, state: &State) -> Result<()> {
        if state.monitor_pid != 0 {
            let run = self.run_path(id);
            fs::create_dir_all(&run).at(&run)?;
            return write_json(&run.join("state.json"), state);
        }
        write_json(&self.dir(id).join("state.json"), state)?;
        let _ = fs::remove_file(self.run_path(id).join("state.json"));
        let _ = fs::remove_dir(self.run_path(id));
        Ok(())
    }

    /// Writes a running container's state to disk as well as the live copy (what a reboot
    /// leaves of it).
    pub fn persist_state(&self, id: &str, state: &State) -> Result<()> {
        write_json(&self.dir(id).join("state.json"), state)
    }

    /// Removes a container's runtime files (after a run).
    pub fn remove_runtime_files(&self, id: &str) {
        let run = self.run_path(id);
        if run.exists() {
            // The live state goes last: it is what tells others a monitor owns the container.
            for name in [
                "bundle",
                "hostname",
                "hosts",
                "resolv.conf",
                "console.sock",
                "attach.sock",
            ] {
                let p = run.join(name);
                let _ = if p.is_dir() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
    }

    /// Changes a container's state under its lock.
    pub fn update_state(&self, id: &str, f: impl FnOnce(&mut State)) -> Result<State> {
        let _l = self.lock(id)?;
        let mut s = self.read_state(id)?;
        f(&mut s);
        self.write_state(id, &s)?;
        Ok(s)
    }

    /// Takes the container's lock (held by whoever changes its state or its mounts).
    pub fn lock(&self, id: &str) -> Result<ContainerLock> {
        let p = self.dir(id).join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::NoSuchContainer(id.to_owned()),
                _ => Error::io(&p, e),
            })?;
        rustix::fs::flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| Error::io(&p, e.into()))?;
        Ok(ContainerLock { _file: file })
    }

    /// Every container id.
    pub fn ids(&self) -> Result<Vec<String>> {
        let d = self.root.join("containers");
        let mut out = Vec::new();
        for e in fs::read_dir(&d).at(&d)? {
            let e = e.at(&d)?;
            let name = e.file_name().to_string_lossy().into_owned();
            // `.removing-<id>`: a container on its way out is no longer one.
            if !name.starts_with('.') && e.path().join("container.json").exists() {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// Loads a container with its state as it truly is: one whose monitor is gone is not
    /// running, whatever its state file says (`orphaned` then tells that what its run
    /// left is still to be undone, by `ops::lifecycle::reconcile`). A pure read.
    pub fn load(&self, id: &str) -> Result<Container> {
        let config = self.read_config(id)?;
        let mut state = self.read_state(id)?;
        // A run whose live state went with the runtime tmpfs (a reboot) left its disk state
        // as it was at create: the `ran` mark tells it ran.
        let lost_run = state.status == Status::Created
            && self.dir(id).join(RAN_MARK).exists()
            && !self.run_path(id).join("state.json").exists();
        // A live monitor (one starting the container too) owns what its run holds.
        let orphaned = (lost_run || state.is_running())
            && !process::alive(state.monitor_pid, state.monitor_start);
        if orphaned {
            dead_monitor_state(&mut state);
        }
        Ok(Container {
            config,
            state,
            orphaned,
        })
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(c) => out.push(c),
                Err(Error::NoSuchContainer(_)) => {}
                // Its files going as it is read: a container being removed.
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
        Ok(out)
    }

    /// Finds a container by name, full id, or unique id prefix.
    pub fn resolve(&self, name: &str) -> Result<String> {
        let n = name.strip_prefix('/').unwrap_or(name);
        if !n.is_empty() && !n.contains('/') {
            if let Ok(id) = fs::read_to_string(self.name_path(n)) {
                if self.dir(&id).join("container.json").exists() {
                    return Ok(id);
                }
            }
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NoSuchContainer(name.to_owned()));
        }
        let matches: Vec<String> = self
            .ids()?
            .into_iter()
            .filter(|id| id.starts_with(n))
            .collect();
        match matches.len() {
            0 => Err(Error::NoSuchContainer(name.to_owned())),
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => Err(Error::AmbiguousContainer(name.to_owned())),
        }
    }

    /// Makes a container vanish at once: its directory renamed to `.removing-<id>` (returned,
    /// for the caller to delete) and its name freed.
    pub fn detach_for_removal(&self, id: &str) -> Result<PathBuf> {
        let config = self.read_config(id)?;
        let dir = self.dir(id);
        let trash = self.root.join("containers").join(format!(".removing-{id}"));
        fs::rename(&dir, &trash).at(&dir)?;
        if fs::read_to_string(self.name_path(&config.name)).is_ok_and(|h| h == id) {
            let _ = fs::remove_file(self.name_path(&config.name));
        }
        Ok(trash)
    }

    /// Removes a container's files and frees its name. The caller has stopped it.
    pub fn remove_files(&self, id: &str) -> Result<()> {
        // Renamed away first, so a crash midway leaves no half container under its id.
        let trash = self.detach_for_removal(id)?;
        let _ = fs::remove_dir_all(self.run_dir().join(id));
        let _ = fs::remove_dir_all(self.run_path(id));
        fs::remove_dir_all(&trash).at(&trash)
    }

    /// The image ids that containers use (they keep their images from removal).
    pub fn images_in_use(&self) -> Result<HashSet<String>> {
        Ok(self
            .ids()?
            .iter()
            .filter_map(|id| self.read_config(id).ok())
            .map(|c| c.image_id)
            .collect())
    }

    /// The manifests containers use, for the image store's garbage collection.
    pub fn manifests_in_use(&self) -> Result<Vec<rbox_image::Digest>> {
        Ok(self
            .ids()?
            .iter()
            .filter_map(|id| self.read_config(id).ok())
            .filter_map(|c| c.manifest.parse().ok())
            .collect())
    }
}

/// Docker's rule for container names.
pub fn validate_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

/// Writes JSON atomically for readers (temp file, rename). Container files are not
/// fsynced: a crash can lose the last state change, which the next load corrects from the
/// processes themselves, but never leaves a torn file.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).expect("state serializes");
    rbox_image::store::replace_file(path, &bytes).map_err(Error::Image)
}

/// Reads a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .at(path)?;
    serde_json::from_slice(&buf)
        .map_err(|e| Error::io(path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// The state of a container whose monitor died unseen: its process died with the monitor
/// (parent-death signal), so it was killed, unless it was between runs (restarting).
pub fn dead_monitor_state(state: &mut State) {
    let was_restarting = state.status == crate::model::container::Status::Restarting;
    mark_exited(state, if was_restarting { state.exit_code } else { 137 });
    if !was_restarting {
        state.error = "the container's monitor died; the container was killed with it".into();
    }
}

/// Marks a state as exited now with `code`.
pub fn mark_exited(state: &mut State, code: i32) {
    state.ports.clear();
    state.paused = false;
    state.status = Status::Exited;
    state.exit_code = code;
    state.pid = 0;
    state.pid_start = 0;
    state.monitor_pid = 0;
    state.monitor_start = 0;
    state.finished_at = Some(crate::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(validate_name("web-1_a.b").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("-x").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("a b").is_err());
    }
}
