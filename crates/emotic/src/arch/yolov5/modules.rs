//! YOLOv5's building blocks (`models/common.py`) as ONNX subgraphs, each reading its weights
//! under the module's state-dict prefix (`model.2`, `model.2.m.0`, ...).

use emotic_onnx::{Conv2dParams, GraphBuilder};

use crate::Result;
use crate::arch::Params;

/// A layer output: its value name, channel count and stride relative to the input image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Feature {
    pub value: String,
    pub channels: usize,
    pub stride: usize,
}

/// Shared state while building: the graph, the state dict and the BatchNorm eps.
pub(crate) struct Blocks<'a, 'g> {
    pub g: &'g mut GraphBuilder,
    pub p: Params<'a>,
    pub bn_eps: f64,
}

/// Arguments of YOLOv5's `Conv(c1, c2, k, s, p, g, act)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvArgs {
    pub c2: usize,
    pub k: usize,
    pub s: usize,
    pub pad: usize,
    pub groups: usize,
    pub act: bool,
}

impl ConvArgs {
    /// `Conv(c2, k, s)` with YOLOv5's `autopad` (`k // 2`), one group and SiLU.
    pub(crate) fn new(c2: usize, k: usize, s: usize) -> Self {
        Self {
            c2,
            k,
            s,
            pad: k / 2,
            groups: 1,
            act: true,
        }
    }
}

impl Blocks<'_, '_> {
    /// `Conv`: Conv2d (no bias) + BatchNorm2d + SiLU, the BatchNorm folded into the conv.
    /// A fused checkpoint (conv with bias, no `bn`) is accepted too.
    pub(crate) fn conv(&mut self, prefix: &str, x: &Feature, a: ConvArgs) -> Result<Feature> {
        let groups = a.groups.max(1);
        let shape = [a.c2, x.channels / groups, a.k, a.k];
        let params = Conv2dParams {
            stride: [a.s; 2],
            padding: [a.pad; 2],
            dilation: [1; 2],
            groups,
        };
        let weight_key = format!("{prefix}.conv.weight");
        let y = if !self.p.contains(&format!("{prefix}.bn.weight"))
            && self.p.contains(&format!("{prefix}.conv.bias"))
        {
            let w = self
                .p
                .conv(&weight_key, shape, Some(&format!("{prefix}.conv.bias")))?;
            self.g.conv2d(&x.value, prefix, w, &params)?
        } else {
            let w = self.p.conv(&weight_key, shape, None)?;
            let bn = self
                .p
                .batch_norm(&format!("{prefix}.bn"), a.c2, self.bn_eps)?;
            self.g.conv_bn_folded(&x.value, prefix, w, &bn, &params)?
        };
        let y = if a.act { self.g.silu(&y)? } else { y };
        Ok(Feature {
            value: y,
            channels: a.c2,
            stride: x.stride * a.s,
        })
    }

    /// `Bottleneck(c1, c2, shortcut, g, e)`: 1x1 Conv to `int(c2 * e)`, 3x3 Conv to `c2`, plus
    /// the input when `shortcut` and `c1 == c2`.
    pub(crate) fn bottleneck(
        &mut self,
        prefix: &str,
        x: &Feature,
        c2: usize,
        shortcut: bool,
        groups: usize,
        e: f64,
    ) -> Result<Feature> {
        let hidden = (c2 as f64 * e) as usize;
        let a = self.conv(&format!("{prefix}.cv1"), x, ConvArgs::new(hidden, 1, 1))?;
        let b = self.conv(
            &format!("{prefix}.cv2"),
            &a,
            ConvArgs {
                groups,
                ..ConvArgs::new(c2, 3, 1)
            },
        )?;
        if shortcut && x.channels == c2 {
            let sum = self.g.add(&x.value, &b.value)?;
            Ok(Feature { value: sum, ..b })
        } else {
            Ok(b)
        }
    }

