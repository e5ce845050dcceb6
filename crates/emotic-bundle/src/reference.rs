//! Writing the reference PyTorch files: `model_context1.pth`, `model_body1.pth` and
//! `model_emotic1.pth` as the whole-module pickles Tandon-A/emotic's `torch.save(model)` writes
//! (and its test and inference scripts `torch.load`), plus `val_thresholds.npy`.
//!
//! | file | module |
//! |---|---|
//! | `model_context1.pth`, `model_body1.pth` | `nn.Sequential(*list(resnet18.children())[:-1])`: children `0`..`8` = conv1, bn1, relu, maxpool, layer1..layer4 (`nn.Sequential` of torchvision `BasicBlock`s), avgpool |
//! | `model_emotic1.pth` | `emotic.Emotic`: fc1, bn1, d1 (`Dropout(0.5)`), fc_cat, fc_cont, relu; `num_context_features`, `num_body_features` |
//!
//! Widths and block counts come from the tensors, so reduced-width models work too. Stream
//! state dicts hold torchvision's keys (`conv1.*`, `layer1.*`, the one convention); they are
//! placed under the reference's `0.*`, `4.*`, ... by [`weight_keys::to_reference`], and
//! torchvision's `fc.*` is left out, as the reference drops that child.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emotic_spec::weight_keys;
use emotic_weights::Tensor;
use emotic_weights::pickle::Py;
use emotic_weights::torch::TorchWriter;

use crate::torch_modules::{
    Module, Saver, Tensors, batch_norm, conv2d, dropout, global_avg_pool, int, linear, relu,
    resnet_max_pool, sequential,
};
use crate::weights::{EmotionWeights, Part, THRESHOLDS_FILE};
use crate::{Error, Result};
use emotic_spec::NUM_CATEGORIES;

/// What [`write_reference_dir`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceFiles {
    /// `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth`, in that order.
    pub modules: Vec<PathBuf>,
    /// `val_thresholds.npy`.
    pub thresholds: PathBuf,
}

