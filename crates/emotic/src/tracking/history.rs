//! A track's history over the frames it was seen in, and the summary written per track.

use serde::{Deserialize, Serialize};

use super::ema::Ema;
use crate::emotion::{CATEGORIES, CategoryScores, NUM_CATEGORIES, PersonEmotion};

/// How many dominant categories a summary lists.
pub const DOMINANT_CATEGORIES: usize = 3;

/// One point of a track's VAD over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadPoint {
    /// Frame index.
    pub frame_index: u64,
    /// Seconds from the start of the input.
    pub timestamp_s: f64,
    /// Valence, arousal, dominance of this frame (1-10).
    pub raw: [f32; 3],
    /// The same, smoothed.
    pub smoothed: [f32; 3],
}

/// Everything remembered about one track.
#[derive(Debug, Clone)]
pub struct TrackHistory {
    id: u64,
    first: (u64, f64),
    last: (u64, f64),
    frames_seen: u64,
    predicted_counts: [u64; NUM_CATEGORIES],
    score_sums: [f64; NUM_CATEGORIES],
    score_ema: Ema<NUM_CATEGORIES>,
    vad_ema: Ema<3>,
    points: Vec<VadPoint>,
}

impl TrackHistory {
    /// An empty history for track `id`, smoothing with weight `alpha`.
    #[must_use]
    pub fn new(id: u64, alpha: f32) -> Self {
        Self {
            id,
            first: (0, 0.0),
            last: (0, 0.0),
            frames_seen: 0,
            predicted_counts: [0; NUM_CATEGORIES],
            score_sums: [0.0; NUM_CATEGORIES],
            score_ema: Ema::new(alpha),
            vad_ema: Ema::new(alpha),
            points: Vec::new(),
        }
    }

    /// Adds the track's box in a frame; returns the smoothed scores and VAD (1-10) when the box
    /// has an emotion.
    pub fn add(
        &mut self,
        frame_index: u64,
        timestamp_s: f64,
        emotion: Option<&PersonEmotion>,
    ) -> Option<([f32; NUM_CATEGORIES], [f32; 3])> {
        if self.frames_seen == 0 {
            self.first = (frame_index, timestamp_s);
        }
        self.last = (frame_index, timestamp_s);
        self.frames_seen += 1;
        let emotion = emotion?;
        for (sum, &s) in self.score_sums.iter_mut().zip(&emotion.categories) {
            *sum += f64::from(s);
        }
        for p in &emotion.predicted {
            self.predicted_counts[p.index] += 1;
        }
        let scores = self.score_ema.update(&emotion.categories);
        let smoothed = self.vad_ema.update(&emotion.vad);
        self.points.push(VadPoint {
            frame_index,
            timestamp_s,
            raw: emotion.vad,
            smoothed,
        });
        Some((scores, smoothed))
    }

    /// The track ID.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// VAD per frame that had an emotion, in order.
    #[must_use]
    pub fn points(&self) -> &[VadPoint] {
        &self.points
    }

    /// What `tracks.json` says about this track.
    #[must_use]
    pub fn summary(&self) -> TrackSummary {
        #[allow(clippy::cast_precision_loss)]
        let with_emotion = self.points.len() as f64;
        let mean_score = |i: usize| {
            if with_emotion > 0.0 {
                self.score_sums[i] / with_emotion
            } else {
                0.0
            }
        };
        let mut order: Vec<usize> = (0..NUM_CATEGORIES)
            .filter(|&i| self.predicted_counts[i] > 0)
            .collect();
        order.sort_by(|&a, &b| {
            self.predicted_counts[b]
                .cmp(&self.predicted_counts[a])
                .then(mean_score(b).total_cmp(&mean_score(a)))
                .then(a.cmp(&b))
        });
        #[allow(clippy::cast_precision_loss)]
        let dominant = order
            .into_iter()
            .take(DOMINANT_CATEGORIES)
            .map(|i| DominantCategory {
                category: CATEGORIES[i].to_string(),
                frames_predicted: self.predicted_counts[i],
                fraction: self.predicted_counts[i] as f64 / with_emotion,
                mean_score: mean_score(i),
            })
            .collect();
        let vad = (!self.points.is_empty()).then(|| {
            let stat = |k: usize| {
                let values = self.points.iter().map(|p| f64::from(p.raw[k]));
                let (min, max) = values
                    .clone()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    });
                Stat {
                    max,
                    mean: values.sum::<f64>() / with_emotion,
                    min,
                }
            };
            VadStats {
                arousal: stat(1),
                dominance: stat(2),
                valence: stat(0),
            }
        });
        let mean_scores =
            (with_emotion > 0.0).then(|| CategoryScores(std::array::from_fn(mean_score)));
        TrackSummary {
            track_id: self.id,
            first_frame: self.first.0,
            last_frame: self.last.0,
            first_timestamp_s: self.first.1,
            last_timestamp_s: self.last.1,
            frames_seen: self.frames_seen,
            frames_with_emotion: self.points.len() as u64,
            dominant,
            vad,
            mean_scores,
        }
    }
}

