//! Training checkpoints: one safetensors file with the model (`model.*`, parameters and
//! BatchNorm statistics), the Adam moments (`adam.*`) and, in the metadata, everything else a
//! bit-for-bit resume needs: completed epochs, the random generator's state, the scheduler
//! position, the best validation mAP so far, the metrics history and the run configuration.
//! Written atomically (temporary file + rename), so a run killed while saving leaves the
//! previous checkpoint intact.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use emotic_weights::Tensor as WTensor;

use crate::adam::Adam;
use crate::model::EmoticNet;
use crate::rng::Rng;
use crate::{Error, Result};

/// Value of the `format` metadata entry.
pub const CHECKPOINT_FORMAT: &str = "emotic-rs/train-checkpoint";
/// Version of the layout.
pub const CHECKPOINT_VERSION: u32 = 1;

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Training loss, summed over batches (the reference's epoch sum).
    pub train_loss: f64,
    /// Training `L_cat` sum.
    pub train_cat: f64,
    /// Training `L_cont` sum.
    pub train_cont: f64,
    /// Validation loss sum.
    pub val_loss: f64,
    /// Validation `L_cat` sum.
    pub val_cat: f64,
    /// Validation `L_cont` sum.
    pub val_cont: f64,
    /// Validation mAP (scikit-learn AP, reference `test.py`).
    pub val_map: f64,
    /// Validation mean VAD error (1-10 scale).
    pub val_vad_error: f64,
    /// Training samples per second.
    pub samples_per_second: f64,
}

/// Scheduler position (StepLR per epoch).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchedulerState {
    /// Epochs completed (PyTorch's `last_epoch`).
    pub last_epoch: usize,
    /// Step size in epochs.
    pub step_size: usize,
    /// Decay factor.
    pub gamma: f64,
    /// Base learning rate.
    pub base_lr: f64,
}

impl SchedulerState {
    /// Learning rate of the epoch after `last_epoch` completed ones: `base·γ^⌊e/step⌋`.
    #[must_use]
    pub fn lr(&self) -> f64 {
        self.base_lr
            * self
                .gamma
                .powi((self.last_epoch / self.step_size.max(1)) as i32)
    }
}

/// Everything saved after an epoch.
#[derive(Debug, Clone)]
pub struct TrainState {
    /// Completed epochs.
    pub epoch: usize,
    /// Generator state after those epochs.
    pub rng: Rng,
    /// Scheduler.
    pub scheduler: SchedulerState,
    /// Best validation mAP so far and its epoch.
    pub best: Option<(f64, usize)>,
    /// Metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
    /// The run configuration (JSON), checked on resume.
    pub config_json: String,
}

fn de<T: serde::de::DeserializeOwned>(path: &Path, key: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("metadata `{key}`: {e}"),
    })
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, model: &EmoticNet, adam: &Adam, state: &TrainState) -> Result<()> {
    let mut tensors: BTreeMap<String, WTensor> = BTreeMap::new();
    for (k, v) in model.state_dict()? {
        tensors.insert(format!("model.{k}"), v);
    }
    for (k, v) in adam.state_tensors() {
        tensors.insert(format!("adam.{k}"), v);
    }
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), CHECKPOINT_FORMAT.to_string());
    meta.insert("format_version".to_string(), CHECKPOINT_VERSION.to_string());
    meta.insert("epoch".to_string(), state.epoch.to_string());
    // u64 words as strings: JSON numbers would lose bits above 2^53.
    meta.insert(
        "rng".to_string(),
        json(&state.rng.state().map(|w| w.to_string())),
    );
    meta.insert("scheduler".to_string(), json(&state.scheduler));
    meta.insert("adam".to_string(), json(&adam.config));
    meta.insert("best".to_string(), json(&state.best));
    meta.insert("history".to_string(), json(&state.history));
    meta.insert("config".to_string(), state.config_json.clone());
    emotic_weights::safetensors::write_safetensors(path, &tensors, &meta).map_err(|source| {
        Error::Weights {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path, device: &Device) -> Result<(EmoticNet, Adam, TrainState)> {
    let err = |message: String| Error::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let ckpt = emotic_weights::safetensors::read_safetensors_file(path).map_err(|source| {
        Error::Weights {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let meta = |key: &str| -> Result<String> {
        ckpt.meta
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .ok_or_else(|| {
                err(format!(
                    "not a training checkpoint: metadata `{key}` missing"
                ))
            })
    };
    if meta("format")? != CHECKPOINT_FORMAT {
        return Err(err(format!(
            "not a training checkpoint (format is not {CHECKPOINT_FORMAT})"
        )));
    }
    if meta("format_version")? != CHECKPOINT_VERSION.to_string() {
        return Err(err("unsupported checkpoint version".into()));
    }
    let parse = |key: &str, text: String| -> Result<serde_json::Value> {
        serde_json::from_str(&text).map_err(|e| err(format!("metadata `{key}`: {e}")))
    };
    let epoch: usize = meta("epoch")?
        .parse()
        .map_err(|e| err(format!("metadata `epoch`: {e}")))?;
    let words: Vec<String> = serde_json::from_value(parse("rng", meta("rng")?)?)
        .map_err(|e| err(format!("metadata `rng`: {e}")))?;
    let words: Vec<u64> = words
        .iter()
        .map(|w| w.parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| err(format!("metadata `rng`: {e}")))?;
    let rng = <[u64; 4]>::try_from(words)
        .ok()
        .and_then(Rng::from_state)
        .ok_or_else(|| err("metadata `rng` is not a valid generator state".into()))?;
    let from = |key: &str| -> Result<serde_json::Value> { parse(key, meta(key)?) };
    let scheduler: SchedulerState = de(path, "scheduler", from("scheduler")?)?;
    let best: Option<(f64, usize)> = de(path, "best", from("best")?)?;
    let history: Vec<EpochMetrics> = de(path, "history", from("history")?)?;
    let adam_config = de(path, "adam", from("adam")?)?;
    let strip = |prefix: &str| -> BTreeMap<String, WTensor> {
        ckpt.tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|r| (r.to_string(), v.clone())))
            .collect()
    };
    let model =
        EmoticNet::from_state_dict(&strip("model."), device).map_err(|e| e.in_file(path))?;
    let mut adam = Adam::new(adam_config);
    adam.load_state(&strip("adam."))
        .map_err(|e| e.in_file(path))?;
    Ok((
        model,
        adam,
        TrainState {
            epoch,
            rng,
            scheduler,
            best,
            history,
            config_json: meta("config")?,
        },
    ))
}
