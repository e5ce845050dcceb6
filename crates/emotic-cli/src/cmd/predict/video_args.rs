//! The options of `emotic predict` for videos, webcams and streams.

use std::time::Duration;

use emotic::tracking::TrackerConfig;
use emotic_io::video::frames::FrameOptions;
use emotic_io::video::reader::{ReaderOptions, Reconnect};
use emotic_predict::TrackingOptions;

/// Options for videos, webcams and streams.
#[derive(Debug, clap::Args)]
pub struct VideoArgs {
    /// Process every n-th frame of a video or stream (frame indices still count every frame).
    #[arg(long, default_value_t = 1)]
    pub vid_stride: u64,
    /// Show annotated frames in a window (ffplay). Ignored, with a warning, without a display.
    #[arg(long)]
    pub view_img: bool,
    /// Smoothing window N in frames for each track's scores and VAD: exponential moving
    /// average with alpha = 2 / (N + 1). 1 turns smoothing off.
    #[arg(long, default_value_t = TrackingOptions::DEFAULT_SMOOTH_WINDOW)]
    pub smooth_window: u32,
    /// A person continues a track when its box overlaps the track's last box by this IoU.
    #[arg(long, default_value_t = TrackerConfig::DEFAULT_IOU)]
    pub track_iou: f32,
    /// Frames a track may go unseen before it ends (a returning person then gets a new ID).
    #[arg(long, default_value_t = TrackerConfig::DEFAULT_MAX_AGE)]
    pub track_max_age: u32,
    /// Reconnect attempts after a live stream or webcam drops (0: give up at once).
    #[arg(long, default_value_t = Reconnect::default().max_attempts)]
    pub reconnect_attempts: u32,
    /// Seconds before the first reconnect attempt; doubled at each further attempt.
    #[arg(long, default_value_t = 0.5)]
    pub reconnect_delay: f64,
    /// The reconnect delay never exceeds this many seconds.
    #[arg(long, default_value_t = 8.0)]
    pub reconnect_max_delay: f64,
    /// Seconds a live input may go without a frame before it counts as dropped. Opening an
    /// input (connecting and probing) may take this long too, but at least 15 s.
    #[arg(long, default_value_t = 10.0)]
    pub stream_timeout: f64,
}

impl VideoArgs {
    /// Tracking and smoothing.
    pub(super) fn tracking(&self) -> TrackingOptions {
        TrackingOptions {
            tracker: TrackerConfig {
                iou_threshold: self.track_iou,
                max_age: self.track_max_age,
            },
            smooth_window: self.smooth_window,
        }
    }

    /// The frame iterator's settings.
    pub(super) fn frame_options(&self) -> anyhow::Result<FrameOptions> {
        let seconds = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=3600.0).contains(&v) {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!(
                    "--{name} must be between 0 and 3600 seconds, got {v}"
                ))
            }
        };
        let timeout =
            seconds("stream-timeout", self.stream_timeout)?.max(Duration::from_millis(100));
        let reader = ReaderOptions {
            vid_stride: self.vid_stride,
            // Opening includes connecting and probing, which can take longer than the gap
            // between two frames.
            open_timeout: timeout.max(Duration::from_secs(15)),
            stall_timeout: timeout,
            reconnect: Reconnect {
                max_attempts: self.reconnect_attempts,
                initial_delay: seconds("reconnect-delay", self.reconnect_delay)?,
                max_delay: seconds("reconnect-max-delay", self.reconnect_max_delay)?,
            },
        };
        Ok(FrameOptions {
            reader,
            probe_timeout: timeout.max(Duration::from_secs(10)),
        })
    }
}
