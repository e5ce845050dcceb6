//! A checkpoint whose structure is known but whose tensor data is not read yet.
//!
//! Opening a `torch.save` file decodes its pickle and picks the model ([`crate::torch`]), but
//! reads no storage: a caller can check the model's class, metadata (the YOLOv5 model dict) and
//! state-dict names first, so that a wrong file is refused before its data is inflated and
//! widened. Before anything is read, the tensors' shapes are also checked against the decoded
//! budget of [`ReadLimits`].

use std::collections::{BTreeMap, HashMap};

use crate::pickle::TensorRef;
use crate::torch::ReadLimits;
use crate::torch::StorageSource;
use crate::torch::select::{Selection, load_tensor};
use crate::torch::storage::parse_storage_pid;
use crate::{Checkpoint, Error, Result, Tensor, TensorInfo};

/// Bytes of one decoded element: every tensor is widened (or narrowed) to `f32`.
const DECODED_ELEMENT_BYTES: u64 = 4;

/// A weights file opened by [`crate::open_checkpoint`]: what [`Checkpoint`] holds, with each
/// tensor's type and shape in place of its data. [`Self::load`] reads the data.
pub struct LazyCheckpoint<'a> {
    /// Type and shape of each tensor of the state dict, named as in [`Checkpoint::tensors`].
    /// [`Self::load`] reads the tensors still listed here, so removing names skips them.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// As [`Checkpoint::meta`] (small metadata tensors such as YOLOv5's `stride` are read).
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// As [`Checkpoint::module_class`].
    pub module_class: Option<String>,
    data: Data<'a>,
}

enum Data<'a> {
    /// Views into storages that are read when asked for.
    Torch {
        views: BTreeMap<String, TensorRef>,
        source: Box<dyn StorageSource + 'a>,
    },
    /// Formats without compression or shared storages (safetensors) are read at once.
    Loaded(BTreeMap<String, Tensor>),
}

impl std::fmt::Debug for LazyCheckpoint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyCheckpoint")
            .field("tensors", &self.tensors)
            .field("meta", &self.meta)
            .field("module_class", &self.module_class)
            .finish_non_exhaustive()
    }
}

impl<'a> LazyCheckpoint<'a> {
    /// Wraps what [`crate::torch::select`] chose, after checking the decoded sizes it implies.
    pub(crate) fn from_torch(
        selection: Selection,
        mut source: Box<dyn StorageSource + 'a>,
        limits: &ReadLimits,
    ) -> Result<Self> {
        // Storages read for the metadata are not needed again by the state dict (or cheap to
        // read again when they are).
        source.release_all();
        let mut tensors = BTreeMap::new();
        let mut decoded = 0u64;
        for (name, view) in &selection.tensors {
            let info = check_view(name, view, limits)?;
            decoded = decoded.saturating_add(info.decoded_bytes());
            if decoded > limits.max_decoded_bytes {
                return Err(Error::Limit(format!(
                    "tensor {name}: the state dict needs more than {} bytes as f32 by here",
                    limits.max_decoded_bytes
                )));
            }
            tensors.insert(name.clone(), info);
        }
        Ok(Self {
            tensors,
            meta: selection.meta,
            module_class: selection.module_class,
            data: Data::Torch {
                views: selection.tensors,
                source,
            },
        })
    }

    /// A checkpoint whose tensors are already read.
    pub(crate) fn from_loaded(checkpoint: Checkpoint) -> Self {
        Self {
            tensors: checkpoint
                .tensors
                .iter()
                .map(|(k, t)| {
                    let info = TensorInfo {
                        dtype: t.dtype,
                        shape: t.shape.clone(),
                    };
                    (k.clone(), info)
                })
                .collect(),
            meta: checkpoint.meta,
            module_class: checkpoint.module_class,
            data: Data::Loaded(checkpoint.tensors),
        }
    }

    /// Reads one tensor of the state dict.
    ///
    /// # Errors
    /// When `name` is not in the state dict, or its data is missing, truncated or corrupt.
    pub fn tensor(&mut self, name: &str) -> Result<Tensor> {
        let missing = || Error::Format(format!("no tensor {name} in the state dict"));
        match &mut self.data {
            Data::Torch { views, source } => {
                let view = views.get(name).ok_or_else(missing)?;
                load_tensor(name, view, source.as_mut())
            }
            Data::Loaded(tensors) => tensors.get(name).cloned().ok_or_else(missing),
        }
    }

    /// Reads every tensor listed in [`Self::tensors`]. Each storage's bytes are dropped as soon
    /// as the last tensor viewing them is read, so at most one raw storage is held besides the
    /// decoded tensors.
    ///
    /// # Errors
    /// As [`Self::tensor`].
    pub fn load(self) -> Result<Checkpoint> {
        let tensors = match self.data {
            Data::Loaded(mut all) => {
                all.retain(|k, _| self.tensors.contains_key(k));
                all
            }
            Data::Torch { views, mut source } => {
                let mut wanted = Vec::with_capacity(self.tensors.len());
                let mut uses: HashMap<String, usize> = HashMap::new();
                for name in self.tensors.keys() {
                    let view = views.get(name).ok_or_else(|| {
                        Error::Format(format!("no tensor {name} in the state dict"))
                    })?;
                    let key = parse_storage_pid(&view.storage)?.key;
                    *uses.entry(key.clone()).or_default() += 1;
                    wanted.push((name, view, key));
                }
                let mut out = BTreeMap::new();
                for (name, view, key) in wanted {
                    out.insert(name.clone(), load_tensor(name, view, source.as_mut())?);
                    if let Some(n) = uses.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            source.release(&key);
                        }
                    }
                }
                out
            }
        };
        Ok(Checkpoint {
            tensors,
            meta: self.meta,
            module_class: self.module_class,
        })
    }
}

/// The type and shape of one view, refused when its size alone breaks the limits: more
/// elements than fit the decoded budget, or a broadcast (stride 0) view much larger than its
/// storage, which would let a few bytes of file expand without bound.
fn check_view(name: &str, view: &TensorRef, limits: &ReadLimits) -> Result<TensorInfo> {
    let storage = parse_storage_pid(&view.storage).map_err(|e| match e {
        Error::Format(m) => Error::Format(format!("tensor {name}: {m}")),
        other => other,
    })?;
    let info = TensorInfo {
        dtype: storage.dtype,
        shape: view.size.clone(),
    };
    let numel = info.numel();
    let decoded = info.decoded_bytes();
    if decoded > limits.max_decoded_bytes {
        return Err(Error::Limit(format!(
            "tensor {name} of shape {:?} needs {} bytes as f32, more than the {}-byte budget",
            view.size,
            numel.map_or_else(|| "more than u64::MAX".to_owned(), |_| decoded.to_string()),
            limits.max_decoded_bytes
        )));
    }
    let storage_numel = u64::try_from(storage.numel).unwrap_or(u64::MAX);
    if numel.is_some_and(|n| n > storage_numel) && decoded > limits.ratio_allowance {
        return Err(Error::Limit(format!(
            "tensor {name} of shape {:?} views storage {} of only {} elements, and is larger \
             than the {}-byte allowance for such views",
            view.size, storage.key, storage.numel, limits.ratio_allowance
        )));
    }
    Ok(info)
}

impl TensorInfo {
    /// Number of elements, `None` when it overflows.
    fn numel(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?))
    }

    /// Bytes of the decoded `f32` data (saturating).
    fn decoded_bytes(&self) -> u64 {
        self.numel()
            .map_or(u64::MAX, |n| n.saturating_mul(DECODED_ELEMENT_BYTES))
    }
}
