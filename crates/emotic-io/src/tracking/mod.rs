//! Emotions over time: persons get track IDs across frames, each track's emotion scores are
//! smoothed, and a summary and a plot are made per track.
//!
//! - [`IouTracker`]: greedy IoU matching of this frame's boxes to the live tracks' last boxes.
//!   Pairs are taken best IoU first while both are free and the IoU reaches the threshold;
//!   unmatched boxes start new tracks (IDs 1, 2, ... in order of appearance), and a track not
//!   matched for more than `max_age` consecutive frames is retired. No motion model: at video
//!   rates people move little between frames, and it keeps IDs predictable.
//! - [`Ema`]: exponential moving average `s_t = α·x_t + (1−α)·s_{t−1}`, `s_0 = x_0`, with
//!   `α = 2 / (N + 1)` for a window of `N` frames (the usual "N-period EMA": its centre of mass
//!   lies `(N−1)/2` frames back, like an N-frame moving average). `N = 1` means no smoothing.
//! - [`EmotionTracker`]: both of the above plus each track's history, turned into a
//!   [`summary::TrackSummary`] and a VAD plot ([`plot`]).
//!
//! Nothing here depends on the models: categories and VAD are plain numbers, so the same code
//! serves any model with any number of categories.

pub mod plot;
pub mod summary;

use std::collections::BTreeMap;

pub use summary::{TrackHistory, TrackSummary};

/// Intersection over union of two `[x1, y1, x2, y2]` boxes (0 when either is empty).
#[must_use]
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: [f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 && union.is_finite() {
        inter / union
    } else {
        0.0
    }
}

/// Tracker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// A box continues a track only when their IoU is at least this.
    pub iou_threshold: f32,
    /// Frames a track may go unmatched before it is retired.
    pub max_age: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            iou_threshold: 0.3,
            max_age: 30,
        }
    }
}

#[derive(Debug, Clone)]
struct LiveTrack {
    id: u64,
    bbox: [f32; 4],
    missed: u32,
}

/// Greedy IoU tracker (see the module docs).
#[derive(Debug, Clone)]
pub struct IouTracker {
    config: TrackerConfig,
    tracks: Vec<LiveTrack>,
    next_id: u64,
}

impl IouTracker {
    /// A tracker with no tracks.
    #[must_use]
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Assigns a track ID to each box of a frame, in the boxes' order.
    pub fn update(&mut self, boxes: &[[f32; 4]]) -> Vec<u64> {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (t, track) in self.tracks.iter().enumerate() {
            for (b, bbox) in boxes.iter().enumerate() {
                let overlap = iou(track.bbox, *bbox);
                if overlap >= self.config.iou_threshold && overlap > 0.0 {
                    pairs.push((overlap, t, b));
                }
            }
        }
        // Best IoU first; ties go to the older track and the earlier box, so results do not
        // depend on anything but the input.
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let mut box_track: Vec<Option<usize>> = vec![None; boxes.len()];
        let mut track_taken = vec![false; self.tracks.len()];
        for (_, t, b) in pairs {
            if !track_taken[t] && box_track[b].is_none() {
                track_taken[t] = true;
                box_track[b] = Some(t);
            }
        }
        let mut ids = Vec::with_capacity(boxes.len());
        for (b, bbox) in boxes.iter().enumerate() {
            if let Some(t) = box_track[b] {
                self.tracks[t].bbox = *bbox;
                self.tracks[t].missed = 0;
                ids.push(self.tracks[t].id);
            } else {
                let id = self.next_id;
                self.next_id += 1;
                self.tracks.push(LiveTrack {
                    id,
                    bbox: *bbox,
                    missed: 0,
                });
                ids.push(id);
            }
        }
        for (t, taken) in track_taken.iter().enumerate() {
            if !taken {
                self.tracks[t].missed += 1;
            }
        }
        let max_age = self.config.max_age;
        self.tracks.retain(|t| t.missed <= max_age);
        ids
    }

    /// IDs of the tracks still alive.
    #[must_use]
    pub fn live_ids(&self) -> Vec<u64> {
        self.tracks.iter().map(|t| t.id).collect()
    }
}

/// `α = 2 / (window + 1)`; a window of 0 is treated as 1 (no smoothing).
#[must_use]
pub fn ema_alpha(window: u32) -> f32 {
    2.0 / (f32::from(u16::try_from(window.max(1)).unwrap_or(u16::MAX)) + 1.0)
}

/// Exponential moving average of a fixed-length vector (see the module docs).
#[derive(Debug, Clone)]
pub struct Ema {
    alpha: f32,
    value: Option<Vec<f32>>,
}

impl Ema {
    /// An average with weight `alpha` for the newest value.
    #[must_use]
    pub fn new(alpha: f32) -> Self {
        Self { alpha, value: None }
    }

    /// Adds a value and returns the new average. The first value is taken as is.
    pub fn update(&mut self, x: &[f32]) -> &[f32] {
        let alpha = self.alpha;
        let value = match self.value.take() {
            Some(mut s) if s.len() == x.len() => {
                for (s, &x) in s.iter_mut().zip(x) {
                    *s = alpha * x + (1.0 - alpha) * *s;
                }
                s
            }
            _ => x.to_vec(),
        };
        self.value.insert(value)
    }
}

