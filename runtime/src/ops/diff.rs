//! `diff`: a container's changes to its image's filesystem, read from its writable (upper)
//! layer as docker's overlay driver reads them: an overlay whiteout is a deletion, an entry
//! its image has too is a change, any other an addition. The empty files the runtime makes as
//! mount points for /etc/hostname, /etc/hosts and /etc/resolv.conf are not changes (docker
//! keeps them out of the container's layer too), nor a directory changed only by them.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::store::containers::Containers;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `A`: added.
    Added,
    /// `C`: changed.
    Changed,
    /// `D`: deleted.
    Deleted,
}

impl Kind {
    /// Docker's letter.
    pub fn letter(self) -> char {
        match self {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        }
    }
}

/// One line of `diff`: the kind and the path inside the container (`/etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub path: String,
}

/// Container `id`'s changes, sorted by path.
pub fn changes(containers: &Containers, id: &str) -> crate::Result<Vec<Change>> {
    let c = containers.read_config(id)?;
    let images = rbox_image::Store::open(containers.root())?;
    let lowers: Vec<PathBuf> = c
        .layers
        .iter()
        .map(|l| l.parse().map(|d| images.snapshot_fs(&d)))
        .collect::<rbox_image::Result<_>>()?;
    let upper = containers.dir(id).join("upper");
    let mut out = Vec::new();
    walk(&upper, Path::new(""), &lowers, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Whether `rel` is in one of the image's layers (not through a symlink of theirs).
fn in_lowers(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers.iter().any(|l| {
        let mut at = l.clone();
        let mut parts = rel.components().peekable();
        while let Some(part) = parts.next() {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if parts.peek().is_none() => return !is_whiteout(&m),
                Ok(m) if m.is_dir() => {}
                _ => return false,
            }
        }
        false
    })
}

fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

/// The mount points the runtime makes in a container's upper directory.
const MOUNT_POINTS: &[&str] = &["etc/hostname", "etc/hosts", "etc/resolv.conf"];

/// Walks `dir` (at `rel` in the container); returns whether it skipped a mount point.
fn walk(dir: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> crate::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut skipped = false;
    for entry in entries {
        let entry = entry?;
        let m = entry.metadata()?;
        let rel = rel.join(entry.file_name());
        let lower = in_lowers(lowers, &rel);
        if !lower && m.is_file() && m.len() == 0 && MOUNT_POINTS.iter().any(|p| rel == Path::new(p))
        {
            skipped = true;
            continue;
        }
        let kind = if is_whiteout(&m) {
            Kind::Deleted
        } else if lower {
            Kind::Changed
        } else {
            Kind::Added
        };
        let at = out.len();
        out.push(Change {
            kind,
            path: format!("/{}", rel.display()),
        });
        if m.is_dir() && walk(&entry.path(), &rel, lowers, out)? {
            // A directory of the image copied up only for a mount point in it.
            if kind == Kind::Changed && out.len() == at + 1 {
                out.pop();
            }
        }
    }
    Ok(skipped)
}
