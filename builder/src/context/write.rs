//! COPY and ADD's writes: sources found inside their tree written into the image's root
//! relative to open directory fds, following no link the image may hold.

use super::*;
use std::collections::HashSet;

/// Where COPY and ADD write: `dest` inside the root `root`, owned by `owner`, with `mode`
/// if given.
#[derive(Debug, Clone, Copy)]
pub struct CopyTo<'a> {
    /// The image's root being written.
    pub root: &'a Path,
    /// The destination inside it (a directory when it ends with `/`).
    pub dest: &'a str,
    /// `--chown`'s uid and gid.
    pub owner: (u32, u32),
    /// `--chmod`'s mode.
    pub mode: Option<u32>,
}

/// What a regular file copied from the context is in the image: its content's digest and
/// the metadata its layer entry is made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSig {
    /// `sha256:...` of the content.
    pub digest: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: i64,
    /// Size in bytes.
    pub size: u64,
}

/// An earlier layer of the same COPY: its snapshot and the files it copied from the
/// context, by path in the image. A file that would be the same (content and metadata)
/// is linked from that snapshot instead of copied from the context.
pub struct Reuse {
    /// The earlier snapshot's tree.
    pub snapshot: PathBuf,
    /// Its files, by path relative to the image's root (links resolved).
    pub files: std::collections::HashMap<String, FileSig>,
}

/// What a COPY from the context wrote: every regular file (for the next build of the
/// step), and the files left as empty placeholders, to be linked from [`Reuse::snapshot`].
#[derive(Default)]
pub struct Tracked {
    /// Every regular file copied, by path relative to the image's root.
    pub files: std::collections::HashMap<String, FileSig>,
    /// The placeholders: path in the image, and the source's path in the context (copied
    /// from there should the earlier file not be as recorded).
    pub links: Vec<(String, PathBuf)>,
    /// The paths in `links`: one a later source of the same copy writes is taken out.
    placeholders: HashSet<String>,
}

/// Where a copy keeps track of what it writes.
struct Track<'t> {
    ctx: &'t Context,
    reuse: Option<&'t Reuse>,
    out: &'t mut Tracked,
}

/// Copies the sources (found inside `src_root`, never outside it) to `to`; ADD (`add`)
/// extracts local tar archives. Links inside a copied directory are copied as links.
pub fn copy_into(
    src_root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
    to: &CopyTo,
    add: bool,
) -> Result<(), String> {
    copy_tracked(src_root, sources, ctx, to, add, None)
}

/// [`copy_into`] from the context, recording each regular file in `out`, and leaving a
/// placeholder for those `reuse` has the same (linked by [`link_reused`] once the root's
/// overlay is unmounted).
pub fn copy_into_reusing(
    src_root: &Path,
    sources: &[String],
    ctx: &Context,
    to: &CopyTo,
    add: bool,
    reuse: Option<&Reuse>,
    out: &mut Tracked,
) -> Result<(), String> {
    let mut track = Track { ctx, reuse, out };
    copy_tracked(src_root, sources, Some(ctx), to, add, Some(&mut track))
}

/// The path of the open directory `d` relative to `root` (where it really is, links
/// resolved), or `None` if it is not under it.
fn rel_of(d: &OwnedFd, root: &Path) -> Option<PathBuf> {
    let real = fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(d)
    ))
    .ok()?;
    let root = fs::canonicalize(root).ok()?;
    real.strip_prefix(&root).ok().map(Path::to_path_buf)
}

