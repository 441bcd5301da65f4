//! Volumes and mounts: named and anonymous volumes under `<root>/volumes/<name>/_data`,
//! bind mounts of host paths, tmpfs mounts, and the parsing of `-v`, `--mount`, `--tmpfs`
//! and `--volumes-from` with Docker's meaning.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::containers::{read_json, write_json, Containers};
use crate::error::{Error, IoContext, Result};

/// What kind of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A tmpfs, gone when the container stops.
    Tmpfs,
}

/// One mount of a container, as its configuration records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    /// Bind, volume or tmpfs.
    #[serde(rename = "Type")]
    pub kind: MountKind,
    /// The host path (bind) or the volume's name (volume); empty for tmpfs.
    pub source: String,
    /// The absolute path inside the container.
    pub destination: String,
    /// Read-only.
    pub read_only: bool,
    /// tmpfs options (`size=64m`, `mode=1777`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Lent by another container (`--volumes-from`): never removed with this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub borrowed: bool,
}

/// What rbox records about a volume beside its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// Its name (64 hex digits for an anonymous one).
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for one container without a name (`-v /path`, an image's VOLUME).
    #[serde(default)]
    pub anonymous: bool,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_volume_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            flag: "volume".into(),
            reason: format!(
                "{name:?} is not a valid volume name: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters"
            ),
        })
    }
}

/// `/a/./b/` → `/a/b`; refuses relative paths, `..`, `/`, and /proc or /sys.
pub fn clean_destination(dst: &str, flag: &str) -> Result<String> {
    let bad = |reason: String| Error::InvalidOption {
        flag: flag.into(),
        reason,
    };
    if !dst.starts_with('/') {
        return Err(bad(format!(
            "invalid mount path {dst:?}: a container path must be absolute"
        )));
    }
    let mut parts = Vec::new();
    for c in Path::new(dst).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(bad(format!(
                    "invalid mount path {dst:?}: '..' is not allowed"
                )))
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(bad(format!(
            "invalid mount path {dst:?}: can't mount over /"
        )));
    }
    if parts[0] == "proc" || parts[0] == "sys" {
        return Err(bad(format!(
            "invalid mount path {dst:?}: /{} belongs to the kernel",
            parts[0]
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A bind source made absolute against the current directory; a dangling symlink is refused.
fn bind_source(src: &str, flag: &str, create: bool) -> Result<String> {
    let p = if Path::new(src).is_absolute() {
        PathBuf::from(src)
    } else {
        std::env::current_dir()?.join(src)
    };
    let p: PathBuf = p.components().collect();
    match (fs::symlink_metadata(&p), fs::metadata(&p)) {
        (Ok(_), Ok(_)) => {}
        (Ok(_), Err(_)) => {
            return Err(Error::InvalidOption {
                flag: flag.into(),
                reason: format!("bind source {} is a dangling symbolic link", p.display()),
            })
        }
        (Err(_), _) if !create => {
            return Err(Error::InvalidOption {
                flag: flag.into(),
                reason: format!("bind source path does not exist: {}", p.display()),
            })
        }
        (Err(_), _) => {}
    }
    Ok(p.to_string_lossy().into_owned())
}

/// Parses `-v SRC:DST[:ro|rw]` or `-v DST` (an anonymous volume).
pub fn parse_volume_flag(spec: &str) -> Result<Mount> {
    let bad = |reason: &str| Error::InvalidOption {
        flag: "--volume".into(),
        reason: format!("{spec:?}: {reason}"),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => return Err(bad("too many colons: use SRC:DST[:ro|rw]")),
    };
    let mut read_only = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // SELinux relabelling (no SELinux here) and private propagation (every mount
            // is private) change nothing; the consistency modes are no-ops on Linux, as
            // in Docker.
            "z" | "Z" | "rprivate" | "private" | "cached" | "delegated" | "consistent" => {}
            _ => {
                return Err(bad(&format!(
                    "unknown mode {m:?}: use ro or rw (z, Z, cached, delegated, consistent \
                     are accepted and change nothing)"
                )))
            }
        }
    }
    let destination = clean_destination(dst, "--volume")?;
    let (kind, source) = if src.is_empty() {
        (MountKind::Volume, String::new())
    } else if src.starts_with('/') || src.starts_with('.') {
        (MountKind::Bind, src.to_owned())
    } else {
        validate_volume_name(src)?;
        (MountKind::Volume, src.to_owned())
    };
    Ok(Mount {
        kind,
        source,
        destination,
        read_only,
        options: vec![],
        borrowed: false,
    })
}

/// Parses `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]`.
pub fn parse_mount_flag(spec: &str) -> Result<Mount> {
    let bad = |reason: String| Error::InvalidOption {
        flag: "--mount".into(),
        reason: format!("{spec:?}: {reason}"),
    };
    let mut kind = MountKind::Volume;
    let (mut source, mut destination, mut read_only) = (String::new(), None, false);
    let mut options = Vec::new();
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (field.trim(), None),
        };
        match (k, v) {
            ("type", Some("bind")) => kind = MountKind::Bind,
            ("type", Some("volume")) => kind = MountKind::Volume,
            ("type", Some("tmpfs")) => kind = MountKind::Tmpfs,
            ("type", Some(t)) => return Err(bad(format!("unknown type {t:?}"))),
            ("source" | "src", Some(s)) => source = s.to_owned(),
            ("destination" | "dst" | "target", Some(d)) => destination = Some(d.to_owned()),
            ("readonly" | "ro", None | Some("true") | Some("1")) => read_only = true,
            ("readonly" | "ro", Some("false") | Some("0")) => read_only = false,
            ("tmpfs-size", Some(s)) => options.push(format!("size={s}")),
            ("tmpfs-mode", Some(m)) => options.push(format!("mode={m}")),
            ("bind-propagation" | "volume-nocopy" | "consistency", _) => {}
            (k, _) => return Err(bad(format!("unknown field {k:?}"))),
        }
    }
    let destination = destination.ok_or_else(|| bad("a target is required".into()))?;
    let destination = clean_destination(&destination, "--mount")?;
    match kind {
        MountKind::Bind if source.is_empty() => {
            return Err(bad("a bind mount needs a source".into()))
        }
        MountKind::Volume if !source.is_empty() => validate_volume_name(&source)?,
        MountKind::Tmpfs if !source.is_empty() => {
            return Err(bad("a tmpfs mount takes no source".into()))
        }
        _ => {}
    }
    Ok(Mount {
        kind,
        source,
        destination,
        read_only,
        options,
        borrowed: false,
    })
}

