//! The core library's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the core library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read.
    #[error(transparent)]
    Weights(#[from] emotic_weights::Error),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("ONNX Runtime is not available: {0}")]
    RuntimeMissing(String),
    /// ONNX Runtime reported an error (building a session or running it).
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
    /// A checkpoint or ONNX file does not describe the model we expect.
    #[error("{}: {message}", path.display())]
    Model {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Weights do not fit the architecture (missing key, wrong shape, unsupported layer).
    #[error("architecture: {0}")]
    Architecture(String),
    /// Building the ONNX graph failed.
    #[error("ONNX graph: {0}")]
    Graph(#[from] emotic_onnx::Error),
    /// An argument is out of its valid range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// Result alias for the core library.
pub type Result<T> = std::result::Result<T, Error>;

/// An error and its causes on one line, for messages that carry another crate's error as text
/// (emotic-weights keeps causes in `source()`, not in its messages).
#[must_use]
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}
