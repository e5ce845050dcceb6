//! Ranking metrics with scikit-learn semantics, plus the VOC-style AP of the EMOTIC authors.
//!
//! Semantics follow scikit-learn **1.9.1** (the version installed where the golden numbers
//! in `tools/gen_eval_golden.py` are generated):
//!
//! * `precision_recall_curve` keeps every distinct threshold (`drop_intermediate=False`, and
//!   since scikit-learn 1.1 the curve is no longer cut where full recall is first reached).
//!   Older versions dropped the thresholds below the full-recall one. For the thresholds
//!   the EMOTIC reference derives (first `precision == recall`) this makes no difference:
//!   below the full-recall threshold recall is 1 and precision < 1 because at least one more
//!   negative is predicted positive, so those points can never match.
//! * A category with **no positive label**: scikit-learn 1.9.1 warns, sets recall to 1 at
//!   every threshold and returns AP = 0.0 (pre-1.1 versions returned NaN). We return 0.0 and
//!   the threshold 0.0 (precision is 0, recall 1, so nothing matches).
//! * Tied scores form one threshold; AP = Σ (R_k − R_{k−1}) · P_k over thresholds in
//!   descending order, clipped at 0 like scikit-learn does for `-0.0`.

use crate::{Error, Result};

/// A precision-recall curve laid out exactly like scikit-learn's return value:
/// `thresholds` ascending, `precision[k]`/`recall[k]` at `thresholds[k]`, and one final
/// point (precision 1, recall 0) with no threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct PrCurve {
    /// Precision per threshold, then a final 1.0.
    pub precision: Vec<f64>,
    /// Recall per threshold, then a final 0.0.
    pub recall: Vec<f64>,
    /// Distinct scores, ascending.
    pub thresholds: Vec<f64>,
}

/// Checks that labels are 0/1 and scores are not NaN, with the category index in errors.
fn validate(category: usize, labels: &[f64], scores: &[f64]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(Error::LengthMismatch {
            what: "labels and scores",
            left: labels.len(),
            right: scores.len(),
        });
    }
    if labels.is_empty() {
        return Err(Error::Empty { category });
    }
    if let Some(i) = labels.iter().position(|&l| l != 0.0 && l != 1.0) {
        return Err(Error::NonBinaryLabel {
            category,
            index: i,
            value: labels[i],
        });
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::NanScore { category, index: i });
    }
    Ok(())
}

/// Cumulative true/false positive counts at each distinct threshold, scores descending
/// (scikit-learn's `confusion_matrix_at_thresholds`). Returns `(tps, fps, thresholds)`.
fn counts_at_thresholds(labels: &[f64], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tps, mut fps, mut thresholds) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0_f64, 0.0_f64);
    for (pos, &i) in order.iter().enumerate() {
        if labels[i] == 1.0 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // A threshold ends where the next score differs (`==` so that -0.0 and 0.0 tie,
        // as numpy's `diff != 0` does).
        let last_of_group = order
            .get(pos + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_group {
            tps.push(tp);
            fps.push(fp);
            thresholds.push(scores[i]);
        }
    }
    (tps, fps, thresholds)
}

/// scikit-learn `precision_recall_curve(labels, scores)` for one category.
pub fn precision_recall_curve(category: usize, labels: &[f64], scores: &[f64]) -> Result<PrCurve> {
    validate(category, labels, scores)?;
    let (tps, fps, thresholds) = counts_at_thresholds(labels, scores);
    let total_pos = tps.last().copied().unwrap_or(0.0);
    let n = tps.len();
    let mut precision = Vec::with_capacity(n + 1);
    let mut recall = Vec::with_capacity(n + 1);
    for k in (0..n).rev() {
        let predicted = tps[k] + fps[k];
        precision.push(if predicted != 0.0 {
            tps[k] / predicted
        } else {
            0.0
        });
        recall.push(if total_pos == 0.0 {
            1.0
        } else {
            tps[k] / total_pos
        });
    }
    precision.push(1.0);
    recall.push(0.0);
    Ok(PrCurve {
        precision,
        recall,
        thresholds: thresholds.into_iter().rev().collect(),
    })
}

/// scikit-learn `average_precision_score` from a curve: `max(0, -Σ diff(recall) · precision[:-1])`.
pub fn average_precision_from_curve(curve: &PrCurve) -> f64 {
    let terms: Vec<f64> = curve
        .recall
        .windows(2)
        .zip(&curve.precision)
        .map(|(r, p)| (r[1] - r[0]) * p)
        .collect();
    (-pairwise_sum_f64(&terms)).max(0.0)
}

/// scikit-learn `average_precision_score(labels, scores)` for one category.
pub fn average_precision(category: usize, labels: &[f64], scores: &[f64]) -> Result<f64> {
    Ok(average_precision_from_curve(&precision_recall_curve(
        category, labels, scores,
    )?))
}

