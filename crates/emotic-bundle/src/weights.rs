//! Reading and checking EMOTIC weights: the reference's three checkpoints and its thresholds.

use std::collections::BTreeMap;
use std::path::Path;

use emotic_spec::weight_keys;
use emotic_weights::{LazyCheckpoint, Tensor};

use crate::{Error, Result};
use emotic_spec::NUM_CATEGORIES;

/// Which part of the EMOTIC model a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The context stream (ResNet18 features of the whole frame).
    Context,
    /// The body stream (ResNet18 features of the person crop).
    Body,
    /// The fusion head (`fc1`, `bn1`, `fc_cat`, `fc_cont`).
    Head,
}

impl Part {
    /// Prefix of this part's tensors inside a bundle (`context`, `body`, `head`).
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Context => "context",
            Self::Body => "body",
            Self::Head => "head",
        }
    }

    /// The reference file name (`model_context1.pth`, ...).
    #[must_use]
    pub fn reference_file(self) -> &'static str {
        match self {
            Self::Context => "model_context1.pth",
            Self::Body => "model_body1.pth",
            Self::Head => "model_emotic1.pth",
        }
    }
}

/// Every tensor of the EMOTIC model, with its thresholds: what a bundle stores.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionWeights {
    /// Context stream state dict under torchvision keys (`conv1.weight`,
    /// `layer1.0.conv1.weight`, ...): the loaders convert other layouts with
    /// [`weight_keys::to_torchvision`], and so must code that fills this by hand.
    pub context: BTreeMap<String, Tensor>,
    /// Body stream state dict, torchvision keys too.
    pub body: BTreeMap<String, Tensor>,
    /// Fusion head state dict (`fc1.*`, `bn1.*`, `fc_cat.*`, `fc_cont.*`).
    pub head: BTreeMap<String, Tensor>,
    /// Per-category decision thresholds (`val_thresholds.npy`): a category is predicted when its
    /// score is strictly greater.
    pub thresholds: [f32; NUM_CATEGORIES],
}

impl EmotionWeights {
    /// The state dict of one part.
    #[must_use]
    pub fn part(&self, part: Part) -> &BTreeMap<String, Tensor> {
        match part {
            Part::Context => &self.context,
            Part::Body => &self.body,
            Part::Head => &self.head,
        }
    }

    /// Reads the reference files: three `torch.save` checkpoints (whole-module pickles or state
    /// dicts) and `val_thresholds.npy`. Each file is checked to hold the part it is given as.
    ///
    /// # Errors
    /// [`Error::Model`] naming the file when it is missing, unreadable, of the wrong kind (for
    /// example a YOLOv5 detector), or when the thresholds are not 26 finite numbers.
    pub fn from_reference_files(
        context: &Path,
        body: &Path,
        head: &Path,
        thresholds: &Path,
    ) -> Result<Self> {
        // Thresholds first: a model without them must never load (the reference's users lost
        // days to silently missing thresholds).
        let thresholds = read_thresholds(thresholds)?;
        Ok(Self {
            context: load_part(context, Part::Context)?,
            body: load_part(body, Part::Body)?,
            head: load_part(head, Part::Head)?,
            thresholds,
        })
    }

    /// The reference files inside a directory: `model_context1.pth`, `model_body1.pth`,
    /// `model_emotic1.pth` and `val_thresholds.npy`.
    ///
    /// # Errors
    /// As [`Self::from_reference_files`].
    pub fn from_reference_dir(dir: &Path) -> Result<Self> {
        Self::from_reference_files(
            &dir.join(Part::Context.reference_file()),
            &dir.join(Part::Body.reference_file()),
            &dir.join(Part::Head.reference_file()),
            &dir.join(THRESHOLDS_FILE),
        )
    }
}

/// The reference thresholds file name.
pub const THRESHOLDS_FILE: &str = "val_thresholds.npy";

fn model_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads `val_thresholds.npy`: exactly 26 finite values (shape `(26,)`, any float type).
///
/// # Errors
/// [`Error::Model`] naming the file when it is missing, unreadable or of the wrong shape.
pub fn read_thresholds(path: &Path) -> Result<[f32; NUM_CATEGORIES]> {
    if !path.is_file() {
        return Err(model_error(
            path,
            "thresholds file not found; the EMOTIC model needs its val_thresholds.npy \
             (26 float32 values written by the reference's test run) and never runs without it",
        ));
    }
    let array = emotic_weights::npy::read_npy_file(path).map_err(|e| {
        model_error(
            path,
            format!(
                "cannot read thresholds: {}",
                emotic_weights::cause_in_file(path, &e)
            ),
        )
    })?;
    if array.shape != [NUM_CATEGORIES] {
        return Err(model_error(
            path,
            format!(
                "thresholds must have shape ({NUM_CATEGORIES},), found {:?}",
                array.shape
            ),
        ));
    }
    thresholds_from_slice(&array.to_f32_vec()).map_err(|message| model_error(path, message))
}