/// One person's emotion in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct EmotionSample {
    /// Category scores, in the model's order.
    pub scores: Vec<f32>,
    /// Indices of the categories predicted in this frame.
    pub predicted: Vec<usize>,
    /// Valence, arousal, dominance.
    pub vad: [f32; 3],
}

/// One person box of a frame, with its emotion when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// The emotion, `None` when the box was skipped.
    pub emotion: Option<EmotionSample>,
}

/// A box's track and its smoothed emotion.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// The track ID.
    pub track_id: u64,
    /// Smoothed category scores and VAD, when the track has had an emotion.
    pub smoothed: Option<(Vec<f32>, [f32; 3])>,
}

/// Tracks persons and smooths their emotions over time.
#[derive(Debug, Clone)]
pub struct EmotionTracker {
    tracker: IouTracker,
    alpha: f32,
    histories: BTreeMap<u64, TrackHistory>,
}

impl EmotionTracker {
    /// A tracker with an EMA window of `smooth_window` frames.
    #[must_use]
    pub fn new(config: TrackerConfig, smooth_window: u32) -> Self {
        Self {
            tracker: IouTracker::new(config),
            alpha: ema_alpha(smooth_window),
            histories: BTreeMap::new(),
        }
    }

    /// Tracks one frame's person boxes; returns each box's track and smoothed emotion.
    pub fn update(
        &mut self,
        frame_index: u64,
        timestamp_s: f64,
        observations: &[Observation],
    ) -> Vec<Tracked> {
        let boxes: Vec<[f32; 4]> = observations.iter().map(|o| o.bbox).collect();
        let ids = self.tracker.update(&boxes);
        ids.into_iter()
            .zip(observations)
            .map(|(track_id, observation)| {
                let alpha = self.alpha;
                let history = self
                    .histories
                    .entry(track_id)
                    .or_insert_with(|| TrackHistory::new(track_id, alpha));
                let smoothed = history.add(frame_index, timestamp_s, observation);
                Tracked { track_id, smoothed }
            })
            .collect()
    }

    /// Every track seen so far, by ID.
    #[must_use]
    pub fn histories(&self) -> &BTreeMap<u64, TrackHistory> {
        &self.histories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        assert!((iou([0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]), 0.0);
        assert_eq!(iou([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(iou([1.0, 1.0, 5.0, 5.0], [1.0, 1.0, 5.0, 5.0]), 1.0);
    }

    #[test]
    fn ids_follow_moving_boxes_and_survive_short_gaps() {
        let mut tracker = IouTracker::new(TrackerConfig {
            iou_threshold: 0.3,
            max_age: 2,
        });
        let a = |dx: f32| [10.0 + dx, 10.0, 60.0 + dx, 110.0];
        let b = |dx: f32| [200.0 - dx, 20.0, 260.0 - dx, 140.0];
        assert_eq!(tracker.update(&[a(0.0), b(0.0)]), vec![1, 2]);
        // Listed the other way round, moved a little: same IDs.
        assert_eq!(tracker.update(&[b(5.0), a(5.0)]), vec![2, 1]);
        // Person 1 is missed for two frames, then comes back: still 1.
        assert_eq!(tracker.update(&[b(10.0)]), vec![2]);
        assert_eq!(tracker.update(&[b(15.0)]), vec![2]);
        assert_eq!(tracker.update(&[a(8.0), b(20.0)]), vec![1, 2]);
        // Missed for three frames (> max_age 2): a new ID.
        for dx in [25.0, 30.0, 35.0] {
            tracker.update(&[b(dx)]);
        }
        assert_eq!(tracker.live_ids(), vec![2]);
        assert_eq!(tracker.update(&[a(8.0), b(40.0)]), vec![3, 2]);
    }

    #[test]
    fn greedy_matching_prefers_the_larger_overlap() {
        let mut tracker = IouTracker::new(TrackerConfig {
            iou_threshold: 0.1,
            max_age: 5,
        });
        tracker.update(&[[0.0, 0.0, 100.0, 100.0]]);
        // Both boxes overlap track 1; the better one keeps the ID, the other is new.
        let ids = tracker.update(&[[40.0, 0.0, 140.0, 100.0], [5.0, 0.0, 105.0, 100.0]]);
        assert_eq!(ids, vec![2, 1]);
    }

    #[test]
    fn ema_matches_the_formula() {
        assert!((ema_alpha(5) - 1.0 / 3.0).abs() < 1e-7);
        assert_eq!(ema_alpha(1), 1.0);
        assert_eq!(ema_alpha(0), 1.0);
        let mut ema = Ema::new(0.5);
        assert_eq!(ema.update(&[2.0, 4.0]), &[2.0, 4.0]);
        assert_eq!(ema.update(&[4.0, 0.0]), &[3.0, 2.0]);
        assert_eq!(ema.update(&[3.0, 2.0]), &[3.0, 2.0]);
        // Window 1: the newest value only.
        let mut none = Ema::new(ema_alpha(1));
        none.update(&[1.0]);
        assert_eq!(none.update(&[7.0]), &[7.0]);
    }
}
