//! The build context and COPY/ADD: sources resolved inside the context (never outside it,
//! not even through a symlink), filtered by `.dockerignore`, hashed for the cache by
//! content and metadata (not mtimes), and written into the image's root relative to open
//! directory fds, following no link the image may hold.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rbox_image::Digest;
use rbox_runtime::rootfs;
use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

use crate::dockerignore::DockerIgnore;

/// A build context: its directory, its `.dockerignore`, and a stat cache of the content
/// digests of its files.
pub struct Context {
    root: PathBuf,
    ignore: DockerIgnore,
    stats: std::cell::RefCell<StatCache>,
}

/// Content digests of context files by path, valid while the file's size, mtime, ctime
/// and inode are those recorded: a rebuild of an unchanged context reads no file content,
/// and a touched file is read again but, its content unchanged, keeps the cache hit.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StatCache {
    #[serde(skip)]
    path: Option<PathBuf>,
    #[serde(skip)]
    dirty: bool,
    files: std::collections::HashMap<String, (u64, i64, i64, u64, String)>,
}

impl Context {
    /// Opens the context directory `dir`.
    pub fn open(dir: &Path) -> io::Result<Context> {
        let root = fs::canonicalize(dir)?;
        if !root.is_dir() {
            return Err(io::Error::other(format!(
                "{}: the build context is not a directory",
                dir.display()
            )));
        }
        let ignore = DockerIgnore::parse(
            &fs::read_to_string(root.join(".dockerignore")).unwrap_or_default(),
        );
        Ok(Context {
            root,
            ignore,
            stats: Default::default(),
        })
    }

    /// Keeps the stat cache of this context in `dir` (loaded now, saved by `save_stats`).
    pub fn with_stat_cache(self, dir: &Path) -> Context {
        let key = Digest::of(self.root.as_os_str().as_bytes());
        let path = dir.join(format!("stat-{}.json", &key.hex()[..16]));
        let mut cache: StatCache = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        cache.path = Some(path);
        *self.stats.borrow_mut() = cache;
        self
    }

    /// Writes the stat cache back if it changed.
    pub fn save_stats(&self) {
        let c = self.stats.borrow();
        if let (true, Some(p)) = (c.dirty, &c.path) {
            if let Some(dir) = p.parent() {
                let _ = fs::create_dir_all(dir);
            }
            if let Ok(bytes) = serde_json::to_vec(&*c) {
                let _ = rbox_image::store::replace_file(p, &bytes);
            }
        }
    }

    /// The content digest of the file at `full` (`rel` in the context), from the stat
    /// cache when the file is unchanged.
    fn file_digest(&self, full: &Path, rel: &str, m: &fs::Metadata) -> io::Result<String> {
        let stamp = (
            m.len(),
            m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            m.ctime() * 1_000_000_000 + m.ctime_nsec(),
            m.ino(),
        );
        if let Some(e) = self.stats.borrow().files.get(rel) {
            if (e.0, e.1, e.2, e.3) == stamp {
                return Ok(e.4.clone());
            }
        }
        let d = content_digest(full)?;
        let mut c = self.stats.borrow_mut();
        c.files.insert(
            rel.to_owned(),
            (stamp.0, stamp.1, stamp.2, stamp.3, d.clone()),
        );
        c.dirty = true;
        Ok(d)
    }

    /// The context's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn excluded(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.is_excluded(rel)
    }
}

