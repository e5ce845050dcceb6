//! The JSON lines of a video run: one record per frame and one per person.

use emotic::emotion::{BoxOutcome, CATEGORIES, NUM_CATEGORIES, PersonEmotion, VAD_NAMES};
use emotic::pipeline::DetectedObject;
use emotic_io::video::{FrameMeta, InputKind};
use serde::Serialize;

use super::super::records::ImageRecord;

/// One frame's line in `predictions.jsonl`.
#[derive(Serialize)]
pub(super) struct FrameRecord<'a> {
    pub(super) source: &'a str,
    pub(super) source_index: usize,
    pub(super) kind: InputKind,
    pub(super) frame_index: u64,
    pub(super) timestamp_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) fps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) total_frames: Option<u64>,
    #[serde(flatten)]
    pub(super) result: ImageRecord<'a>,
    /// Track ID of each detection (`null` for classes that are not tracked).
    pub(super) track_ids: Vec<Option<u64>>,
}

/// One person's line in `persons.jsonl`.
#[derive(Serialize)]
pub(super) struct PersonRecord<'a> {
    source: &'a str,
    frame_index: u64,
    timestamp_s: f64,
    track_id: u64,
    class_id: usize,
    confidence: f32,
    bbox: [f32; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    emotion: Option<EmotionLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emotion_skipped: Option<String>,
}

#[derive(Serialize)]
struct EmotionLine {
    categories: serde_json::Map<String, serde_json::Value>,
    predicted: Vec<&'static str>,
    vad: serde_json::Map<String, serde_json::Value>,
    smoothed: SmoothedLine,
}

#[derive(Serialize)]
struct SmoothedLine {
    categories: serde_json::Map<String, serde_json::Value>,
    predicted: Vec<&'static str>,
    vad: serde_json::Map<String, serde_json::Value>,
}

pub(super) fn person_record<'a>(
    meta: &'a FrameMeta,
    o: &DetectedObject,
    track_id: u64,
    smoothed: Option<&PersonEmotion>,
) -> PersonRecord<'a> {
    let d = &o.detection;
    let categories = |scores: &[f32; NUM_CATEGORIES]| {
        CATEGORIES
            .iter()
            .zip(scores)
            .map(|(n, s)| ((*n).to_string(), serde_json::json!(s)))
            .collect()
    };
    let vad = |v: &[f32; 3]| {
        VAD_NAMES
            .iter()
            .zip(v)
            .map(|(n, v)| (n.to_ascii_lowercase(), serde_json::json!(v)))
            .collect()
    };
    let predicted = |e: &PersonEmotion| e.predicted.iter().map(|p| p.name()).collect();
    let (emotion, emotion_skipped) = match &o.emotion {
        Some(BoxOutcome::Scored { emotion, .. }) => {
            let s = smoothed.unwrap_or(emotion);
            let smoothed = SmoothedLine {
                categories: categories(&s.categories),
                predicted: predicted(s),
                vad: vad(&s.vad),
            };
            (
                Some(EmotionLine {
                    categories: categories(&emotion.categories),
                    predicted: predicted(emotion),
                    vad: vad(&emotion.vad),
                    smoothed,
                }),
                None,
            )
        }
        Some(BoxOutcome::Skipped(reason)) => (None, Some(reason.to_string())),
        None => (None, None),
    };
    PersonRecord {
        source: &meta.source,
        frame_index: meta.frame_index,
        timestamp_s: meta.timestamp_s,
        track_id,
        class_id: d.class_id,
        confidence: d.confidence,
        bbox: d.bbox,
        emotion,
        emotion_skipped,
    }
}
