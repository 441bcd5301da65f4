//! `rbox cp`: files and directories copied between a container's root filesystem and the
//! host, with `docker cp`'s rules, for running and stopped containers alike.
//!
//! The path named inside the container is resolved with `RESOLVE_IN_ROOT`, so no symlink
//! in the container (absolute, or climbing with `..`) can lead the copy out of its rootfs.
//! Below that path every entry is read and created relative to an open directory fd
//! without following the entry itself: symlinks are copied as symlinks, and a symlink
//! planted in a directory being written to is replaced, never written through.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::error::Error;
use crate::host::rootfs;
use crate::ops::rootfs_access::RootfsAccess;
use crate::store::containers::Containers;

use crate::host::tree::{kind, lossy, open_dir, At, Copier, Owner, TreeError};

fn io_error(path: impl Into<String>, e: Errno) -> CopyError {
    CopyError::Io {
        path: path.into(),
        source: e.into(),
    }
}

/// Why a copy failed; paths are shown as the user would name them (`CONTAINER:/path`).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// From the runtime (no such container, a mount that failed, ...).
    #[error(transparent)]
    Runtime(#[from] Error),
    /// A path that doesn't exist.
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// A path used as a directory that is something else.
    #[error("not a directory: {0}")]
    NotADirectory(String),
    /// A destination ending in `/` that doesn't exist, for a source that isn't a directory.
    #[error("no such directory: {0}: the destination directory must exist")]
    NoSuchDirectory(String),
    /// A directory copied onto an existing file.
    #[error("cannot copy directory {source_path} onto the file {destination}")]
    DirectoryOntoFile {
        /// The directory.
        source_path: String,
        /// The file.
        destination: String,
    },
    /// Copying the tree itself failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// Writing into a container whose root filesystem is read-only (`--read-only`).
    #[error("container rootfs is marked read-only")]
    ReadOnlyRootfs,
    /// Neither side names a container.
    #[error("must specify at least one container source")]
    NoContainer,
    /// Both sides name a container.
    #[error("copying between containers is not supported")]
    BetweenContainers,
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// One side of a copy as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on the host (relative to the current directory unless absolute).
    Host(String),
    /// A path inside a container (always from its `/`).
    Container {
        /// The container's name or id as given.
        container: String,
        /// The path inside it.
        path: String,
    },
}

impl Location {
    /// Docker's reading of `CONTAINER:PATH`: an absolute path, one without `:`, or one
    /// starting with `.` is a host path (so `./a:b` names a host file with a colon).
    pub fn parse(arg: &str) -> Location {
        if arg.starts_with('/') {
            return Location::Host(arg.to_owned());
        }
        match arg.split_once(':') {
            Some((c, p)) if !c.starts_with('.') => Location::Container {
                container: c.to_owned(),
                path: p.to_owned(),
            },
            _ => Location::Host(arg.to_owned()),
        }
    }
}

/// The options of `rbox cp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-L`: copy what a symlink named as the source points to, not the link.
    pub follow_link: bool,
    /// `-a`: keep the source's uid and gid (else the receiving side's user owns the copy).
    pub archive: bool,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Bytes of regular file content copied.
    pub bytes: u64,
    /// Where it went, as docker names it in "Successfully copied ... to ...".
    pub destination: String,
}

/// Copies `src` to `dst`, one of them `CONTAINER:PATH`.
pub fn copy(
    containers: &Containers,
    src: &str,
    dst: &str,
    opts: CopyOptions,
) -> Result<Copied, CopyError> {
    let cwd = std::env::current_dir().map_err(|e| CopyError::Io {
        path: ".".into(),
        source: e,
    })?;
    match (Location::parse(src), Location::parse(dst)) {
        (Location::Container { container, path }, Location::Host(host)) => {
            let id = containers.resolve(&container)?;
            let access = RootfsAccess::open(containers, &id)?;
            let owner = if opts.archive {
                Owner::Source
            } else {
                // As docker: the invoking user owns what lands on the host.
                Owner::Fixed(
                    rustix::process::geteuid().as_raw(),
                    rustix::process::getegid().as_raw(),
                )
            };
            let bytes = {
                let inside = Side::container(access.path(), &container)?;
                let from = inside.source(&named(&path, Path::new("/")), opts.follow_link)?;
                transfer(&from, &Side::host(), &named(&host, &cwd), owner)?
            };
            access.close();
            Ok(Copied {
                bytes,
                destination: named(&host, &cwd).path.display().to_string(),
            })
        }
        (Location::Host(host), Location::Container { container, path }) => {
            let id = containers.resolve(&container)?;
            if containers.read_config(&id)?.host.readonly_rootfs {
                return Err(CopyError::ReadOnlyRootfs);
            }
            let access = RootfsAccess::open(containers, &id)?;
            let owner = if opts.archive {
                Owner::Source
            } else {
                // As docker: the container's root user owns what is copied in.
                Owner::Fixed(0, 0)
            };
            let bytes = {
                let from = Side::host().source(&named(&host, &cwd), opts.follow_link)?;
                let inside = Side::container(access.path(), &container)?;
                transfer(&from, &inside, &named(&path, Path::new("/")), owner)?
            };
            access.close();
            Ok(Copied {
                bytes,
                destination: format!("{container}:{path}"),
            })
        }
        (Location::Container { .. }, Location::Container { .. }) => {
            Err(CopyError::BetweenContainers)
        }
        (Location::Host(_), Location::Host(_)) => Err(CopyError::NoContainer),
    }
}

