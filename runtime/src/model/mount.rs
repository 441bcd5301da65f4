//! Mounts as a container's configuration records them, and the parsing of `-v`,
//! `--mount`, `--tmpfs` with Docker's meaning (a `-v` bind source is made absolute and, as
//! Docker does, created when missing).

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    /// tmpfs options (`size=64m`, `mode=1777`); a volume's `nocopy` (not filled from the
    /// image when it is new).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Lent by another container (`--volumes-from`): never removed with this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub borrowed: bool,
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
pub(crate) fn bind_source(src: &str, flag: &str, create: bool) -> Result<String> {
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
    let mut nocopy = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => nocopy = true,
            // SELinux relabelling (no SELinux here) and private propagation (every mount
            // is private) change nothing; the consistency modes are no-ops on Linux, as
            // in Docker.
            "z" | "Z" | "rprivate" | "private" | "cached" | "delegated" | "consistent" => {}
            _ => {
                return Err(bad(&format!(
                    "unknown mode {m:?}: use ro, rw or (a volume) nocopy (z, Z, cached, \
                     delegated, consistent are accepted and change nothing)"
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
    if nocopy && kind != MountKind::Volume {
        return Err(bad("nocopy is for volumes, not binds"));
    }
    Ok(Mount {
        kind,
        source,
        destination,
        read_only,
        options: if nocopy {
            vec!["nocopy".into()]
        } else {
            vec![]
        },
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
    let mut nocopy = false;
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
            ("volume-nocopy", None | Some("true") | Some("1")) => nocopy = true,
            ("volume-nocopy", Some("false") | Some("0")) => nocopy = false,
            // Every mount is private (rprivate), and the consistency modes are Docker's
            // no-ops on Linux.
            ("bind-propagation", Some("rprivate" | "private")) | ("consistency", _) => {}
            ("bind-propagation", Some(p)) => {
                return Err(bad(format!(
                    "bind-propagation={p} is not supported: every mount is rprivate"
                )))
            }
            (k, _) => return Err(bad(format!("unknown field {k:?}"))),
        }
    }
    if nocopy {
        if kind != MountKind::Volume {
            return Err(bad("volume-nocopy is for volumes".into()));
        }
        options.push("nocopy".into());
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
