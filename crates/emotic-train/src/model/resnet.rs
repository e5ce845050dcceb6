//! torchvision's ResNet18 without `fc` (a feature stream of the EMOTIC model): `conv1` 7x7/2 →
//! `bn1` → ReLU → maxpool 3/2 → `layer1..layer4` of BasicBlocks → global average pool → `[N, C]`.
//!
//! Field names are the torchvision state-dict keys, the one convention (`emotic_spec::weight_keys`
//! converts other layouts when a state dict is loaded). Widths and block counts come from the
//! loaded tensors, so the reduced-width test models load like the real one.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};
use emotic_spec::weight_keys;
use emotic_weights::Tensor as WTensor;

use super::layers::{BatchNorm, Conv2d, MapParams, ParamMapper, get};
use crate::rng::Rng;
use crate::{Error, Result};

/// The 1x1 conv + BatchNorm shortcut of a block that changes width or stride
/// (`downsample.0` and `downsample.1` in the state dict).
#[derive(Module, Debug)]
pub struct Downsample {
    /// `downsample.0`.
    pub conv: Conv2d,
    /// `downsample.1`.
    pub bn: BatchNorm,
}

/// torchvision `BasicBlock`.
#[derive(Module, Debug)]
pub struct BasicBlock {
    /// First 3x3 conv (carries the stride).
    pub conv1: Conv2d,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm,
    /// Second 3x3 conv.
    pub conv2: Conv2d,
    /// BatchNorm after `conv2`.
    pub bn2: BatchNorm,
    /// Shortcut projection when the shape changes.
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    fn init(c_in: usize, c_out: usize, stride: usize, rng: &mut Rng, device: &Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: Conv2d::init([c_out, c_in, 1, 1], stride, 0, rng, device),
            bn: BatchNorm::init(c_out, device),
        });
        Self {
            conv1: Conv2d::init([c_out, c_in, 3, 3], stride, 1, rng, device),
            bn1: BatchNorm::init(c_out, device),
            conv2: Conv2d::init([c_out, c_out, 3, 3], 1, 1, rng, device),
            bn2: BatchNorm::init(c_out, device),
            downsample,
        }
    }

    fn load(
        sd: &BTreeMap<String, WTensor>,
        prefix: &str,
        c_in: usize,
        stride: usize,
        device: &Device,
    ) -> Result<Self> {
        let c_out = out_channels(sd, &format!("{prefix}conv1.weight"))?;
        let ds = format!("{prefix}downsample.");
        let downsample = if sd.contains_key(&format!("{ds}0.weight")) {
            Some(Downsample {
                conv: Conv2d::load(
                    sd,
                    &format!("{ds}0."),
                    [c_out, c_in, 1, 1],
                    stride,
                    0,
                    device,
                )?,
                bn: BatchNorm::load(sd, &format!("{ds}1."), c_out, device)?,
            })
        } else if stride != 1 || c_in != c_out {
            return Err(Error::state(format!(
                "`{prefix}` changes shape ({c_in}->{c_out} channels, stride {stride}) but has no `downsample`"
            )));
        } else {
            None
        };
        Ok(Self {
            conv1: Conv2d::load(
                sd,
                &format!("{prefix}conv1."),
                [c_out, c_in, 3, 3],
                stride,
                1,
                device,
            )?,
            bn1: BatchNorm::load(sd, &format!("{prefix}bn1."), c_out, device)?,
            conv2: Conv2d::load(
                sd,
                &format!("{prefix}conv2."),
                [c_out, c_out, 3, 3],
                1,
                1,
                device,
            )?,
            bn2: BatchNorm::load(sd, &format!("{prefix}bn2."), c_out, device)?,
            downsample,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = relu(self.bn1.forward(self.conv1.forward(x)));
        let y = self.bn2.forward(self.conv2.forward(y));
        relu(y.add(identity))
    }

    fn save(&self, prefix: &str, out: &mut BTreeMap<String, WTensor>) -> Result<()> {
        self.conv1.save(&format!("{prefix}conv1."), out)?;
        self.bn1.save(&format!("{prefix}bn1."), out)?;
        self.conv2.save(&format!("{prefix}conv2."), out)?;
        self.bn2.save(&format!("{prefix}bn2."), out)?;
        if let Some(d) = &self.downsample {
            d.conv.save(&format!("{prefix}downsample.0."), out)?;
            d.bn.save(&format!("{prefix}downsample.1."), out)?;
        }
        Ok(())
    }
}

impl MapParams for BasicBlock {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, m: &mut M) -> Self {
        self.conv1 = self.conv1.map_params(&format!("{prefix}conv1."), m);
        self.bn1 = self.bn1.map_params(&format!("{prefix}bn1."), m);
        self.conv2 = self.conv2.map_params(&format!("{prefix}conv2."), m);
        self.bn2 = self.bn2.map_params(&format!("{prefix}bn2."), m);
        if let Some(d) = self.downsample.take() {
            self.downsample = Some(Downsample {
                conv: d.conv.map_params(&format!("{prefix}downsample.0."), m),
                bn: d.bn.map_params(&format!("{prefix}downsample.1."), m),
            });
        }
        self
    }
}