/// A path as named, made absolute and cleaned, with what its spelling asks for.
#[derive(Debug, Clone)]
struct Named {
    /// Absolute and without `.`, `..` or repeated separators.
    path: PathBuf,
    /// Ends with `/` or `/.`: must be a directory.
    dir_only: bool,
    /// Ends with `/.`: a directory's contents rather than the directory.
    contents: bool,
}

/// Cleans `raw` as docker does (lexically), relative to `base` if it is relative.
fn named(raw: &str, base: &Path) -> Named {
    let mut path = if raw.starts_with('/') {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    for c in Path::new(raw).components() {
        match c {
            Component::RootDir => path = PathBuf::from("/"),
            Component::ParentDir => {
                path.pop();
            }
            Component::Normal(n) => path.push(n),
            Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let contents = raw == "." || raw.ends_with("/.");
    Named {
        path,
        dir_only: contents || raw.ends_with('/') || raw == ".." || raw.ends_with("/.."),
        contents,
    }
}

/// One filesystem a copy reads or writes: the host, or a container's rootfs in which
/// every path resolves as if it were `/`.
struct Side {
    root: Option<OwnedFd>,
    /// The rootfs as the kernel names it, to turn resolved paths back into in-root ones.
    root_real: PathBuf,
    /// `CONTAINER:` for paths in a container, empty on the host.
    label: String,
}

/// An entry found at a path: its directory (open), its name there, and what it is.
struct Found {
    parent: OwnedFd,
    name: OsString,
    stat: Option<Stat>,
}

/// What is copied: an entry, and whether only its contents go (for `SRC/.` and `/`).
struct Source {
    found: Found,
    shown: String,
    is_dir: bool,
    contents: bool,
    /// The name the copy takes in an existing destination directory: the source's name
    /// as given (a followed link's name, not its target's).
    base: OsString,
}

impl Side {
    fn host() -> Side {
        Side {
            root: None,
            root_real: PathBuf::from("/"),
            label: String::new(),
        }
    }

    fn container(rootfs: &Path, label: &str) -> Result<Side, CopyError> {
        let root = rootfs::open_root(rootfs)?;
        let root_real = fd_path(&root).map_err(|e| CopyError::Io {
            path: rootfs.display().to_string(),
            source: e,
        })?;
        Ok(Side {
            root: Some(root),
            root_real,
            label: format!("{label}:"),
        })
    }

    fn show(&self, p: &Path) -> String {
        format!("{}{}", self.label, p.display())
    }

    fn open(&self, p: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
        match &self.root {
            Some(root) => rootfs::open_in_root(root, p, flags),
            None => rustix::fs::open(p, flags | OFlags::CLOEXEC, Mode::empty()),
        }
    }

    /// `p` with every symlink resolved (inside the root for a container).
    fn real(&self, p: &Path) -> rustix::io::Result<PathBuf> {
        let fd = self.open(p, OFlags::PATH)?;
        let real = fd_path(&fd).map_err(|_| Errno::NOENT)?;
        if self.root.is_none() {
            return Ok(real);
        }
        let rest = real
            .strip_prefix(&self.root_real)
            .map_err(|_| Errno::XDEV)?;
        Ok(Path::new("/").join(rest))
    }

    /// Finds the entry at `p` without following it (its directories are followed).
    fn locate(&self, p: &Path) -> Result<Found, CopyError> {
        let (dir, name) = match (p.parent(), p.file_name()) {
            (Some(d), Some(n)) => (d, n.to_owned()),
            // The root is the entry "." of itself.
            _ => (p, OsString::from(".")),
        };
        let parent = self
            .open(dir, OFlags::DIRECTORY | OFlags::RDONLY)
            .map_err(|e| match e {
                Errno::NOENT => CopyError::NotFound(self.show(dir)),
                Errno::NOTDIR => CopyError::NotADirectory(self.show(dir)),
                e => io_error(self.show(dir), e),
            })?;
        let stat = match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(io_error(self.show(p), e)),
        };
        Ok(Found { parent, name, stat })
    }

    /// The source named by `n`; a symlink as the last component is followed with
    /// `follow` or a trailing `/`.
    fn source(&self, n: &Named, follow: bool) -> Result<Source, CopyError> {
        let shown = self.show(&n.path);
        let path = if follow || n.dir_only {
            self.real(&n.path).map_err(|e| match e {
                Errno::NOENT | Errno::LOOP | Errno::XDEV => CopyError::NotFound(shown.clone()),
                Errno::NOTDIR => CopyError::NotADirectory(shown.clone()),
                e => io_error(shown.clone(), e),
            })?
        } else {
            n.path.clone()
        };
        let found = self.locate(&path)?;
        let Some(st) = found.stat else {
            return Err(CopyError::NotFound(shown));
        };
        let is_dir = kind(&st) == FileType::Directory;
        if n.dir_only && !is_dir {
            return Err(CopyError::NotADirectory(shown));
        }
        let base = n.path.file_name().map(OsStr::to_owned);
        Ok(Source {
            found,
            shown,
            is_dir,
            contents: n.contents || base.is_none(),
            base: base.unwrap_or_default(),
        })
    }
}

/// Where a copy lands.
enum Target {
    /// The entry `name` in `parent` (created, merged or replaced).
    Entry(OwnedFd, OsString, String),
    /// Into the existing directory, entry by entry.
    Into(OwnedFd, String),
}

/// Copies `src` to the destination `dst` on `side`, with docker's rules: into an existing
/// directory under the source's name (its contents for `SRC/.`), over an existing file,
/// or as a new entry named by the destination.
fn transfer(src: &Source, side: &Side, dst: &Named, owner: Owner) -> Result<u64, CopyError> {
    let shown = side.show(&dst.path);
    let mut found = side.locate(&dst.path)?;
    if found.stat.is_some_and(|st| kind(&st) == FileType::Symlink) {
        // An existing destination link is followed (inside the root); a dangling one is
        // replaced.
        if let Ok(real) = side.real(&dst.path) {
            found = side.locate(&real)?;
        }
    }
    let target = match found.stat.map(|st| kind(&st)) {
        Some(FileType::Directory) => {
            let dir = open_dir(&found.parent, &found.name).map_err(|e| io_error(&shown, e))?;
            if src.is_dir && src.contents {
                Target::Into(dir, shown)
            } else {
                let to = format!("{}/{}", shown.trim_end_matches('/'), lossy(&src.base));
                Target::Entry(dir, src.base.clone(), to)
            }
        }
        Some(_) => {
            if dst.dir_only {
                return Err(CopyError::NotADirectory(shown));
            }
            if src.is_dir {
                return Err(CopyError::DirectoryOntoFile {
                    source_path: src.shown.clone(),
                    destination: shown,
                });
            }
            Target::Entry(found.parent, found.name, shown)
        }
        None => {
            if dst.dir_only && !src.is_dir {
                return Err(CopyError::NoSuchDirectory(shown));
            }
            Target::Entry(found.parent, found.name, shown)
        }
    };
    let from = &src.found;
    let top = match &target {
        Target::Entry(dir, ..) | Target::Into(dir, _) => dir.try_clone(),
    }
    .map_err(|e| CopyError::Io {
        path: side.show(&dst.path),
        source: e,
    })?;
    let mut copier = Copier::new(owner, top);
    let (s, d) = match &target {
        Target::Entry(parent, name, to) => {
            let s = At::new(&from.parent, &from.name, &src.shown);
            (s, At::new(parent, name, to))
        }
        Target::Into(dir, to) => {
            let s = open_dir(&from.parent, &from.name).map_err(|e| io_error(&src.shown, e))?;
            copier.contents(&s, &src.shown, &At::new(dir, OsStr::new(""), to), &[])?;
            return Ok(copier.bytes);
        }
    };
    copier.entry(&s, &d, &[])?;
    Ok(copier.bytes)
}

/// The path the kernel has for an open fd.
fn fd_path(fd: &OwnedFd) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn locations_split_as_dockers() {
        let c = |c: &str, p: &str| Location::Container {
            container: c.into(),
            path: p.into(),
        };
        assert_eq!(Location::parse("web:/etc/hosts"), c("web", "/etc/hosts"));
        assert_eq!(Location::parse("web:etc"), c("web", "etc"));
        assert_eq!(Location::parse("/a:b"), Location::Host("/a:b".into()));
        assert_eq!(Location::parse("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(Location::parse("file"), Location::Host("file".into()));
        assert_eq!(Location::parse("-"), Location::Host("-".into()));
    }

    #[test]
    fn names_are_cleaned_and_keep_their_trailing_meaning() {
        let n = named("a/../b/./c/", Path::new("/base"));
        assert_eq!(n.path, Path::new("/base/b/c"));
        assert!(n.dir_only && !n.contents);
        let n = named("/x/.", Path::new("/"));
        assert_eq!(n.path, Path::new("/x"));
        assert!(n.dir_only && n.contents);
        let n = named("../../..", Path::new("/"));
        assert_eq!(n.path, Path::new("/"));
    }

    fn side_in(root: &Path) -> Side {
        Side::container(root, "c").unwrap()
    }

    #[test]
    fn copies_into_a_root_never_follow_its_links_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let host = dir.path().join("host");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", root.join("up")).unwrap();
        std::fs::write(host.join("f"), "data").unwrap();
        std::fs::set_permissions(host.join("f"), std::fs::Permissions::from_mode(0o751)).unwrap();
        let inside = side_in(&root);
        let from = Side::host();
        let src = from
            .source(
                &named(host.join("f").to_str().unwrap(), Path::new("/")),
                false,
            )
            .unwrap();
        for to in ["/escape/tmp/x", "/up/tmp/y"] {
            transfer(
                &src,
                &inside,
                &named(to, Path::new("/")),
                Owner::Fixed(0, 0),
            )
            .unwrap();
        }
        assert_eq!(std::fs::read_to_string(root.join("tmp/x")).unwrap(), "data");
        assert_eq!(std::fs::read_to_string(root.join("tmp/y")).unwrap(), "data");
        let m = std::fs::metadata(root.join("tmp/x")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o751);
        assert_eq!(
            m.mtime(),
            std::fs::metadata(host.join("f")).unwrap().mtime()
        );
    }

    #[test]
    fn hard_links_stay_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("bin/sub")).unwrap();
        std::fs::write(root.join("bin/busybox"), "elf").unwrap();
        std::fs::hard_link(root.join("bin/busybox"), root.join("bin/sh")).unwrap();
        std::fs::hard_link(root.join("bin/busybox"), root.join("bin/sub/ls")).unwrap();
        let out = dir.path().join("out");
        let inside = side_in(&root);
        let src = inside
            .source(&named("/bin", Path::new("/")), false)
            .unwrap();
        let bytes = transfer(
            &src,
            &Side::host(),
            &named(out.to_str().unwrap(), Path::new("/")),
            Owner::Source,
        )
        .unwrap();
        assert_eq!(bytes, 3);
        let ino = |p: &str| std::fs::metadata(out.join(p)).unwrap().ino();
        assert_eq!(ino("busybox"), ino("sh"));
        assert_eq!(ino("busybox"), ino("sub/ls"));
        assert_eq!(std::fs::metadata(out.join("sh")).unwrap().nlink(), 3);
    }

    #[test]
    fn directories_follow_dockers_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let out = dir.path().join("out");
        std::fs::create_dir_all(root.join("d/sub")).unwrap();
        std::fs::write(root.join("d/sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("d/link")).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let inside = side_in(&root);
        let host = Side::host();
        let to = |p: &Path| named(p.to_str().unwrap(), Path::new("/"));
        // Into an existing directory: under the source's name.
        let src = inside.source(&named("/d", Path::new("/")), false).unwrap();
        transfer(&src, &host, &to(&out), Owner::Source).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("d/sub/f")).unwrap(), "x");
        assert_eq!(
            std::fs::read_link(out.join("d/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        // To a new name: the directory itself, renamed.
        transfer(&src, &host, &to(&out.join("new")), Owner::Source).unwrap();
        assert!(out.join("new/sub/f").is_file());
        // SRC/. into an existing directory: its contents.
        let dot = inside
            .source(&named("/d/.", Path::new("/")), false)
            .unwrap();
        transfer(&dot, &host, &to(&out), Owner::Source).unwrap();
        assert!(out.join("sub/f").is_file());
        // A directory onto a file, and a file into a missing directory, are refused.
        assert!(matches!(
            transfer(&src, &host, &to(&out.join("sub/f")), Owner::Source),
            Err(CopyError::DirectoryOntoFile { .. })
        ));
        let f = inside
            .source(&named("/d/sub/f", Path::new("/")), false)
            .unwrap();
        let missing = named(&format!("{}/nope/", out.display()), Path::new("/"));
        assert!(matches!(
            transfer(&f, &host, &missing, Owner::Source),
            Err(CopyError::NoSuchDirectory(_))
        ));
        assert!(matches!(
            inside.source(&named("/nope", Path::new("/")), false),
            Err(CopyError::NotFound(p)) if p == "c:/nope"
        ));
    }
}