/// Checks 26 finite thresholds.
pub(crate) fn thresholds_from_slice(
    values: &[f32],
) -> std::result::Result<[f32; NUM_CATEGORIES], String> {
    let arr: [f32; NUM_CATEGORIES] = values.try_into().map_err(|_| {
        format!(
            "expected {NUM_CATEGORIES} thresholds, found {}",
            values.len()
        )
    })?;
    if let Some(i) = arr.iter().position(|v| !v.is_finite()) {
        return Err(format!("threshold {i} is not a finite number ({})", arr[i]));
    }
    Ok(arr)
}

/// Loads one reference checkpoint and checks that it holds `part`. Stream keys come back in
/// torchvision names whatever the file's layout (see [`weight_keys`]).
///
/// # Errors
/// [`Error::Model`] naming the file when it cannot be read or holds something else.
pub fn load_part(path: &Path, part: Part) -> Result<BTreeMap<String, Tensor>> {
    if !path.is_file() {
        return Err(model_error(
            path,
            format!("{:?} checkpoint not found", part),
        ));
    }
    let unreadable = |e: emotic_weights::Error| {
        model_error(
            path,
            format!(
                "cannot read checkpoint: {}",
                emotic_weights::cause_in_file(path, &e)
            ),
        )
    };
    // Which part the file holds is told by its names alone, before any tensor data is read.
    let checkpoint = emotic_weights::open_checkpoint(path).map_err(unreadable)?;
    check_part(path, &checkpoint, part)?;
    let tensors = checkpoint.load().map_err(unreadable)?.tensors;
    Ok(match part {
        Part::Context | Part::Body => weight_keys::to_torchvision(tensors),
        Part::Head => tensors,
    })
}

/// Tells what a checkpoint is, from its class and keys, for error messages.
pub(crate) fn describe(checkpoint: &LazyCheckpoint<'_>) -> String {
    let class = checkpoint.module_class.as_deref().unwrap_or("a state dict");
    let keys: Vec<&str> = checkpoint
        .tensors
        .keys()
        .take(3)
        .map(String::as_str)
        .collect();
    let yolo = checkpoint
        .module_class
        .as_deref()
        .is_some_and(|c| c.starts_with("models."))
        || checkpoint
            .tensors
            .keys()
            .any(|k| k.starts_with("model.") && k.contains(".conv."));
    let what = if yolo {
        "a YOLOv5 detector checkpoint"
    } else {
        "an unrelated checkpoint"
    };
    format!(
        "{what} ({class}; keys {keys:?}, {} tensors)",
        checkpoint.tensors.len()
    )
}

/// Fails unless `checkpoint` looks like `part`: a ResNet stream (in any layout
/// [`weight_keys::to_torchvision`] converts) or the `emotic.Emotic` fusion head.
fn check_part(path: &Path, checkpoint: &LazyCheckpoint<'_>, part: Part) -> Result<()> {
    let has = |k: &str| checkpoint.tensors.contains_key(k);
    let ok = match part {
        Part::Context | Part::Body => {
            // The keys alone, renamed: the tensors are moved, not copied, once this passes.
            let keys =
                weight_keys::to_torchvision(checkpoint.tensors.keys().map(|k| (k.clone(), ())));
            keys.contains_key("conv1.weight") && keys.contains_key("layer1.0.conv1.weight")
        }
        Part::Head => has("fc1.weight") && has("fc_cat.weight") && has("fc_cont.weight"),
    };
    if ok {
        return Ok(());
    }
    let expected = match part {
        Part::Context | Part::Body => {
            "a ResNet18 feature stream (keys `0.weight`, `4.0.conv1.weight`, ... as saved by the \
             reference, or torchvision's `conv1.weight`, `layer1.0.conv1.weight`, ...)"
        }
        Part::Head => {
            "the EMOTIC fusion head (`emotic.Emotic`, keys `fc1.*`, `bn1.*`, `fc_cat.*`, `fc_cont.*`)"
        }
    };
    Err(model_error(
        path,
        format!(
            "given as the {} model but holds {}; expected {expected}",
            part.prefix(),
            describe(checkpoint)
        ),
    ))
}
