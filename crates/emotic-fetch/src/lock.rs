//! One download per cached file at a time, across processes.
//!
//! Two processes (or threads) fetching the same file would otherwise append to the same
//! `<name>.part` at once and interleave their bytes. The lock is an exclusive `flock` on
//! `<name>.lock` (std's [`File::lock`]) in a `.locks` folder beside the cache folder (so the
//! cache itself holds only weights): the kernel releases it when the holder exits, even by a
//! crash, so a stale lock file never blocks later runs. The lock file stays; removing it after
//! use would let a third process lock a fresh file under the same name while a second still
//! holds the old one.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Result, io};

/// Holds the lock on one cached file's name until dropped.
#[derive(Debug)]
pub(crate) struct CacheLock {
    file: File,
}

impl CacheLock {
    /// Blocks until no other fetcher downloads `file_name` into `cache_dir`.
    pub(crate) fn acquire(cache_dir: &Path, file_name: &str) -> Result<Self> {
        let mut dir = cache_dir.as_os_str().to_owned();
        dir.push(".locks");
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{file_name}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        if file.try_lock().is_err() {
            tracing::info!(
                "{}: another download of this file is running; waiting",
                path.display()
            );
            file.lock().map_err(io(&path))?;
        }
        Ok(Self { file })
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first just makes it explicit.
        let _ = self.file.unlock();
    }
}
