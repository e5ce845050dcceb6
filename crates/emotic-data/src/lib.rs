//! EMOTIC dataset preparation: from the official release or the reference's preprocessed
//! arrays to a memory-mappable dataset, and back.
//!
//! | module | what |
//! |---|---|
//! | [`mat`] | MATLAB v5 reader (structs, cells, compression) |
//! | [`annotations`] | the EMOTIC `Annotations.mat` layout → per-person records with skip reasons |
//! | `reference` | the reference `{split}_*_arr.npy` + `{split}.csv` layout (read and write) |
//! | [`dataset`] | our format: [`dataset::Dataset`] reader and [`dataset::DatasetWriter`] |
//! | `prepare` | image decoding, cropping and resizing the reference way |
//!
//! Feature `prepare` (default) adds `prepare` and `reference` (images and `.npy`); without it
//! the crate is the MAT reader, the annotation layout and the dataset format only, which is
//! what the fuzz target builds.

pub mod annotations;
pub mod dataset;
mod error;
pub mod mat;
#[cfg(feature = "prepare")]
pub mod prepare;
#[cfg(feature = "prepare")]
pub mod reference;

pub use error::{Error, Result};

// The model's facts (category order, input sizes) are defined once, in `emotic-spec`.
pub use emotic_spec::{BODY_SIZE, CATEGORIES, CONTEXT_SIZE, ImageSize};

/// Bytes of one context image (224 x 224 x 3, RGB, row-major).
pub const CONTEXT_BYTES: usize = CONTEXT_SIZE.rgb_bytes();
/// Bytes of one body image (128 x 128 x 3).
pub const BODY_BYTES: usize = BODY_SIZE.rgb_bytes();
/// The three splits.
pub const SPLITS: [&str; 3] = ["train", "val", "test"];
