//! Loading the detector and the emotion model, once per run, service or Python `Pipeline`.

use std::path::Path;

use emotic::detect::Detector;
use emotic::emotion::EmotionModel;
use emotic::engine::SessionOptions;
use emotic::pipeline::{Pipeline, PipelineConfig};

use crate::{Error, Result};

/// Loads the detector (a YOLOv5 `.pt` or a YOLO `.onnx`) and, when given, the emotion model
/// (a bundle, or a folder with the reference's four files), and combines them.
///
/// # Errors
/// [`Error::LoadDetector`] or [`Error::LoadEmotionModel`], with the cause naming the file.
pub fn load_pipeline(
    weights: &Path,
    emotion_model: Option<&Path>,
    session: SessionOptions,
    config: PipelineConfig,
) -> Result<Pipeline> {
    let detector = Detector::load(weights, session).map_err(Error::LoadDetector)?;
    let emotion = emotion_model
        .map(EmotionModel::from_path)
        .transpose()
        .map_err(Error::LoadEmotionModel)?;
    Ok(Pipeline::new(detector, emotion, config))
}

/// The line a run without an emotion model says once: what it does instead, and how to get a
/// model (none can be downloaded).
pub const NO_EMOTION_MODEL: &str = "no --emotion-model given: detecting objects only, without emotions. \
No trained EMOTIC weights can be downloaded; train a model (`emotic prepare` + `emotic train`) \
or import the reference files you have (`emotic import`), then pass it with --emotion-model.";
