//! The predict path's error type. Each variant either says what failed and keeps the cause as
//! its `source()`, or is transparent over an error that already names its file: a message
//! never repeats its cause, so `{:#}` prints each part once.

use std::path::PathBuf;

/// Everything that can stop a prediction run (failures of single inputs are not errors: they
/// become [`crate::schema::ErrorRecord`]s and the run goes on).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range.
    #[error("{0}")]
    InvalidSetting(String),
    /// The detector could not be loaded.
    #[error("cannot load the detector")]
    LoadDetector(#[source] emotic::Error),
    /// The emotion model could not be loaded.
    #[error("cannot load the emotion model")]
    LoadEmotionModel(#[source] emotic::Error),
    /// A model failed to run.
    #[error(transparent)]
    Model(#[from] emotic::Error),
    /// Reading the source or writing an output failed.
    #[error(transparent)]
    Io(#[from] emotic_io::Error),
    /// Videos, webcams and streams need ffmpeg.
    #[error(
        "reading videos, webcams and streams needs the ffmpeg program; install it (Debian: apt-get install ffmpeg, or scripts/setup.sh)"
    )]
    NoFfmpeg,
    /// A folder or file of the run could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `predictions.csv` could not be written.
    #[error("cannot write {}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An error and its causes on one line, `outer: inner: ...` (one definition, in `emotic`).
pub use emotic::error_chain;
