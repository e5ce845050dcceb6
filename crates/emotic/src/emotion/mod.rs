//! EMOTIC emotion recognition for the persons in a frame.
//!
//! The model (Kosti et al., reference implementation Tandon-A/emotic) has two ResNet18 feature
//! streams, one over the whole frame resized to 224x224 (context) and one over each person crop
//! resized to 128x128 (body), and a fusion head that maps `[context ‖ body]` to 26 category
//! scores and 3 continuous values (valence, arousal, dominance, trained on the 1-10 scale
//! divided by 10).
//!
//! [`EmotionModel`] builds the three ONNX graphs once and keeps the ONNX Runtime sessions. Per
//! frame it runs the context stream once, all persons through the body stream as one batch, and
//! all of them through the head as one batch. Preprocessing is the reference's, byte for byte
//! (see [`crate::imageops`]).
//!
//! Box coordinates become integers like the reference's Python `int()`: truncation toward zero.
//! They are then clipped to the image; a box that is empty after clipping, or has a non-finite
//! coordinate, is skipped with a [`SkipReason`] instead of failing the frame.

mod export;
mod model;
mod scores;

// The weights as files (reference checkpoints, thresholds, bundle) are `emotic-bundle`'s, which
// the training crate uses without ONNX Runtime; here they keep the paths this crate's users know.
pub use emotic_bundle::{
    BUNDLE_FORMAT, BUNDLE_VERSION, EmotionWeights, Part, ReferenceFiles, THRESHOLDS_FILE,
    bundle_metadata, load_part, read_bundle, read_thresholds, write_bundle, write_reference_dir,
};
pub use export::{ExportedFiles, export_bundle};
pub use model::{BoxOutcome, EmotionModel, MAX_BODY_BATCH, StageOutputs};
pub use scores::{CategoryScores, Vad};

use crate::imageops::PixelRect;

// The model's facts (labels, input sizes, normalisation) are defined once, in `emotic-spec`,
// which the dataset and training crates use without ONNX Runtime; here they keep the paths
// this crate's users know.
pub use emotic_spec::{
    BODY_NORM, BODY_SIZE, CATEGORIES, CONTEXT_NORM, CONTEXT_SIZE, ImageSize, NUM_CATEGORIES,
    VAD_NAMES, VAD_SCALE,
};

/// One category a person is predicted to show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictedCategory {
    /// Index into [`CATEGORIES`].
    pub index: usize,
    /// The raw score.
    pub score: f32,
    /// `score - threshold`, always > 0.
    pub margin: f32,
}

impl PredictedCategory {
    /// The category's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        CATEGORIES[self.index]
    }
}

/// What the model says about one person.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonEmotion {
    /// Raw category scores (no sigmoid, as the reference).
    pub categories: [f32; NUM_CATEGORIES],
    /// Categories whose score is strictly above its threshold, largest margin first.
    pub predicted: Vec<PredictedCategory>,
    /// Valence, arousal, dominance on the 1-10 scale (raw output x 10).
    pub vad: [f32; 3],
}

impl PersonEmotion {
    /// Builds the record from the model's raw outputs: VAD is put on the 1-10 scale (the one
    /// place [`VAD_SCALE`] is applied), thresholds decide the predicted set.
    #[must_use]
    pub fn from_raw(
        categories: [f32; NUM_CATEGORIES],
        cont: [f32; 3],
        thresholds: &[f32; NUM_CATEGORIES],
    ) -> Self {
        Self::new(categories, cont.map(|v| v * VAD_SCALE), thresholds)
    }

    /// Builds the record from scores and VAD already on the 1-10 scale (smoothed values, say):
    /// thresholds decide the predicted set.
    #[must_use]
    pub fn new(
        categories: [f32; NUM_CATEGORIES],
        vad: [f32; 3],
        thresholds: &[f32; NUM_CATEGORIES],
    ) -> Self {
        let mut predicted: Vec<PredictedCategory> = categories
            .iter()
            .zip(thresholds)
            .enumerate()
            .filter(|(_, (s, t))| s > t)
            .map(|(index, (&score, &t))| PredictedCategory {
                index,
                score,
                margin: score - t,
            })
            .collect();
        predicted.sort_by(|a, b| b.margin.total_cmp(&a.margin).then(a.index.cmp(&b.index)));
        Self {
            categories,
            predicted,
            vad,
        }
    }
}

