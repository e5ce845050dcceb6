//! torchvision ResNet18 without `fc`, as used for both EMOTIC streams (context 224x224,
//! body 128x128): `conv1` 7x7/2 → `bn1` → ReLU → maxpool 3/2 → `layer1..4` of BasicBlocks →
//! global average pool → `[N, C]`.
//!
//! The graph reads torchvision's keys (`conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`,
//! `layer1.0.downsample.{0,1}.*`). A state dict in another layout (the EMOTIC reference's
//! `nn.Sequential`, a `module.` prefix) is converted by [`weight_keys::to_torchvision`] first,
//! the one place key names are translated. Channel counts and the number of blocks per stage
//! come from the tensors, so narrower test models work too (and ResNet34 would).

use std::collections::BTreeMap;

use emotic_onnx::{Conv2dParams, Dim, ElemType, GraphBuilder};
use emotic_spec::weight_keys;
use emotic_weights::Tensor;

use crate::arch::{PRODUCER, Params};
use crate::{Error, Result};

/// BatchNorm eps of torchvision's ResNet (the `nn.BatchNorm2d` default).
pub const RESNET_BN_EPS: f64 = 1e-5;
/// Name of the graph input, `[N, 3, H, W]` (normalised RGB).
pub const INPUT_NAME: &str = "images";
/// Name of the graph output, `[N, C]` (512 for ResNet18).
pub const OUTPUT_NAME: &str = "features";

/// A conv (no bias) + BatchNorm, folded; output channels read from the weight, input channels
/// and kernel checked.
fn conv_bn(
    g: &mut GraphBuilder,
    p: &Params<'_>,
    x: &str,
    (conv, bn): (&str, &str),
    c_in: usize,
    kernel: usize,
    params: &Conv2dParams,
) -> Result<(String, usize)> {
    let key = format!("{conv}.weight");
    let c_out = p.ranked(&key, 4)?.shape[0];
    let w = p.conv(&key, [c_out, c_in, kernel, kernel], None)?;
    let bn = p.batch_norm(bn, c_out, RESNET_BN_EPS)?;
    Ok((g.conv_bn_folded(x, conv, w, &bn, params)?, c_out))
}

/// One BasicBlock under `prefix` (e.g. `layer2.0`): two 3x3 conv+bn, identity or
/// `downsample` (1x1 conv + bn) shortcut, ReLU after the sum.
fn basic_block(
    g: &mut GraphBuilder,
    p: &Params<'_>,
    prefix: &str,
    x: &str,
    c_in: usize,
    stride: usize,
) -> Result<(String, usize)> {
    let (a, c_mid) = conv_bn(
        g,
        p,
        x,
        (&format!("{prefix}.conv1"), &format!("{prefix}.bn1")),
        c_in,
        3,
        &Conv2dParams::new(stride, 1),
    )?;
    let a = g.relu(&a)?;
    let (b, c_out) = conv_bn(
        g,
        p,
        &a,
        (&format!("{prefix}.conv2"), &format!("{prefix}.bn2")),
        c_mid,
        3,
        &Conv2dParams::new(1, 1),
    )?;
    let has_downsample = p.contains(&format!("{prefix}.downsample.0.weight"));
    let shortcut = if has_downsample {
        let names = (
            &*format!("{prefix}.downsample.0"),
            &*format!("{prefix}.downsample.1"),
        );
        let (s, c_s) = conv_bn(g, p, x, names, c_in, 1, &Conv2dParams::new(stride, 0))?;
        if c_s != c_out {
            return Err(Error::Architecture(format!(
                "`{prefix}.downsample.0.weight` has {c_s} outputs, the block {c_out}"
            )));
        }
        s
    } else if stride != 1 || c_in != c_out {
        return Err(Error::Architecture(format!(
            "missing weight `{prefix}.downsample.0.weight` (block changes stride or channels {c_in} -> {c_out})"
        )));
    } else {
        x.to_owned()
    };
    let sum = g.add(&b, &shortcut)?;
    Ok((g.relu(&sum)?, c_out))
}

/// Builds the ResNet feature extractor for `[N, 3, input_hw.0, input_hw.1]` inputs (dynamic `N`),
/// returning the serialised ONNX model with input [`INPUT_NAME`] and output [`OUTPUT_NAME`].
/// `tensors` may be in any layout [`weight_keys::to_torchvision`] accepts.
///
/// # Errors
/// [`Error::Architecture`] naming the key for a missing weight or one with an unexpected shape;
/// [`Error::InvalidInput`] for an input size below 32 or above 4096.
pub fn build_resnet18_features(
    tensors: &BTreeMap<String, Tensor>,
    input_hw: (usize, usize),
) -> Result<Vec<u8>> {
    let (h, w) = input_hw;
    if !(32..=4096).contains(&h) || !(32..=4096).contains(&w) {
        return Err(Error::InvalidInput(format!(
            "ResNet input size {h}x{w} must be within 32..=4096"
        )));
    }
    // Loaders hand over torchvision keys already; a caller with a raw state dict gets the same
    // conversion here.
    let tensors = weight_keys::to_torchvision(tensors.iter().map(|(k, t)| (k.clone(), t.clone())));
    let p = Params::new(&tensors);
    if !p.contains("conv1.weight") {
        return Err(Error::Architecture(
            "not a ResNet state dict: neither `conv1.weight` (torchvision) nor `0.weight` (nn.Sequential) is present".into(),
        ));
    }
    let mut g = GraphBuilder::new("resnet18_features");
    let batch = Dim::Symbolic("batch".into());
    let x = g.input(
        INPUT_NAME,
        ElemType::Float,
        vec![batch.clone(), Dim::Fixed(3), Dim::Fixed(h), Dim::Fixed(w)],
    )?;
    let (x, mut c) = conv_bn(
        &mut g,
        &p,
        &x,
        ("conv1", "bn1"),
        3,
        7,
        &Conv2dParams::new(2, 3),
    )?;
    let x = g.relu(&x)?;
    let mut x = g.max_pool(&x, 3, 2, 1)?;
    for (stage, layer) in ["layer1", "layer2", "layer3", "layer4"].iter().enumerate() {
        let blocks = (0..)
            .take_while(|b| p.contains(&format!("{layer}.{b}.conv1.weight")))
            .count();
        if blocks == 0 {
            return Err(Error::Architecture(format!(
                "missing weight `{layer}.0.conv1.weight`"
            )));
        }
        for b in 0..blocks {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            (x, c) = basic_block(&mut g, &p, &format!("{layer}.{b}"), &x, c, stride)?;
        }
    }
    let pooled = g.global_average_pool(&x)?;
    let flat = g.flatten(&pooled, 1)?;
    g.output(
        &flat,
        OUTPUT_NAME,
        ElemType::Float,
        vec![batch, Dim::Fixed(c)],
    )?;
    Ok(g.finish(PRODUCER).encode())
}
