//! The crate's error type.
//!
//! Variants with a `source` show only their own context (the file); the cause follows in the
//! error chain (`{:#}` with anyhow), so messages do not repeat it.

/// What can go wrong while reading annotations, images or datasets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed or unsupported MAT file.
    #[error("{path}: MAT file error at byte {offset}: {message}")]
    Mat {
        /// File.
        path: String,
        /// Byte offset (of the compressed element for errors inside one).
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The MAT file parsed but does not have the EMOTIC annotation layout.
    #[error("{path}: unexpected annotation layout at {location}: {message}")]
    Annotations {
        /// File.
        path: String,
        /// Where (split, image and person index, field).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A malformed line in a CSV file of the reference layout.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// File.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An input array or dataset file with the wrong shape, type or contents.
    #[error("{path}: {message}")]
    Invalid {
        /// File or directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a `.npy` file failed.
    #[cfg(feature = "prepare")]
    #[error(transparent)]
    Npy(#[from] emotic_weights::Error),
    /// Decoding an image failed (the message names the file).
    #[cfg(feature = "prepare")]
    #[error(transparent)]
    Image(#[from] emotic_io::Error),
    /// Resizing or cropping failed.
    #[cfg(feature = "prepare")]
    #[error("{path}")]
    ImageOps {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: emotic_imageops::Error,
    },
    /// JSON (de)serialization of dataset metadata failed.
    #[error("{path}")]
    Json {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn invalid(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}