/// Parses `--tmpfs /path[:size=…,mode=…]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<Mount> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let destination = clean_destination(dst, "--tmpfs")?;
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let ok = o.starts_with("size=")
            || o.starts_with("mode=")
            || [
                "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
            ]
            .contains(&o);
        if !ok {
            return Err(Error::InvalidOption {
                flag: "--tmpfs".into(),
                reason: format!("{spec:?}: unknown option {o:?}"),
            });
        }
        options.push(o.to_owned());
    }
    Ok(Mount {
        kind: MountKind::Tmpfs,
        source: String::new(),
        destination,
        read_only: options.iter().any(|o| o == "ro"),
        options,
        borrowed: false,
    })
}

impl Containers {
    /// `<root>/volumes`.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    /// `<root>/volumes/<name>/_data`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// A volume's record.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        read_json(&self.volumes_dir().join(name).join("volume.json")).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                Error::Conflict(format!("no such volume: {name}"))
            }
            e => e,
        })
    }

    /// Creates a volume (a named one that exists is returned as it is).
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<Volume> {
        if let Some(n) = name {
            validate_volume_name(n)?;
            if let Ok(v) = self.volume(n) {
                return Ok(v);
            }
        }
        let name = match name {
            Some(n) => n.to_owned(),
            None => crate::create::random_hex(32),
        };
        let dir = self.volumes_dir().join(&name);
        fs::create_dir_all(dir.join("_data")).at(&dir)?;
        let v = Volume {
            name: name.clone(),
            created_at: crate::now(),
            labels,
            anonymous: false,
        };
        write_json(&dir.join("volume.json"), &v)?;
        Ok(v)
    }

    fn create_anonymous(&self) -> Result<Volume> {
        let mut v = self.create_volume(None, BTreeMap::new())?;
        v.anonymous = true;
        write_json(&self.volumes_dir().join(&v.name).join("volume.json"), &v)?;
        Ok(v)
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let d = self.volumes_dir();
        let mut out = Vec::new();
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(d, e)),
        };
        for e in rd {
            let name = e.at(&d)?.file_name().to_string_lossy().into_owned();
            // `.removing-<name>`: a volume on its way out is no longer one.
            if name.starts_with('.') {
                continue;
            }
            if let Ok(v) = self.volume(&name) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The containers whose mounts use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .ids()?
            .into_iter()
            .filter_map(|id| self.read_config(&id).ok())
            .filter(|c| {
                c.host
                    .mounts
                    .iter()
                    .any(|m| m.kind == MountKind::Volume && m.source == name)
            })
            .map(|c| c.name)
            .collect())
    }

    /// Removes a volume and its data; refused while a container uses it.
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        self.volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use by container {}",
                users.join(", ")
            )));
        }
        let dir = self.volumes_dir().join(name);
        let trash = self.volumes_dir().join(format!(".removing-{name}"));
        fs::rename(&dir, &trash).at(&dir)?;
        fs::remove_dir_all(&trash).at(&trash)
    }

    /// Removes unused volumes: anonymous ones, or every one with `all`. Returns their names.
    /// Also finishes what a kill interrupted more than 10 s ago: a removal (`.removing-<name>`)
    /// or a creation that never wrote its `volume.json`.
    pub fn prune_volumes(&self, all: bool) -> Result<Vec<String>> {
        self.sweep_volumes(std::time::Duration::from_secs(10))?;
        let mut gone = Vec::new();
        for v in self.volumes()? {
            if (all || v.anonymous) && self.volume_users(&v.name)?.is_empty() {
                match self.remove_volume(&v.name) {
                    Ok(()) => gone.push(v.name),
                    // Removed meanwhile by someone else (a --rm container's cleanup).
                    Err(_) if self.volume(&v.name).is_err() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(gone)
    }

    fn sweep_volumes(&self, age: std::time::Duration) -> Result<()> {
        let d = self.volumes_dir();
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(d, e)),
        };
        for e in rd {
            let e = e.at(&d)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let interrupted = name.starts_with(".removing-")
                || (!name.starts_with('.') && !path.join("volume.json").exists());
            let changed = e
                .metadata()
                .map(|m| std::os::unix::fs::MetadataExt::ctime(&m))
                .unwrap_or(i64::MAX);
            if !interrupted || chrono::Utc::now().timestamp() - changed < age.as_secs() as i64 {
                continue;
            }
            match fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(path, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Turns parsed mounts into the mounts a new container records: bind sources made
    /// absolute (and created, for `-v`), volumes named and created, `--volumes-from`
    /// followed, the image's VOLUMEs added as anonymous volumes where nothing else is
    /// mounted. What it created is returned too, to be undone if the container isn't made.
    pub fn prepare_mounts(
        &self,
        requested: &[(Mount, bool)],
        volumes_from: &[String],
        image_volumes: &[String],
    ) -> Result<(Vec<Mount>, Vec<PathBuf>)> {
        let mut mounts: Vec<Mount> = Vec::new();
        for spec in volumes_from {
            let (name, mode) = match spec.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m)),
                _ => (spec.as_str(), None),
            };
            let id = self.resolve(name).map_err(|_| Error::InvalidOption {
                flag: "--volumes-from".into(),
                reason: format!("no such container: {name}"),
            })?;
            for m in self.read_config(&id)?.host.mounts {
                if m.kind == MountKind::Tmpfs {
                    continue;
                }
                let read_only = match mode {
                    Some(m) => m == "ro",
                    None => m.read_only,
                };
                mounts.retain(|x| x.destination != m.destination);
                mounts.push(Mount {
                    read_only,
                    borrowed: true,
                    ..m
                });
            }
        }
        // Checked before anything is created: a bad bind source leaves nothing behind.
        let mut checked = Vec::new();
        for (m, create_missing) in requested {
            let mut m = m.clone();
            if m.kind == MountKind::Bind {
                let flag = if *create_missing {
                    "--volume"
                } else {
                    "--mount"
                };
                m.source = bind_source(&m.source, flag, *create_missing)?;
            }
            checked.push(m);
        }
        let mut created = Vec::new();
        let result = (|| {
            for mut m in checked {
                match m.kind {
                    MountKind::Bind => {
                        if !Path::new(&m.source).exists() {
                            fs::create_dir_all(&m.source).at(&m.source)?;
                            created.push(PathBuf::from(&m.source));
                        }
                    }
                    MountKind::Volume if m.source.is_empty() => {
                        let v = self.create_anonymous()?;
                        created.push(self.volumes_dir().join(&v.name));
                        m.source = v.name;
                    }
                    MountKind::Volume => {
                        if self.volume(&m.source).is_err() {
                            self.create_volume(Some(&m.source), BTreeMap::new())?;
                            created.push(self.volumes_dir().join(&m.source));
                        }
                    }
                    MountKind::Tmpfs => {}
                }
                mounts.retain(|x| x.destination != m.destination);
                mounts.push(m);
            }
            for dst in image_volumes {
                let dst = clean_destination(dst, "VOLUME")?;
                if mounts.iter().any(|m| m.destination == dst) {
                    continue;
                }
                let v = self.create_anonymous()?;
                created.push(self.volumes_dir().join(&v.name));
                mounts.push(Mount {
                    kind: MountKind::Volume,
                    source: v.name,
                    destination: dst,
                    read_only: false,
                    options: vec![],
                    borrowed: false,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            undo_created(&created);
            return Err(e);
        }
        // Parents before children, as they must be mounted.
        mounts.sort_by_key(|m| m.destination.matches('/').count());
        Ok((mounts, created))
    }
}

/// Fills each empty volume of a container with what its image has at the mount point
/// (rootfs mounted at `rootfs_dir`), keeping ownership, modes and links; the volume's root
/// takes the mount point's owner and mode.
pub fn fill_empty_volumes(
    containers: &Containers,
    config: &crate::container::ContainerConfig,
    rootfs_dir: &Path,
) -> Result<()> {
    use crate::rootfs;
    for m in &config.host.mounts {
        if m.kind != MountKind::Volume {
            continue;
        }
        let data = containers.volume_data(&m.source);
        if fs::read_dir(&data).at(&data)?.next().is_some() {
            continue;
        }
        let root = rootfs::open_root(rootfs_dir)?;
        let Ok(src) = rootfs::open_in_root(
            &root,
            Path::new(&m.destination),
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        ) else {
            continue;
        };
        let dst = rootfs::open_root(&data)?;
        crate::copy::copy_dir_contents(&src, &dst, &m.destination)
            .map_err(|e| Error::Runtime(format!("filling volume {}: {e}", m.source)))?;
        if let Ok(st) = rustix::fs::fstat(&src) {
            let _ = rustix::fs::fchown(
                &dst,
                Some(rustix::fs::Uid::from_raw(st.st_uid)),
                Some(rustix::fs::Gid::from_raw(st.st_gid)),
            );
            let _ = rustix::fs::fchmod(&dst, rustix::fs::Mode::from_raw_mode(st.st_mode & 0o7777));
        }
    }
    Ok(())
}

/// Fills a new container's empty volumes at create time (as Docker does: a data-volume
/// container that is never started still lends filled volumes), through a short-lived
/// mount of its rootfs.
pub fn fill_at_create(
    images: &rbox_image::Store,
    containers: &Containers,
    config: &crate::container::ContainerConfig,
) -> Result<()> {
    if !config
        .host
        .mounts
        .iter()
        .any(|m| m.kind == MountKind::Volume)
    {
        return Ok(());
    }
    let dir = containers.dir(&config.id);
    let lowers: Vec<PathBuf> = config
        .layers
        .iter()
        .map(|l| l.parse().map(|d| images.snapshot_fs(&d)))
        .collect::<rbox_image::Result<_>>()?;
    if lowers.is_empty() {
        return Ok(());
    }
    let _lock = containers.lock(&config.id)?;
    let target = dir.join("rootfs");
    crate::rootfs::mount_overlay(&lowers, &dir.join("upper"), &dir.join("work"), &target)?;
    let filled = fill_empty_volumes(containers, config, &target);
    crate::rootfs::unmount(&target)?;
    filled
}

/// Removes what `prepare_mounts` created, for a container that was not made after all.
pub fn undo_created(created: &[PathBuf]) {
    for p in created.iter().rev() {
        let _ = fs::remove_dir_all(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_volume_removals_and_creations_are_not_volumes_and_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        c.create_volume(Some("kept"), BTreeMap::new()).unwrap();
        let gone = c.create_volume(Some("gone"), BTreeMap::new()).unwrap();
        // A removal killed after its rename, and a creation killed before its record.
        let vols = c.volumes_dir();
        fs::rename(vols.join(&gone.name), vols.join(".removing-gone")).unwrap();
        fs::create_dir_all(vols.join("half/_data")).unwrap();
        let names: Vec<String> = c.volumes().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["kept"]);
        // Too young to be sure nobody is at work on them: left alone.
        c.sweep_volumes(std::time::Duration::from_secs(3600))
            .unwrap();
        assert!(vols.join(".removing-gone").exists() && vols.join("half").exists());
        c.sweep_volumes(std::time::Duration::ZERO).unwrap();
        let mut left: Vec<String> = fs::read_dir(&vols)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["kept"]);
        let _ = fs::remove_dir_all(c.runtime_dir());
    }

    #[test]
    fn volume_flags_parse_as_dockers() {
        let m = parse_volume_flag("data:/var/lib/db:ro").unwrap();
        assert_eq!(
            (
                m.kind,
                m.source.as_str(),
                m.destination.as_str(),
                m.read_only
            ),
            (MountKind::Volume, "data", "/var/lib/db", true)
        );
        let m = parse_volume_flag("./app:/app").unwrap();
        assert_eq!(m.kind, MountKind::Bind);
        let m = parse_volume_flag("/cache").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, ""));
        assert!(parse_volume_flag("data:relative").is_err());
        assert!(parse_volume_flag("data:/proc/x").is_err());
        assert!(parse_volume_flag("data:/sys").is_err());
        assert!(parse_volume_flag("a/b:/x").is_err());
        assert!(parse_volume_flag("..:/x").is_ok(), "a relative host path");
        assert!(parse_volume_flag("data:/x:rx").is_err());
        assert!(parse_volume_flag("/a:/b/../c").is_err());
    }

    #[test]
    fn mount_and_tmpfs_flags_parse() {
        let m = parse_mount_flag("type=bind,src=/tmp,dst=/x,readonly").unwrap();
        assert_eq!((m.kind, m.read_only), (MountKind::Bind, true));
        let m = parse_mount_flag("type=tmpfs,target=/scratch,tmpfs-size=1m").unwrap();
        assert_eq!(m.options, vec!["size=1m".to_string()]);
        assert!(parse_mount_flag("type=nfs,dst=/x").is_err());
        assert!(parse_mount_flag("type=volume,src=v").is_err());
        let t = parse_tmpfs_flag("/run:size=64m,mode=1777").unwrap();
        assert_eq!(t.options.len(), 2);
        assert!(parse_tmpfs_flag("/run:bogus").is_err());
    }

    #[test]
    fn volume_names_follow_dockers_rule() {
        assert!(validate_volume_name("db-data_1.x").is_ok());
        for bad in ["a", "../x", "a/b", "-x", ".."] {
            assert!(validate_volume_name(bad).is_err(), "{bad}");
        }
    }
}
