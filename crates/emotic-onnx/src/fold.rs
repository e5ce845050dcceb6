//! Folding inference-mode BatchNorm into the preceding convolution or linear layer.
//!
//! BatchNorm in eval mode is the per-channel affine map
//! `y = (x - mean) / sqrt(var + eps) * gamma + beta`, so for a layer `x = W·u + b` it is
//! exactly `y = (W·scale)·u + (b - mean)·scale + beta` with `scale = gamma / sqrt(var + eps)`.
//! The scale and shift are computed in `f64` so that folding adds no rounding beyond the
//! final cast to `f32`.

use crate::{Error, Result};

/// The four BatchNorm tensors (`weight`, `bias`, `running_mean`, `running_var`) and its eps.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm<'a> {
    /// `gamma` (`bn.weight`).
    pub weight: &'a [f32],
    /// `beta` (`bn.bias`).
    pub bias: &'a [f32],
    /// `bn.running_mean`.
    pub running_mean: &'a [f32],
    /// `bn.running_var`.
    pub running_var: &'a [f32],
    /// The module's `eps` (PyTorch default 1e-5; YOLOv5 sets 1e-3).
    pub eps: f64,
}

impl BatchNorm<'_> {
    /// Number of channels, after checking that all four tensors agree.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the first tensor whose length differs from `weight`'s.
    pub fn channels(&self) -> Result<usize> {
        let c = self.weight.len();
        for (what, t) in [
            ("BatchNorm bias", self.bias),
            ("BatchNorm running_mean", self.running_mean),
            ("BatchNorm running_var", self.running_var),
        ] {
            if t.len() != c {
                return Err(Error::Shape {
                    what: what.into(),
                    expected: vec![c],
                    actual: vec![t.len()],
                });
            }
        }
        Ok(c)
    }
}

/// Folds `bn` into a layer whose weight has `out_channels` rows of equal length (a conv weight
/// `[out, in/groups, kh, kw]` or a linear weight `[out, in]`) and an optional bias.
///
/// Returns the new weight (same layout) and bias (`[out]`).
///
/// # Errors
/// [`Error::Shape`] when the BatchNorm width differs from `out_channels`, the weight does not
/// split into `out_channels` rows, or the bias length is wrong.
pub fn fold_batch_norm(
    weight: &[f32],
    out_channels: usize,
    bias: Option<&[f32]>,
    bn: &BatchNorm<'_>,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let c = bn.channels()?;
    if c != out_channels {
        return Err(Error::Shape {
            what: "BatchNorm channels vs layer output channels".into(),
            expected: vec![out_channels],
            actual: vec![c],
        });
    }
    if out_channels == 0 || !weight.len().is_multiple_of(out_channels) {
        return Err(Error::Shape {
            what: "weight to fold".into(),
            expected: vec![out_channels, weight.len() / out_channels.max(1)],
            actual: vec![weight.len()],
        });
    }
    if let Some(b) = bias
        && b.len() != out_channels
    {
        return Err(Error::Shape {
            what: "bias to fold".into(),
            expected: vec![out_channels],
            actual: vec![b.len()],
        });
    }
    let row = weight.len() / out_channels;
    let mut new_weight = Vec::with_capacity(weight.len());
    let mut new_bias = Vec::with_capacity(out_channels);
    for o in 0..out_channels {
        let scale = f64::from(bn.weight[o]) / (f64::from(bn.running_var[o]) + bn.eps).sqrt();
        let b = bias.map_or(0.0, |b| f64::from(b[o]));
        new_bias.push(((b - f64::from(bn.running_mean[o])) * scale + f64::from(bn.bias[o])) as f32);
        new_weight.extend(
            weight[o * row..(o + 1) * row]
                .iter()
                .map(|&w| (f64::from(w) * scale) as f32),
        );
    }
    Ok((new_weight, new_bias))
}