/// A category that was predicted often for a track. (Alphabetical keys, as [`Stat`].)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DominantCategory {
    /// Its name.
    pub category: String,
    /// `frames_predicted / frames_with_emotion`.
    pub fraction: f64,
    /// Frames in which it was predicted (above its threshold).
    pub frames_predicted: u64,
    /// Mean raw score over the frames with an emotion.
    pub mean_score: f64,
}

/// Mean, minimum and maximum of one quantity. (Keys in alphabetical order, as the untyped maps
/// that came before wrote them; their order carries no meaning.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The largest value.
    pub max: f64,
    /// The mean.
    pub mean: f64,
    /// The smallest value.
    pub min: f64,
}

/// [`Stat`]s of valence, arousal and dominance (unsmoothed, 1-10). Alphabetical keys, as
/// [`Vad`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VadStats {
    /// Arousal.
    pub arousal: Stat,
    /// Dominance.
    pub dominance: Stat,
    /// Valence.
    pub valence: Stat,
}

/// What is known about one track once it ends (written to `tracks.json` by the predict path).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSummary {
    /// The track ID.
    pub track_id: u64,
    /// First frame it was seen in.
    pub first_frame: u64,
    /// Last frame it was seen in.
    pub last_frame: u64,
    /// Time of the first frame.
    pub first_timestamp_s: f64,
    /// Time of the last frame.
    pub last_timestamp_s: f64,
    /// Frames it was seen in.
    pub frames_seen: u64,
    /// Frames in which it had an emotion.
    pub frames_with_emotion: u64,
    /// The most often predicted categories (at most [`DOMINANT_CATEGORIES`]): most frames
    /// first, then higher mean score.
    pub dominant: Vec<DominantCategory>,
    /// Mean, minimum and maximum of each of valence, arousal, dominance (unsmoothed).
    pub vad: Option<VadStats>,
    /// Mean raw score of every category.
    pub mean_scores: Option<CategoryScores<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emotion(scores: &[(usize, f32)], predicted: &[usize], vad: [f32; 3]) -> PersonEmotion {
        let mut categories = [0.0; NUM_CATEGORIES];
        for &(i, s) in scores {
            categories[i] = s;
        }
        // Thresholds just below the wanted categories' scores, far above the others'.
        let mut thresholds = [f32::MAX; NUM_CATEGORIES];
        for &i in predicted {
            thresholds[i] = categories[i] - 0.5;
        }
        PersonEmotion::new(categories, vad, &thresholds)
    }

    #[test]
    fn summary_counts_means_and_ranges() {
        let mut h = TrackHistory::new(7, 0.5);
        h.add(
            10,
            1.0,
            Some(&emotion(&[(0, 1.0), (2, 3.0)], &[2], [5.0, 6.0, 7.0])),
        );
        h.add(11, 1.1, None);
        let (scores, vad) = h
            .add(
                12,
                1.2,
                Some(&emotion(
                    &[(0, 3.0), (1, 2.0), (2, 1.0)],
                    &[0, 2],
                    [7.0, 2.0, 7.0],
                )),
            )
            .unwrap();
        assert_eq!(scores[..3], [2.0, 1.0, 2.0]);
        assert_eq!(vad, [6.0, 4.0, 7.0]);
        let s = h.summary();
        assert_eq!(
            (
                s.track_id,
                s.first_frame,
                s.last_frame,
                s.frames_seen,
                s.frames_with_emotion
            ),
            (7, 10, 12, 3, 2)
        );
        assert_eq!(s.last_timestamp_s, 1.2);
        // Category 2 predicted twice, 0 once, 1 never.
        let names: Vec<&str> = s.dominant.iter().map(|d| d.category.as_str()).collect();
        assert_eq!(names, vec![CATEGORIES[2], CATEGORIES[0]]);
        assert_eq!(s.dominant[0].fraction, 1.0);
        assert_eq!(s.dominant[1].mean_score, 2.0);
        let vad = s.vad.unwrap();
        assert_eq!(
            vad.arousal,
            Stat {
                mean: 4.0,
                min: 2.0,
                max: 6.0
            }
        );
        assert_eq!(s.mean_scores.unwrap().0[1], 1.0);
    }
}
