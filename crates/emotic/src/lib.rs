//! Context-aware emotion recognition: person detection and EMOTIC emotion inference on ONNX
//! Runtime, with the graphs built from PyTorch checkpoints.
//!
//! | module | job |
//! |---|---|
//! | [`engine`] | load ONNX Runtime, run ONNX models |
//! | [`arch`] | YOLOv5, ResNet18 and the EMOTIC fusion head as ONNX graphs built from checkpoints |
//! | [`detect`] | YOLOv5 letterbox, NMS, box scaling, the detector |
//! | [`emotion`] | the EMOTIC model: reference preprocessing, batched inference, thresholds, bundle |
//! | [`imageops`] | OpenCV-exact resize, crop and normalisation |
//! | [`pipeline`] | detector + emotion model per frame, each piece of work once |
//! | [`tracking`] | track IDs across frames, smoothed emotions, per-track summaries |

mod error;

pub mod arch;
pub mod detect;
pub mod emotion;
pub mod engine;
// The reference's preprocessing lives in its own light crate (the dataset crate uses it too);
// here it keeps the path this crate's users know.
pub use emotic_imageops as imageops;
pub mod pipeline;
pub mod tracking;

pub use emotic_weights::error_chain;
pub use error::{Error, Result};
