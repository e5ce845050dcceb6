//! The settings of a prediction run, validated once for every front end. Defaults are
//! YOLOv5 `detect.py`'s (through [`DetectConfig`] and [`NmsConfig`]).

use emotic::detect::{DetectConfig, NmsConfig};
use emotic::engine::SessionOptions;
use emotic::pipeline::PipelineConfig;
use emotic::tracking::TrackerConfig;
use emotic_io::video::frames::FrameOptions;

use crate::outputs::LabelStyle;
use crate::{Error, Result};

/// Detection settings as a user gives them (flags, query parameters, keyword arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectSettings {
    /// One value for a square, or height and width.
    pub imgsz: Vec<u32>,
    /// Pad to the full square instead of the smallest multiple of the stride.
    pub square: bool,
    /// Confidence threshold.
    pub conf: f32,
    /// NMS IoU threshold.
    pub iou: f32,
    /// Maximum detections per image.
    pub max_det: usize,
    /// Keep only these classes.
    pub classes: Option<Vec<usize>>,
    /// Class-agnostic NMS.
    pub agnostic: bool,
}

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            imgsz: vec![DetectConfig::DEFAULT_IMGSZ],
            square: false,
            conf: NmsConfig::DEFAULT_CONF,
            iou: NmsConfig::DEFAULT_IOU,
            max_det: NmsConfig::DEFAULT_MAX_DET,
            classes: None,
            agnostic: false,
        }
    }
}

impl DetectSettings {
    /// Checks the ranges and builds the detector's configuration. Messages name each setting
    /// by its flag (`--conf-thres`) and short name (`conf`), as the service's query uses.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for a value out of range.
    pub fn to_config(&self) -> Result<DetectConfig> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(Error::InvalidSetting(format!(
                    "{name} must be in [0, 1], got {v}"
                )))
            }
        };
        let imgsz = match self.imgsz[..] {
            [s] => (s, s),
            [h, w] => (h, w),
            _ => {
                return Err(Error::InvalidSetting(
                    "--imgsz (imgsz) takes one or two values".into(),
                ));
            }
        };
        if imgsz.0 == 0 || imgsz.1 == 0 || imgsz.0 > 8192 || imgsz.1 > 8192 {
            return Err(Error::InvalidSetting(format!(
                "--imgsz (imgsz) must be between 1 and 8192, got {imgsz:?}"
            )));
        }
        if self.max_det == 0 {
            return Err(Error::InvalidSetting(
                "--max-det (max_det) must be at least 1".into(),
            ));
        }
        Ok(DetectConfig {
            imgsz,
            square: self.square,
            nms: NmsConfig {
                conf_threshold: unit("--conf-thres (conf)", self.conf)?,
                iou_threshold: unit("--iou-thres (iou)", self.iou)?,
                max_det: self.max_det,
                classes: self.classes.clone(),
                agnostic: self.agnostic,
            },
        })
    }
}

/// Which files a run writes besides the JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one switch per output, as the flags are
pub struct SaveOptions {
    /// Annotated images and videos.
    pub annotated: bool,
    /// YOLO label files `labels/<stem>.txt`.
    pub txt: bool,
    /// Confidences in the label files.
    pub conf: bool,
    /// Crops `crops/<class>/<stem>.jpg`.
    pub crop: bool,
    /// `predictions.csv`.
    pub csv: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            annotated: true,
            txt: false,
            conf: false,
            crop: false,
            csv: false,
        }
    }
}

/// Tracking and smoothing for videos, webcams and streams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackingOptions {
    /// IoU matching of boxes to tracks.
    pub tracker: TrackerConfig,
    /// EMA window in frames (1: no smoothing).
    pub smooth_window: u32,
}

impl TrackingOptions {
    /// `--smooth-window` default.
    pub const DEFAULT_SMOOTH_WINDOW: u32 = 5;
}

impl Default for TrackingOptions {
    fn default() -> Self {
        Self {
            tracker: TrackerConfig::default(),
            smooth_window: Self::DEFAULT_SMOOTH_WINDOW,
        }
    }
}

/// Everything a run needs to know besides its models and its source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PredictOptions {
    /// Detection and which classes get emotions.
    pub pipeline: PipelineConfig,
    /// ONNX Runtime threads.
    pub session: SessionOptions,
    /// What labels show.
    pub style: LabelStyle,
    /// Which files are written.
    pub save: SaveOptions,
    /// Tracking and smoothing (temporal inputs).
    pub tracking: TrackingOptions,
    /// Reading videos, webcams and streams.
    pub frames: FrameOptions,
    /// Show annotated frames in a window (ffplay) when a display exists.
    pub view: bool,
}

impl PredictOptions {
    /// Checks the settings that [`DetectSettings::to_config`] does not cover.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for a value out of range.
    pub fn validate(&self) -> Result<()> {
        let iou = self.tracking.tracker.iou_threshold;
        if !(0.0..=1.0).contains(&iou) {
            return Err(Error::InvalidSetting(format!(
                "--track-iou must be in [0, 1], got {iou}"
            )));
        }
        if self.frames.reader.vid_stride == 0 {
            return Err(Error::InvalidSetting(
                "--vid-stride must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
