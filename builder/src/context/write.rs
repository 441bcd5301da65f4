//! COPY and ADD's writes: sources found inside their tree written into the image's root
//! relative to open directory fds, following no link the image may hold.

use super::*;

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

/// Copies the sources (found inside `src_root`, never outside it) to `to`; ADD (`add`)
/// extracts local tar archives. Links inside a copied directory are copied as links.
pub fn copy_into(
    src_root: &Path,
    sources: &[String],
    ctx: Option<&Context>,
    to: &CopyTo,
    add: bool,
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
