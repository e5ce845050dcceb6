//! Errors of the downloader.

use std::path::PathBuf;

/// Why a file could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a status that retrying will not change (404, 403, ...).
    #[error("{url}: the server answered HTTP {status}")]
    Status {
        /// What was requested.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The transfer kept failing (connection refused, reset, timed out, 5xx) after every retry.
    #[error("{url}: download failed after {attempts} attempts: {last}")]
    Network {
        /// What was requested.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The downloaded bytes are not the published file.
    #[error(
        "{url}: sha256 mismatch: expected {expected}, got {actual}; the partial download was removed"
    )]
    Checksum {
        /// What was requested.
        url: String,
        /// The published digest.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The server's file does not have the published size (announced in `Content-Length` or
    /// `Content-Range`), so it is not the published file.
    #[error("{url}: the server's file has {announced} bytes, the published one {expected}")]
    SizeMismatch {
        /// What was requested.
        url: String,
        /// The published size.
        expected: u64,
        /// What the server announced.
        announced: u64,
    },
    /// The server sent more bytes than the published file has.
    #[error("{url}: the server sent more than the expected {expected} bytes")]
    TooLarge {
        /// What was requested.
        url: String,
        /// The published size.
        expected: u64,
    },
    /// A local file or folder could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No cache folder could be determined (no `$HOME`, `$XDG_CACHE_HOME` or `$EMOTIC_CACHE_DIR`).
    #[error("no cache folder: set EMOTIC_CACHE_DIR")]
    NoCacheDir,
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
