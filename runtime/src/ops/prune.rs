//! `rbox container prune`, `rbox system prune` and `rbox system df`: what stopped
//! containers and unused images hold on disk, and removing them.

use std::collections::HashSet;
use std::fs;

use rbox_image::{Digest, Reference, Store};

use crate::error::{Error, IoContext, Result};
use crate::model::container::Status;
use crate::model::prune_filter::PruneFilter;
use crate::ops::lifecycle;
use crate::store::containers::Containers;

/// What pruning containers removed.
#[derive(Debug, Clone, Default)]
pub struct ContainersPruned {
    /// The ids of the containers removed.
    pub deleted: Vec<String>,
    /// Bytes their writable layers held.
    pub space: u64,
}

/// Removes every container that isn't running (created, exited, dead) and that `filter`
/// admits, as `docker container prune`. One that starts meanwhile is left alone.
pub fn prune_containers(containers: &Containers, filter: &PruneFilter) -> Result<ContainersPruned> {
    let mut out = ContainersPruned::default();
    for c in lifecycle::reconcile_all(containers)? {
        if c.state.is_running() || c.state.status == Status::Removing {
            continue;
        }
        if !filter.admits(Some(&c.config.created), &c.config.config.labels) {
            continue;
        }
        let size = dir_size(&containers.dir(c.id()).join("upper"));
        match lifecycle::remove(containers, c.id(), false, false) {
            Ok(()) => {
                out.deleted.push(c.id().to_owned());
                out.space += size;
            }
            // Started or removed by someone else since it was listed.
            Err(Error::Conflict(_)) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.space += sweep_removals(containers, std::time::Duration::from_secs(10))?;
    Ok(out)
}

/// What pruning images removed.
#[derive(Debug, Clone, Default)]
pub struct ImagesPruned {
    /// Tags removed (with `all`).
    pub untagged: Vec<Reference>,
    /// Image ids removed.
    pub deleted: Vec<Digest>,
    /// Bytes of blobs and unpacked layers removed.
    pub space: u64,
}

/// Removes dangling images (with `all`, every image no container uses) that `filter`
/// admits, then the blobs and snapshots nothing refers to any more. Images that
/// containers use are kept.
pub fn prune_images(
    store: &Store,
    containers: &Containers,
    all: bool,
    filter: &PruneFilter,
) -> Result<ImagesPruned> {
    let mut keep = containers.images_in_use()?;
    if *filter != PruneFilter::default() {
        for s in store.images()? {
            let c = &s.image.config;
            let labels = c.config().as_ref().and_then(|c| c.labels().clone());
            if !filter.admits(c.created().as_deref(), labels.iter().flatten()) {
                keep.insert(s.image.id().to_string());
            }
        }
    }
    let used = |d: &Digest| keep.contains(&d.to_string());
    let mut out = ImagesPruned {
        deleted: store.remove_dangling(&used)?,
        ..Default::default()
    };
    if all {
        for s in store.images()? {
            if used(s.image.id()) {
                continue;
            }
            let r = store.remove(&s.image.id().to_string(), true, &used)?;
            out.untagged.extend(r.untagged);
            out.deleted.extend(r.deleted);
        }
    }
    // Unpacked layers count too: what collection removes of them is known only before.
    let snapshot_sizes: Vec<(Digest, u64)> = store
        .snapshots()?
        .into_iter()
        .map(|s| {
            let size = store.snapshot_info(&s).ok().flatten().map_or(0, |i| i.size);
            (s, size)
        })
        .collect();
    let report = store.gc(&containers.manifests_in_use()?)?;
    let left: HashSet<Digest> = store.snapshots()?.into_iter().collect();
    out.space = report.bytes
        + snapshot_sizes
            .iter()
            .filter(|(s, _)| !left.contains(s))
            .map(|(_, n)| n)
            .sum::<u64>();
    Ok(out)
}

/// One line of `rbox system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// How many there are.
    pub total: usize,
    /// How many are in use (images: by any container; containers: running).
    pub active: usize,
    /// Bytes they hold.
    pub size: u64,
    /// Bytes pruning would free.
    pub reclaimable: u64,
}

/// What images and containers hold on disk.
#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    /// Images: their layers, each counted once however many images share it.
    pub images: Usage,
    /// Containers: their writable layers.
    pub containers: Usage,
    /// Volumes: their data.
    pub volumes: Usage,
}

/// Measures what `rbox system df` shows.
pub fn disk_usage(store: &Store, containers: &Containers) -> Result<DiskUsage> {
    let in_use = containers.images_in_use()?;
    let mut layer_size: std::collections::HashMap<Digest, u64> = Default::default();
    let mut active_layers: HashSet<Digest> = HashSet::new();
    let mut images = Usage::default();
    for s in store.images()? {
        images.total += 1;
        let active = in_use.contains(&s.image.id().to_string());
        if active {
            images.active += 1;
        }
        let chain = s.image.chain_ids().unwrap_or_default();
        for (i, l) in s.image.manifest.layers().iter().enumerate() {
            let Some(c) = chain.get(i) else { continue };
            let size = store
                .snapshot_info(c)
                .ok()
                .flatten()
                .map_or(l.size(), |info| info.size);
            layer_size.insert(c.clone(), size);
            if active {
                active_layers.insert(c.clone());
            }
        }
    }
    images.size = layer_size.values().sum();
    let active_size: u64 = active_layers.iter().filter_map(|c| layer_size.get(c)).sum();
    images.reclaimable = images.size - active_size;

    let mut cs = Usage::default();
    for c in lifecycle::reconcile_all(containers)? {
        let size = dir_size(&containers.dir(c.id()).join("upper"));
        cs.total += 1;
        cs.size += size;
        if c.state.is_running() {
            cs.active += 1;
        } else {
            cs.reclaimable += size;
        }
    }
    let mut vs = Usage::default();
    for v in containers.volumes()? {
        let size = dir_size(&containers.volume_data(&v.name));
        vs.total += 1;
        vs.size += size;
        if containers.volume_users(&v.name)?.is_empty() {
            vs.reclaimable += size;
        } else {
            vs.active += 1;
        }
    }
    Ok(DiskUsage {
        images,
        containers: cs,
        volumes: vs,
    })
}

