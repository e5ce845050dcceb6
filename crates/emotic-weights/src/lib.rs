//! Reading model weights without Python.
//!
//! | module | reads |
//! |---|---|
//! | [`torch`] | `torch.save` files, zip and legacy formats, whole-module pickles and state dicts |
//! | [`pickle`] | the safe pickle interpreter underneath [`torch`] |
//! | [`safetensors`] | `.safetensors` |
//! | [`npy`] | NumPy `.npy` arrays |
//!
//! [`load_checkpoint`] looks at a file's first bytes and picks the right reader.

mod error;
mod fsutil;
pub mod npy;
pub mod pickle;
pub mod safetensors;
pub mod tensor;
pub mod torch;

pub use error::{Error, Result};
pub use tensor::{DType, Tensor};

use std::collections::BTreeMap;

/// What a weights file holds once read: the state dict of the model it contains and its
/// non-tensor metadata.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    /// State dict of the selected module. Keys follow PyTorch module paths exactly as
    /// `module.state_dict()` would name them (`model.0.conv.weight`, `4.0.conv1.weight`,
    /// `fc1.weight`); a `module.` prefix from `DataParallel` is removed.
    pub tensors: BTreeMap<String, Tensor>,
    /// Non-tensor attributes of the selected module and of the enclosing checkpoint dict, as
    /// JSON: for YOLOv5 `yaml` (the model dict), `names`, `stride`, `nc`, `epoch`, ...
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Fully qualified class of the selected module when the file pickles a whole module
    /// (`models.yolo.DetectionModel`, `torch.nn.modules.container.Sequential`, `emotic.Emotic`).
    pub module_class: Option<String>,
}

/// Reads a PyTorch (`torch.save` zip or legacy) or safetensors file, recognised by its first
/// bytes, and selects the model it holds (see [`torch`]).
pub fn load_checkpoint(path: &std::path::Path) -> Result<Checkpoint> {
    let bytes = fsutil::read_file(path)?;
    if torch::is_zip(&bytes) || torch::is_legacy(&bytes) {
        torch::read_torch_bytes(&bytes).map_err(|e| e.in_file(path))
    } else if safetensors::looks_like_safetensors(&bytes) {
        safetensors::read_safetensors_bytes(&bytes).map_err(|e| e.in_file(path))
    } else {
        Err(error::format_err!("not a PyTorch/safetensors file").in_file(path))
    }
}
