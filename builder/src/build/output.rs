//! `--output`: the target stage's filesystem written out, as BuildKit's local and tar
//! exporters write it, instead of (or besides) an image in the store.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rbox_image::{Digest, Reference, Store};

use super::copy::RootView;
use super::{BuildError, Result};

/// Where a build's result goes (`--output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=image` (or `type=docker`): an image in the store, tagged with `-t` and with
    /// `name=`; what a build makes without `--output`.
    Image {
        /// `name=REF`: more names for the image.
        names: Vec<Reference>,
    },
    /// `type=local,dest=DIR`, or a bare `DIR`: the files, written into DIR.
    Local(PathBuf),
    /// `type=tar,dest=FILE`: the files as a tar archive; `None` (`-`, or no `dest`) is the
    /// writer the caller gives (standard output).
    Tar(Option<PathBuf>),
}

impl Output {
    /// Parses `--output VALUE` as buildx reads it: `type=local,dest=DIR`,
    /// `type=tar[,dest=FILE|-]`, `type=image[,name=REF]`, a bare `DIR`, or `-` (a tar on
    /// standard output).
    pub fn parse_flag(v: &str) -> std::result::Result<Output, String> {
        if v == "-" {
            return Ok(Output::Tar(None));
        }
        if !v.contains('=') {
            if v.is_empty() {
                return Err(
                    "--output: empty value (type=local,dest=DIR, type=tar,dest=FILE, DIR or -)"
                        .into(),
                );
            }
            return Ok(Output::Local(PathBuf::from(v)));
        }
        let mut kind = None;
        let mut dest = None;
        let mut names = Vec::new();
        for field in v.split(',') {
            let (k, val) = field
                .split_once('=')
                .ok_or_else(|| format!("--output {v}: {field:?} is not KEY=VALUE"))?;
            match k.trim() {
                "type" => kind = Some(val.trim().to_owned()),
                "dest" => dest = Some(val.to_owned()),
                "name" => {
                    let r = Reference::parse(val).map_err(|e| format!("--output {v}: {e}"))?;
                    names.push(r);
                }
                // BuildKit's default for the image exporter: nothing is pushed.
                "push" if matches!(val, "false" | "0") => {}
                other => return Err(format!("--output {v}: unknown field {other:?}")),
            }
        }
        let kind = kind.ok_or_else(|| format!("--output {v}: type= is required"))?;
        let image_only = |what: &str| format!("--output {v}: {what} is for type=image only");
        match kind.as_str() {
            "local" => {
                if !names.is_empty() {
                    return Err(image_only("name="));
                }
                match dest {
                    Some(d) if !d.is_empty() && d != "-" => Ok(Output::Local(PathBuf::from(d))),
                    _ => Err(format!("--output {v}: dest=DIR is required for type=local")),
                }
            }
            "tar" => {
                if !names.is_empty() {
                    return Err(image_only("name="));
                }
                match dest.as_deref() {
                    None | Some("-") => Ok(Output::Tar(None)),
                    Some("") => Err(format!("--output {v}: dest= is empty")),
                    Some(d) => Ok(Output::Tar(Some(PathBuf::from(d)))),
                }
            }
            "image" | "docker" => match dest {
                Some(_) => Err(format!(
                    "--output {v}: dest= is not supported for type={kind}: the image is stored (rbox save writes it out)"
                )),
                None => Ok(Output::Image { names }),
            },
            other => Err(format!(
                "--output {v}: type {other:?} is not supported (local, tar or image)"
            )),
        }
    }
}

/// Writes the filesystem of the snapshots `chain` (the target stage's) to `out`; `tar` is
/// the writer of a `type=tar` output without a file.
pub(super) fn export<'w>(
    store: &Store,
    chain: &[Digest],
    out: &Output,
    tar: Option<&mut (dyn Write + 'w)>,
) -> Result<()> {
    let view = RootView::mount(store, chain, None)?;
    match out {
        Output::Image { .. } => Ok(()),
        Output::Local(dir) => export_dir(&view.root, dir),
        Output::Tar(Some(file)) => {
            let shown = file.display().to_string();
            let fail =
                |e: &dyn std::fmt::Display| BuildError::Failed(format!("--output {shown}: {e}"));
            let f = fs::File::create(file).map_err(|e| fail(&e))?;
            let mut w = std::io::BufWriter::new(f);
            crate::layer::write_layer(&view.root, &mut w, None, &|_| false)
                .map_err(|e| fail(&e))?;
            w.flush().map_err(|e| fail(&e))?;
            w.get_ref().sync_all().map_err(|e| fail(&e))
        }
        Output::Tar(None) => {
            let w =
                tar.ok_or_else(|| BuildError::Failed("--output -: no writer for the tar".into()))?;
            crate::layer::write_layer(&view.root, &mut *w, None, &|_| false)
                .map_err(|e| BuildError::Failed(format!("--output -: {e}")))?;
            w.flush()
                .map_err(|e| BuildError::Failed(format!("--output -: {e}")))
        }
    }
}

/// Copies the tree at `root` into `dir` (made if missing), keeping ownership, modes, times
/// and links, following no entry on either side.
fn export_dir(root: &Path, dir: &Path) -> Result<()> {
    use rustix::fs::{Mode, OFlags};
    let fail =
        |e: &dyn std::fmt::Display| BuildError::Failed(format!("--output {}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    let dst = rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| fail(&e))?;
    let src =
        rustix::fs::open(root, flags | OFlags::NOFOLLOW, Mode::empty()).map_err(|e| fail(&e))?;
    rbox_runtime::host::tree::copy_dir_contents(&src, &dst, &dir.display().to_string())
        .map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_read_as_buildx_reads_them() {
        assert_eq!(Output::parse_flag("-"), Ok(Output::Tar(None)));
        assert_eq!(Output::parse_flag("out"), Ok(Output::Local("out".into())));
        assert_eq!(
            Output::parse_flag("type=local,dest=/x"),
            Ok(Output::Local("/x".into()))
        );
        assert_eq!(
            Output::parse_flag("type=tar,dest=/x.tar"),
            Ok(Output::Tar(Some("/x.tar".into())))
        );
        assert_eq!(Output::parse_flag("type=tar"), Ok(Output::Tar(None)));
        assert_eq!(Output::parse_flag("type=tar,dest=-"), Ok(Output::Tar(None)));
        assert_eq!(
            Output::parse_flag("type=image"),
            Ok(Output::Image { names: vec![] })
        );
        let Ok(Output::Image { names }) = Output::parse_flag("type=image,name=x:1") else {
            panic!("type=image,name=x:1");
        };
        assert_eq!(names[0].familiar(), "x:1");
        for (bad, says) in [
            ("type=local", "dest=DIR is required"),
            ("type=oci,dest=x", "not supported"),
            ("type=local,dest=x,foo=1", "unknown field \"foo\""),
            ("dest=x", "type= is required"),
            ("type=image,dest=x", "dest= is not supported"),
            ("type=tar,name=x", "type=image only"),
            ("type=image,push=true", "unknown field"),
            ("", "empty value"),
        ] {
            let e = Output::parse_flag(bad).unwrap_err();
            assert!(e.contains(says) && e.contains("--output"), "{bad}: {e}");
        }
    }
}