pub use rbox_image::store::dir_size;

/// Finishes removals that were interrupted (a `--rm` container's cleanup killed, a
/// crash): `.removing-<id>` directories renamed away more than `age` ago are unmounted,
/// their run's leftovers deleted, and removed; so are the directories of containers that
/// never were (`<id>` without its container.json: a create killed before it recorded the
/// container). Returns the bytes freed.
pub fn sweep_removals(containers: &Containers, age: std::time::Duration) -> Result<u64> {
    let d = containers.root().join("containers");
    let mut freed = 0;
    for e in fs::read_dir(&d).at(&d)? {
        let e = e.at(&d)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let unrecorded = name.len() == 64
            && name.bytes().all(|b| b.is_ascii_hexdigit())
            && !e.path().join("container.json").exists();
        let Some(id) = name
            .strip_prefix(".removing-")
            .or(unrecorded.then_some(name.as_str()))
        else {
            continue;
        };
        let changed = std::os::unix::fs::MetadataExt::ctime(&e.metadata().at(e.path())?);
        let now = chrono::Utc::now().timestamp();
        if now - changed < age.as_secs() as i64 {
            continue; // Its cleanup may still be running.
        }
        let path = e.path();
        crate::supervise::teardown::delete_libcontainer_state(&containers.run_dir(), id);
        crate::host::rootfs::unmount(&path.join("rootfs"))?;
        let _ = fs::remove_dir_all(containers.run_path(id));
        freed += dir_size(&path.join("upper"));
        fs::remove_dir_all(&path).at(&path)?;
    }
    // A name being taken (`names/.new-<id>`) whose taker died before it was done.
    let names = containers.root().join("names");
    for e in fs::read_dir(&names).into_iter().flatten().flatten() {
        let path = e.path();
        let unfinished = e.file_name().to_string_lossy().starts_with(".new-")
            && e.metadata().is_ok_and(|m| {
                m.modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|a| a >= age)
            })
            && fs::File::open(&path).is_ok_and(|f| {
                rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
            });
        if unfinished {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_removals_are_finished_once_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let c = Containers::open(dir.path()).unwrap();
        let left = dir
            .path()
            .join("containers")
            .join(format!(".removing-{}", "a".repeat(64)));
        fs::create_dir_all(left.join("upper")).unwrap();
        fs::write(left.join("upper/data"), "12345").unwrap();
        // Recent: its cleanup may still be running.
        assert_eq!(
            sweep_removals(&c, std::time::Duration::from_secs(3600)).unwrap(),
            0
        );
        assert!(left.exists());
        // A create killed before it recorded its container left its directory; a real
        // container's stays.
        let never = dir.path().join("containers").join("b".repeat(64));
        fs::create_dir_all(never.join("upper")).unwrap();
        fs::write(never.join("upper/x"), "123").unwrap();
        let real = dir.path().join("containers").join("c".repeat(64));
        fs::create_dir_all(real.join("upper")).unwrap();
        fs::write(real.join("container.json"), "{}").unwrap();
        // A name a killed create was taking, and one a live create is taking (locked).
        let names = dir.path().join("names");
        let dead = names.join(format!(".new-{}", "d".repeat(64)));
        fs::write(&dead, "d".repeat(64)).unwrap();
        let live = names.join(format!(".new-{}", "e".repeat(64)));
        fs::write(&live, "e".repeat(64)).unwrap();
        let held = fs::File::open(&live).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        assert_eq!(sweep_removals(&c, std::time::Duration::ZERO).unwrap(), 8);
        assert!(!left.exists());
        assert!(!never.exists());
        assert!(real.exists());
        assert!(!dead.exists() && live.exists());
        drop(held);
        fs::remove_file(&live).unwrap();
        fs::remove_dir_all(&real).unwrap();
        assert!(c.ids().unwrap().is_empty());
        let _ = fs::remove_dir_all(c.runtime_dir());
    }

    #[test]
    fn sizes_count_files_once_and_follow_no_link() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a/b")).unwrap();
        fs::write(d.path().join("a/b/f"), [0u8; 100]).unwrap();
        fs::write(d.path().join("g"), [0u8; 10]).unwrap();
        std::os::unix::fs::symlink("/usr", d.path().join("link")).unwrap();
        assert_eq!(dir_size(d.path()), 110);
        assert_eq!(dir_size(&d.path().join("missing")), 0);
    }
}
