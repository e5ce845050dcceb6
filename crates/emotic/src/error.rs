//! The core library's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the core library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read.
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
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("ONNX Runtime is not available: {0}")]
    RuntimeMissing(String),
    /// ONNX Runtime reported an error (building a session or running it).
    #[error("ONNX Runtime failed")]
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
    #[error("cannot build the ONNX graph")]
    Graph(#[from] emotic_onnx::Error),
    /// An argument is out of its valid range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl From<emotic_bundle::Error> for Error {
    fn from(e: emotic_bundle::Error) -> Self {
        match e {
            emotic_bundle::Error::Weights(e) => Self::Weights(e),
            emotic_bundle::Error::Io { path, source } => Self::Io { path, source },
            emotic_bundle::Error::Model { path, message } => Self::Model { path, message },
            emotic_bundle::Error::Architecture(message) => Self::Architecture(message),
        }
    }
}

impl From<emotic_imageops::Error> for Error {
    fn from(e: emotic_imageops::Error) -> Self {
        match e {
            emotic_imageops::Error::InvalidInput(message) => Self::InvalidInput(message),
        }
    }
}

/// Result alias for the core library.
pub type Result<T> = std::result::Result<T, Error>;
