//! The model bundle: one safetensors file with everything the EMOTIC model needs, reading and
//! writing it. The format itself (tensor names, metadata, version) is specified in
//! [`emotic_spec::bundle`]; stream tensors are stored under torchvision keys.
//!
//! Reading refuses a bundle without thresholds: the model must never run thresholdless.

use std::collections::BTreeMap;
use std::path::Path;

use emotic_spec::bundle::{FORMAT_KEY, MUST_MATCH, THRESHOLDS_TENSOR, VERSION_KEY};
use emotic_spec::weight_keys;
use emotic_weights::Tensor;

use crate::weights::{EmotionWeights, Part, thresholds_from_slice};
use crate::{Error, Result};
use emotic_spec::NUM_CATEGORIES;

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

/// What a file that failed to read as a bundle is instead, when it is a PyTorch checkpoint (a
/// detector passed as the emotion model, say). Only the checkpoint's structure is read, and only
/// on this failure path.
fn not_a_bundle(path: &Path) -> Option<String> {
    let checkpoint = emotic_weights::open_checkpoint(path).ok()?;
    if checkpoint.module_class.is_none() && checkpoint.tensors.is_empty() {
        return None;
    }
    Some(format!(
        "this is {}, not an emotion model; an emotion model is a bundle (written by `emotic \
         import` or `emotic train`) or a folder with the reference's four files",
        crate::weights::describe(&checkpoint)
    ))
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
    let file = st::read(path).map_err(|e| match not_a_bundle(path) {
        Some(what) => err(what),
        None => err(format!(
            "cannot read model bundle: {}",
            emotic_weights::cause_in_file(path, &e)
        )),
    })?;
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
