//! `tracks.json`: per input, a summary of every track.
//!
//! Keys are declared in alphabetical order: the file was written through `serde_json` maps
//! before these types existed, which sort their keys, and keeping the order keeps the file
//! byte for byte the same.

use emotic::emotion::CategoryScores;
use emotic::tracking::{DominantCategory, TrackSummary, VadStats};
use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, schema_version, widen};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracksFile {
    /// EMA weight of the newest frame, `2 / (smooth_window + 1)`.
    #[serde(serialize_with = "widen")]
    pub ema_alpha: f32,
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// `--smooth-window`.
    pub smooth_window: u32,
    /// One entry per video, webcam or stream, in the order they ended.
    pub sources: Vec<SourceTracks>,
    /// `--track-iou`.
    #[serde(serialize_with = "widen")]
    pub track_iou: f32,
    /// `--track-max-age`.
    pub track_max_age: u32,
}

impl TracksFile {
    /// An empty file for these settings.
    #[must_use]
    pub fn new(smooth_window: u32, ema_alpha: f32, track_iou: f32, track_max_age: u32) -> Self {
        Self {
            ema_alpha,
            schema_version: SCHEMA_VERSION,
            smooth_window,
            sources: Vec::new(),
            track_iou,
            track_max_age,
        }
    }
}

/// The tracks of one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceTracks {
    /// Frames of the input that went through the pipeline.
    pub frames_processed: u64,
    /// The input as given.
    pub source: String,
    /// Its tracks, by ID.
    pub tracks: Vec<TrackRecord>,
}

/// A track's summary ([`TrackSummary`]) and its VAD plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    /// The most often predicted categories: most frames first, then higher mean score.
    pub dominant: Vec<DominantCategory>,
    /// First frame it was seen in.
    pub first_frame: u64,
    /// Time of the first frame.
    pub first_timestamp_s: f64,
    /// Frames it was seen in.
    pub frames_seen: u64,
    /// Frames in which it had an emotion.
    pub frames_with_emotion: u64,
    /// Last frame it was seen in.
    pub last_frame: u64,
    /// Time of the last frame.
    pub last_timestamp_s: f64,
    /// Mean raw score of every category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_scores: Option<CategoryScores<f64>>,
    /// The VAD plot, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
    /// The track ID.
    pub track_id: u64,
    /// Mean, minimum and maximum of valence, arousal, dominance (unsmoothed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vad: Option<VadStats>,
}

impl TrackRecord {
    /// The record of a summary, with its plot's path when one was drawn.
    #[must_use]
    pub fn new(s: TrackSummary, plot: Option<String>) -> Self {
        Self {
            dominant: s.dominant,
            first_frame: s.first_frame,
            first_timestamp_s: s.first_timestamp_s,
            frames_seen: s.frames_seen,
            frames_with_emotion: s.frames_with_emotion,
            last_frame: s.last_frame,
            last_timestamp_s: s.last_timestamp_s,
            mean_scores: s.mean_scores,
            plot,
            track_id: s.track_id,
            vad: s.vad,
        }
    }
}
