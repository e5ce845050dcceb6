//! The EMOTIC fusion head (`emotic.Emotic`): concat(context, body) → `fc1` → `bn1` → ReLU →
//! Dropout → `fc_cat` (26 raw scores) and `fc_cont` (VAD / 10), no sigmoid.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use emotic_weights::Tensor as WTensor;

use super::layers::{BatchNorm, Linear, MapParams, ParamMapper, get};
use crate::rng::Rng;
use crate::{Error, Result};

// Output widths are the model's facts, defined once in `emotic-spec`.
pub use emotic_spec::{NUM_CATEGORIES, NUM_VAD};
/// The head's hidden width.
pub const HIDDEN: usize = 256;

/// The fusion head.
#[derive(Module, Debug)]
pub struct EmoticHead {
    /// `Linear(context + body features, 256)`.
    pub fc1: Linear,
    /// `BatchNorm1d(256)`.
    pub bn1: BatchNorm,
    /// `Linear(256, 26)`.
    pub fc_cat: Linear,
    /// `Linear(256, 3)`.
    pub fc_cont: Linear,
}

impl EmoticHead {
    /// PyTorch-default initialisation for `features` = context width + body width.
    pub fn init(features: usize, rng: &mut Rng, device: &Device) -> Self {
        Self {
            fc1: Linear::init(features, HIDDEN, rng, device),
            bn1: BatchNorm::init(HIDDEN, device),
            fc_cat: Linear::init(HIDDEN, NUM_CATEGORIES, rng, device),
            fc_cont: Linear::init(HIDDEN, NUM_VAD, rng, device),
        }
    }

    /// Loads `fc1.*`, `bn1.*`, `fc_cat.*`, `fc_cont.*`; `features` must match `fc1`'s input.
    pub fn load(sd: &BTreeMap<String, WTensor>, features: usize, device: &Device) -> Result<Self> {
        let hidden = match get(sd, "fc1.weight")?.shape.as_slice() {
            [h, f] if *f == features => *h,
            other => {
                return Err(Error::state(format!(
                    "`fc1.weight` has shape {other:?}, expected [hidden, {features}] \
                     (context + body feature widths)"
                )));
            }
        };
        Ok(Self {
            fc1: Linear::load(sd, "fc1.", features, hidden, device)?,
            bn1: BatchNorm::load(sd, "bn1.", hidden, device)?,
            fc_cat: Linear::load(sd, "fc_cat.", hidden, NUM_CATEGORIES, device)?,
            fc_cont: Linear::load(sd, "fc_cont.", hidden, NUM_VAD, device)?,
        })
    }

    /// Fuses `[N, Cc]` context and `[N, Cb]` body features. `dropout_mask`, when given, is
    /// `[N, hidden]` of 0 and 1/(1-p) (drawn by the trainer from its own seeded generator,
    /// so dropout is reproducible and resumable); `None` is eval behaviour.
    pub fn forward(
        &self,
        context: Tensor<2>,
        body: Tensor<2>,
        dropout_mask: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let x = Tensor::cat(vec![context, body], 1);
        let mut x = relu(self.bn1.forward(self.fc1.forward(x)));
        if let Some(mask) = dropout_mask {
            x = x.mul(mask);
        }
        (self.fc_cat.forward(x.clone()), self.fc_cont.forward(x))
    }

    /// Hidden width (256 for the reference).
    pub fn hidden(&self) -> usize {
        self.fc1.weight.shape().dims::<2>()[0]
    }

    /// The state dict (`fc1.*`, `bn1.*`, `fc_cat.*`, `fc_cont.*`).
    pub fn state_dict(&self) -> Result<BTreeMap<String, WTensor>> {
        let mut out = BTreeMap::new();
        self.fc1.save("fc1.", &mut out)?;
        self.bn1.save("bn1.", &mut out)?;
        self.fc_cat.save("fc_cat.", &mut out)?;
        self.fc_cont.save("fc_cont.", &mut out)?;
        Ok(out)
    }
}

impl MapParams for EmoticHead {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, m: &mut M) -> Self {
        self.fc1 = self.fc1.map_params(&format!("{prefix}fc1."), m);
        self.bn1 = self.bn1.map_params(&format!("{prefix}bn1."), m);
        self.fc_cat = self.fc_cat.map_params(&format!("{prefix}fc_cat."), m);
        self.fc_cont = self.fc_cont.map_params(&format!("{prefix}fc_cont."), m);
        self
    }
}