/// Replaces each placeholder a [`copy_into_reusing`] left in `upper` with a link to the
/// same file in `reuse`'s snapshot, checked to be as recorded (else the source is copied
/// from the context `ctx_root` after all), relative to directory fds, following no link.
/// Two threads share the work, a directory's files at a time. Returns the paths linked.
pub fn link_reused(
    upper: &Path,
    reuse: &Reuse,
    ctx_root: &Path,
    links: &[(String, PathBuf)],
) -> Result<HashSet<PathBuf>, String> {
    let up = rootfs::open_root(upper).map_err(|e| e.to_string())?;
    let old = rootfs::open_root(&reuse.snapshot).map_err(|e| e.to_string())?;
    let ctx = rootfs::open_root(ctx_root).map_err(|e| e.to_string())?;
    // The directories linked into, and their times before: linking leaves them as they were.
    let mut touched: Vec<(PathBuf, rustix::fs::Timestamps)> = Vec::new();
    let mut seen = HashSet::new();
    for (rel, _) in links {
        let Some(parent) = Path::new(rel).parent() else {
            continue;
        };
        if seen.insert(parent) {
            let err = |e: Errno| format!("{rel}: {e}");
            let st = rustix::fs::fstat(&open_under(&up, parent).map_err(err)?).map_err(err)?;
            touched.push((parent.to_path_buf(), times_of(&st)));
        }
    }
    // Split where a directory's files end, near the middle.
    let mut mid = links.len() / 2;
    let parent = |i: usize| Path::new(&links[i].0).parent();
    while mid > 0 && mid < links.len() && parent(mid) == parent(mid - 1) {
        mid += 1;
    }
    let (first, second) = links.split_at(mid.min(links.len()));
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| link_part(&up, &old, &ctx, reuse, second));
        let mine = link_part(&up, &old, &ctx, reuse, first);
        (
            mine,
            other
                .join()
                .unwrap_or_else(|_| Err("linking the unchanged files panicked".into())),
        )
    });
    let mut linked_paths = a?;
    linked_paths.extend(b?);
    for (dir, times) in &touched {
        let err = |e: Errno| format!("{}: {e}", dir.display());
        rustix::fs::futimens(&open_under(&up, dir).map_err(err)?, times).map_err(err)?;
    }
    Ok(linked_paths)
}

/// Directory `parent` under the open directory `top`, opened component by component,
/// following no link.
fn open_under(top: &OwnedFd, parent: &Path) -> Result<OwnedFd, Errno> {
    let mut d = rustix::fs::openat(
        top,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for c in parent.components() {
        d = rustix::fs::openat(
            &d,
            c.as_os_str(),
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
    }
    Ok(d)
}

/// [`link_reused`]'s work on `links`, under the open roots `up`, `old` and `ctx`.
fn link_part(
    up: &OwnedFd,
    old: &OwnedFd,
    ctx: &OwnedFd,
    reuse: &Reuse,
    links: &[(String, PathBuf)],
) -> Result<HashSet<PathBuf>, String> {
    let mut linked_paths = HashSet::new();
    // The directories of the last file: files come a directory at a time.
    let mut dirs: Option<(PathBuf, OwnedFd, Option<OwnedFd>)> = None;
    for (rel, src) in links {
        let p = Path::new(rel);
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            continue;
        };
        let err = |e: Errno| format!("{rel}: {e}");
        if dirs.as_ref().is_none_or(|(d, _, _)| d != parent) {
            let ud = open_under(up, parent).map_err(err)?;
            dirs = Some((parent.to_path_buf(), ud, open_under(old, parent).ok()));
        }
        let (_, ud, od) = dirs.as_ref().expect("set above");
        let sig = reuse.files.get(rel);
        let same = od.as_ref().is_some_and(|od| {
            rustix::fs::statat(od, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                sig.is_some_and(|sig| {
                    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
                        && st.st_size as u64 == sig.size
                        && st.st_mode & 0o7777 == sig.mode
                        && st.st_uid == sig.uid
                        && st.st_gid == sig.gid
                        && st.st_mtime == sig.mtime
                        && st.st_mtime_nsec as i64 == sig.mtime_nsec
                })
            })
        });
        if same {
            let od = od.as_ref().expect("checked");
            // Linked first, unlinked only if something is in the way: one call per file.
            let linked = match rustix::fs::linkat(od, name, ud, name, AtFlags::empty()) {
                Err(Errno::EXIST) => rustix::fs::unlinkat(ud, name, AtFlags::empty())
                    .and_then(|()| rustix::fs::linkat(od, name, ud, name, AtFlags::empty())),
                r => r,
            };
            if linked.is_ok() {
                linked_paths.insert(p.to_path_buf());
                continue;
            }
        }
        // Not as recorded, or on another file system: copied from the context.
        let _ = rustix::fs::unlinkat(ud, name, AtFlags::empty());
        let sig = sig.ok_or_else(|| format!("{rel}: not recorded"))?;
        let mut inp = File::from(
            rootfs::open_in_root(ctx, src, OFlags::RDONLY | OFlags::NOFOLLOW)
                .map_err(|e| format!("{}: {e}", src.display()))?,
        );
        let mut out = File::from(
            rustix::fs::openat(
                ud,
                name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(err)?,
        );
        io::copy(&mut inp, &mut out).map_err(|e| format!("{rel}: {e}"))?;
        rustix::fs::fchown(
            &out,
            Some(Uid::from_raw(sig.uid)),
            Some(Gid::from_raw(sig.gid)),
        )
        .map_err(err)?;
        rustix::fs::fchmod(&out, Mode::from_raw_mode(sig.mode)).map_err(err)?;
        let times = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: sig.mtime as _,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: sig.mtime as _,
                tv_nsec: sig.mtime_nsec as _,
            },
        };
        rustix::fs::futimens(&out, &times).map_err(err)?;
    }
    Ok(linked_paths)
}