/// The EMOTIC reference threshold: the first threshold (ascending) where precision equals
/// recall exactly in float64, else 0.0; stored as float32 like the reference's array.
pub fn equal_precision_recall_threshold(curve: &PrCurve) -> f32 {
    curve
        .thresholds
        .iter()
        .zip(curve.precision.iter().zip(&curve.recall))
        .find(|(_, (p, r))| p == r)
        .map_or(0.0, |(t, _)| *t as f32)
}

/// VOC-style all-point interpolated AP (as in the EMOTIC authors' MATLAB `eval.m`, which
/// reports it in percent): precision is made monotonically non-increasing in recall, then
/// summed over the recall steps. The MATLAB code broke ties with 1e-10 random jitter; we
/// group ties into one threshold instead so the number is deterministic. Returns a fraction
/// in [0, 1]; 0.0 for a category without positives (MATLAB would divide by zero).
pub fn voc_interpolated_ap(category: usize, labels: &[f64], scores: &[f64]) -> Result<f64> {
    validate(category, labels, scores)?;
    let (tps, fps, _) = counts_at_thresholds(labels, scores);
    let total_pos = tps.last().copied().unwrap_or(0.0);
    if total_pos == 0.0 {
        return Ok(0.0);
    }
    // mrec = [0, rec..., 1], mpre = [0, prec..., 0] as in the VOC devkit.
    let mut mrec = vec![0.0];
    let mut mpre = vec![0.0];
    for (tp, fp) in tps.iter().zip(&fps) {
        mrec.push(tp / total_pos);
        mpre.push(tp / (tp + fp));
    }
    mrec.push(1.0);
    mpre.push(0.0);
    for i in (0..mpre.len() - 1).rev() {
        mpre[i] = mpre[i].max(mpre[i + 1]);
    }
    let mut ap = 0.0;
    for i in 1..mrec.len() {
        if mrec[i] != mrec[i - 1] {
            ap += (mrec[i] - mrec[i - 1]) * mpre[i];
        }
    }
    Ok(ap)
}

/// numpy's pairwise summation (`pairwise_sum` in `loops_utils.h`) for f64, so that sums
/// round exactly like `np.sum`: sequential below 8 items, eight accumulators up to 128,
/// recursive halves (at a multiple of 8) above.
pub fn pairwise_sum_f64(values: &[f64]) -> f64 {
    pairwise(values, 0.0, |a, b| a + b)
}

/// numpy's pairwise summation for f32 with f32 accumulators (what `np.mean` of a float32
/// array does), so the reference's `ap.mean()` is reproduced bit for bit.
pub fn pairwise_sum_f32(values: &[f32]) -> f32 {
    pairwise(values, 0.0, |a, b| a + b)
}

fn pairwise<T: Copy>(v: &[T], zero: T, add: fn(T, T) -> T) -> T {
    const BLOCK: usize = 128;
    let n = v.len();
    if n < 8 {
        // numpy starts from -0.0 here; adding it changes nothing except an all-empty sum.
        v.iter().fold(zero, |acc, &x| add(acc, x))
    } else if n <= BLOCK {
        let mut r = [zero; 8];
        r.copy_from_slice(&v[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc = add(*acc, v[i + j]);
            }
            i += 8;
        }
        let mut res = add(
            add(add(r[0], r[1]), add(r[2], r[3])),
            add(add(r[4], r[5]), add(r[6], r[7])),
        );
        for &x in &v[i..] {
            res = add(res, x);
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        add(
            pairwise(&v[..half], zero, add),
            pairwise(&v[half..], zero, add),
        )
    }
}

/// numpy `np.mean` of a float32 array (pairwise float32 sum, then divided in float64 and
/// rounded back to float32 as numpy does for the scalar result).
pub fn numpy_mean_f32(values: &[f32]) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    (f64::from(pairwise_sum_f32(values)) / values.len() as f64) as f32
}

/// numpy `np.mean` of a float64 array.
pub fn numpy_mean_f64(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    pairwise_sum_f64(values) / values.len() as f64
}

/// Mean absolute error `mean(|pred - label|)` of one VAD dimension, in float64 like numpy,
/// stored as float32 like the reference.
pub fn mean_absolute_error(dim: usize, preds: &[f64], labels: &[f64]) -> Result<f32> {
    if preds.len() != labels.len() {
        return Err(Error::LengthMismatch {
            what: "VAD predictions and labels",
            left: preds.len(),
            right: labels.len(),
        });
    }
    if preds.is_empty() {
        return Err(Error::Empty { category: dim });
    }
    let diffs: Vec<f64> = preds
        .iter()
        .zip(labels)
        .map(|(p, l)| (p - l).abs())
        .collect();
    Ok(numpy_mean_f64(&diffs) as f32)
}
