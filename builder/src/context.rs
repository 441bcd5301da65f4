//! The build context and COPY/ADD: sources resolved inside the context (never outside it,
//! not even through a symlink), filtered by `.dockerignore`, hashed for the cache by
//! content and metadata (not mtimes), and written into the image's root relative to open
//! directory fds, following no link the image may hold.

use std::ffi::{OsStr, OsString};
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

    /// The content digest of the open file `file` (`rel` in the context, status `m`), from
    /// the stat cache when the file is unchanged.
    fn file_digest(&self, file: File, rel: &str, m: &Stat) -> io::Result<String> {
        let stamp = (
            m.st_size as u64,
            m.st_mtime * 1_000_000_000 + m.st_mtime_nsec as i64,
            m.st_ctime * 1_000_000_000 + m.st_ctime_nsec as i64,
            m.st_ino,
        );
        if let Some(e) = self.stats.borrow().files.get(rel) {
            if (e.0, e.1, e.2, e.3) == stamp {
                return Ok(e.4.clone());
            }
        }
        let d = content_digest(file)?;
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

/// An entry found inside a tree (the context, or a stage's or image's root): the open
/// directory holding it, its name there (`.` for the root itself), its path from the root
/// as resolved (links followed inside the root), and its status, not following it.
struct Found {
    dir: OwnedFd,
    name: OsString,
    rel: PathBuf,
    stat: Stat,
}

impl Found {
    fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.stat.st_mode)
    }

    /// The entry opened with `flags`, never following it if it is a link.
    fn open(&self, flags: OFlags) -> Result<OwnedFd, Errno> {
        rustix::fs::openat(
            &self.dir,
            &self.name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }
}

/// Why an entry could not be found inside its tree.
enum FindError {
    /// A symlink of the build context leads out of it.
    Out,
    Errno(Errno),
}

impl From<Errno> for FindError {
    fn from(e: Errno) -> FindError {
        FindError::Errno(e)
    }
}

/// Finds `path` (relative, without `.` or `..`) inside the tree open at `root`, one
/// component at a time relative to open directory fds, never leaving the tree: a symlink
/// on the way (and the last component's, when `follow_last`) is followed as if `root`
/// were `/`, which is how the kernel's `RESOLVE_IN_ROOT` resolves it, while the path it
/// leads to is kept for `.dockerignore`. With `strict` (the build context), a link that is
/// absolute or climbs above the root is refused rather than resolved inside it.
fn find(root: &OwnedFd, path: &Path, follow_last: bool, strict: bool) -> Result<Found, FindError> {
    let mut todo: Vec<OsString> = Vec::new();
    push_components(&mut todo, path);
    let mut stack: Vec<(OsString, OwnedFd)> = Vec::new();
    let mut links = 0;
    let names = |stack: &[(OsString, OwnedFd)]| -> PathBuf {
        stack.iter().map(|(n, _)| n.as_os_str()).collect()
    };
    while let Some(c) = todo.pop() {
        if c == ".." {
            if stack.pop().is_none() && strict {
                return Err(FindError::Out);
            }
            continue;
        }
        let cur = stack.last().map(|(_, f)| f).unwrap_or(root);
        let st = rustix::fs::statat(cur, &c, AtFlags::SYMLINK_NOFOLLOW)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        let last = todo.is_empty();
        if ft == FileType::Symlink && (!last || follow_last) {
            links += 1;
            if links > 40 {
                return Err(Errno::LOOP.into());
            }
            let target = rustix::fs::readlinkat(cur, &c, Vec::new())?;
            let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                if strict {
                    return Err(FindError::Out);
                }
                stack.clear();
            }
            push_components(&mut todo, &target);
            continue;
        }
        if last {
            let mut rel = names(&stack);
            rel.push(&c);
            return Ok(Found {
                dir: cur.try_clone().map_err(|_| Errno::MFILE)?,
                name: c,
                rel,
                stat: st,
            });
        }
        if ft != FileType::Directory {
            return Err(Errno::NOTDIR.into());
        }
        let fd = rustix::fs::openat(
            cur,
            &c,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        stack.push((c, fd));
    }
    // The path ends at a directory reached by `..` (or is the root itself).
    let (name, rel) = match stack.pop() {
        None => (OsString::from("."), PathBuf::new()),
        Some((n, _)) => {
            let mut rel = names(&stack);
            rel.push(&n);
            (n, rel)
        }
    };
    let dir = stack.last().map(|(_, f)| f).unwrap_or(root);
    Ok(Found {
        stat: rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?,
        dir: dir.try_clone().map_err(|_| Errno::MFILE)?,
        name,
        rel,
    })
}

