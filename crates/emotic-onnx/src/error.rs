//! The crate's error type.

/// Everything that can go wrong while building an ONNX graph.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor handed to a layer helper has the wrong number of values or the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {actual:?}")]
    Shape {
        /// Which tensor (a state-dict key or a helper argument).
        what: String,
        /// The shape the helper needs.
        expected: Vec<usize>,
        /// The shape it was given.
        actual: Vec<usize>,
    },
    /// A value name was declared twice or used before it was produced.
    #[error("invalid graph: {0}")]
    Graph(String),
    /// Writing the model file failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
