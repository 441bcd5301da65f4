//! COPY and ADD: sources from the context, a stage, an image or a URL, written into a fresh
//! upper directory over the stage's overlay.

use std::fs;
use std::path::PathBuf;

use rbox_image::snapshot::SnapshotInfo;
use rbox_image::{Digest, Store};
use rbox_runtime::rootfs;

use super::cache::{StepKey, UrlKey};
use super::{Builder, Result, StageState};
use crate::context::{
    copy_into, copy_into_reusing, hash_sources, link_reused, Context, CopyTo, FileSig, Reuse,
    Tracked,
};
use crate::fetch::{fetch, is_url, parse_checksum, url_file_name};
use crate::instructions::{Dockerfile, Instruction, Located};
use crate::layer::Base;

impl Builder<'_> {
    /// `COPY <<EOF /path`: each document becomes a file (named by the delimiter when the
    /// destination is a directory). The heredocs are expanded already.
    pub(super) fn copy_heredocs(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        heredocs: &[crate::Heredoc],
        step: CopyStep<'_>,
    ) -> Result<()> {
        let dir = self.store.tmp_path("heredocs");
        fs::create_dir_all(&dir)?;
        let mut names = Vec::new();
        for h in heredocs {
            fs::write(dir.join(&h.name), h.body())?;
            names.push(h.name.clone());
        }
        let saved = std::mem::replace(&mut self.ctx, std::sync::Arc::new(Context::open(&dir)?));
        let step = CopyStep {
            sources: &names,
            ..step
        };
        let result = self.copy(df, st, ins, step);
        self.ctx = saved;
        let _ = fs::remove_dir_all(&dir);
        result
    }

    /// COPY or ADD of `step`, whose words are expanded already.
    pub(super) fn copy(
        &mut self,
        df: &Dockerfile,
        st: &mut StageState,
        ins: &Located<Instruction>,
        step: CopyStep<'_>,
    ) -> Result<()> {
        let line = ins.line;
        // `--from=NAME` of a directory given as `--build-context NAME=DIR`: copied as from
        // the context, that directory being it.
        if let Some(f) = step.from.filter(|f| df.stage_index(f).is_none()) {
            if let Some(super::NamedContext::Dir(dir)) = self.named(f).cloned() {
                let named = Context::open(&dir).map_err(|e| {
                    self.fail(line, format!("--build-context {f}: {}: {e}", dir.display()))
                })?;
                let saved = std::mem::replace(&mut self.ctx, std::sync::Arc::new(named));
                let result = self.copy(df, st, ins, CopyStep { from: None, ..step });
                self.ctx = saved;
                return result;
            }
        }
        let CopyStep {
            sources,
            dest,
            from,
            chown,
            chmod,
            checksum,
            add,
        } = step;
        let sources = sources.to_vec();
        let dest = dest.to_owned();
        let workdir = st.workdir().to_owned();
        let dest = if dest.starts_with('/') {
            dest
        } else {
            format!("{}/{dest}", workdir.trim_end_matches('/'))
        };
        if sources.len() > 1 && !dest.ends_with('/') {
            return Err(self.fail(
                line,
                "when copying several sources the destination must be a directory ending with /",
            ));
        }
        let mode = chmod
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .map_err(|_| self.fail(line, format!("--chmod {m}: not an octal mode")))
            })
            .transpose()?;
        // ADD's http(s) sources are fetched; the others come from the context (or --from).
        let (urls, local): (Vec<String>, Vec<String>) = if add && from.is_none() {
            sources.iter().cloned().partition(|s| is_url(s))
        } else {
            (Vec::new(), sources.clone())
        };
        let expected = checksum
            .map(parse_checksum)
            .transpose()
            .map_err(|e| self.fail(line, e))?;
        if expected.is_some() && (urls.len() != 1 || !local.is_empty()) {
            return Err(self.fail(
                line,
                "ADD --checksum needs exactly one source, an http(s) URL",
            ));
        }
        let downloads = Downloads::new(self.store, &urls, &dest).map_err(|e| self.fail(line, e))?;
        // The cache key of a URL: the checksum when given (nothing is fetched on a hit),
        // else its content's digest, so it is fetched each time.
        let mut url_keys = Vec::new();
        for (url, path) in urls.iter().zip(&downloads.files) {
            match &expected {
                Some(d) => url_keys.push(UrlKey {
                    url: url.clone(),
                    digest: d.to_string(),
                }),
                None => {
                    self.note(&format!("Fetching {url}"));
                    let f = fetch(url, path, None).map_err(|e| self.fail(line, e))?;
                    url_keys.push(UrlKey {
                        url: url.clone(),
                        digest: f.digest.to_string(),
                    });
                }
            }
        }
        // Where the sources come from: the context, an earlier stage, or an image.
        let from_state =
            match from {
                None => None,
                Some(f) => Some(match df.stage_index(f) {
                    Some(i) => self.done.get(&i).cloned().ok_or_else(|| {
                        self.fail(line, format!("--from={f}: stage not built yet"))
                    })?,
                    None => {
                        let f = match self.named(f) {
                            Some(super::NamedContext::Image(r)) => r.as_str(),
                            _ => f,
                        };
                        let image = self.store.resolve(f).map_err(|_| {
                            self.fail(line, format!("--from={f}: no such stage or image"))
                        })?;
                        StageState {
                            chain: self.store.ensure_snapshots(&image)?,
                            ..Default::default()
                        }
                    }
                }),
            };
        let src_mount = match &from_state {
            Some(s) => Some(RootView::mount(self.store, &s.chain, None)?),
            None => None,
        };
        let src_root = match &src_mount {
            Some(m) => m.root.clone(),
            None => self.ctx.root().to_path_buf(),
        };
        let in_context = src_mount.is_none();
        let hash = hash_sources(&src_root, &local, in_context.then_some(&*self.ctx))
            .map_err(|e| self.fail(line, e))?;
        // The step's place, whatever its sources' content: an earlier layer made there
        // lends the files that did not change.
        let slot = Digest::of(
            &serde_json::to_vec(&(
                self.ctx.root(),
                &sources,
                &dest,
                chown,
                chmod,
                add,
                self.epoch,
            ))
            .expect("json"),
        );
        let key = st.next_key(&StepKey::Copy {
            add,
            sources: sources.clone(),
            dest: dest.clone(),
            chown: chown.map(str::to_owned),
            chmod: chmod.map(str::to_owned),
            content: hash.to_string(),
            urls: url_keys,
        });
        let created_by = ins.original.trim().to_owned();
        if self.cached(&key, st)? {
            self.history(st, &created_by, false);
            return Ok(());
        }
        if let Some(d) = &expected {
            for (url, path) in urls.iter().zip(&downloads.files) {
                self.note(&format!("Fetching {url}"));
                fetch(url, path, Some(d)).map_err(|e| self.fail(line, e))?;
            }
        }
        let view = RootView::mount(
            self.store,
            &st.chain,
            Some(self.store.tmp_path("build-upper")),
        )?;
        let (uid, gid) = match chown {
            None => (0, 0),
            Some(c) => {
                let passwd = rootfs::read_in_root(&view.root, "/etc/passwd")?.unwrap_or_default();
                let group = rootfs::read_in_root(&view.root, "/etc/group")?.unwrap_or_default();
                let u = rbox_runtime::user::resolve(c, &passwd, &group)
                    .map_err(|e| self.fail(line, e.to_string()))?;
                (u.uid, u.gid)
            }
        };
        let to = CopyTo {
            root: &view.root,
            dest: &dest,
            owner: (uid, gid),
            mode,
        };
        // Heredocs are written to a directory of their own each time: nothing to lend.
        let tmp = self.store.tmp_dir();
        let tmp = fs::canonicalize(&tmp).unwrap_or(tmp);
        let tracked_ctx = in_context && !self.ctx.root().starts_with(&tmp);
        // `--no-cache` builds cold: every file copied, every layer written whole.
        let reuse = if tracked_ctx && !local.is_empty() && !self.o.no_cache {
            self.reusable(&slot)
        } else {
            None
        };
        let mut tracked = Tracked::default();
        let mut copied = if local.is_empty() {
            Ok(())
        } else if tracked_ctx {
            copy_into_reusing(
                &src_root,
                &local,
                &self.ctx,
                &to,
                add,
                reuse.as_ref().map(|(r, _)| r),
                &mut tracked,
            )
        } else {
            copy_into(
                &src_root,
                &local,
                in_context.then_some(&*self.ctx),
                &to,
                add,
            )
        };
        // A fetched file is copied as it is (never extracted), under its URL's name when
        // the destination is a directory.
        for path in &downloads.files {
            if copied.is_err() {
                break;
            }
            let (dir, name) = (
                path.parent().expect("a download is in a directory"),
                path.file_name().expect("a download has a name"),
            );
            copied = copy_into(
                dir,
                &[name.to_string_lossy().into_owned()],
                None,
                &to,
                false,
            );
        }
        let copied = copied.map_err(|e| self.fail(line, e));
        drop(src_mount);
        let upper = view.finish();
        let linked = match (&copied, &reuse) {
            (Ok(()), Some((r, _))) if !tracked.links.is_empty() => {
                self.note(&format!(
                    "{} of {} files unchanged since the last build",
                    tracked.links.len(),
                    tracked.files.len()
                ));
                link_reused(&upper, r, self.ctx.root(), &tracked.links)
                    .map_err(|e| self.fail(line, e))
            }
            _ => Ok(Default::default()),
        };
        let same = match copied.and(linked) {
            Ok(same) => same,
            Err(e) => {
                let _ = fs::remove_dir_all(&upper);
                return Err(e);
            }
        };
        // The layer is written over the one it took its files from.
        let base = match reuse {
            Some((_, info)) if !same.is_empty() => info.diff_id.parse().ok().map(|blob| Base {
                blob,
                checkpoints: info.checkpoints,
                same,
            }),
            _ => None,
        };
        self.add_layer(st, &upper, &key, &created_by, base.as_ref())?;
        if tracked_ctx && !tracked.files.is_empty() {
            self.remember_copy(&slot, st, tracked);
        }
        Ok(())
    }

    /// The record of the COPY made last at `slot`: the snapshot it made (if the store still
    /// has it) and its files, and what the store knows of that snapshot.
    fn reusable(&self, slot: &Digest) -> Option<(Reuse, SnapshotInfo)> {
        let bytes = fs::read(self.slot_path(slot)).ok()?;
        let r: CopyRecord = serde_json::from_slice(&bytes).ok()?;
        let chain: Digest = r.chain.parse().ok()?;
        let info = self.store.snapshot_info(&chain).ok()??;
        Some((
            Reuse {
                snapshot: self.store.snapshot_fs(&chain),
                files: r.files,
            },
            info,
        ))
    }

    fn remember_copy(&self, slot: &Digest, st: &StageState, tracked: Tracked) {
        let Some(chain) = st.chain.last() else {
            return;
        };
        let r = CopyRecord {
            chain: chain.to_string(),
            files: tracked.files,
        };
        if let Ok(bytes) = serde_json::to_vec(&r) {
            let _ = rbox_image::store::replace_file(&self.slot_path(slot), &bytes);
        }
    }

    fn slot_path(&self, slot: &Digest) -> PathBuf {
        self.store
            .root()
            .join("build-cache")
            .join(format!("copy-{}.json", slot.hex()))
    }
}

