//! Detection plus emotion recognition for one frame, each piece of work done once: the detector
//! runs once, the context stream once per frame, and all persons go through the body stream and
//! the fusion head in one batch each (inside [`EmotionModel::predict`]).

use std::time::Instant;

use image::RgbImage;

use crate::Result;
use crate::detect::{DetectConfig, Detection, Detector, Timings};
use crate::emotion::{BoxOutcome, EmotionModel};

/// What the pipeline does besides detection.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Detector settings.
    pub detect: DetectConfig,
    /// Detector classes whose boxes get emotions (COCO class 0 = person).
    pub emotion_classes: Vec<usize>,
}

impl PipelineConfig {
    /// By default only persons get emotions.
    pub const DEFAULT_EMOTION_CLASSES: [usize; 1] = [0];

    /// Whether boxes of `class_id` are persons: they get emotions and are tracked. (The one
    /// place that decides it.)
    #[must_use]
    pub fn is_person_class(&self, class_id: usize) -> bool {
        self.emotion_classes.contains(&class_id)
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            detect: DetectConfig::default(),
            emotion_classes: Self::DEFAULT_EMOTION_CLASSES.to_vec(),
        }
    }
}

/// One detection and, for the classes that get emotions, the emotion outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedObject {
    /// The detection in image pixels.
    pub detection: Detection,
    /// Whether it is of a class that gets emotions ([`PipelineConfig::emotion_classes`],
    /// COCO's person by default). Only these are tracked over time.
    pub is_person: bool,
    /// `Some` for persons when an emotion model is loaded.
    pub emotion: Option<BoxOutcome>,
}

/// Everything the pipeline found in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameResult {
    /// Detections, best first, with emotions attached.
    pub objects: Vec<DetectedObject>,
    /// The letterboxed detector input shape.
    pub input_shape: [usize; 4],
    /// Detector stage timings.
    pub timings: Timings,
    /// Milliseconds spent in the emotion model (all persons together), 0 without one.
    pub emotion_ms: f64,
}

/// The detector and the optional emotion model, loaded once and reused for every frame.
#[derive(Debug)]
pub struct Pipeline {
    detector: Detector,
    emotion: Option<EmotionModel>,
    config: PipelineConfig,
}

impl Pipeline {
    /// Combines a loaded detector and emotion model.
    #[must_use]
    pub fn new(detector: Detector, emotion: Option<EmotionModel>, config: PipelineConfig) -> Self {
        Self {
            detector,
            emotion,
            config,
        }
    }

    /// The detector.
    #[must_use]
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Whether emotions are computed.
    #[must_use]
    pub fn has_emotion_model(&self) -> bool {
        self.emotion.is_some()
    }

    /// The emotion model, when one is loaded.
    #[must_use]
    pub fn emotion_model(&self) -> Option<&EmotionModel> {
        self.emotion.as_ref()
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Replaces the settings; later frames use them.
    pub fn set_config(&mut self, config: PipelineConfig) {
        self.config = config;
    }

    /// Detects objects in `frame` (RGB) and scores the emotions of every person in it.
    ///
    /// # Errors
    /// When a model fails to run. Degenerate person boxes are not errors: their outcome says why
    /// they were skipped.
    pub fn predict(&mut self, frame: &RgbImage) -> Result<FrameResult> {
        let detected = self.detector.detect(frame, &self.config.detect)?;
        let mut objects: Vec<DetectedObject> = detected
            .detections
            .iter()
            .map(|&detection| DetectedObject {
                detection,
                is_person: self.config.is_person_class(detection.class_id),
                emotion: None,
            })
            .collect();
        let mut emotion_ms = 0.0;
        if let Some(model) = &mut self.emotion {
            let wanted: Vec<usize> = (0..objects.len())
                .filter(|&i| objects[i].is_person)
                .collect();
            if !wanted.is_empty() {
                let boxes: Vec<[f32; 4]> =
                    wanted.iter().map(|&i| objects[i].detection.bbox).collect();
                let start = Instant::now();
                let outcomes = model.predict(frame, &boxes)?;
                emotion_ms = start.elapsed().as_secs_f64() * 1000.0;
                for (i, outcome) in wanted.into_iter().zip(outcomes) {
                    objects[i].emotion = Some(outcome);
                }
            }
        }
        Ok(FrameResult {
            objects,
            input_shape: detected.input_shape,
            timings: detected.timings,
            emotion_ms,
        })
    }
}
