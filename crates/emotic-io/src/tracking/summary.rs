//! A track's history over the frames it was seen in, and the summary written per track.

use serde::Serialize;

use super::{Ema, Observation};

/// How many dominant categories a summary lists.
pub const DOMINANT_CATEGORIES: usize = 3;

/// One point of a track's VAD over time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadPoint {
    /// Frame index.
    pub frame_index: u64,
    /// Seconds from the start of the input.
    pub timestamp_s: f64,
    /// Valence, arousal, dominance of this frame.
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
    predicted_counts: Vec<u64>,
    score_sums: Vec<f64>,
    score_ema: Ema,
    vad_ema: Ema,
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
            predicted_counts: Vec::new(),
            score_sums: Vec::new(),
            score_ema: Ema::new(alpha),
            vad_ema: Ema::new(alpha),
            points: Vec::new(),
        }
    }

    /// Adds the track's box in a frame; returns the smoothed scores and VAD when the box has
    /// an emotion.
    pub fn add(
        &mut self,
        frame_index: u64,
        timestamp_s: f64,
        observation: &Observation,
    ) -> Option<(Vec<f32>, [f32; 3])> {
        if self.frames_seen == 0 {
            self.first = (frame_index, timestamp_s);
        }
        self.last = (frame_index, timestamp_s);
        self.frames_seen += 1;
        let sample = observation.emotion.as_ref()?;
        if self.score_sums.len() != sample.scores.len() {
            // First emotion of this track (or a model with another category count).
            self.score_sums = vec![0.0; sample.scores.len()];
            self.predicted_counts = vec![0; sample.scores.len()];
        }
        for (sum, &s) in self.score_sums.iter_mut().zip(&sample.scores) {
            *sum += f64::from(s);
        }
        for &i in &sample.predicted {
            if let Some(count) = self.predicted_counts.get_mut(i) {
                *count += 1;
            }
        }
        let scores = self.score_ema.update(&sample.scores).to_vec();
        let v = self.vad_ema.update(&sample.vad);
        let smoothed = [v[0], v[1], v[2]];
        self.points.push(VadPoint {
            frame_index,
            timestamp_s,
            raw: sample.vad,
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

    /// The summary, naming categories with `names` (the model's order).
    #[must_use]
    pub fn summary(&self, names: &[&str], vad_names: [&str; 3]) -> TrackSummary {
        #[allow(clippy::cast_precision_loss)]
        let with_emotion = self.points.len() as f64;
        let name = |i: usize| {
            names
                .get(i)
                .map_or_else(|| format!("category {i}"), |n| (*n).to_string())
        };
        let mean_score = |i: usize| {
            if with_emotion > 0.0 {
                self.score_sums[i] / with_emotion
            } else {
                0.0
            }
        };
        let mut order: Vec<usize> = (0..self.predicted_counts.len())
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
                category: name(i),
                frames_predicted: self.predicted_counts[i],
                fraction: self.predicted_counts[i] as f64 / with_emotion,
                mean_score: mean_score(i),
            })
            .collect();
        let vad = (!self.points.is_empty()).then(|| {
            let mut stats = serde_json::Map::new();
            for (k, vad_name) in vad_names.iter().enumerate() {
                let values = self.points.iter().map(|p| f64::from(p.raw[k]));
                let (min, max) = values
                    .clone()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    });
                let mean = values.sum::<f64>() / with_emotion;
                stats.insert(
                    vad_name.to_ascii_lowercase(),
                    serde_json::json!({"mean": mean, "min": min, "max": max}),
                );
            }
            stats
        });
        let mean_scores = (with_emotion > 0.0).then(|| {
            (0..self.score_sums.len())
                .map(|i| (name(i), serde_json::json!(mean_score(i))))
                .collect()
        });
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

/// A category that was predicted often for a track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DominantCategory {
    /// Its name.
    pub category: String,
    /// Frames in which it was predicted (above its threshold).
    pub frames_predicted: u64,
    /// `frames_predicted / frames_with_emotion`.
    pub fraction: f64,
    /// Mean raw score over the frames with an emotion.
    pub mean_score: f64,
}

/// What `tracks.json` says about one track.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vad: Option<serde_json::Map<String, serde_json::Value>>,
    /// Mean raw score of every category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_scores: Option<serde_json::Map<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::super::EmotionSample;
    use super::*;

    fn obs(scores: [f32; 3], predicted: &[usize], vad: [f32; 3]) -> Observation {
        Observation {
            bbox: [0.0; 4],
            emotion: Some(EmotionSample {
                scores: scores.to_vec(),
                predicted: predicted.to_vec(),
                vad,
            }),
        }
    }

    #[test]
    fn summary_counts_means_and_ranges() {
        let mut h = TrackHistory::new(7, 0.5);
        h.add(10, 1.0, &obs([1.0, 0.0, 3.0], &[2], [5.0, 6.0, 7.0]));
        h.add(
            11,
            1.1,
            &Observation {
                bbox: [0.0; 4],
                emotion: None,
            },
        );
        let (scores, vad) = h
            .add(12, 1.2, &obs([3.0, 2.0, 1.0], &[0, 2], [7.0, 2.0, 7.0]))
            .unwrap();
        assert_eq!(scores, vec![2.0, 1.0, 2.0]);
        assert_eq!(vad, [6.0, 4.0, 7.0]);
        let s = h.summary(&["a", "b", "c"], ["Valence", "Arousal", "Dominance"]);
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
        // c predicted twice, a once, b never.
        let names: Vec<&str> = s.dominant.iter().map(|d| d.category.as_str()).collect();
        assert_eq!(names, vec!["c", "a"]);
        assert_eq!(s.dominant[0].fraction, 1.0);
        assert_eq!(s.dominant[1].mean_score, 2.0);
        let vad = s.vad.unwrap();
        assert_eq!(
            vad["arousal"],
            serde_json::json!({"mean": 4.0, "min": 2.0, "max": 6.0})
        );
        assert_eq!(s.mean_scores.unwrap()["b"], serde_json::json!(1.0));
    }
}
