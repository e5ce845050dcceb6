//! YOLOv5's `Detect` head with its inference-time decode inside the graph.
//!
//! Per level `i` the 1x1 conv gives `[N, na*no, ny, nx]`; it is viewed as
//! `[N, na, no, ny*nx]`, transposed to `[N, na, ny*nx, no]` and passed through a sigmoid. Then
//! `xy = (2*s - 0.5 + grid) * stride` and `wh = (2*s)^2 * anchor_px`; the levels are
//! concatenated as rows `[N, sum(na*ny*nx), no]` in YOLOv5's order (level, anchor, y, x).
//! The grid is computed from the feature map's runtime shape, so any input size that is a
//! multiple of the largest stride works without rebuilding the graph.

use emotic_onnx::{Attribute, ElemType, GraphBuilder};

use super::modules::Feature;
use crate::arch::Params;
use crate::{Error, Result};

/// Detect-layer configuration after reading the checkpoint.
pub(crate) struct DetectHead<'a> {
    /// State-dict prefix, e.g. `model.24`.
    pub prefix: String,
    pub nc: usize,
    /// Anchors in pixels per level, `[na][2]` flattened as `w0, h0, w1, h1, ...`.
    pub anchors_px: Vec<Vec<f32>>,
    pub p: Params<'a>,
}

impl DetectHead<'_> {
    /// Builds the decode for all levels and returns the `[N, rows, 5 + nc]` value.
    pub(crate) fn build(&self, g: &mut GraphBuilder, inputs: &[Feature]) -> Result<String> {
        if inputs.len() != self.anchors_px.len() {
            return Err(Error::Architecture(format!(
                "Detect `{}` reads {} feature maps but has {} anchor levels",
                self.prefix,
                inputs.len(),
                self.anchors_px.len()
            )));
        }
        let no = self.nc + 5;
        let mut rows = Vec::with_capacity(inputs.len());
        for (i, (x, anchors)) in inputs.iter().zip(&self.anchors_px).enumerate() {
            let na = anchors.len() / 2;
            let name = format!("{}.m.{i}", self.prefix);
            let w = self.p.conv(
                &format!("{name}.weight"),
                [na * no, x.channels, 1, 1],
                Some(&format!("{name}.bias")),
            )?;
            let y = g.conv2d(&x.value, &name, w, &emotic_onnx::Conv2dParams::new(1, 0))?;
            rows.push(decode_level(g, &y, na, no, x.stride, anchors)?);
        }
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        Ok(g.concat(&refs, 1)?)
    }
}

/// `[N, na*no, ny, nx]` raw predictions to decoded rows `[N, na*ny*nx, no]`.
fn decode_level(
    g: &mut GraphBuilder,
    y: &str,
    na: usize,
    no: usize,
    stride: usize,
    anchors: &[f32],
) -> Result<String> {
    let (na_i, no_i) = (na as i64, no as i64);
    let r = g.reshape(y, &[0, na_i, no_i, -1])?;
    let t = g.transpose(&r, &[0, 1, 3, 2])?;
    let s = g.sigmoid(&t)?;
    let xy = g.slice(&s, &[0], &[2], &[3], &[1])?;
    let wh = g.slice(&s, &[2], &[4], &[3], &[1])?;
    let rest = g.slice(&s, &[4], &[no_i], &[3], &[1])?;

    let grid = grid_minus_half(g, y)?;
    let two = g.scalar_f32("two", 2.0)?;
    let stride_c = g.scalar_f32("stride", stride as f32)?;
    let xy2 = g.mul(&xy, &two)?;
    let xy_g = g.add(&xy2, &grid)?;
    let xy_out = g.mul(&xy_g, &stride_c)?;
    let wh2 = g.mul(&wh, &two)?;
    let wh_sq = g.mul(&wh2, &wh2)?;
    let anchor_grid = g.initializer("anchor_grid", &[na, 1, 2], anchors)?;
    let wh_out = g.mul(&wh_sq, &anchor_grid)?;
    let cat = g.concat(&[&xy_out, &wh_out, &rest], 3)?;
    Ok(g.reshape(&cat, &[0, -1, no_i])?)
}

/// The `[ny*nx, 2]` grid of `(x - 0.5, y - 0.5)` cell offsets, row-major over `(y, x)`, from the
/// runtime shape of `feature` (`[N, C, ny, nx]`).
fn grid_minus_half(g: &mut GraphBuilder, feature: &str) -> Result<String> {
    let shape = g.node("Shape", &[feature], vec![])?;
    let zero = g.initializer_i64("zero", &[], &[0])?;
    let one = g.initializer_i64("one", &[], &[1])?;
    let axis_range = |g: &mut GraphBuilder, axis: i64| -> Result<String> {
        let idx = g.initializer_i64("axis", &[], &[axis])?;
        let n = g.node("Gather", &[&shape, &idx], vec![Attribute::int("axis", 0)])?;
        let r = g.node("Range", &[&zero, &n, &one], vec![])?;
        Ok(g.node(
            "Cast",
            &[&r],
            vec![Attribute::int("to", i64::from(ElemType::Float.code()))],
        )?)
    };
    let ys = axis_range(g, 2)?;
    let xs = axis_range(g, 3)?;
    let ys_col = g.reshape(&ys, &[-1, 1])?;
    let xs_row = g.reshape(&xs, &[1, -1])?;
    // Broadcast both to [ny, nx]: x + 0*y and y + 0*x.
    let zero_f = g.scalar_f32("zero_f", 0.0)?;
    let ys0 = g.mul(&ys_col, &zero_f)?;
    let xs0 = g.mul(&xs_row, &zero_f)?;
    let gx = g.add(&xs_row, &ys0)?;
    let gy = g.add(&ys_col, &xs0)?;
    let gx = g.reshape(&gx, &[-1, 1])?;
    let gy = g.reshape(&gy, &[-1, 1])?;
    let grid = g.concat(&[&gx, &gy], 1)?;
    let half = g.scalar_f32("minus_half", -0.5)?;
    Ok(g.add(&grid, &half)?)
}
