//! One image's or frame's record in `predictions.jsonl`, and a failed input's.

use emotic::detect::Timings;
use emotic::emotion::{BoxOutcome, CategoryScores, PersonEmotion, Vad};
use emotic::pipeline::{DetectedObject, FrameResult};
use emotic::tracking::FrameTracks;
use emotic_io::video::{FrameMeta, InputKind};
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, class_name, schema_version};

/// Where a frame of a video, webcam or stream run came from. Image-only runs leave it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FramePosition {
    /// The input as given (a path, device or URL).
    pub source: String,
    /// Which input of the run (0-based).
    pub source_index: usize,
    /// `image`, `video`, `webcam` or `stream`.
    pub kind: InputKind,
    /// 0-based frame index in its input, counting every decoded frame.
    pub frame_index: u64,
    /// Presentation time in seconds from the start of the input.
    pub timestamp_s: f64,
    /// The input's frame rate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// The input's frame count, when known (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_frames: Option<u64>,
}

impl From<&FrameMeta> for FramePosition {
    fn from(meta: &FrameMeta) -> Self {
        Self {
            source: meta.source.clone(),
            source_index: meta.source_index,
            kind: meta.kind,
            frame_index: meta.frame_index,
            timestamp_s: meta.timestamp_s,
            fps: meta.fps,
            total_frames: meta.total_frames,
        }
    }
}

/// Stage timings of one frame, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// Letterbox and tensor conversion.
    pub preprocess_ms: f64,
    /// The detector network.
    pub inference_ms: f64,
    /// Output decoding and NMS.
    pub nms_ms: f64,
    /// The emotion model, all persons together (0 without one).
    pub emotion_ms: f64,
}

impl Speed {
    /// The timings of a pipeline result.
    #[must_use]
    pub fn of(frame: &FrameResult) -> Self {
        let Timings {
            preprocess_ms,
            inference_ms,
            nms_ms,
        } = frame.timings;
        Self {
            preprocess_ms,
            inference_ms,
            nms_ms,
            emotion_ms: frame.emotion_ms,
        }
    }
}

/// One image's or frame's line in `predictions.jsonl`; what the service returns per image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// Where the frame came from (runs with videos, webcams or streams only).
    #[serde(flatten)]
    pub position: Option<FramePosition>,
    /// The image's path or the input's name.
    pub image: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The letterboxed detector input, `[1, 3, h, w]`.
    pub input_shape: [usize; 4],
    /// Stage timings.
    pub speed_ms: Speed,
    /// Detections, best first.
    pub detections: Vec<DetectionRecord>,
    /// Track ID of each detection (`null` for non-persons); runs with videos only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_ids: Option<Vec<Option<u64>>>,
}

impl FrameRecord {
    /// The record of one pipeline result. `names` are the detector's class names; `position`
    /// and `tracks` are given in runs with videos, webcams or streams.
    #[must_use]
    pub fn new(
        image: String,
        size: (u32, u32),
        frame: &FrameResult,
        names: &[String],
        position: Option<FramePosition>,
        tracks: Option<&FrameTracks>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            position,
            image,
            width: size.0,
            height: size.1,
            input_shape: frame.input_shape,
            speed_ms: Speed::of(frame),
            detections: frame
                .objects
                .iter()
                .map(|o| DetectionRecord::new(o, names))
                .collect(),
            track_ids: tracks.map(|t| t.ids.clone()),
        }
    }
}

/// One detection, with its emotion when it is a person and an emotion model is loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionRecord {
    /// The detector's class id (COCO: 0 = person).
    pub class_id: usize,
    /// Its name.
    pub class_name: String,
    /// Objectness × class probability.
    pub confidence: f32,
    /// `[x1, y1, x2, y2]` in image pixels.
    pub bbox: [f32; 4],
    /// The person's emotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<EmotionRecord>,
    /// Why a person got no emotion (its box was empty once clipped to integer pixels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion_skipped: Option<String>,
}

impl DetectionRecord {
    /// The record of one detected object.
    #[must_use]
    pub fn new(o: &DetectedObject, names: &[String]) -> Self {
        let d = &o.detection;
        let (emotion, emotion_skipped) = match &o.emotion {
            Some(BoxOutcome::Scored { rect, emotion }) => (
                Some(EmotionRecord::new(
                    [rect.x1, rect.y1, rect.x2, rect.y2],
                    emotion,
                )),
                None,
            ),
            Some(BoxOutcome::Skipped(reason)) => (None, Some(reason.to_string())),
            None => (None, None),
        };
        Self {
            class_id: d.class_id,
            class_name: class_name(names, d.class_id).to_string(),
            confidence: d.confidence,
            bbox: d.bbox,
            emotion,
            emotion_skipped,
        }
    }
}

/// A person's emotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmotionRecord {
    /// The integer crop `[x1, y1, x2, y2]` the body stream saw.
    pub body_crop: [u32; 4],
    /// All 26 raw scores, by name.
    pub categories: CategoryScores,
    /// Categories above their threshold, largest margin first.
    pub predicted: Vec<PredictedRecord>,
    /// Valence, arousal, dominance on the 1-10 scale.
    pub vad: Vad,
}

impl EmotionRecord {
    /// The record of a scored person.
    #[must_use]
    pub fn new(body_crop: [u32; 4], e: &PersonEmotion) -> Self {
        Self {
            body_crop,
            categories: CategoryScores(e.categories),
            predicted: e
                .predicted
                .iter()
                .map(|p| PredictedRecord {
                    category: p.name().to_string(),
                    score: p.score,
                    margin: p.margin,
                })
                .collect(),
            vad: Vad::from_array(e.vad),
        }
    }
}

/// One predicted category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedRecord {
    /// Its name.
    pub category: String,
    /// The raw score.
    pub score: f32,
    /// Score minus the category's threshold (> 0).
    pub margin: f32,
}

/// A failed input's (or frame's) line in `predictions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// The input (`name#frame` for a frame that failed).
    pub image: String,
    /// What went wrong, with its causes.
    pub error: String,
}

impl ErrorRecord {
    /// The record of a failed input.
    #[must_use]
    pub fn new(image: String, error: String) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            image,
            error,
        }
    }
}