/// A ResNet (BasicBlock) feature extractor.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem 7x7/2 conv.
    pub conv1: Conv2d,
    /// Stem BatchNorm.
    pub bn1: BatchNorm,
    /// Stage 1 (stride 1).
    pub layer1: Vec<BasicBlock>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<BasicBlock>,
    /// Stage 3 (stride 2).
    pub layer3: Vec<BasicBlock>,
    /// Stage 4 (stride 2).
    pub layer4: Vec<BasicBlock>,
}

/// ResNet18's stage widths.
pub const RESNET18_WIDTHS: [usize; 4] = [64, 128, 256, 512];

fn out_channels(sd: &BTreeMap<String, WTensor>, key: &str) -> Result<usize> {
    let t = get(sd, key)?;
    match t.shape.as_slice() {
        [c, _, _, _] if *c > 0 => Ok(*c),
        other => Err(Error::state(format!(
            "`{key}` should be a conv weight [out, in, k, k], found shape {other:?}"
        ))),
    }
}

impl ResNet {
    /// A randomly initialised ResNet18 (torchvision's initialisation) with the given widths.
    pub fn init(widths: [usize; 4], blocks: [usize; 4], rng: &mut Rng, device: &Device) -> Self {
        let conv1 = Conv2d::init([widths[0], 3, 7, 7], 2, 3, rng, device);
        let mut c_in = widths[0];
        let mut stage = |i: usize, c_in: &mut usize| -> Vec<BasicBlock> {
            (0..blocks[i])
                .map(|b| {
                    let stride = if i > 0 && b == 0 { 2 } else { 1 };
                    let block = BasicBlock::init(*c_in, widths[i], stride, rng, device);
                    *c_in = widths[i];
                    block
                })
                .collect()
        };
        let layer1 = stage(0, &mut c_in);
        let layer2 = stage(1, &mut c_in);
        let layer3 = stage(2, &mut c_in);
        let layer4 = stage(3, &mut c_in);
        Self {
            conv1,
            bn1: BatchNorm::init(widths[0], device),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    /// Loads a state dict in any layout [`weight_keys::to_torchvision`] converts (torchvision,
    /// the reference's `nn.Sequential`, `module.`-prefixed as Places365's); `fc.*` is dropped.
    pub fn load(sd: &BTreeMap<String, WTensor>, device: &Device) -> Result<Self> {
        let sd = weight_keys::to_torchvision(sd.clone());
        let c0 = out_channels(&sd, "conv1.weight")?;
        let conv1 = Conv2d::load(&sd, "conv1.", [c0, 3, 7, 7], 2, 3, device)?;
        let bn1 = BatchNorm::load(&sd, "bn1.", c0, device)?;
        let mut c_in = c0;
        let mut layers = Vec::with_capacity(4);
        for stage in 1..=4 {
            let mut blocks = Vec::new();
            while sd.contains_key(&format!("layer{stage}.{}.conv1.weight", blocks.len())) {
                let stride = if stage > 1 && blocks.is_empty() { 2 } else { 1 };
                let prefix = format!("layer{stage}.{}.", blocks.len());
                let block = BasicBlock::load(&sd, &prefix, c_in, stride, device)?;
                c_in = block.conv2.out_channels();
                blocks.push(block);
            }
            if blocks.is_empty() {
                return Err(Error::state(format!(
                    "no blocks in `layer{stage}` (expected `layer{stage}.0.conv1.weight`)"
                )));
            }
            layers.push(blocks);
        }
        let mut it = layers.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Self {
            conv1,
            bn1,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
        })
    }

    /// Width of the output features.
    pub fn feature_width(&self) -> usize {
        self.layer4
            .last()
            .map_or(self.conv1.out_channels(), |b| b.conv2.out_channels())
    }

    /// `[N, 3, H, W]` normalised images → `[N, C]` features.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = max_pool2d(
            x,
            MaxPoolOptions::new([3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1]),
        );
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
    }

    /// The state dict in torchvision keys (no `fc`).
    pub fn state_dict(&self) -> Result<BTreeMap<String, WTensor>> {
        let mut out = BTreeMap::new();
        self.conv1.save("conv1.", &mut out)?;
        self.bn1.save("bn1.", &mut out)?;
        for (stage, blocks) in self.stages().into_iter().enumerate() {
            for (b, block) in blocks.iter().enumerate() {
                block.save(&format!("layer{}.{b}.", stage + 1), &mut out)?;
            }
        }
        Ok(out)
    }

    fn stages(&self) -> [&Vec<BasicBlock>; 4] {
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
    }
}

impl MapParams for ResNet {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, m: &mut M) -> Self {
        self.conv1 = self.conv1.map_params(&format!("{prefix}conv1."), m);
        self.bn1 = self.bn1.map_params(&format!("{prefix}bn1."), m);
        let map_stage = |blocks: Vec<BasicBlock>, stage: usize, m: &mut M| -> Vec<BasicBlock> {
            blocks
                .into_iter()
                .enumerate()
                .map(|(b, block)| block.map_params(&format!("{prefix}layer{stage}.{b}."), m))
                .collect()
        };
        self.layer1 = map_stage(std::mem::take(&mut self.layer1), 1, m);
        self.layer2 = map_stage(std::mem::take(&mut self.layer2), 2, m);
        self.layer3 = map_stage(std::mem::take(&mut self.layer3), 3, m);
        self.layer4 = map_stage(std::mem::take(&mut self.layer4), 4, m);
        self
    }
}
