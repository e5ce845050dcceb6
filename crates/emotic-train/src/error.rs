//! Errors of the training crate.

use std::path::PathBuf;

/// Everything that can go wrong while building, loading, training or saving the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weights file could not be read.
    #[error("{}: cannot read weights", path.display())]
    Weights {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: emotic_weights::Error,
    },
    /// A state dict is missing a tensor or has one of the wrong shape.
    #[error("state dict{}: {message}", .origin.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    StateDict {
        /// The file it came from, when known.
        origin: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// The inference crate refused a bundle or model.
    #[error(transparent)]
    Bundle(#[from] emotic_bundle::Error),
    /// The dataset could not be read.
    #[error(transparent)]
    Data(#[from] emotic_data::Error),
    /// Evaluation failed.
    #[error(transparent)]
    Eval(#[from] emotic_eval::Error),
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A training checkpoint is unreadable or does not fit this run.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An option or combination of options is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A tensor could not be read back from the backend.
    #[error("tensor read-back failed: {0}")]
    Tensor(String),
    /// A download failed or its checksum did not match.
    #[error("download {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A state-dict error without a known file.
    pub(crate) fn state(message: impl Into<String>) -> Self {
        Self::StateDict {
            origin: None,
            message: message.into(),
        }
    }

    /// Attaches the file a state-dict error came from.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::StateDict {
                origin: None,
                message,
            } => Self::StateDict {
                origin: Some(path.to_path_buf()),
                message,
            },
            other => other,
        }
    }
}