/// `a/./b/` → `a/b`; `None` if it climbs out with `..`.
fn clean(rel: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(rel.trim_start_matches('/')).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

/// Glob match of one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(b'['), Some(c)) => {
            let Some(end) = pattern.iter().position(|b| *b == b']') else {
                return false;
            };
            let set = &pattern[1..end];
            let (neg, set) = match set.first() {
                Some(b'!') | Some(b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= (set[i]..=set[i + 2]).contains(c);
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != neg && glob(&pattern[end + 1..], &name[1..])
        }
        (Some(p), Some(c)) if p == c => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The sources a COPY names, as paths relative to `root`, globs expanded.
fn resolve_sources(
    root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for s in sources {
        let rel =
            clean(s).ok_or_else(|| format!("COPY source {s:?} is outside the build context"))?;
        let last = rel
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let matches: Vec<PathBuf> = if last.iter().any(|b| b"*?[".contains(b)) {
            let parent = rel.parent().unwrap_or(Path::new(""));
            let mut names: Vec<PathBuf> = fs::read_dir(root.join(parent))
                .map_err(|e| format!("{s}: {e}"))?
                .filter_map(|e| e.ok())
                .filter(|e| glob(&last, e.file_name().as_bytes()))
                .map(|e| parent.join(e.file_name()))
                .filter(|p| ctx.is_none_or(|c| !c.excluded(&p.to_string_lossy())))
                .collect();
            names.sort();
            names
        } else {
            vec![rel.clone()]
        };
        if matches.is_empty() {
            return Err(format!("no source files were specified by {s:?}"));
        }
        for m in matches {
            let full = root.join(&m);
            if fs::symlink_metadata(&full).is_err() {
                return Err(format!("{s:?}: file not found in the build context"));
            }
            if let Some(c) = ctx {
                // The source itself may be a link; where it leads must still be inside.
                let real = fs::canonicalize(&full).map_err(|e| format!("{s}: {e}"))?;
                if !real.starts_with(c.root()) {
                    return Err(format!(
                        "COPY source {s:?} is outside the build context (a symlink out)"
                    ));
                }
                if c.excluded(&m.to_string_lossy()) && !m.as_os_str().is_empty() {
                    return Err(format!("{s:?}: excluded by .dockerignore"));
                }
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// The digest of the sources' content and metadata (type, mode, owner, size, link
/// targets, content — not times), for the cache key.
pub fn hash_sources(
    root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
) -> Result<Digest, String> {
    let mut h = Sha256::new();
    for rel in resolve_sources(root, sources, ctx)? {
        let full = root.join(&rel);
        let full = if ctx.is_some() {
            fs::canonicalize(&full).map_err(|e| e.to_string())?
        } else {
            full
        };
        hash_tree(&full, &rel, ctx, &mut h).map_err(|e| format!("{}: {e}", rel.display()))?;
    }
    Ok(Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 is 64 hex digits"))
}

fn hash_tree(path: &Path, rel: &Path, ctx: Option<&Context>, h: &mut Sha256) -> io::Result<()> {
    let m = fs::symlink_metadata(path)?;
    h.update(rel.as_os_str().as_bytes());
    h.update(format!("\0{:o}\0{}\0{}\0{}\0", m.mode(), m.uid(), m.gid(), m.len()).as_bytes());
    if m.file_type().is_symlink() {
        h.update(fs::read_link(path)?.as_os_str().as_bytes());
    } else if m.is_file() {
        let d = match ctx {
            Some(c) => c.file_digest(path, &rel.to_string_lossy(), &m)?,
            None => content_digest(path)?,
        };
        h.update(d.as_bytes());
    } else if m.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for n in names {
            let r = rel.join(&n);
            if ctx.is_some_and(|c| c.excluded(&r.to_string_lossy())) {
                continue;
            }
            hash_tree(&path.join(&n), &r, ctx, h)?;
        }
    }
    Ok(())
}

/// The sha256 of a file's content, as hex.
fn content_digest(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copies the sources (relative to `src_root`) to `dest` inside the root `dst_root`, owned
/// by `owner`, with `mode` if given; ADD extracts local tar archives.
#[allow(clippy::too_many_arguments)]
pub fn copy_into(
    src_root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
    dst_root: &Path,
    dest: &str,
    owner: (u32, u32),
    mode: Option<u32>,
    add: bool,
) -> Result<(), String> {
    let resolved = resolve_sources(src_root, sources, ctx)?;
    let root = rootfs::open_root(dst_root).map_err(|e| e.to_string())?;
    let dir_dest = dest.ends_with('/') || resolved.len() > 1;
    for rel in resolved {
        let full = src_root.join(&rel);
        let full = if ctx.is_some() {
            fs::canonicalize(&full).map_err(|e| e.to_string())?
        } else {
            full
        };
        let meta = fs::symlink_metadata(&full).map_err(|e| e.to_string())?;
        let dest_is_dir = dir_dest
            || rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                .is_ok();
        if meta.is_dir() {
            rootfs::mkdir_all_in_root(dst_root, Path::new(dest), owner.0, owner.1)
                .map_err(|e| e.to_string())?;
            let d =
                rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                    .map_err(|e| format!("{dest}: {e}"))?;
            copy_dir(&full, &rel, ctx, &d, owner, mode)?;
        } else if add && is_archive(&full) {
            rootfs::mkdir_all_in_root(dst_root, Path::new(dest), owner.0, owner.1)
                .map_err(|e| e.to_string())?;
            let d =
                rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                    .map_err(|e| format!("{dest}: {e}"))?;
            let (_, stream) = rbox_image::compression::decompressed(
                File::open(&full).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
            let at = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&d)
            ));
            rbox_image::layer::apply(stream, &at).map_err(|e| format!("{}: {e}", rel.display()))?;
        } else {
            let (dir, name) = if dest_is_dir {
                (
                    dest.to_owned(),
                    rel.file_name()
                        .map(|n| n.to_os_string())
                        .unwrap_or_default(),
                )
            } else {
                let p = Path::new(dest);
                (
                    p.parent()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "/".into()),
                    p.file_name().map(|n| n.to_os_string()).unwrap_or_default(),
                )
            };
            rootfs::mkdir_all_in_root(dst_root, Path::new(&dir), 0, 0)
                .map_err(|e| e.to_string())?;
            let d =
                rootfs::open_in_root(&root, Path::new(&dir), OFlags::DIRECTORY | OFlags::RDONLY)
                    .map_err(|e| format!("{dir}: {e}"))?;
            copy_entry(&full, &meta, &d, &name, owner, mode)?;
        }
    }
    Ok(())
}

fn is_archive(p: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = File::open(p)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let h = &head[..n];
    h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &h[257..262] == b"ustar")
}

fn copy_dir(
    src: &Path,
    rel: &Path,
    ctx: Option<&Context>,
    dst: &OwnedFd,
    owner: (u32, u32),
    mode: Option<u32>,
) -> Result<(), String> {
    let mut names: Vec<_> = fs::read_dir(src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for n in names {
        let r = rel.join(&n);
        if ctx.is_some_and(|c| c.excluded(&r.to_string_lossy())) {
            let is_dir = fs::symlink_metadata(src.join(&n)).is_ok_and(|m| m.is_dir());
            if !(is_dir && ctx.is_some_and(|c| c.ignore.may_contain_included(&r.to_string_lossy())))
            {
                continue;
            }
        }
        let p = src.join(&n);
        let meta = fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        copy_entry(&p, &meta, dst, &n, owner, mode)?;
        if meta.is_dir() {
            let sub = rustix::fs::openat(
                dst,
                n.as_os_str(),
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{}: {e}", r.display()))?;
            copy_dir(&p, &r, ctx, &sub, owner, mode)?;
        }
    }
    Ok(())
}

/// Creates one entry `name` in the open directory `dst` from `src` (a directory is made,
/// not filled), replacing what is there unless both are directories.
fn copy_entry(
    src: &Path,
    meta: &fs::Metadata,
    dst: &OwnedFd,
    name: &OsStr,
    owner: (u32, u32),
    mode: Option<u32>,
) -> Result<(), String> {
    let shown = || src.display().to_string();
    let err = |e: Errno| format!("{}: {e}", shown());
    let existing = rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_dir = existing.as_ref().is_some_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
    });
    if existing.is_some() && !(meta.is_dir() && existing_dir) {
        if existing_dir {
            return Err(format!(
                "{}: cannot replace a directory with a file",
                shown()
            ));
        }
        rustix::fs::unlinkat(dst, name, AtFlags::empty()).map_err(err)?;
    }
    let ids = (Some(Uid::from_raw(owner.0)), Some(Gid::from_raw(owner.1)));
    let perm = |m: u32| Mode::from_raw_mode(mode.unwrap_or(m & 0o7777));
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        if !existing_dir {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o755)).map_err(err)?;
        }
        let d = rustix::fs::openat(
            dst,
            name,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        rustix::fs::fchown(&d, ids.0, ids.1).map_err(err)?;
        rustix::fs::fchmod(&d, perm(meta.permissions().mode())).map_err(err)?;
    } else if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| format!("{}: {e}", shown()))?;
        rustix::fs::symlinkat(&target, dst, name).map_err(err)?;
        rustix::fs::chownat(dst, name, ids.0, ids.1, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
    } else if ft.is_file() {
        let fd = rustix::fs::openat(
            dst,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(err)?;
        let mut out = File::from(fd);
        let mut inp = File::open(src).map_err(|e| format!("{}: {e}", shown()))?;
        io::copy(&mut inp, &mut out).map_err(|e| format!("{}: {e}", shown()))?;
        rustix::fs::fchown(&out, ids.0, ids.1).map_err(err)?;
        rustix::fs::fchmod(&out, perm(meta.permissions().mode())).map_err(err)?;
        rustix::fs::futimens(&out, &times).map_err(err)?;
    }
    // Sockets, fifos and devices in a build context are left out.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_component() {
        assert!(glob(b"*.txt", b"a.txt"));
        assert!(!glob(b"*.txt", b"a.rs"));
        assert!(glob(b"file?.md", b"file1.md"));
        assert!(glob(b"[a-c]x", b"bx"));
        assert!(!glob(b"[!a-c]x", b"bx"));
    }

    #[test]
    fn sources_stay_in_the_context() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("in.txt"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("out")).unwrap();
        let ctx = Context::open(d.path()).unwrap();
        assert!(resolve_sources(ctx.root(), &["in.txt".into()], Some(&ctx)).is_ok());
        let e = resolve_sources(ctx.root(), &["../x".into()], Some(&ctx)).unwrap_err();
        assert!(e.contains("outside the build context"), "{e}");
        let e = resolve_sources(ctx.root(), &["out".into()], Some(&ctx)).unwrap_err();
        assert!(e.contains("symlink out"), "{e}");
        let e = resolve_sources(ctx.root(), &["missing".into()], Some(&ctx)).unwrap_err();
        assert!(e.contains("not found"), "{e}");
    }
}
