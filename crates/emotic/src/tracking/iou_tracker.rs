//! Track IDs from box overlap alone.

use crate::detect::iou;

/// Tracker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// A box continues a track only when their IoU is at least this.
    pub iou_threshold: f32,
    /// Frames a track may go unmatched before it is retired.
    pub max_age: u32,
}

impl TrackerConfig {
    /// `--track-iou` default.
    pub const DEFAULT_IOU: f32 = 0.3;
    /// `--track-max-age` default.
    pub const DEFAULT_MAX_AGE: u32 = 30;
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            iou_threshold: Self::DEFAULT_IOU,
            max_age: Self::DEFAULT_MAX_AGE,
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
                let overlap = iou(&track.bbox, bbox);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
