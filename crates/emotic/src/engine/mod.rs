//! Running ONNX graphs on ONNX Runtime.
//!
//! [`runtime`] finds and loads the pinned ONNX Runtime shared library once per process;
//! [`Session`] wraps one model with `f32` tensors in and out.

pub mod runtime;
mod session;

pub use runtime::ORT_VERSION;
pub use session::{Output, Session, SessionOptions, TensorInfo};
