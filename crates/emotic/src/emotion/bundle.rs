//! The model bundle: one safetensors file with everything the EMOTIC model needs, reading and
//! writing it. The format itself (tensor names, metadata, version) is specified in
//! [`emotic_spec::bundle`]; stream tensors are stored under torchvision keys.
//!
//! Reading refuses a bundle without thresholds: the model must never run thresholdless.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emotic_spec::bundle::{FORMAT_KEY, MUST_MATCH, THRESHOLDS_TENSOR, VERSION_KEY};
use emotic_spec::weight_keys;
use emotic_weights::Tensor;

use super::NUM_CATEGORIES;
use super::model::{Sources, build_graphs};
use super::weights::{EmotionWeights, Part, thresholds_from_slice};
use crate::{Error, Result};

// The format's facts under the names this crate's users know.
pub use emotic_spec::bundle::{
    FORMAT as BUNDLE_FORMAT, VERSION as BUNDLE_VERSION, metadata as bundle_metadata,
};

/// The safetensors calls, in one place.
mod st {
    use std::collections::BTreeMap;
    use std::path::Path;

    use emotic_weights::Tensor;

    use crate::Result;

    /// A safetensors file's tensors and its `__metadata__`.
    pub(super) struct File {
        pub(super) tensors: BTreeMap<String, Tensor>,
        pub(super) metadata: BTreeMap<String, String>,
    }

    /// Writes `F32` safetensors atomically.
    pub(super) fn write(
        path: &Path,
        tensors: &BTreeMap<String, Tensor>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<()> {
        emotic_weights::safetensors::write_safetensors(path, tensors, metadata)?;
        Ok(())
    }

    /// Reads a safetensors file; metadata values are strings in the format.
    pub(super) fn read(path: &Path) -> Result<File> {
        let checkpoint = emotic_weights::safetensors::read_safetensors_file(path)?;
        let metadata = checkpoint
            .meta
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        Ok(File {
            tensors: checkpoint.tensors,
            metadata,
        })
    }
}

/// Writes `weights` as a bundle at `path` (atomically).
///
/// # Errors
/// [`Error::Weights`] when the file cannot be written.
pub fn write_bundle(weights: &EmotionWeights, path: &Path) -> Result<()> {
    let mut tensors = BTreeMap::new();
    for part in [Part::Context, Part::Body, Part::Head] {
        for (key, t) in weights.part(part) {
            tensors.insert(format!("{}.{key}", part.prefix()), t.clone());
        }
    }
    tensors.insert(
        THRESHOLDS_TENSOR.to_string(),
        Tensor::from_f32(vec![NUM_CATEGORIES], weights.thresholds.to_vec()),
    );
    st::write(path, &tensors, &bundle_metadata())?;
    Ok(())
}

/// Reads a bundle written by [`write_bundle`], checking format, version, categories,
/// normalisation, input sizes and thresholds.
///
/// # Errors
/// [`Error::Model`] naming the file for anything missing or different from what this version
/// runs (in particular a bundle without thresholds).
pub fn read_bundle(path: &Path) -> Result<EmotionWeights> {
    let err = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(err("model bundle not found".into()));
    }
    let file = st::read(path).map_err(|e| err(format!("cannot read model bundle: {e}")))?;
    let meta = &file.metadata;
    let get = |key: &str| meta.get(key).map(String::as_str);
    if get(FORMAT_KEY) != Some(BUNDLE_FORMAT) {
        return Err(err(format!(
            "not an emotic-rs emotion bundle (metadata `format` is {:?}, expected {BUNDLE_FORMAT:?}); \
             convert reference checkpoints with `emotic import`",
            get(FORMAT_KEY)
        )));
    }
    let version = get(VERSION_KEY).and_then(|v| v.parse::<u32>().ok());
    if version != Some(BUNDLE_VERSION) {
        return Err(err(format!(
            "bundle format version {:?} is not supported (this build reads version {BUNDLE_VERSION})",
            get(VERSION_KEY)
        )));
    }
    let expected = bundle_metadata();
    for key in MUST_MATCH {
        let found: Option<serde_json::Value> = get(key).and_then(|v| serde_json::from_str(v).ok());
        let want: Option<serde_json::Value> =
            expected.get(key).and_then(|v| serde_json::from_str(v).ok());
        if found.is_none() || found != want {
            return Err(err(format!(
                "bundle metadata `{key}` is {:?}, this version runs only {:?}",
                get(key),
                expected.get(key)
            )));
        }
    }
    let thresholds = file.tensors.get(THRESHOLDS_TENSOR).ok_or_else(|| {
        err(
            "bundle has no `thresholds` tensor; refusing to run the model without thresholds"
                .into(),
        )
    })?;
    if thresholds.shape != [NUM_CATEGORIES] {
        return Err(err(format!(
            "bundle `thresholds` has shape {:?}, expected [{NUM_CATEGORIES}]",
            thresholds.shape
        )));
    }
    let thresholds = thresholds_from_slice(&thresholds.data).map_err(err)?;
    let mut weights = EmotionWeights {
        context: BTreeMap::new(),
        body: BTreeMap::new(),
        head: BTreeMap::new(),
        thresholds,
    };
    for (key, t) in &file.tensors {
        if key == THRESHOLDS_TENSOR {
            continue;
        }
        let (prefix, rest) = key.split_once('.').unwrap_or((key.as_str(), ""));
        let part = match prefix {
            "context" => &mut weights.context,
            "body" => &mut weights.body,
            "head" => &mut weights.head,
            _ => return Err(err(format!("unexpected tensor `{key}` in bundle"))),
        };
        part.insert(rest.to_string(), t.clone());
    }
    // Bundles written before the key convention may hold the reference's stream keys.
    weights.context = weight_keys::to_torchvision(weights.context);
    weights.body = weight_keys::to_torchvision(weights.body);
    for part in [Part::Context, Part::Body, Part::Head] {
        if weights.part(part).is_empty() {
            return Err(err(format!("bundle has no `{}.*` tensors", part.prefix())));
        }
    }
    Ok(weights)
}

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
    /// the reference layout (see [`super::write_reference_dir`]), for the reference's own
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
        return Err(Error::Io {
            path: existing.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "file exists; refusing to replace it",
            ),
        });
    }
    // First, since it checks its own names and builds everything before writing anything.
    let reference = super::write_reference_dir(&weights, out_dir, false).map_err(in_bundle)?;
    for (path, bytes) in onnx.iter().zip(&graphs) {
        std::fs::write(path, bytes).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    for (part, path) in parts.iter().zip(&state_dicts) {
        st::write(path, weights.part(*part), &BTreeMap::new())?;
    }
    Ok(ExportedFiles {
        onnx,
        state_dicts,
        reference_modules: reference.modules,
        thresholds: reference.thresholds,
    })
}
