//! `GET /v1/model`: what the loaded models are.

use emotic::emotion::{BUNDLE_VERSION, CATEGORIES};
use emotic::engine::ORT_VERSION;
use emotic_predict::Predictor;
use emotic_predict::schema::SCHEMA_VERSION;
use serde::Serialize;

use crate::config::ModelSpec;

/// The models' facts, read once after loading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The detector.
    pub detector: DetectorInfo,
    /// Whether emotions are computed (an emotion model is loaded).
    pub emotions: bool,
    /// The emotion categories, in score order (also without a model: what one would give).
    pub emotion_categories: Vec<&'static str>,
    /// Per-category thresholds of the loaded emotion model.
    pub thresholds: Option<Vec<f32>>,
    /// The emotion bundle format version this build reads.
    pub bundle_version: u32,
    /// The ONNX Runtime version the models run on.
    pub onnxruntime_version: &'static str,
    /// Version of the records' schema.
    pub schema_version: u32,
    /// Model workers.
    pub workers: usize,
}

/// The detector's part of [`ModelInfo`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorInfo {
    /// The weights' file name (not its path: the server's folders are nobody's business).
    pub weights: String,
    /// Class names by class ID.
    pub classes: Vec<String>,
    /// Default input size, height and width.
    pub imgsz: [u32; 2],
    /// The network's stride (input sides are multiples of it).
    pub stride: u32,
    /// Classes whose boxes get emotions.
    pub emotion_classes: Vec<usize>,
}

impl ModelInfo {
    /// Reads the facts from a loaded predictor.
    #[must_use]
    pub fn of(predictor: &Predictor, spec: &ModelSpec, workers: usize) -> Self {
        let pipeline = predictor.pipeline();
        let imgsz = pipeline.config().detect.imgsz;
        Self {
            detector: DetectorInfo {
                weights: spec
                    .weights
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                classes: pipeline.detector().names().to_vec(),
                imgsz: [imgsz.0, imgsz.1],
                stride: pipeline.detector().stride(),
                emotion_classes: pipeline.config().emotion_classes.clone(),
            },
            emotions: pipeline.has_emotion_model(),
            emotion_categories: CATEGORIES.to_vec(),
            thresholds: pipeline.emotion_model().map(|m| m.thresholds().to_vec()),
            bundle_version: BUNDLE_VERSION,
            onnxruntime_version: ORT_VERSION,
            schema_version: SCHEMA_VERSION,
            workers,
        }
    }
}
