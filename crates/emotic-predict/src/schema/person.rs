//! One person's line in `persons.jsonl` (runs with videos, webcams or streams).

use emotic::emotion::{BoxOutcome, CategoryScores, PersonEmotion, Vad};
use emotic::pipeline::DetectedObject;
use emotic::tracking::FrameTracks;
use emotic_io::video::FrameMeta;
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, schema_version};

/// One tracked person in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// The input as given.
    pub source: String,
    /// 0-based frame index in the input.
    pub frame_index: u64,
    /// Presentation time in seconds.
    pub timestamp_s: f64,
    /// The person's track ID within its input.
    pub track_id: u64,
    /// The detector's class id.
    pub class_id: usize,
    /// Detection confidence.
    pub confidence: f32,
    /// `[x1, y1, x2, y2]` in image pixels.
    pub bbox: [f32; 4],
    /// This frame's emotion and the track's smoothed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<PersonEmotionRecord>,
    /// Why the person got no emotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion_skipped: Option<String>,
}

/// A tracked person's emotion: this frame's and the track's smoothed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonEmotionRecord {
    /// All 26 raw scores of this frame.
    pub categories: CategoryScores,
    /// Predicted categories of this frame, largest margin first.
    pub predicted: Vec<String>,
    /// VAD of this frame (1-10).
    pub vad: Vad,
    /// The track's exponential moving average up to this frame.
    pub smoothed: SmoothedEmotionRecord,
}

/// Smoothed scores, the categories above threshold after smoothing, and smoothed VAD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmoothedEmotionRecord {
    /// Smoothed scores.
    pub categories: CategoryScores,
    /// Categories whose smoothed score is above threshold, largest margin first.
    pub predicted: Vec<String>,
    /// Smoothed VAD (1-10).
    pub vad: Vad,
}

fn predicted_names(e: &PersonEmotion) -> Vec<String> {
    e.predicted.iter().map(|p| p.name().to_string()).collect()
}

impl PersonRecord {
    /// The records of a frame's tracked persons, in detection order: every object `tracks`
    /// gave an ID, with its track's smoothed emotion. Video runs write these to
    /// `persons.jsonl`; the service's live socket sends them.
    pub fn of_frame<'a>(
        meta: &'a FrameMeta,
        objects: &'a [DetectedObject],
        tracks: &'a FrameTracks,
    ) -> impl Iterator<Item = Self> + 'a {
        objects.iter().enumerate().filter_map(move |(i, o)| {
            let id = tracks.ids[i]?;
            Some(Self::new(meta, o, id, tracks.smoothed[i].as_ref()))
        })
    }

    /// The record of a tracked person; `smoothed` is the track's emotion (this frame's when
    /// `None`).
    #[must_use]
    pub fn new(
        meta: &FrameMeta,
        o: &DetectedObject,
        track_id: u64,
        smoothed: Option<&PersonEmotion>,
    ) -> Self {
        let d = &o.detection;
        let (emotion, emotion_skipped) = match &o.emotion {
            Some(BoxOutcome::Scored { emotion, .. }) => {
                let s = smoothed.unwrap_or(emotion);
                (
                    Some(PersonEmotionRecord {
                        categories: CategoryScores(emotion.categories),
                        predicted: predicted_names(emotion),
                        vad: Vad::from_array(emotion.vad),
                        smoothed: SmoothedEmotionRecord {
                            categories: CategoryScores(s.categories),
                            predicted: predicted_names(s),
                            vad: Vad::from_array(s.vad),
                        },
                    }),
                    None,
                )
            }
            Some(BoxOutcome::Skipped(reason)) => (None, Some(reason.to_string())),
            None => (None, None),
        };
        Self {
            schema_version: SCHEMA_VERSION,
            source: meta.source.clone(),
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
}
