//! The build context and COPY/ADD: sources resolved inside the context (never outside it,
//! not even through a symlink), filtered by `.dockerignore`, hashed for the cache by
//! content and metadata (not mtimes), and written into the image's root relative to open
//! directory fds, following no link the image may hold.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rbox_image::Digest;
use rbox_runtime::rootfs;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

use crate::dockerignore::DockerIgnore;
use crate::layer::list;

mod find;
mod write;

use find::{find, FindError, Found};
pub use write::{copy_into, copy_into_reusing, link_reused, CopyTo, FileSig, Reuse, Tracked};

/// A build context: its directory, its `.dockerignore`, and a stat cache of the content
/// digests of its files.
pub struct Context {
    root: PathBuf,
    ignore: DockerIgnore,
    stats: std::sync::Mutex<StatCache>,
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
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = cache;
        self
    }

    /// Writes the stat cache back if it changed.
    pub fn save_stats(&self) {
        let c = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        if let (true, Some(p)) = (c.dirty, &c.path) {
            if let Some(dir) = p.parent() {
                let _ = fs::create_dir_all(dir);
            }
            if let Ok(bytes) = serde_json::to_vec(&*c) {
                let _ = rbox_image::store::replace_file(p, &bytes);
            }
        }
    }

    /// The stat cache's digest of `rel` (status `m`) if the file is unchanged since.
    fn cached_digest(&self, rel: &str, m: &Stat) -> Option<String> {
        let stamp = (
            m.st_size as u64,
            m.st_mtime * 1_000_000_000 + m.st_mtime_nsec as i64,
            m.st_ctime * 1_000_000_000 + m.st_ctime_nsec as i64,
            m.st_ino,
        );
        let c = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        c.files
            .get(rel)
            .filter(|e| (e.0, e.1, e.2, e.3) == stamp)
            .map(|e| e.4.clone())
    }

    /// The content digest of the open file `file` (`rel` in the context, status `m`), from
    /// the stat cache when the file is unchanged.
    fn file_digest(&self, file: File, rel: &str, m: &Stat) -> io::Result<String> {
        let stamp = (
            m.st_size as u64,
            m.st_mtime * 1_000_000_000 + m.st_mtime_nsec as i64,
            m.st_ctime * 1_000_000_000 + m.st_ctime_nsec as i64,
            m.st_ino,
        );
        if let Some(e) = self
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .files
            .get(rel)
        {
            if (e.0, e.1, e.2, e.3) == stamp {
                return Ok(e.4.clone());
            }
        }
        let d = content_digest(file)?;
        let mut c = self.stats.lock().unwrap_or_else(|e| e.into_inner());
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

/// Whether a directory `rel` excluded by `.dockerignore` is walked anyway, for what an
/// exception (`!pattern`) brings back under it.
fn walk_excluded_dir(ctx: &Context, rel: &Path) -> bool {
    ctx.ignore.may_contain_included(&rel.to_string_lossy())
}

/// The sources a COPY names, found inside the tree open at `root` (`shown` in messages),
/// globs expanded. In the build context (`ctx`), a source that `.dockerignore` excludes is
/// refused whatever name reaches it: the name given, or where its links lead.
fn resolve_sources(
    root: &OwnedFd,
    shown: &Path,
    sources: &[String],
    ctx: Option<&Context>,
) -> Result<Vec<Found>, String> {
    let where_ = if ctx.is_some() {
        "in the build context"
    } else {
        "in the stage"
    };
    let found = |s: &str, rel: &Path| -> Result<Found, String> {
        match find(root, rel, true, ctx.is_some()) {
            Ok(f) => Ok(f),
            Err(FindError::Out) => Err(format!(
                "COPY source {s:?} is outside the build context (a symlink out)"
            )),
            Err(FindError::Errno(Errno::NOENT)) | Err(FindError::Errno(Errno::NOTDIR)) => {
                Err(format!("{s:?}: file not found {where_}"))
            }
            Err(FindError::Errno(e)) => Err(format!("{}: {e}", shown.join(rel).display())),
        }
    };
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
            let dir = found(s, parent)?;
            let fd = dir
                .open(OFlags::DIRECTORY | OFlags::RDONLY)
                .map_err(|e| format!("{s}: {e}"))?;
            list(&fd)
                .map_err(|e| format!("{s}: {e}"))?
                .into_iter()
                .filter(|n| glob(&last, n.as_bytes()))
                .map(|n| parent.join(n))
                .filter(|p| ctx.is_none_or(|c| !c.excluded(&p.to_string_lossy())))
                .collect()
        } else {
            vec![rel.clone()]
        };
        if matches.is_empty() {
            return Err(format!("no source files were specified by {s:?}"));
        }
        for m in matches {
            let f = found(s, &m)?;
            if let Some(c) = ctx {
                if c.excluded(&m.to_string_lossy()) || c.excluded(&f.rel.to_string_lossy()) {
                    return Err(format!("{s:?}: excluded by .dockerignore"));
                }
            }
            out.push(f);
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
    let fd = rootfs::open_root(root).map_err(|e| e.to_string())?;
    let mut h = Sha256::new();
    for f in resolve_sources(&fd, root, sources, ctx)? {
        hash_tree(&f.dir, &f.name, &f.stat, &f.rel, ctx, &mut h)
            .map_err(|e| format!("{}: {e}", f.rel.display()))?;
    }
    Ok(Digest::from_hex(&hex::encode(h.finalize())).expect("sha256 is 64 hex digits"))
}

fn hash_tree(
    dir: &OwnedFd,
    name: &OsStr,
    st: &Stat,
    rel: &Path,
    ctx: Option<&Context>,
    h: &mut Sha256,
) -> Result<(), Errno> {
    h.update(rel.as_os_str().as_bytes());
    h.update(
        format!(
            "\0{:o}\0{}\0{}\0{}\0",
            st.st_mode, st.st_uid, st.st_gid, st.st_size
        )
        .as_bytes(),
    );
    let open = |flags: OFlags| {
        rustix::fs::openat(
            dir,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Symlink => {
            h.update(rustix::fs::readlinkat(dir, name, Vec::new())?.as_bytes());
        }
        FileType::RegularFile => {
            let rel_s = rel.to_string_lossy();
            // An unchanged file isn't even opened.
            let d = match ctx.and_then(|c| c.cached_digest(&rel_s, st)) {
                Some(d) => d,
                None => {
                    let file = File::from(open(OFlags::RDONLY)?);
                    match ctx {
                        Some(c) => c.file_digest(file, &rel_s, st),
                        None => content_digest(file),
                    }
                    .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?
                }
            };
            h.update(d.as_bytes());
        }
        FileType::Directory => {
            let d = open(OFlags::DIRECTORY | OFlags::RDONLY)?;
            for n in list(&d)? {
                let r = rel.join(&n);
                let sub = rustix::fs::statat(&d, &n, AtFlags::SYMLINK_NOFOLLOW)?;
                if let Some(c) = ctx {
                    if c.excluded(&r.to_string_lossy())
                        && !(FileType::from_raw_mode(sub.st_mode) == FileType::Directory
                            && walk_excluded_dir(c, &r))
                    {
                        continue;
                    }
                }
                hash_tree(&d, &n, &sub, &r, ctx, h)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The sha256 of a file's content, as hex.
fn content_digest(mut f: File) -> io::Result<String> {
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
        let fd = rootfs::open_root(ctx.root()).unwrap();
        let r = |s: &str| resolve_sources(&fd, ctx.root(), &[s.into()], Some(&ctx));
        assert!(r("in.txt").is_ok());
        let e = r("../x").err().unwrap();
        assert!(e.contains("outside the build context"), "{e}");
        let e = r("out").err().unwrap();
        assert!(e.contains("symlink out"), "{e}");
        let e = r("missing").err().unwrap();
        assert!(e.contains("not found"), "{e}");
    }
}