/// What the last COPY at a place made: its snapshot's chain ID and the files it copied from
/// the context.
#[derive(serde::Serialize, serde::Deserialize)]
struct CopyRecord {
    chain: String,
    files: std::collections::HashMap<String, FileSig>,
}

/// What a COPY or ADD step copies, its words expanded.
#[derive(Clone, Copy)]
pub(super) struct CopyStep<'s> {
    /// Sources: paths or globs (and for ADD, URLs).
    pub(super) sources: &'s [String],
    /// The destination, as written (relative to WORKDIR unless absolute).
    pub(super) dest: &'s str,
    /// `COPY --from`.
    pub(super) from: Option<&'s str>,
    /// `--chown`.
    pub(super) chown: Option<&'s str>,
    /// `--chmod`, octal.
    pub(super) chmod: Option<&'s str>,
    /// `ADD --checksum`.
    pub(super) checksum: Option<&'s str>,
    /// ADD (URLs fetched, local archives extracted) rather than COPY.
    pub(super) add: bool,
}

/// Where an ADD's URLs are fetched to: one directory per URL in the store's `tmp/`, each to
/// hold a file named as the URL's last path component; removed when dropped.
struct Downloads {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

impl Downloads {
    fn new(store: &Store, urls: &[String], dest: &str) -> Result<Downloads, String> {
        if urls.is_empty() {
            return Ok(Downloads {
                dir: None,
                files: Vec::new(),
            });
        }
        let dir = store.tmp_path("build-fetch");
        let mut d = Downloads {
            dir: Some(dir.clone()),
            files: Vec::new(),
        };
        for (i, url) in urls.iter().enumerate() {
            let name = match url_file_name(url) {
                Some(n) => n,
                None if dest.ends_with('/') => {
                    return Err(format!(
                        "ADD {url}: the URL names no file; give the destination a file name"
                    ))
                }
                // The destination names the file.
                None => "download".to_owned(),
            };
            let sub = dir.join(i.to_string());
            fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
            d.files.push(sub.join(name));
        }
        Ok(d)
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// The merged view of a stack of snapshots, with a writable upper directory when given one.
pub(super) struct RootView {
    pub(super) root: PathBuf,
    upper: Option<PathBuf>,
    work: Option<PathBuf>,
    mounted: bool,
}

impl RootView {
    pub(super) fn mount(
        store: &Store,
        chain: &[Digest],
        upper: Option<PathBuf>,
    ) -> Result<RootView> {
        let lowers: Vec<PathBuf> = chain.iter().map(|c| store.snapshot_fs(c)).collect();
        let root = store.tmp_path("build-root");
        fs::create_dir_all(&root)?;
        let upper = match upper {
            Some(u) => u,
            None => store.tmp_path("build-scratch-upper"),
        };
        fs::create_dir_all(&upper)?;
        if lowers.is_empty() {
            // FROM scratch: the fresh directory is the whole root.
            fs::remove_dir(&root)?;
            return Ok(RootView {
                root: upper.clone(),
                upper: Some(upper),
                work: None,
                mounted: false,
            });
        }
        let work = store.tmp_path("build-work");
        fs::create_dir_all(&work)?;
        rootfs::mount_overlay(&lowers, &upper, &work, &root)?;
        Ok(RootView {
            root,
            upper: Some(upper),
            work: Some(work),
            mounted: true,
        })
    }

    /// Unmounts and returns the upper directory (the changes).
    fn finish(mut self) -> PathBuf {
        self.cleanup();
        self.upper.take().expect("a view has an upper directory")
    }

    fn cleanup(&mut self) {
        if self.mounted {
            let _ = rootfs::unmount(&self.root);
            let _ = fs::remove_dir(&self.root);
            self.mounted = false;
        }
        if let Some(w) = self.work.take() {
            let _ = fs::remove_dir_all(w);
        }
    }
}

impl Drop for RootView {
    fn drop(&mut self) {
        self.cleanup();
        if let Some(u) = self.upper.take() {
            let _ = fs::remove_dir_all(u);
        }
    }
}