    /// `C3(c1, c2, n, shortcut)`: `cv3(cat(m(cv1(x)), cv2(x)))` with `n` Bottlenecks (e = 1).
    pub(crate) fn c3(
        &mut self,
        prefix: &str,
        x: &Feature,
        c2: usize,
        n: usize,
        shortcut: bool,
        groups: usize,
    ) -> Result<Feature> {
        let hidden = (c2 as f64 * 0.5) as usize;
        let mut a = self.conv(&format!("{prefix}.cv1"), x, ConvArgs::new(hidden, 1, 1))?;
        for j in 0..n {
            a = self.bottleneck(
                &format!("{prefix}.m.{j}"),
                &a,
                hidden,
                shortcut,
                groups,
                1.0,
            )?;
        }
        let b = self.conv(&format!("{prefix}.cv2"), x, ConvArgs::new(hidden, 1, 1))?;
        let cat = self.g.concat(&[&a.value, &b.value], 1)?;
        let cat = Feature {
            value: cat,
            channels: 2 * hidden,
            stride: x.stride,
        };
        self.conv(&format!("{prefix}.cv3"), &cat, ConvArgs::new(c2, 1, 1))
    }

    /// `SPPF(c1, c2, k)`: three chained `k`x`k` max pools, concatenated with their input.
    pub(crate) fn sppf(
        &mut self,
        prefix: &str,
        x: &Feature,
        c2: usize,
        k: usize,
    ) -> Result<Feature> {
        let hidden = x.channels / 2;
        let a = self.conv(&format!("{prefix}.cv1"), x, ConvArgs::new(hidden, 1, 1))?;
        let y1 = self.g.max_pool(&a.value, k, 1, k / 2)?;
        let y2 = self.g.max_pool(&y1, k, 1, k / 2)?;
        let y3 = self.g.max_pool(&y2, k, 1, k / 2)?;
        let cat = self.g.concat(&[&a.value, &y1, &y2, &y3], 1)?;
        let cat = Feature {
            value: cat,
            channels: 4 * hidden,
            stride: x.stride,
        };
        self.conv(&format!("{prefix}.cv2"), &cat, ConvArgs::new(c2, 1, 1))
    }

    /// `SPP(c1, c2, k=(5, 9, 13))`: parallel max pools of each size, concatenated with their input.
    pub(crate) fn spp(
        &mut self,
        prefix: &str,
        x: &Feature,
        c2: usize,
        kernels: &[usize],
    ) -> Result<Feature> {
        let hidden = x.channels / 2;
        let a = self.conv(&format!("{prefix}.cv1"), x, ConvArgs::new(hidden, 1, 1))?;
        let mut parts = vec![a.value.clone()];
        for &k in kernels {
            parts.push(self.g.max_pool(&a.value, k, 1, k / 2)?);
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let cat = self.g.concat(&refs, 1)?;
        let cat = Feature {
            value: cat,
            channels: hidden * (kernels.len() + 1),
            stride: x.stride,
        };
        self.conv(&format!("{prefix}.cv2"), &cat, ConvArgs::new(c2, 1, 1))
    }

    /// `Focus(c1, c2, k, s, p)`: space-to-depth in YOLOv5's order
    /// (`x[..., ::2, ::2]`, `x[..., 1::2, ::2]`, `x[..., ::2, 1::2]`, `x[..., 1::2, 1::2]`), then Conv.
    pub(crate) fn focus(&mut self, prefix: &str, x: &Feature, a: ConvArgs) -> Result<Feature> {
        let mut parts = Vec::with_capacity(4);
        for (row, col) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            parts.push(self.g.slice(
                &x.value,
                &[row, col],
                &[i64::MAX, i64::MAX],
                &[2, 3],
                &[2, 2],
            )?);
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let cat = self.g.concat(&refs, 1)?;
        let cat = Feature {
            value: cat,
            channels: 4 * x.channels,
            stride: x.stride * 2,
        };
        self.conv(&format!("{prefix}.conv"), &cat, a)
    }
}
