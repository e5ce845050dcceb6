//! Fetches published weight files into a local cache.
//!
//! A file is only ever used once its sha256 equals the published one. Downloads go to
//! `<name>.part` next to the final file and are renamed into place when complete and verified,
//! so the cache never holds a half-written file under the real name. An interrupted transfer,
//! in this process (retried) or in an earlier one, continues from the bytes already on disk
//! with an HTTP `Range` request; servers that ignore ranges are handled by starting over.
//! Processes fetching the same file into the same cache take turns on `<cache>.locks/<name>.lock`: one
//! downloads, the others wait, then find the verified file and use it.

mod catalogue;
mod dirs;
mod error;
mod lock;
mod transfer;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use catalogue::{IMAGENET_RESNET18, PLACES365_RESNET18};
pub use dirs::{default_cache_dir, torch_hub_dir};
pub use error::{Error, Result};

use error::io;

/// A published file: where it lives and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact<'a> {
    /// File name in the cache (the publisher's name).
    pub file_name: &'a str,
    /// Official location.
    pub url: &'a str,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: &'a str,
    /// Size in bytes, when published; downloads stop with an error beyond it.
    pub size: Option<u64>,
}

/// Downloads never grow beyond this when the publisher gives no size (the weights we fetch
/// are tens of MB; this bounds what a misbehaving server can make us write).
const UNKNOWN_SIZE_LIMIT: u64 = 4 << 30;

/// How to fetch: the cache, an optional mirror, retries and timeouts.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Where downloads are stored.
    pub cache_dir: PathBuf,
    /// Folders searched read-only for an already-present copy (e.g. [`torch_hub_dir`]).
    pub also_look_in: Vec<PathBuf>,
    /// Base URL that replaces the official location: `<mirror>/<file_name>`.
    pub mirror: Option<String>,
    /// Requests per file before giving up on network errors and 5xx answers.
    pub attempts: u32,
    /// Pause before the first retry; doubles each time.
    pub retry_delay: Duration,
    /// Connect timeout, and the longest wait for any single read.
    pub timeout: Duration,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Fetcher {
    /// A fetcher with the given cache, PyTorch's hub cache as a read-only source, 5 attempts
    /// and a 30 s timeout.
    #[must_use]
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            also_look_in: torch_hub_dir().into_iter().collect(),
            mirror: None,
            attempts: 5,
            retry_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
            progress: false,
        }
    }

    /// A fetcher over [`default_cache_dir`].
    ///
    /// # Errors
    /// [`Error::NoCacheDir`] when no cache folder can be determined.
    pub fn with_default_cache() -> Result<Self> {
        default_cache_dir().map(Self::new).ok_or(Error::NoCacheDir)
    }

    /// The URL this fetcher downloads `artifact` from.
    #[must_use]
    pub fn url_of(&self, artifact: &Artifact<'_>) -> String {
        match &self.mirror {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), artifact.file_name),
            None => artifact.url.to_owned(),
        }
    }

    /// Returns the path of a verified copy of `artifact`, downloading it when no verified copy
    /// is present.
    ///
    /// # Errors
    /// When the download fails after the retries, the server refuses, the bytes do not hash
    /// to the published digest (the partial file is then removed), or the cache is not
    /// writable.
    pub fn fetch(&self, artifact: &Artifact<'_>) -> Result<PathBuf> {
        let url = self.url_of(artifact);
        let target = self.cache_dir.join(artifact.file_name);
        if target.exists() {
            if sha256_file(&target)? == artifact.sha256 {
                return Ok(target);
            }
            tracing::warn!(
                "{}: cached file does not match sha256 {}; downloading it again",
                target.display(),
                artifact.sha256
            );
            std::fs::remove_file(&target).map_err(io(&target))?;
        }
        for dir in &self.also_look_in {
            let candidate = dir.join(artifact.file_name);
            if candidate.is_file() && sha256_file(&candidate)? == artifact.sha256 {
                tracing::info!("using {}", candidate.display());
                return Ok(candidate);
            }
        }
        std::fs::create_dir_all(&self.cache_dir).map_err(io(&self.cache_dir))?;
        let _lock = lock::CacheLock::acquire(&self.cache_dir, artifact.file_name)?;
        // Another process may have finished this download while we waited for the lock.
        if target.exists() && sha256_file(&target)? == artifact.sha256 {
            return Ok(target);
        }
        let part = self.cache_dir.join(format!("{}.part", artifact.file_name));
        let limit = artifact.size.unwrap_or(UNKNOWN_SIZE_LIMIT);
        transfer::download(self, &url, &part, limit, artifact.size.is_some())?;
        let actual = sha256_file(&part)?;
        if actual != artifact.sha256 {
            std::fs::remove_file(&part).map_err(io(&part))?;
            return Err(Error::Checksum {
                url,
                expected: artifact.sha256.to_owned(),
                actual,
            });
        }
        File::open(&part)
            .and_then(|f| f.sync_all())
            .map_err(io(&part))?;
        std::fs::rename(&part, &target).map_err(io(&target))?;
        Ok(target)
    }
}

/// Lower-case hex sha256 of a file's contents.
///
/// # Errors
/// When the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
