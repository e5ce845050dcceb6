//! Training the EMOTIC model (two ResNet18 streams + fusion head) with burn.
//!
//! CPU (burn's ndarray backend with autodiff) is the default; build with the `cuda` feature
//! to train on an NVIDIA GPU (`--device cuda`).

pub mod adam;
pub mod augment;
pub mod batch;
pub mod checkpoint;
pub mod error;
pub mod loss;
pub mod model;
pub mod rng;
pub mod trainer;

pub use error::{Error, Result};
