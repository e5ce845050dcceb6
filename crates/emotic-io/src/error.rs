//! The I/O crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading inputs or writing results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An image could not be decoded or encoded.
    #[error("{}: {message}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The `--source` argument names nothing we can read.
    #[error("source {0}")]
    Source(String),
    /// ffmpeg could not read or write a video, webcam or stream.
    #[error("{source_name}: {message}")]
    Video {
        /// The input or output (path, device or URL).
        source_name: String,
        /// What went wrong, with ffmpeg's own message where there is one.
        message: String,
    },
    /// Results could not be serialised.
    #[error("cannot serialise results")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
