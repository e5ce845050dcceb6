//! The crate's error type.

/// An image operation got arguments it cannot work with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A size is zero, a buffer does not match its size, or a rectangle leaves the image.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// Result alias for the crate.
pub type Result<T> = std::result::Result<T, Error>;
