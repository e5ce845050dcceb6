//! The EMOTIC weights as files, with no runtime behind them, so the training crate reads and
//! writes models without ONNX Runtime.
//!
//! | module | files |
//! |---|---|
//! | [`weights`] | the reference's `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth` and `val_thresholds.npy`, each checked to hold its part |
//! | [`bundle`] | the one-file model bundle (safetensors; format in [`emotic_spec::bundle`]) |
//! | [`reference`] | writing the reference layout back: whole-module pickles `torch.load` reads |
//!
//! Stream weights are held under torchvision keys whatever the file's layout
//! ([`emotic_spec::weight_keys`]).

mod error;
mod torch_modules;

pub mod bundle;
pub mod reference;
pub mod weights;

pub use bundle::{BUNDLE_FORMAT, BUNDLE_VERSION, bundle_metadata, read_bundle, write_bundle};
pub use error::{Error, Result};
pub use reference::{ReferenceFiles, write_reference_dir};
pub use weights::{EmotionWeights, Part, THRESHOLDS_FILE, load_part, read_thresholds};