/// Writes the four reference files into `dir` (created if needed), each atomically. Unless
/// `replace` is true, an existing file of the same name is an error and nothing is written.
///
/// The module files load with `torch.load(path, weights_only=False)` where the reference's
/// `emotic` module is importable (it defines the head's class), exactly like the reference's
/// own checkpoints, and read back with [`EmotionWeights::from_reference_dir`].
///
/// # Errors
/// [`Error::Architecture`] when a part does not have the reference structure (a missing or
/// extra tensor, shapes that do not chain); [`Error::Io`]/[`Error::Weights`] for files.
pub fn write_reference_dir(
    weights: &EmotionWeights,
    dir: &Path,
    replace: bool,
) -> Result<ReferenceFiles> {
    // Everything is built in memory first, so a weights problem leaves no partial folder.
    let (context, context_writer, context_features) = stream(&weights.context, "context stream")?;
    let (body, body_writer, body_features) = stream(&weights.body, "body stream")?;
    let (head, head_writer) = head(&weights.head, context_features, body_features)?;
    let modules: Vec<PathBuf> = [Part::Context, Part::Body, Part::Head]
        .iter()
        .map(|p| dir.join(p.reference_file()))
        .collect();
    let thresholds = dir.join(THRESHOLDS_FILE);
    if !replace && let Some(existing) = modules.iter().chain([&thresholds]).find(|p| p.exists()) {
        return Err(Error::exists(existing));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for ((root, writer), path) in [
        (context, context_writer),
        (body, body_writer),
        (head, head_writer),
    ]
    .iter()
    .zip(&modules)
    {
        writer.write_file(path, root, replace)?;
    }
    emotic_weights::npy::write_f32(&thresholds, &[NUM_CATEGORIES], &weights.thresholds)?;
    Ok(ReferenceFiles {
        modules,
        thresholds,
    })
}

/// A stream's tensors under the reference `nn.Sequential` keys: the inverse of the conversion
/// at load (the forward one first, for weights filled by hand in another layout).
fn reference_keys(part: &BTreeMap<String, Tensor>) -> BTreeMap<String, &Tensor> {
    weight_keys::to_reference(weight_keys::to_torchvision(
        part.iter().map(|(key, t)| (key.clone(), t)),
    ))
}

/// One ResNet feature stream as the reference's `nn.Sequential`, its writer, and the number of
/// features it emits.
fn stream(part: &BTreeMap<String, Tensor>, what: &'static str) -> Result<(Py, TorchWriter, usize)> {
    let mut t = Tensors::new(what, reference_keys(part));
    let mut writer = TorchWriter::new();
    let mut s = Saver {
        writer: &mut writer,
    };
    let (conv1, _, stem) = conv2d(&mut s, &mut t, "0", 2)?;
    let bn1 = batch_norm(&mut s, &mut t, "1", "BatchNorm2d", stem)?;
    let mut children = vec![conv1, bn1, relu(true), resnet_max_pool()];
    let mut channels = stem;
    for stage in 0..4 {
        let layer = (stage + 4).to_string(); // layer1..layer4 are children 4..7
        let blocks = (0..)
            .take_while(|b| t.contains(&format!("{layer}.{b}.conv1.weight")))
            .count();
        if blocks == 0 {
            return Err(Error::Architecture(format!(
                "{what}: missing tensor `{layer}.0.conv1.weight`"
            )));
        }
        let mut stage_blocks = Vec::with_capacity(blocks);
        for b in 0..blocks {
            // torchvision: the first block of layer2..layer4 halves the resolution.
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            let (block, out) =
                basic_block(&mut s, &mut t, &format!("{layer}.{b}"), channels, stride)?;
            stage_blocks.push(block);
            channels = out;
        }
        children.push(sequential(stage_blocks));
    }
    children.push(global_avg_pool());
    t.finish()?;
    Ok((sequential(children), writer, channels))
}

/// torchvision's `BasicBlock` under `prefix`, returning it and its output channels.
fn basic_block(
    s: &mut Saver<'_>,
    t: &mut Tensors<'_>,
    prefix: &str,
    c_in: usize,
    stride: usize,
) -> Result<(Py, usize)> {
    let (conv1, conv1_in, mid) = conv2d(s, t, &format!("{prefix}.conv1"), stride)?;
    if conv1_in != c_in {
        return Err(Error::Architecture(format!(
            "`{prefix}.conv1.weight` takes {conv1_in} channels, the previous layer gives {c_in}"
        )));
    }
    let bn1 = batch_norm(s, t, &format!("{prefix}.bn1"), "BatchNorm2d", mid)?;
    let (conv2, _, out) = conv2d(s, t, &format!("{prefix}.conv2"), 1)?;
    let bn2 = batch_norm(s, t, &format!("{prefix}.bn2"), "BatchNorm2d", out)?;
    let block = Module::new("torchvision.models.resnet", "BasicBlock")
        .child("conv1", conv1)
        .child("bn1", bn1)
        .child("relu", relu(true))
        .child("conv2", conv2)
        .child("bn2", bn2);
    // A module-valued `downsample` lives in `_modules`; `None` is a plain attribute, placed
    // before `stride` as torchvision's `__init__` assigns them.
    let block = if t.contains(&format!("{prefix}.downsample.0.weight")) {
        let (conv, _, c) = conv2d(s, t, &format!("{prefix}.downsample.0"), stride)?;
        let bn = batch_norm(s, t, &format!("{prefix}.downsample.1"), "BatchNorm2d", c)?;
        block.child("downsample", sequential(vec![conv, bn]))
    } else {
        block.attr("downsample", Py::None)
    };
    Ok((block.attr("stride", int(stride)).into_py(), out))
}

/// The reference fusion head, `emotic.Emotic(num_context_features, num_body_features)`.
fn head(
    part: &BTreeMap<String, Tensor>,
    context_features: usize,
    body_features: usize,
) -> Result<(Py, TorchWriter)> {
    let what = "fusion head";
    let mut t = Tensors::new(what, part.iter().map(|(k, v)| (k.clone(), v)).collect());
    let mut writer = TorchWriter::new();
    let mut s = Saver {
        writer: &mut writer,
    };
    let (fc1, fc1_in, hidden) = linear(&mut s, &mut t, "fc1")?;
    if fc1_in != context_features + body_features {
        return Err(Error::Architecture(format!(
            "{what}: fc1 takes {fc1_in} features but the streams give \
             {context_features} + {body_features}"
        )));
    }
    let bn1 = batch_norm(&mut s, &mut t, "bn1", "BatchNorm1d", hidden)?;
    let (fc_cat, cat_in, _) = linear(&mut s, &mut t, "fc_cat")?;
    let (fc_cont, cont_in, _) = linear(&mut s, &mut t, "fc_cont")?;
    if cat_in != hidden || cont_in != hidden {
        return Err(Error::Architecture(format!(
            "{what}: fc_cat/fc_cont take {cat_in}/{cont_in} features, fc1 gives {hidden}"
        )));
    }
    t.finish()?;
    // Children in the order of the reference `__init__`; the two plain attributes are set
    // before the submodules there but land after `_modules` in `__dict__`, as in torch.
    let emotic = Module::new("emotic", "Emotic")
        .child("fc1", fc1)
        .child("bn1", bn1)
        .child("d1", dropout(0.5))
        .child("fc_cat", fc_cat)
        .child("fc_cont", fc_cont)
        .child("relu", relu(false))
        .attr("num_context_features", int(context_features))
        .attr("num_body_features", int(body_features));
    Ok((emotic.into_py(), writer))
}
