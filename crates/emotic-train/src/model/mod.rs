//! The EMOTIC model in burn: two ResNet18 feature streams and the fusion head, with field
//! names that mirror the PyTorch state dicts (`context.*`/`body.*` torchvision keys, `head.*`
//! the `emotic.Emotic` keys).

pub mod head;
pub mod layers;
pub mod resnet;

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, Param};
use burn::tensor::{Device, Gradients, Tensor};
use emotic_bundle::EmotionWeights;
use emotic_spec::NUM_CATEGORIES;
use emotic_weights::Tensor as WTensor;

pub use head::EmoticHead;
pub use layers::{BatchNorm, Conv2d, Linear, MapParams, ParamMapper};
pub use resnet::{BasicBlock, RESNET18_WIDTHS, ResNet};

use crate::rng::Rng;
use crate::{Error, Result};

/// The whole EMOTIC network.
#[derive(Module, Debug)]
pub struct EmoticNet {
    /// Context stream (whole frame, 224x224).
    pub context: ResNet,
    /// Body stream (person crop, 128x128).
    pub body: ResNet,
    /// Fusion head.
    pub head: EmoticHead,
}

/// Which parameters train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trainable {
    /// Everything (the reference `train.py`).
    All,
    /// Only the head; the backbones keep their weights (the Colab notebook). Their BatchNorm
    /// layers still run in training mode and update running statistics, as in the notebook.
    Head,
    /// The head and `layer4` of both streams.
    LastStage,
}

/// Reads a checkpoint's tensors, naming the file on failure.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, WTensor>> {
    emotic_weights::load_checkpoint(path)
        .map(|c| c.tensors)
        .map_err(|source| Error::Weights {
            path: path.to_path_buf(),
            source,
        })
}

impl EmoticNet {
    /// A randomly initialised model (torchvision/PyTorch initialisations) with the given
    /// stream widths (ResNet18: [`RESNET18_WIDTHS`]).
    pub fn init(widths: [usize; 4], rng: &mut Rng, device: &Device) -> Self {
        let context = ResNet::init(widths, [2; 4], rng, device);
        let body = ResNet::init(widths, [2; 4], rng, device);
        let head = EmoticHead::init(2 * widths[3], rng, device);
        Self {
            context,
            body,
            head,
        }
    }

    /// From state dicts: the streams in any accepted layout; the head, when absent, freshly
    /// initialised from `rng`.
    pub fn from_state_dicts(
        context: &BTreeMap<String, WTensor>,
        body: &BTreeMap<String, WTensor>,
        head: Option<&BTreeMap<String, WTensor>>,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let context =
            ResNet::load(context, device).map_err(|e| prefix_error("context stream", e))?;
        let body = ResNet::load(body, device).map_err(|e| prefix_error("body stream", e))?;
        let features = context.feature_width() + body.feature_width();
        let head = match head {
            Some(sd) => {
                EmoticHead::load(sd, features, device).map_err(|e| prefix_error("head", e))?
            }
            None => EmoticHead::init(features, rng, device),
        };
        Ok(Self {
            context,
            body,
            head,
        })
    }

    /// From files: context and body checkpoints (torchvision/Places365 state dicts, reference
    /// whole-module pickles, ...), an optional head checkpoint.
    pub fn from_files(
        context: &Path,
        body: &Path,
        head: Option<&Path>,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        let c = read_tensors(context)?;
        let b = read_tensors(body)?;
        let h = head.map(read_tensors).transpose()?;
        let context_net = ResNet::load(&c, device).map_err(|e| e.in_file(context))?;
        let body_net = ResNet::load(&b, device).map_err(|e| e.in_file(body))?;
        let features = context_net.feature_width() + body_net.feature_width();
        let head_net = match (&h, head) {
            (Some(sd), Some(path)) => {
                EmoticHead::load(sd, features, device).map_err(|e| e.in_file(path))?
            }
            _ => EmoticHead::init(features, rng, device),
        };
        Ok(Self {
            context: context_net,
            body: body_net,
            head: head_net,
        })
    }

    /// From a model bundle's (or reference directory's) weights.
    pub fn from_weights(weights: &EmotionWeights, device: &Device) -> Result<Self> {
        let mut unused = Rng::new(0);
        Self::from_state_dicts(
            &weights.context,
            &weights.body,
            Some(&weights.head),
            &mut unused,
            device,
        )
    }

