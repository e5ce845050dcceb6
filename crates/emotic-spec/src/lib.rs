//! The EMOTIC model's specification: the facts every crate that touches the model shares,
//! with no runtime behind them, so the dataset, training and scoring code use them without
//! pulling in ONNX Runtime.
//!
//! | module | facts |
//! |---|---|
//! | [`labels`] | the 26 category names, the VAD names and the VAD scale |
//! | [`input`] | input sizes of the two streams and their normalisation |
//! | [`bundle`] | the model bundle's format name, version and metadata |
//! | [`weight_keys`] | the one key convention of the stream weights (torchvision's), and the conversions from and back to the reference's layout |

pub mod bundle;
pub mod input;
pub mod labels;
pub mod weight_keys;

pub use input::{BODY_NORM, BODY_SIZE, CONTEXT_NORM, CONTEXT_SIZE, ImageSize, Normalization};
pub use labels::{CATEGORIES, NUM_CATEGORIES, NUM_VAD, VAD_NAMES, VAD_SCALE};
