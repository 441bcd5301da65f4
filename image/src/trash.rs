//! Directories the store no longer needs, set aside to be deleted later rather than now: a
//! build step's upper directory whose layer is a snapshot already (a `--no-cache` build of
//! what was built before).
//!
//! Deleting such a directory at once costs the build its time (a 10,000-file COPY: about
//! 0.3 s), and on ext4 without a journal it costs the next build far more: the inode
//! allocator passes over every inode freed less than 60 s before, so each file the next
//! build makes scans past all the files just deleted (measured: a repeated cold build of
//! 10,000 files took 3.8 s instead of 1.7 s). So a discarded directory is renamed into
//! `trash/`, and deleted once it has waited there `KEEP_FOR`, at the next discard or by
//! garbage collection (`rbox image prune`, `builder prune`, `system prune`), and at once
//! when the file system is low on space.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{IoContext, Result};
use crate::store::Store;

/// How long a discarded directory waits before it is deleted.
pub const KEEP_FOR: Duration = Duration::from_secs(600);

/// Below this share of free space (percent), the trash is emptied whatever its age.
const MIN_FREE_PERCENT: u64 = 10;

impl Store {
    /// `<root>/trash`: directories waiting to be deleted; never read from.
    pub fn trash_dir(&self) -> PathBuf {
        self.root().join("trash")
    }

    /// Sets directory `dir` (on the store's file system) aside for deletion, and deletes
    /// what has waited long enough.
    pub fn discard(&self, dir: &Path) -> Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let trash = self.trash_dir();
        fs::create_dir_all(&trash).at(&trash)?;
        let dest = trash.join(format!(
            "{}-{}-{}",
            now_secs(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::rename(dir, &dest).at(dir)?;
        let low = low_on_space(&trash);
        self.empty_trash(if low { Duration::ZERO } else { KEEP_FOR })?;
        Ok(())
    }

    /// Deletes what has been in the trash for `older_than` or more; returns the bytes
    /// freed. Another process deleting the same ones is not an error.
    pub fn empty_trash(&self, older_than: Duration) -> Result<u64> {
        let trash = self.trash_dir();
        let entries = match fs::read_dir(&trash) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(crate::Error::io(&trash, e)),
        };
        let now = now_secs();
        let mut freed = 0;
        for e in entries {
            let p = e.at(&trash)?.path();
            let since = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split('-').next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            if now.saturating_sub(since) < older_than.as_secs() {
                continue;
            }
            let size = crate::store::dir_size(&p);
            match fs::remove_dir_all(&p) {
                Ok(()) => freed += size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::Error::io(&p, e)),
            }
        }
        Ok(freed)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether the file system holding `dir` has less than `MIN_FREE_PERCENT` of its space free
/// for unprivileged use. One that can't be read counts as low: nothing is kept then.
fn low_on_space(dir: &Path) -> bool {
    match rustix::fs::statvfs(dir) {
        Ok(s) if s.f_blocks > 0 => s.f_bavail.saturating_mul(100) / s.f_blocks < MIN_FREE_PERCENT,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discarded_directory_waits_and_collection_deletes_it() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let dir = store.tmp_path("upper");
        fs::create_dir_all(dir.join("a/b")).unwrap();
        fs::write(dir.join("a/b/f"), b"x").unwrap();
        store.discard(&dir).unwrap();
        assert!(!dir.exists());
        assert_eq!(
            store.empty_trash(KEEP_FOR).unwrap(),
            0,
            "nothing old enough"
        );
        let waiting: Vec<_> = fs::read_dir(store.trash_dir()).unwrap().collect();
        assert_eq!(waiting.len(), 1, "set aside, not deleted yet");
        // A second discard deletes nothing younger than KEEP_FOR.
        let dir2 = store.tmp_path("upper");
        fs::create_dir_all(&dir2).unwrap();
        store.discard(&dir2).unwrap();
        assert_eq!(fs::read_dir(store.trash_dir()).unwrap().count(), 2);
        // Garbage collection deletes them, whatever their age.
        store.gc(&[]).unwrap();
        assert_eq!(fs::read_dir(store.trash_dir()).unwrap().count(), 0);
    }

    #[test]
    fn what_waited_long_enough_goes_at_the_next_discard() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let old = store.trash_dir().join(format!("{}-1-0", now_secs() - 601));
        fs::create_dir_all(old.join("sub")).unwrap();
        fs::write(old.join("sub/f"), b"12345").unwrap();
        assert_eq!(
            store.empty_trash(KEEP_FOR).unwrap(),
            5,
            "its bytes are freed"
        );
        fs::create_dir_all(old.join("sub")).unwrap();
        let dir = store.tmp_path("upper");
        fs::create_dir_all(&dir).unwrap();
        store.discard(&dir).unwrap();
        assert!(!old.exists(), "older than KEEP_FOR: deleted");
        assert_eq!(fs::read_dir(store.trash_dir()).unwrap().count(), 1);
    }
}