    /// Scores: `[N,3,224,224]` context and `[N,3,128,128]` body (normalised) → `[N, 26]`
    /// category scores and `[N, 3]` VAD / 10.
    pub fn forward(
        &self,
        context: Tensor<4>,
        body: Tensor<4>,
        dropout_mask: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let c = self.context.forward(context);
        let b = self.body.forward(body);
        self.head.forward(c, b, dropout_mask)
    }

    /// Restricts training to `which` (frozen tensors get no gradients, hence no updates and no
    /// weight decay, as PyTorch's Adam skips parameters without `.grad`).
    #[must_use]
    pub fn with_trainable(mut self, which: Trainable) -> Self {
        match which {
            Trainable::All => self,
            Trainable::Head => {
                self.context = self.context.no_grad();
                self.body = self.body.no_grad();
                self
            }
            Trainable::LastStage => {
                self.context = self.context.no_grad();
                self.body = self.body.no_grad();
                let unfreeze = |blocks: Vec<BasicBlock>| -> Vec<BasicBlock> {
                    blocks
                        .into_iter()
                        .map(|b| b.set_require_grad(true))
                        .collect()
                };
                self.context.layer4 = unfreeze(std::mem::take(&mut self.context.layer4));
                self.body.layer4 = unfreeze(std::mem::take(&mut self.body.layer4));
                self
            }
        }
    }

    /// All three state dicts, with `thresholds`, as the inference bundle's weights (streams
    /// in torchvision keys).
    pub fn to_weights(&self, thresholds: [f32; NUM_CATEGORIES]) -> Result<EmotionWeights> {
        Ok(EmotionWeights {
            context: self.context.state_dict()?,
            body: self.body.state_dict()?,
            head: self.head.state_dict()?,
            thresholds,
        })
    }

    /// Every tensor (parameters and running statistics) keyed `context.*`, `body.*`, `head.*`.
    pub fn state_dict(&self) -> Result<BTreeMap<String, WTensor>> {
        let mut out = BTreeMap::new();
        for (prefix, sd) in [
            ("context", self.context.state_dict()?),
            ("body", self.body.state_dict()?),
            ("head", self.head.state_dict()?),
        ] {
            for (k, v) in sd {
                out.insert(format!("{prefix}.{k}"), v);
            }
        }
        Ok(out)
    }

    /// Loads the output of [`Self::state_dict`].
    pub fn from_state_dict(sd: &BTreeMap<String, WTensor>, device: &Device) -> Result<Self> {
        let part = |prefix: &str| -> BTreeMap<String, WTensor> {
            sd.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(prefix)
                        .map(|rest| (rest.to_string(), v.clone()))
                })
                .collect()
        };
        let mut unused = Rng::new(0);
        Self::from_state_dicts(
            &part("context."),
            &part("body."),
            Some(&part("head.")),
            &mut unused,
            device,
        )
    }
}

/// Collects every parameter's gradient by state-dict name.
struct GradReader<'a> {
    grads: &'a Gradients,
    out: BTreeMap<String, Vec<f32>>,
}

impl ParamMapper for GradReader<'_> {
    fn map<const D: usize>(&mut self, name: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(g) = param.val().grad(self.grads)
            && let Ok(v) = g.into_data().convert::<f32>().try_into_vec::<f32>()
        {
            self.out.insert(name.to_string(), v);
        }
        param
    }
}

impl EmoticNet {
    /// The gradient of every parameter that has one in `grads`, keyed like
    /// [`Self::state_dict`] (for comparisons with PyTorch and between backends).
    pub fn gradients(self, grads: &Gradients) -> (Self, BTreeMap<String, Vec<f32>>) {
        let mut reader = GradReader {
            grads,
            out: BTreeMap::new(),
        };
        let model = self.map_params("", &mut reader);
        (model, reader.out)
    }
}

impl MapParams for EmoticNet {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, m: &mut M) -> Self {
        self.context = self.context.map_params(&format!("{prefix}context."), m);
        self.body = self.body.map_params(&format!("{prefix}body."), m);
        self.head = self.head.map_params(&format!("{prefix}head."), m);
        self
    }
}

fn prefix_error(what: &str, e: Error) -> Error {
    match e {
        Error::StateDict { origin, message } => Error::StateDict {
            origin,
            message: format!("{what}: {message}"),
        },
        other => other,
    }
}