/// The access and modification times of `st`, to set on another file.
fn times_of(st: &Stat) -> rustix::fs::Timestamps {
    rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

fn copy_tracked(
    src_root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
    to: &CopyTo,
    add: bool,
    mut track: Option<&mut Track<'_>>,
) -> Result<(), String> {
    let CopyTo {
        root: dst_root,
        dest,
        owner,
        mode,
    } = *to;
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
            let d_rel = rel_of(&d, dst_root);
            copy_dir(
                &s,
                &shown,
                &f.rel,
                ctx,
                (&d, d_rel.as_deref(), false),
                owner,
                mode,
                track.as_deref_mut(),
            )?;
            // As BuildKit: the directory copied into takes the source directory's times,
            // once its entries are in.
            let st = rustix::fs::fstat(&s).map_err(|e| format!("{shown_s}: {e}"))?;
            rustix::fs::futimens(&d, &times_of(&st)).map_err(|e| format!("{dest}: {e}"))?;
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
            let d_rel = rel_of(&d, dst_root);
            let at = Dest {
                dir: &d,
                rel: d_rel.as_deref(),
                name: &name,
                fresh: false,
            };
            copy_entry(
                &f.dir,
                &f.name,
                &f.stat,
                (&shown, &f.rel),
                &at,
                owner,
                mode,
                track.as_deref_mut(),
            )?;
        }
    }
    Ok(())
}

