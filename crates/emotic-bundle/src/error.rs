//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing the EMOTIC weights.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read or written (emotic-weights names the file).
    #[error(transparent)]
    Weights(#[from] emotic_weights::Error),
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file does not hold what it is given as (a detector as a stream, a bundle of another
    /// version, thresholds of the wrong shape).
    #[error("{}: {message}", path.display())]
    Model {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Weights do not fit the architecture (missing key, wrong shape).
    #[error("architecture: {0}")]
    Architecture(String),
}

impl Error {
    /// An export would replace `path`, which it never does unasked. The refusal is the
    /// message itself (not an I/O cause), so every way of printing the error says it.
    #[must_use]
    pub fn exists(path: &std::path::Path) -> Self {
        Self::Model {
            path: path.to_path_buf(),
            message: "file exists; refusing to replace it".into(),
        }
    }
}

/// Result alias for the crate.
pub type Result<T> = std::result::Result<T, Error>;
