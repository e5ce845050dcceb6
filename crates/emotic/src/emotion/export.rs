//! Exporting a bundle for other tools: the ONNX graphs the engine runs, the state dicts, and
//! the reference layout. Reading and writing bundles is `emotic-bundle`'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{Sources, build_graphs};
use super::{Part, read_bundle, write_reference_dir};
use crate::{Error, Result};

/// What [`export_bundle`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFiles {
    /// `context.onnx`, `body.onnx`, `head.onnx`: the graphs the engine runs.
    pub onnx: Vec<PathBuf>,
    /// `model_context1.safetensors`, ...: the state dicts, streams under torchvision keys (load
    /// in PyTorch with `safetensors.torch.load_file` + `load_state_dict`; a torchvision
    /// `resnet18` needs `strict=False`, as these have no `fc`).
    pub state_dicts: Vec<PathBuf>,
    /// `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth`: whole-module pickles in
    /// the reference layout (see [`write_reference_dir`]), for the reference's own
    /// scripts and `torch.load`.
    pub reference_modules: Vec<PathBuf>,
    /// `val_thresholds.npy` (float32, 26), as the reference reads it.
    pub thresholds: PathBuf,
}

/// Exports a bundle into `out_dir`: the three ONNX graphs, the three state dicts as
/// safetensors, the three reference whole-module `.pth` files and `val_thresholds.npy`.
/// Existing files are never replaced: if any of these names exists in `out_dir`, nothing is
/// written.
///
/// # Errors
/// When the bundle is invalid, a file of the same name exists, or a file cannot be written.
pub fn export_bundle(bundle: &Path, out_dir: &Path) -> Result<ExportedFiles> {
    let weights = read_bundle(bundle)?;
    let in_bundle = |e: Error| match e {
        Error::Architecture(message) => Error::Model {
            path: bundle.to_path_buf(),
            message,
        },
        other => other,
    };
    let graphs = build_graphs(
        &weights,
        &Sources {
            context: None,
            body: None,
            head: None,
        },
    )
    .map_err(in_bundle)?;
    let parts = [Part::Context, Part::Body, Part::Head];
    let onnx: Vec<PathBuf> = ["context.onnx", "body.onnx", "head.onnx"]
        .iter()
        .map(|name| out_dir.join(name))
        .collect();
    let state_dicts: Vec<PathBuf> = parts
        .iter()
        .map(|part| out_dir.join(part.reference_file().replace(".pth", ".safetensors")))
        .collect();
    if let Some(existing) = onnx.iter().chain(&state_dicts).find(|p| p.exists()) {
        return Err(emotic_bundle::Error::exists(existing).into());
    }
    // First, since it checks its own names and builds everything before writing anything.
    let reference =
        write_reference_dir(&weights, out_dir, false).map_err(|e| in_bundle(e.into()))?;
    for (path, bytes) in onnx.iter().zip(&graphs) {
        emotic_atomic::write(path, bytes).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    for (part, path) in parts.iter().zip(&state_dicts) {
        emotic_weights::safetensors::write_safetensors(
            path,
            weights.part(*part),
            &BTreeMap::new(),
        )?;
    }
    Ok(ExportedFiles {
        onnx,
        state_dicts,
        reference_modules: reference.modules,
        thresholds: reference.thresholds,
    })
}
