//! Persons over time: track IDs across frames, each track's emotions smoothed, and a summary
//! per track.
//!
//! - [`IouTracker`]: greedy IoU matching of this frame's boxes to the live tracks' last boxes.
//!   Pairs are taken best IoU first while both are free and the IoU reaches the threshold;
//!   unmatched boxes start new tracks (IDs 1, 2, ... in order of appearance), and a track not
//!   matched for more than `max_age` consecutive frames is retired. No motion model: at video
//!   rates people move little between frames, and it keeps IDs predictable. Overlap is the same
//!   [`crate::detect::iou`] that NMS uses.
//! - [`Ema`]: exponential moving average `s_t = α·x_t + (1−α)·s_{t−1}`, `s_0 = x_0`, with
//!   `α = 2 / (N + 1)` for a window of `N` frames (the usual "N-period EMA": its centre of mass
//!   lies `(N−1)/2` frames back, like an N-frame moving average). `N = 1` means no smoothing.
//! - [`EmotionTracker`]: both of the above over a frame's persons (the boxes the pipeline marks
//!   [`DetectedObject::is_person`]), with each track's history, turned into a
//!   [`TrackSummary`]. Scores and VAD are smoothed as the model reports them (VAD already on
//!   the 1-10 scale), and the smoothed scores go through the model's thresholds again.

mod ema;
mod history;
mod iou_tracker;

use std::collections::BTreeMap;

pub use ema::{Ema, ema_alpha};
pub use history::{
    DOMINANT_CATEGORIES, DominantCategory, Stat, TrackHistory, TrackSummary, VadPoint, VadStats,
};
pub use iou_tracker::{IouTracker, TrackerConfig};

use crate::emotion::{BoxOutcome, NUM_CATEGORIES, PersonEmotion};
use crate::pipeline::{DetectedObject, FrameResult};

/// A person box's track and its smoothed emotion.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// The track ID.
    pub track_id: u64,
    /// The track's smoothed emotion, when it has had one and thresholds are known.
    pub smoothed: Option<PersonEmotion>,
}

/// The tracks of one frame's detections, by detection index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameTracks {
    /// Track ID of each detection; `None` for boxes that are not persons.
    pub ids: Vec<Option<u64>>,
    /// Smoothed emotion of each detection; `None` where there is none.
    pub smoothed: Vec<Option<PersonEmotion>>,
}

impl FrameTracks {
    /// The smoothed emotion of detection `i`, else its own emotion of this frame.
    #[must_use]
    pub fn shown_emotion<'a>(
        &'a self,
        i: usize,
        object: &'a DetectedObject,
    ) -> Option<&'a PersonEmotion> {
        self.smoothed
            .get(i)
            .and_then(Option::as_ref)
            .or_else(|| object.emotion.as_ref().and_then(BoxOutcome::emotion))
    }
}

/// Tracks persons and smooths their emotions over time.
#[derive(Debug, Clone)]
pub struct EmotionTracker {
    tracker: IouTracker,
    alpha: f32,
    thresholds: Option<[f32; NUM_CATEGORIES]>,
    histories: BTreeMap<u64, TrackHistory>,
}

impl EmotionTracker {
    /// A tracker with an EMA window of `smooth_window` frames. `thresholds` (the emotion
    /// model's) decide the smoothed predicted categories; without them nothing is smoothed.
    #[must_use]
    pub fn new(
        config: TrackerConfig,
        smooth_window: u32,
        thresholds: Option<[f32; NUM_CATEGORIES]>,
    ) -> Self {
        Self {
            tracker: IouTracker::new(config),
            alpha: ema_alpha(smooth_window),
            thresholds,
            histories: BTreeMap::new(),
        }
    }

    /// Tracks person boxes, each with its emotion when it has one; returns each box's track
    /// and smoothed emotion, in the boxes' order.
    pub fn update(
        &mut self,
        frame_index: u64,
        timestamp_s: f64,
        persons: &[([f32; 4], Option<&PersonEmotion>)],
    ) -> Vec<Tracked> {
        let boxes: Vec<[f32; 4]> = persons.iter().map(|p| p.0).collect();
        let ids = self.tracker.update(&boxes);
        ids.into_iter()
            .zip(persons)
            .map(|(track_id, &(_, emotion))| {
                let alpha = self.alpha;
                let history = self
                    .histories
                    .entry(track_id)
                    .or_insert_with(|| TrackHistory::new(track_id, alpha));
                let smoothed = history
                    .add(frame_index, timestamp_s, emotion)
                    .zip(self.thresholds.as_ref())
                    .map(|((scores, vad), thresholds)| PersonEmotion::new(scores, vad, thresholds));
                Tracked { track_id, smoothed }
            })
            .collect()
    }

    /// Tracks the persons of one frame of the pipeline.
    pub fn track(
        &mut self,
        frame_index: u64,
        timestamp_s: f64,
        frame: &FrameResult,
    ) -> FrameTracks {
        let persons: Vec<usize> = (0..frame.objects.len())
            .filter(|&i| frame.objects[i].is_person)
            .collect();
        let observed: Vec<([f32; 4], Option<&PersonEmotion>)> = persons
            .iter()
            .map(|&i| {
                let o = &frame.objects[i];
                (
                    o.detection.bbox,
                    o.emotion.as_ref().and_then(BoxOutcome::emotion),
                )
            })
            .collect();
        let tracked = self.update(frame_index, timestamp_s, &observed);
        let mut tracks = FrameTracks {
            ids: vec![None; frame.objects.len()],
            smoothed: vec![None; frame.objects.len()],
        };
        for (i, t) in persons.into_iter().zip(tracked) {
            tracks.ids[i] = Some(t.track_id);
            tracks.smoothed[i] = t.smoothed;
        }
        tracks
    }

    /// Every track seen so far, by ID.
    #[must_use]
    pub fn histories(&self) -> &BTreeMap<u64, TrackHistory> {
        &self.histories
    }
}
