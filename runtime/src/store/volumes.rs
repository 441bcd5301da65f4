//! Volumes on disk: named and anonymous volumes under `<root>/volumes/<name>/_data`, their
//! records, users and pruning, and the mounts of a new container resolved against them
//! (`--volumes-from` followed, the image's VOLUMEs added).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::model::mount::bind_source;
pub use crate::model::mount::*;
use crate::store::containers::{read_json, write_json, Containers};

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

impl Containers {
    /// Removes the anonymous volumes of a removed container that no other container uses
    /// (one that shares them through --volumes-from keeps them).
    pub fn remove_anonymous_volumes(
        &self,
        config: &crate::model::container::ContainerConfig,
    ) -> Result<()> {
        for m in &config.host.mounts {
            if m.kind != MountKind::Volume || m.borrowed {
                continue;
            }
            let anonymous = self.volume(&m.source).is_ok_and(|v| v.anonymous);
            if anonymous && self.volume_users(&m.source)?.is_empty() {
                self.remove_volume(&m.source)?;
            }
        }
        Ok(())
    }

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
            None => crate::model::ids::random_hex(32),
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
        crate::store::events::other(
            self.root(),
            "volume",
            "create",
            &name,
            &[("driver", "local".into())],
        );
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
        fs::remove_dir_all(&trash).at(&trash)?;
        crate::store::events::other(
            self.root(),
            "volume",
            "destroy",
            name,
            &[("driver", "local".into())],
        );
        Ok(())
    }

    /// Removes unused volumes that `filter` admits: anonymous ones, or every one with `all`.
    /// Returns their names.
    /// Also finishes what a kill interrupted more than 10 s ago: a removal (`.removing-<name>`)
    /// or a creation that never wrote its `volume.json`.
    pub fn prune_volumes(
        &self,
        all: bool,
        filter: &crate::model::prune_filter::PruneFilter,
    ) -> Result<Vec<String>> {
        self.sweep_volumes(std::time::Duration::from_secs(10))?;
        let mut gone = Vec::new();
        for v in self.volumes()? {
            if (all || v.anonymous)
                && filter.admits(Some(&v.created_at), &v.labels)
                && self.volume_users(&v.name)?.is_empty()
            {
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
