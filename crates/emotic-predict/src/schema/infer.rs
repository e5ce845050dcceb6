//! One line of `emotic infer`'s `inference.jsonl`: the emotion of a box given in a list.
//!
//! Keys in alphabetical order and numbers widened to `f64`: the file was written through
//! `serde_json::json!` maps before this type existed, and this keeps it byte for byte the same.

use emotic::emotion::{BoxOutcome, CategoryScores, NUM_CATEGORIES, Vad};
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, schema_version, widen};

/// The result for one line of the box list: scored, skipped (empty box) or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferRecord {
    /// The box as listed, `[x1, y1, x2, y2]`.
    #[serde(
        rename = "box",
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "widen_box"
    )]
    pub bbox: Option<[f32; 4]>,
    /// The integer crop the body stream saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<[u32; 4]>,
    /// Why the line failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 1-based line number in the list.
    pub line: usize,
    /// The image path as listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Categories above their threshold, largest margin first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Vec<InferPrediction>>,
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// All 26 raw scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<CategoryScores>,
    /// Why the box got no emotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Valence, arousal, dominance (1-10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vad: Option<Vad>,
}

/// One predicted category, with the threshold it passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferPrediction {
    /// Its name.
    pub category: String,
    /// `score - threshold`.
    #[serde(serialize_with = "widen")]
    pub margin: f32,
    /// The raw score.
    #[serde(serialize_with = "widen")]
    pub score: f32,
    /// The category's threshold.
    #[serde(serialize_with = "widen")]
    pub threshold: f32,
}

#[allow(clippy::ref_option)] // serde's serialize_with passes `&Option<T>`
fn widen_box<S: serde::Serializer>(v: &Option<[f32; 4]>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => super::widen4(b, s),
        None => s.serialize_none(),
    }
}

impl InferRecord {
    fn empty(line: usize) -> Self {
        Self {
            bbox: None,
            crop: None,
            error: None,
            line,
            path: None,
            predicted: None,
            schema_version: SCHEMA_VERSION,
            scores: None,
            skipped: None,
            vad: None,
        }
    }

    /// The record of a box the model saw (scored or skipped).
    #[must_use]
    pub fn outcome(
        line: usize,
        path: String,
        bbox: [f32; 4],
        outcome: &BoxOutcome,
        thresholds: &[f32; NUM_CATEGORIES],
    ) -> Self {
        let mut r = Self {
            path: Some(path),
            bbox: Some(bbox),
            ..Self::empty(line)
        };
        match outcome {
            BoxOutcome::Scored { rect, emotion } => {
                r.crop = Some([rect.x1, rect.y1, rect.x2, rect.y2]);
                r.scores = Some(CategoryScores(emotion.categories));
                r.predicted = Some(
                    emotion
                        .predicted
                        .iter()
                        .map(|p| InferPrediction {
                            category: p.name().to_string(),
                            margin: p.margin,
                            score: p.score,
                            threshold: thresholds[p.index],
                        })
                        .collect(),
                );
                r.vad = Some(Vad::from_array(emotion.vad));
            }
            BoxOutcome::Skipped(reason) => r.skipped = Some(reason.to_string()),
        }
        r
    }

    /// The record of a line that failed; `entry` is its path and box when the line parsed.
    #[must_use]
    pub fn failed(line: usize, entry: Option<(String, [f32; 4])>, error: String) -> Self {
        let (path, bbox) = entry.unzip();
        Self {
            path,
            bbox,
            error: Some(error),
            ..Self::empty(line)
        }
    }
}