/// Pushes the components of `path` on `todo` so that popping gives them in order.
fn push_components(todo: &mut Vec<OsString>, path: &Path) {
    for c in path.components().rev() {
        match c {
            Component::Normal(n) => todo.push(n.to_os_string()),
            Component::ParentDir => todo.push("..".into()),
            _ => {}
        }
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
            let file = File::from(open(OFlags::RDONLY)?);
            let d = match ctx {
                Some(c) => c.file_digest(file, &rel.to_string_lossy(), st),
                None => content_digest(file),
            }
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
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

/// Copies the sources (found inside `src_root`, never outside it) to `dest` inside the
/// root `dst_root`, owned by `owner`, with `mode` if given; ADD extracts local tar
/// archives. Links inside a copied directory are copied as links.
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
    let src = rootfs::open_root(src_root).map_err(|e| e.to_string())?;
    let resolved = resolve_sources(&src, src_root, sources, ctx)?;
    let root = rootfs::open_root(dst_root).map_err(|e| e.to_string())?;
    let dir_dest = dest.ends_with('/') || resolved.len() > 1;
    for f in resolved {
        let shown = src_root.join(&f.rel);
        let shown_s = shown.display().to_string();
        let dest_is_dir = dir_dest
            || rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                .is_ok();
        let ft = f.file_type();
        if ft == FileType::Directory {
            rootfs::mkdir_all_in_root(dst_root, Path::new(dest), owner.0, owner.1)
                .map_err(|e| e.to_string())?;
            let d =
                rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                    .map_err(|e| format!("{dest}: {e}"))?;
            let s = f
                .open(OFlags::DIRECTORY | OFlags::RDONLY)
                .map_err(|e| format!("{shown_s}: {e}"))?;
            copy_dir(&s, &shown, &f.rel, ctx, &d, owner, mode)?;
        } else if add
            && ft == FileType::RegularFile
            && is_archive(&f).map_err(|e| format!("{shown_s}: {e}"))?
        {
            rootfs::mkdir_all_in_root(dst_root, Path::new(dest), owner.0, owner.1)
                .map_err(|e| e.to_string())?;
            let d =
                rootfs::open_in_root(&root, Path::new(dest), OFlags::DIRECTORY | OFlags::RDONLY)
                    .map_err(|e| format!("{dest}: {e}"))?;
            let file = File::from(
                f.open(OFlags::RDONLY)
                    .map_err(|e| format!("{shown_s}: {e}"))?,
            );
            let (_, stream) =
                rbox_image::compression::decompressed(file).map_err(|e| e.to_string())?;
            let at = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&d)
            ));
            rbox_image::layer::apply(stream, &at)
                .map_err(|e| format!("{}: {e}", f.rel.display()))?;
        } else {
            let (dir, name) = if dest_is_dir {
                (
                    dest.to_owned(),
                    f.rel
                        .file_name()
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
            copy_entry(&f.dir, &f.name, &f.stat, &shown, &d, &name, owner, mode)?;
        }
    }
    Ok(())
}

/// Whether the regular file found is a tar archive, compressed or not.
fn is_archive(f: &Found) -> io::Result<bool> {
    let mut file = File::from(f.open(OFlags::RDONLY)?);
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let h = &head[..n];
    Ok(h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &h[257..262] == b"ustar"))
}

/// Copies what the open directory `src` holds (`shown` in messages, `rel` from its tree's
/// root) into the open directory `dst`, entry by entry relative to both fds.
fn copy_dir(
    src: &OwnedFd,
    shown: &Path,
    rel: &Path,
    ctx: Option<&Context>,
    dst: &OwnedFd,
    owner: (u32, u32),
    mode: Option<u32>,
) -> Result<(), String> {
    let names = list(src).map_err(|e| format!("{}: {e}", shown.display()))?;
    for n in names {
        let r = rel.join(&n);
        let p = shown.join(&n);
        let st = match rustix::fs::statat(src, &n, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        if let Some(c) = ctx {
            if c.excluded(&r.to_string_lossy()) && !(is_dir && walk_excluded_dir(c, &r)) {
                continue;
            }
        }
        copy_entry(src, &n, &st, &p, dst, &n, owner, mode)?;
        if is_dir {
            let s = rustix::fs::openat(
                src,
                &n,
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{}: {e}", p.display()))?;
            let sub = rustix::fs::openat(
                dst,
                n.as_os_str(),
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{}: {e}", r.display()))?;
            copy_dir(&s, &p, &r, ctx, &sub, owner, mode)?;
        }
    }
    Ok(())
}

/// Creates one entry `name` in the open directory `dst` from entry `src_name` of the open
/// directory `src_dir` (status `st`, `shown` in messages; a directory is made, not filled),
/// replacing what is there unless both are directories. The source is never followed.
#[allow(clippy::too_many_arguments)]
fn copy_entry(
    src_dir: &OwnedFd,
    src_name: &OsStr,
    st: &Stat,
    shown: &Path,
    dst: &OwnedFd,
    name: &OsStr,
    owner: (u32, u32),
    mode: Option<u32>,
) -> Result<(), String> {
    let shown = || shown.display().to_string();
    let err = |e: Errno| format!("{}: {e}", shown());
    let ft = FileType::from_raw_mode(st.st_mode);
    let existing = rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_dir = existing
        .as_ref()
        .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
    let is_dir = ft == FileType::Directory;
    if existing.is_some() && !(is_dir && existing_dir) {
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
            tv_sec: st.st_mtime as _,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    };
    let open_src = |flags: OFlags| {
        rustix::fs::openat(
            src_dir,
            src_name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)
    };
    match ft {
        FileType::Directory => {
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
            rustix::fs::fchmod(&d, perm(st.st_mode)).map_err(err)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src_dir, src_name, Vec::new()).map_err(err)?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name).map_err(err)?;
            rustix::fs::chownat(dst, name, ids.0, ids.1, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
        }
        FileType::RegularFile => {
            let mut inp = File::from(open_src(OFlags::RDONLY)?);
            let fd = rustix::fs::openat(
                dst,
                name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(err)?;
            let mut out = File::from(fd);
            io::copy(&mut inp, &mut out).map_err(|e| format!("{}: {e}", shown()))?;
            rustix::fs::fchown(&out, ids.0, ids.1).map_err(err)?;
            rustix::fs::fchmod(&out, perm(st.st_mode)).map_err(err)?;
            rustix::fs::futimens(&out, &times).map_err(err)?;
        }
        // Sockets, fifos and devices in a build context are left out.
        _ => {}
    }
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