/// Where an entry is written: `name` in the open directory `dir`, which is `rel` from the
/// image's root (when known).
struct Dest<'d> {
    dir: &'d OwnedFd,
    rel: Option<&'d Path>,
    name: &'d OsStr,
    /// `dir` was made by this copy: it is in the upper directory whatever is written in it.
    fresh: bool,
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
#[allow(clippy::too_many_arguments)]
fn copy_dir(
    src: &OwnedFd,
    shown: &Path,
    rel: &Path,
    ctx: Option<&Context>,
    (dst, dst_rel, fresh): (&OwnedFd, Option<&Path>, bool),
    owner: (u32, u32),
    mode: Option<u32>,
    mut track: Option<&mut Track<'_>>,
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
        let at = Dest {
            dir: dst,
            rel: dst_rel,
            name: &n,
            fresh,
        };
        let made = is_dir && rustix::fs::statat(dst, &n, AtFlags::SYMLINK_NOFOLLOW).is_err();
        copy_entry(
            src,
            &n,
            &st,
            (&p, &r),
            &at,
            owner,
            mode,
            track.as_deref_mut(),
        )?;
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
            let sub_rel = dst_rel.map(|d| d.join(&n));
            copy_dir(
                &s,
                &p,
                &r,
                ctx,
                (&sub, sub_rel.as_deref(), made),
                owner,
                mode,
                track.as_deref_mut(),
            )?;
            // A copied directory keeps its source's times, set once its entries are in.
            rustix::fs::futimens(&sub, &times_of(&st))
                .map_err(|e| format!("{}: {e}", r.display()))?;
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
    (shown, src_rel): (&Path, &Path),
    at: &Dest<'_>,
    owner: (u32, u32),
    mode: Option<u32>,
    mut track: Option<&mut Track<'_>>,
) -> Result<(), String> {
    let (dst, name) = (at.dir, at.name);
    let shown = || shown.display().to_string();
    let err = |e: Errno| format!("{}: {e}", shown());
    // Written now, over what an earlier source of the same copy left to link there.
    if let (Some(t), Some(drel)) = (track.as_mut(), at.rel) {
        if !t.out.placeholders.is_empty() {
            let rel = drel.join(name).to_string_lossy().into_owned();
            if t.out.placeholders.remove(&rel) {
                t.out.links.retain(|(r, _)| *r != rel);
                t.out.files.remove(&rel);
            }
        }
    }
    let ft = FileType::from_raw_mode(st.st_mode);
    let is_dir = ft == FileType::Directory;
    // What is in the way goes, unless both are directories; a directory is never replaced.
    // Whether a directory is there.
    let clear = || -> Result<bool, String> {
        let existing = rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing
            .as_ref()
            .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        if existing.is_some() && !(is_dir && existing_dir) {
            if existing_dir {
                return Err(format!(
                    "{}: cannot replace a directory with a file",
                    shown()
                ));
            }
            rustix::fs::unlinkat(dst, name, AtFlags::empty()).map_err(err)?;
        }
        Ok(existing_dir)
    };
    // In a directory this copy made, a file is new unless an earlier source of the same
    // copy put one there, which its making tells (EEXIST).
    let existing_dir = if at.fresh && ft == FileType::RegularFile {
        false
    } else {
        clear()?
    };
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
            let create = || {
                rustix::fs::openat(
                    dst,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
            };
            // Tracked: the file's signature recorded, and a placeholder left instead of a
            // copy when the earlier layer has the same file at the same place.
            if let (Some(t), Some(drel)) = (track, at.rel) {
                let rel_s = src_rel.to_string_lossy();
                let digest = match t.ctx.cached_digest(&rel_s, st) {
                    Some(d) => d,
                    None => t
                        .ctx
                        .file_digest(File::from(open_src(OFlags::RDONLY)?), &rel_s, st)
                        .map_err(|e| format!("{}: {e}", shown()))?,
                };
                let sig = FileSig {
                    digest,
                    mode: mode.unwrap_or(st.st_mode & 0o7777),
                    uid: owner.0,
                    gid: owner.1,
                    mtime: st.st_mtime,
                    mtime_nsec: st.st_mtime_nsec as i64,
                    size: st.st_size as u64,
                };
                let rel = drel.join(name).to_string_lossy().into_owned();
                if t.reuse.is_some_and(|r| r.files.get(&rel) == Some(&sig)) {
                    // In a directory of this copy's making, nothing need be written now;
                    // in another, an empty file makes the overlay copy the directory up.
                    if at.fresh {
                        t.out.placeholders.insert(rel.clone());
                        t.out.links.push((rel.clone(), src_rel.to_path_buf()));
                        t.out.files.insert(rel, sig);
                        return Ok(());
                    }
                    drop(create().map_err(err)?);
                    t.out.placeholders.insert(rel.clone());
                    t.out.links.push((rel.clone(), src_rel.to_path_buf()));
                    t.out.files.insert(rel, sig);
                    return Ok(());
                }
                t.out.files.insert(rel, sig);
            }
            let mut inp = File::from(open_src(OFlags::RDONLY)?);
            let fd = match create() {
                Err(Errno::EXIST) if at.fresh => {
                    clear()?;
                    create()
                }
                r => r,
            }
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
