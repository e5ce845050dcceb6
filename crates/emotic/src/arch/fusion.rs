//! The EMOTIC fusion head: `cat(context, body)` → `fc1` (Linear) with `bn1` (BatchNorm1d,
//! running statistics) folded in → ReLU → (Dropout, identity at inference) → `fc_cat` (26
//! category scores) and `fc_cont` (3 VAD values), both raw linear outputs as in the reference.

use std::collections::BTreeMap;

use emotic_onnx::{Dim, ElemType, GraphBuilder};
use emotic_weights::Tensor;

use crate::arch::{PRODUCER, Params};
use crate::{Error, Result};

/// BatchNorm1d eps (PyTorch default, which the reference keeps).
pub const FUSION_BN_EPS: f64 = 1e-5;
/// First input: context-stream features `[N, C]`.
pub const CONTEXT_INPUT: &str = "context_features";
/// Second input: body-stream features `[N, C]`.
pub const BODY_INPUT: &str = "body_features";
/// Output: raw category scores `[N, 26]`.
pub const CAT_OUTPUT: &str = "cat";
/// Output: raw continuous (valence, arousal, dominance) values `[N, 3]`.
pub const CONT_OUTPUT: &str = "cont";

/// Builds the fusion head. Each stream contributes half of `fc1`'s inputs (512 + 512 for the
/// reference model); the batch dimension is dynamic.
///
/// # Errors
/// [`Error::Architecture`] naming the key for a missing tensor or a wrong shape.
pub fn build_fusion_head(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>> {
    let p = Params::new(tensors);
    let fc1 = p.ranked("fc1.weight", 2)?;
    let (hidden, fused) = (fc1.shape[0], fc1.shape[1]);
    if fused == 0 || fused % 2 != 0 {
        return Err(Error::Architecture(format!(
            "weight `fc1.weight`: expected [hidden, 2 * features], found {:?}",
            fc1.shape
        )));
    }
    let per_stream = fused / 2;
    let fc1_bias = p.shaped("fc1.bias", &[hidden])?;
    let bn = p.batch_norm("bn1", hidden, FUSION_BN_EPS)?;
    let n_cat = p.ranked("fc_cat.weight", 2)?.shape[0];
    let n_cont = p.ranked("fc_cont.weight", 2)?.shape[0];
    let fc_cat = p.shaped("fc_cat.weight", &[n_cat, hidden])?;
    let fc_cat_b = p.shaped("fc_cat.bias", &[n_cat])?;
    let fc_cont = p.shaped("fc_cont.weight", &[n_cont, hidden])?;
    let fc_cont_b = p.shaped("fc_cont.bias", &[n_cont])?;

    let mut g = GraphBuilder::new("emotic_fusion");
    let batch = Dim::Symbolic("batch".into());
    let ctx = g.input(
        CONTEXT_INPUT,
        ElemType::Float,
        vec![batch.clone(), Dim::Fixed(per_stream)],
    )?;
    let body = g.input(
        BODY_INPUT,
        ElemType::Float,
        vec![batch.clone(), Dim::Fixed(per_stream)],
    )?;
    let x = g.concat(&[&ctx, &body], 1)?;
    let x = g.linear_bn_folded(
        &x,
        "fc1",
        &fc1.data,
        [hidden, fused],
        Some(&fc1_bias.data),
        &bn,
    )?;
    let x = g.relu(&x)?;
    let cat = g.linear(
        &x,
        "fc_cat",
        &fc_cat.data,
        [n_cat, hidden],
        Some(&fc_cat_b.data),
    )?;
    let cont = g.linear(
        &x,
        "fc_cont",
        &fc_cont.data,
        [n_cont, hidden],
        Some(&fc_cont_b.data),
    )?;
    g.output(
        &cat,
        CAT_OUTPUT,
        ElemType::Float,
        vec![batch.clone(), Dim::Fixed(n_cat)],
    )?;
    g.output(
        &cont,
        CONT_OUTPUT,
        ElemType::Float,
        vec![batch, Dim::Fixed(n_cont)],
    )?;
    Ok(g.finish(PRODUCER).encode())
}