/// Why a box was not scored.
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// A coordinate is NaN or infinite.
    NonFinite([f32; 4]),
    /// After truncation to integers and clipping to the image, nothing is left.
    Empty {
        /// The box as given.
        given: [f32; 4],
        /// The integer box after clipping (`x1, y1, x2, y2`).
        clipped: [i64; 4],
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NonFinite(b) => write!(f, "box {b:?} has a non-finite coordinate"),
            Self::Empty { given, clipped } => write!(
                f,
                "box {given:?} is empty once truncated to integers and clipped to the image \
                 ({clipped:?})"
            ),
        }
    }
}

/// Turns a box into the pixel rectangle the reference crops: each coordinate truncated toward
/// zero (Python `int()`), then clipped to `[0, width] x [0, height]`. (The reference does not
/// clip; numpy slicing would wrap negative indices around, which we do not reproduce.)
///
/// # Errors
/// The [`SkipReason`] when the box has a non-finite coordinate or is empty after clipping.
pub fn box_to_rect(
    bbox: [f32; 4],
    width: u32,
    height: u32,
) -> std::result::Result<PixelRect, SkipReason> {
    if bbox.iter().any(|v| !v.is_finite()) {
        return Err(SkipReason::NonFinite(bbox));
    }
    // `as i64` truncates toward zero and saturates, exactly Python's int() for finite values
    // within range.
    let [x1, y1, x2, y2] = bbox.map(|v| v.trunc() as i64);
    let cx = |v: i64| v.clamp(0, i64::from(width));
    let cy = |v: i64| v.clamp(0, i64::from(height));
    let clipped = [cx(x1), cy(y1), cx(x2), cy(y2)];
    if clipped[2] <= clipped[0] || clipped[3] <= clipped[1] {
        return Err(SkipReason::Empty {
            given: bbox,
            clipped,
        });
    }
    // Clipped into [0, width/height], which fit in u32.
    let [x1, y1, x2, y2] = clipped.map(|v| v as u32);
    Ok(PixelRect { x1, y1, x2, y2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_truncate_like_python_int_and_clip() {
        let r = box_to_rect([743.9, 40.2, 1154.99, 715.5], 1280, 720);
        assert_eq!(
            r,
            Ok(PixelRect {
                x1: 743,
                y1: 40,
                x2: 1154,
                y2: 715
            })
        );
        // -0.7 truncates to 0 (not floor's -1); beyond the image is clipped.
        let r = box_to_rect([-0.7, -5.0, 2000.0, 719.9], 1280, 720);
        assert_eq!(
            r,
            Ok(PixelRect {
                x1: 0,
                y1: 0,
                x2: 1280,
                y2: 719
            })
        );
        assert!(matches!(
            box_to_rect([5.0, 5.0, 5.9, 9.0], 10, 10),
            Err(SkipReason::Empty { .. })
        ));
        assert!(matches!(
            box_to_rect([20.0, 0.0, 30.0, 5.0], 10, 10),
            Err(SkipReason::Empty { .. })
        ));
        assert!(matches!(
            box_to_rect([f32::NAN, 0.0, 3.0, 5.0], 10, 10),
            Err(SkipReason::NonFinite(_))
        ));
    }

    #[test]
    fn predicted_is_strict_and_sorted_by_margin() {
        let mut scores = [0.0f32; NUM_CATEGORIES];
        let mut thr = [0.5f32; NUM_CATEGORIES];
        scores[3] = 0.9; // margin 0.4
        scores[7] = 0.5; // equal to threshold: not predicted
        scores[9] = 2.0;
        thr[9] = 1.9; // margin 0.1
        scores[12] = 1.5; // margin 1.0
        let p = PersonEmotion::from_raw(scores, [0.1, 0.55, 1.0], &thr);
        let idx: Vec<usize> = p.predicted.iter().map(|c| c.index).collect();
        assert_eq!(idx, vec![12, 3, 9]);
        assert_eq!(p.predicted[0].name(), "Esteem");
        assert_eq!(p.vad, [1.0, 5.5, 10.0]);
    }
}
