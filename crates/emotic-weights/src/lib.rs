//! Reading (and writing) model weights without Python.
//!
//! | module | reads / writes | main entry points |
//! |---|---|---|
//! | crate root | any supported checkpoint, sniffed by its first bytes | [`load_checkpoint`] → [`Checkpoint`] `{tensors, meta, module_class}` of [`Tensor`] `{dtype, shape, data: Vec<f32>}`; [`open_checkpoint`] → [`LazyCheckpoint`] (structure first, data on [`LazyCheckpoint::load`]) |
//! | [`torch`] | `torch.save` zip and legacy files: whole `nn.Module` pickles, training dicts, state dicts; writes the zip format (atomic) | [`torch::read_torch_file`], [`torch::read_torch_bytes`], [`torch::open_torch_bytes`], [`torch::read_torch_object`] (pickle tree only), [`torch::ReadLimits`], [`torch::TorchWriter`] |
//! | [`pickle`] | the safe pickle interpreter underneath [`torch`]: no code execution, bounded; a protocol-2 writer | [`pickle::from_slice`], [`pickle::from_prefix`], [`pickle::Value`], [`pickle::Limits`], [`pickle::to_vec`] of a [`pickle::Py`] tree |
//! | [`safetensors`] | `.safetensors` (F16/BF16/F32/F64/I64/I32/I16/I8/U8/BOOL) in, F32 out (atomic) | [`safetensors::read_safetensors_file`], [`safetensors::write_safetensors`], [`safetensors::write_safetensors_to`] |
//! | [`npy`] | NumPy `.npy` v1–v3, all common dtypes, either byte order, Fortran order transposed | [`npy::read_npy_file`], [`npy::read_npy`], [`npy::read_header`] (for memory-mapping), [`npy::write_f32`]/[`npy::write_f64`]/[`npy::write_u8`] (atomic) and their `_to` writer forms |
//! | [`pylit`] | Python list and dict literals (the reference CSV's `str(list)`, Ultralytics' `names`) and Python's `repr` of floats and strings | [`pylit::parse_list`], [`pylit::parse_dict`], [`pylit::float_repr`], [`pylit::str_repr`] |
//!
//! How [`load_checkpoint`] picks the model in a `torch.save` file:
//! * a whole module at the root: its parameters and persistent buffers, named like
//!   `state_dict()` (`fc1.weight`, `4.0.conv1.weight`, `bn1.num_batches_tracked`); its plain
//!   attributes go to `meta`, its class to `module_class`;
//! * a dict with a module under `ema` or `model` (YOLOv5; `ema` wins when it is a module): that
//!   module (`model.0.conv.weight`, `model.24.anchors`), its attributes (`yaml`, `names`,
//!   `stride`, `nc`, ...) and the dict's other plain entries (`epoch`, `date`) in `meta`;
//! * a dict with `state_dict` (Places365 `.pth.tar`): those tensors without a `module.` prefix,
//!   the other entries (`epoch`, `arch`, `best_prec1`) in `meta`;
//! * otherwise a plain state dict (`OrderedDict` of tensors).
//!
//! Every error names the file and what is wrong; no input can make the readers panic or execute
//! code. Uncompressed formats never allocate much more than the file's size (4x for `uint8`
//! widened to `f32`). A `torch.save` zip's entries may be deflated, so what they may inflate to
//! is bounded by [`torch::ReadLimits`] (by default 100 bytes per compressed byte beyond 16 MiB,
//! 2 GiB in all), checked against the declared sizes before anything is inflated, and what the
//! state dict may decode to is bounded too (2 GiB of `f32`), checked against the pickled
//! shapes before any storage is read.

mod error;
mod fsutil;
mod lazy;
pub mod npy;
pub mod pickle;
pub mod pylit;
pub mod safetensors;
pub mod tensor;
pub mod torch;

pub use error::{Error, Result};
pub use lazy::LazyCheckpoint;
pub use tensor::{DType, Tensor, TensorInfo};

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
    open_checkpoint(path)?.load().map_err(|e| e.in_file(path))
}

/// Opens a weights file like [`load_checkpoint`] but reads no tensor data yet, so that the
/// caller can check what model it holds first (see [`LazyCheckpoint`]).
pub fn open_checkpoint(path: &std::path::Path) -> Result<LazyCheckpoint<'static>> {
    let bytes = fsutil::read_file(path)?;
    if torch::is_zip(&bytes) || torch::is_legacy(&bytes) {
        torch::open(bytes, &torch::ReadLimits::default()).map_err(|e| e.in_file(path))
    } else if safetensors::looks_like_safetensors(&bytes) {
        safetensors::read_safetensors_bytes(&bytes)
            .map(LazyCheckpoint::from_loaded)
            .map_err(|e| e.in_file(path))
    } else {
        Err(error::format_err!("not a PyTorch/safetensors file").in_file(path))
    }
}

/// An error and its causes on one line, `: `-separated: how a message that carries another
/// error as text, or a per-file report, prints it (this workspace's errors keep their causes in
/// `source()`, not in their messages).
#[must_use]
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

/// [`error_chain`] of `err` without its leading `path: ` when it names the same file a message
/// around it already names (this crate names the file in every error it returns), so the file
/// is said once.
#[must_use]
pub fn cause_in_file(path: &std::path::Path, err: &(dyn std::error::Error + 'static)) -> String {
    let chain = error_chain(err);
    let prefix = format!("{}: ", path.display());
    match chain.strip_prefix(&prefix) {
        Some(rest) => rest.to_string(),
        None => chain,
    }
}
