//! The reference losses (`loss.py`, `train.py`): `L = w_cat·L_cat + w_cont·L_cont` (0.5 each).
//!
//! - `L_cat = Σ_batch Σ_c w_c (pred − y)²` with `dynamic` weights `w_c = 1/ln(n_c + 1.2)`
//!   (`n_c` positives of category c in the batch; 1e-4 when there are none), `mean` (1/26) or
//!   `static` (the 26 published weights). Weights are computed in float32 like PyTorch.
//! - `L_cont`: the model predicts VAD/10 and the targets are VAD/10; both are multiplied by 10
//!   before the loss (the reference's `cont_loss(pred_cont * 10, labels_cont * 10)`), so the
//!   margin of 1 is one VAD unit. Smooth L1: `0.5x²` where `|x| ≤ 1`, else `|x| − 0.5`; L2:
//!   `x²` where `|x| ≥ 1`, else 0. Both summed over the batch and the 3 dimensions.

use burn::tensor::{Tensor, TensorData};

use crate::model::head::NUM_CATEGORIES;

/// The 26 static category weights of the reference, in category order.
pub const STATIC_WEIGHTS: [f32; NUM_CATEGORIES] = [
    0.1435, 0.1870, 0.1692, 0.1165, 0.1949, 0.1204, 0.1728, 0.1372, 0.1620, 0.1540, 0.1987, 0.1057,
    0.1482, 0.1192, 0.1590, 0.1929, 0.1158, 0.1907, 0.1345, 0.1307, 0.1665, 0.1698, 0.1797, 0.1657,
    0.1520, 0.1537,
];

/// How the categorical loss weights its 26 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryWeighting {
    /// `1/ln(n_c + 1.2)` from the batch's positive counts (reference default).
    Dynamic,
    /// 1/26 each.
    Mean,
    /// The published per-category weights ([`STATIC_WEIGHTS`]).
    Static,
}

/// The continuous (VAD) loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ContinuousLoss {
    /// Smooth L1 with margin 1 (reference default, `'Smooth L1'`).
    #[serde(rename = "smooth-l1")]
    SmoothL1,
    /// Squared error beyond the margin, zero inside (`'L2'`).
    #[serde(rename = "l2")]
    L2,
}

/// Loss configuration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossConfig {
    /// Category weighting.
    pub weighting: CategoryWeighting,
    /// Continuous loss.
    pub continuous: ContinuousLoss,
    /// Weight of `L_cat` (0.5).
    pub cat_weight: f64,
    /// Weight of `L_cont` (0.5).
    pub cont_weight: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            weighting: CategoryWeighting::Dynamic,
            continuous: ContinuousLoss::SmoothL1,
            cat_weight: 0.5,
            cont_weight: 0.5,
        }
    }
}

/// The 26 category weights for a batch of multi-hot targets (`[N * 26]`, row-major).
#[must_use]
pub fn category_weights(weighting: CategoryWeighting, targets: &[f32]) -> [f32; NUM_CATEGORIES] {
    match weighting {
        CategoryWeighting::Mean => [1.0 / NUM_CATEGORIES as f32; NUM_CATEGORIES],
        CategoryWeighting::Static => STATIC_WEIGHTS,
        CategoryWeighting::Dynamic => {
            let mut counts = [0.0_f32; NUM_CATEGORIES];
            for row in targets.chunks_exact(NUM_CATEGORIES) {
                for (c, v) in counts.iter_mut().zip(row) {
                    *c += v;
                }
            }
            counts.map(|n| {
                if n != 0.0 {
                    1.0 / (n + 1.2).ln()
                } else {
                    0.0001
                }
            })
        }
    }
}

/// The loss terms of one batch.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// `w_cat·L_cat + w_cont·L_cont`, a one-element tensor (the one to differentiate).
    pub total: Tensor<1>,
    /// `L_cat`.
    pub categorical: Tensor<1>,
    /// `L_cont`.
    pub continuous: Tensor<1>,
}

/// `L_cat` for `[N, 26]` predictions and targets with per-category `weights`.
pub fn categorical_loss(
    pred: Tensor<2>,
    target: Tensor<2>,
    weights: &[f32; NUM_CATEGORIES],
) -> Tensor<1> {
    let device = pred.device();
    let w = Tensor::<2>::from_data(
        TensorData::new(weights.to_vec(), [1, NUM_CATEGORIES]),
        &device,
    );
    let diff = pred.sub(target);
    diff.clone().mul(diff).mul(w).sum()
}

/// `L_cont` for `[N, 3]` predictions and targets on the VAD/10 scale.
pub fn continuous_loss(pred: Tensor<2>, target: Tensor<2>, kind: ContinuousLoss) -> Tensor<1> {
    let x = pred.mul_scalar(10.0).sub(target.mul_scalar(10.0)).abs();
    let squared = x.clone().mul(x.clone());
    match kind {
        ContinuousLoss::SmoothL1 => {
            let outside = x.clone().greater_elem(1.0);
            squared
                .mul_scalar(0.5)
                .mask_where(outside, x.sub_scalar(0.5))
                .sum()
        }
        ContinuousLoss::L2 => {
            let inside = x.lower_elem(1.0);
            squared.mask_fill(inside, 0.0).sum()
        }
    }
}

/// Both terms and their weighted sum. `cat_targets` is the batch's multi-hot data (`[N*26]`),
/// used for the dynamic weights.
pub fn emotic_loss(
    config: &LossConfig,
    pred_cat: Tensor<2>,
    pred_cont: Tensor<2>,
    cat_targets: &[f32],
    target_cat: Tensor<2>,
    target_cont: Tensor<2>,
) -> LossTerms {
    let weights = category_weights(config.weighting, cat_targets);
    let categorical = categorical_loss(pred_cat, target_cat, &weights);
    let continuous = continuous_loss(pred_cont, target_cont, config.continuous);
    let total = categorical
        .clone()
        .mul_scalar(config.cat_weight)
        .add(continuous.clone().mul_scalar(config.cont_weight));
    LossTerms {
        total,
        categorical,
        continuous,
    }
}
