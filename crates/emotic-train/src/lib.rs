//! Training the EMOTIC model (two ResNet18 streams + fusion head) with burn, reproducing the
//! reference recipe (Tandon-A/emotic `train.py`):
//!
//! - [`model`]: the network as burn modules whose fields mirror the PyTorch state-dict keys;
//!   loads torchvision/Places365 state dicts, the reference whole-module pickles, our bundles
//!   and checkpoints; exports the bundle `emotic predict --emotion-model` reads. BatchNorm
//!   runs in training mode with PyTorch's momentum and unbiased running variance.
//! - [`loss`]: `0.5·L_cat + 0.5·L_cont` with dynamic/mean/static weights and Smooth L1/L2.
//! - [`adam`]: PyTorch's Adam (L2 weight decay in the gradient, eps 1e-8), state by name.
//! - [`augment`], [`batch`]: flips + colour jitter (Pillow arithmetic), normalisation.
//! - [`trainer`], [`checkpoint`]: the loop (StepLR, validation mAP/VAD error through
//!   `emotic-eval`, best/last checkpoints, bit-for-bit resume, thresholds, bundle).
//!
//! # Backends
//!
//! CPU is the default: burn's flex backend with autodiff (`--device cpu`), which trains about
//! twice as fast as burn's ndarray backend (`--device ndarray`, deprecated by burn). Both are
//! held to PyTorch by `tests/golden.rs` and to each other by `tests/backends.rs`. On ndarray,
//! convolutions on autodiff devices run as im2col + matmul because its transposed convolution
//! (conv2d's input gradient) is about 100x slower than its forward pass.
//!
//! For NVIDIA GPUs build with the `cuda` feature (`cargo build --release -p emotic-cli
//! --features cuda`) and pass `--device cuda`. The build downloads CubeCL's LLVM bundle once
//! (internet needed); running needs the NVIDIA driver and CUDA runtime libraries.
//! `tests/backends.rs` compares three CUDA training steps with the CPU where a GPU is present.

pub mod adam;
pub mod augment;
pub mod batch;
pub mod checkpoint;
pub mod curves;
pub mod error;
pub mod loss;
pub mod model;
pub mod rng;
pub mod trainer;

pub use error::{Error, Result};
