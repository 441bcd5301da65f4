//! A pod's volumes as the engine makes them: binds, tmpfs, per-pod and named volumes, and
//! files written from ConfigMaps and Secrets.

use serde::{Deserialize, Serialize};

use super::env::{SourceKind, Sources};
use crate::types::{HostPathType, KeyToPath, StorageMedium, Volume, VolumeMount};

/// One volume of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumePlan {
    pub name: String,
    pub source: VolumeSource,
}

/// Where a volume's contents come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VolumeSource {
    /// `hostPath`: a bind of a host path. Before binding, the engine checks or makes what is
    /// there by `check` ([`host_path_check`]): DirectoryOrCreate makes a 0755 directory (and
    /// parents) when absent; FileOrCreate an empty 0644 file (the parent must exist);
    /// Directory, File, Socket, CharDevice, BlockDevice require that type, and refuse the
    /// pod otherwise.
    Bind { path: String, check: HostPathType },
    /// `emptyDir` with `medium: Memory`: a tmpfs, of `size_bytes` when a sizeLimit is set.
    Tmpfs { size_bytes: Option<u64> },
    /// `emptyDir` on disk: a volume of the pod's own, made empty with it and removed with it
    /// (named by [`crate::naming::pod_volume_name`]).
    PodVolume { size_bytes: Option<u64> },
    /// `persistentVolumeClaim`: the named volume of the claim's name, kept across pods.
    Claim { claim: String, read_only: bool },
    /// `configMap` or `secret`: files the engine writes into a fresh directory (a tmpfs for
    /// Secrets, as the kubelet does), mounted read-only.
    Files {
        secret: bool,
        files: Vec<FileToWrite>,
    },
}

/// A file of a ConfigMap or Secret volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileToWrite {
    /// Relative to the volume's root; may contain `/` (the engine makes the directories).
    pub path: String,
    pub contents: Vec<u8>,
    /// Permission bits: the item's `mode`, else `defaultMode`, else 0644.
    pub mode: u32,
}

/// A mount of a volume into one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPlan {
    pub volume: String,
    pub path: String,
    pub read_only: bool,
    /// A path inside the volume to mount instead of its root.
    pub sub_path: Option<String>,
}

/// What is at a hostPath on this host (symlinks followed, as the kubelet stats it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundAt {
    Nothing,
    Directory,
    File,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

/// What the engine does before binding a hostPath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPathAction {
    Bind,
    /// Make the directory (and its parents), 0755, then bind.
    CreateDirectory,
    /// Make an empty file, 0644, then bind (its directory must exist).
    CreateFile,
}

/// The kubelet's hostPath check: what to do given what is there, or why the pod cannot
/// start. An unchecked path that is absent is made a directory, as the container runtime
/// under Kubernetes makes it.
pub fn host_path_check(check: HostPathType, found: FoundAt) -> Result<HostPathAction, String> {
    use HostPathType as T;
    let want = |ok: bool, what: &str| {
        if ok {
            Ok(HostPathAction::Bind)
        } else if found == FoundAt::Nothing {
            Err(format!(
                "hostPath type check failed: nothing at the path, a {what} is required"
            ))
        } else {
            Err(format!("hostPath type check failed: not a {what}"))
        }
    };
    match (check, found) {
        (T::Unchecked | T::DirectoryOrCreate, FoundAt::Nothing) => {
            Ok(HostPathAction::CreateDirectory)
        }
        (T::FileOrCreate, FoundAt::Nothing) => Ok(HostPathAction::CreateFile),
        (T::Unchecked, _) => Ok(HostPathAction::Bind),
        (T::DirectoryOrCreate | T::Directory, f) => want(f == FoundAt::Directory, "directory"),
        (T::FileOrCreate | T::File, f) => want(f == FoundAt::File, "file"),
        (T::Socket, f) => want(f == FoundAt::Socket, "socket"),
        (T::CharDevice, f) => want(f == FoundAt::CharDevice, "character device"),
        (T::BlockDevice, f) => want(f == FoundAt::BlockDevice, "block device"),
    }
}

const DEFAULT_MODE: i32 = 0o644;

