//! The crate's error type.
//!
//! Variants with a cause show only their own context (the file, the container); the cause is
//! their [`std::error::Error::source`], so a chain printed with anyhow's `{:#}` says each
//! thing once. Every error that leaves a file-reading function names that file.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing a weights file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An I/O error on a caller-supplied reader or writer (no path known).
    #[error("I/O error")]
    Stream(#[from] std::io::Error),
    /// The bytes do not form a valid file of the expected format.
    #[error("{0}")]
    Format(String),
    /// The input is valid but asks for more than the configured limits allow (sizes, depth).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The zip container of a `torch.save` file is damaged.
    #[error("zip archive")]
    Zip(#[from] zip::result::ZipError),
    /// A JSON header (safetensors) could not be parsed.
    #[error("JSON header")]
    Json(#[from] serde_json::Error),
    /// Wraps any other error with the file it happened in, so messages always name the file.
    #[error("{path}")]
    InFile {
        /// The file being read or written.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Attaches the file name to an error (unless it already names one).
    #[must_use]
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::Io { .. } | Self::InFile { .. } => self,
            other => Self::InFile {
                path: path.to_path_buf(),
                source: Box::new(other),
            },
        }
    }
}

/// Shorthand for a [`Error::Format`] built with `format!`.
macro_rules! format_err {
    ($($arg:tt)*) => { $crate::Error::Format(format!($($arg)*)) };
}
pub(crate) use format_err;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An error and its causes, `: `-separated, as anyhow's `{:#}` prints them (for tests that look
/// for a cause's words).
#[cfg(test)]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