fn files(
    data: Option<&std::collections::BTreeMap<String, Vec<u8>>>,
    items: &[KeyToPath],
    default_mode: Option<i32>,
    optional: bool,
    what: &str,
) -> Result<Vec<FileToWrite>, String> {
    let mode = |m: Option<i32>| m.or(default_mode).unwrap_or(DEFAULT_MODE) as u32;
    let Some(data) = data else {
        return if optional {
            Ok(Vec::new())
        } else {
            Err(format!("no {what} in the input (optional: true allows it)"))
        };
    };
    if items.is_empty() {
        return Ok(data
            .iter()
            .map(|(k, v)| FileToWrite {
                path: k.clone(),
                contents: v.clone(),
                mode: mode(None),
            })
            .collect());
    }
    let mut out = Vec::new();
    for item in items {
        match data.get(&item.key) {
            Some(v) => out.push(FileToWrite {
                path: item.path.clone(),
                contents: v.clone(),
                mode: mode(item.mode),
            }),
            None if optional => {}
            None => {
                return Err(format!(
                    "{what} has no key {:?} (optional: true allows it)",
                    item.key
                ))
            }
        }
    }
    Ok(out)
}

/// One volume's plan, or the message of why it cannot be made.
pub(crate) fn resolve(
    v: &Volume,
    namespace: &str,
    sources: &Sources,
) -> Result<VolumePlan, String> {
    let size = |q: &Option<crate::Quantity>| q.as_ref().and_then(|q| q.bytes().ok());
    let source = if let Some(h) = &v.host_path {
        VolumeSource::Bind {
            path: h.path.clone(),
            check: h.type_.unwrap_or_default(),
        }
    } else if let Some(e) = &v.empty_dir {
        match e.medium.unwrap_or_default() {
            StorageMedium::Memory => VolumeSource::Tmpfs {
                size_bytes: size(&e.size_limit),
            },
            StorageMedium::Disk => VolumeSource::PodVolume {
                size_bytes: size(&e.size_limit),
            },
        }
    } else if let Some(c) = &v.config_map {
        let data = sources.get(SourceKind::ConfigMap, namespace, &c.name);
        let what = format!("ConfigMap {:?}", c.name);
        VolumeSource::Files {
            secret: false,
            files: files(
                data,
                &c.items,
                c.default_mode,
                c.optional.unwrap_or(false),
                &what,
            )?,
        }
    } else if let Some(s) = &v.secret {
        let data = sources.get(SourceKind::Secret, namespace, &s.secret_name);
        let what = format!("Secret {:?}", s.secret_name);
        VolumeSource::Files {
            secret: true,
            files: files(
                data,
                &s.items,
                s.default_mode,
                s.optional.unwrap_or(false),
                &what,
            )?,
        }
    } else if let Some(p) = &v.persistent_volume_claim {
        VolumeSource::Claim {
            claim: p.claim_name.clone(),
            read_only: p.read_only.unwrap_or(false),
        }
    } else {
        return Err("no source".into());
    };
    Ok(VolumePlan {
        name: v.name.clone(),
        source,
    })
}

/// A container's mount; ConfigMap and Secret volumes are always read-only, as the kubelet
/// mounts them, and a read-only claim makes its mounts read-only.
pub(crate) fn mount(m: &VolumeMount, volumes: &[VolumePlan]) -> MountPlan {
    let forced = volumes.iter().find(|v| v.name == m.name).is_some_and(|v| {
        matches!(
            v.source,
            VolumeSource::Files { .. }
                | VolumeSource::Claim {
                    read_only: true,
                    ..
                }
        )
    });
    MountPlan {
        volume: m.name.clone(),
        path: m.mount_path.clone(),
        read_only: forced || m.read_only.unwrap_or(false),
        sub_path: m.sub_path.clone().filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_checks() {
        use HostPathType as T;
        assert_eq!(
            host_path_check(T::DirectoryOrCreate, FoundAt::Nothing),
            Ok(HostPathAction::CreateDirectory)
        );
        assert_eq!(
            host_path_check(T::FileOrCreate, FoundAt::Nothing),
            Ok(HostPathAction::CreateFile)
        );
        assert_eq!(
            host_path_check(T::FileOrCreate, FoundAt::File),
            Ok(HostPathAction::Bind)
        );
        assert_eq!(
            host_path_check(T::Unchecked, FoundAt::Socket),
            Ok(HostPathAction::Bind)
        );
        assert_eq!(
            host_path_check(T::Directory, FoundAt::File).unwrap_err(),
            "hostPath type check failed: not a directory"
        );
        assert!(host_path_check(T::Socket, FoundAt::Nothing).is_err());
        assert!(host_path_check(T::DirectoryOrCreate, FoundAt::File).is_err());
    }
}
