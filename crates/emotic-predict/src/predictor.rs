//! One image at a time, for callers without a run folder (the service, Python, examples).

use std::path::Path;

use emotic::pipeline::{FrameResult, Pipeline, PipelineConfig};
use emotic::tracking::{EmotionTracker, FrameTracks};
use image::RgbImage;

use crate::options::PredictOptions;
use crate::outputs::{LabelStyle, draw_frame};
use emotic_io::video::FrameMeta;

use crate::schema::{FramePosition, FrameRecord, PersonRecord};
use crate::{Result, models};

/// The models, loaded once, and the settings they run with.
#[derive(Debug)]
pub struct Predictor {
    pipeline: Pipeline,
    style: LabelStyle,
}

/// One image's results, with what is needed to turn them into a record or a picture.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Detections and emotions.
    pub result: FrameResult,
    /// Image width and height.
    pub size: (u32, u32),
    /// The detector's class names.
    pub names: Vec<String>,
    /// Track IDs and smoothed emotions, when the image was one frame of a stream.
    pub tracks: Option<FrameTracks>,
    /// Its place in the stream, with `tracks`.
    pub position: Option<FramePosition>,
}

impl Prediction {
    /// The image's record, as `predictions.jsonl` holds it.
    #[must_use]
    pub fn record(&self, image: &str) -> FrameRecord {
        FrameRecord::new(
            image.to_string(),
            self.size,
            &self.result,
            &self.names,
            self.position.clone(),
            self.tracks.as_ref(),
        )
    }

    /// Makes this image one frame of a stream: `tracker` gives its persons track IDs and
    /// smoothed emotions, and the record says where in the stream it is, as video runs do.
    pub fn track(&mut self, tracker: &mut EmotionTracker, meta: &FrameMeta) {
        self.tracks = Some(tracker.track(meta.frame_index, meta.timestamp_s, &self.result));
        self.position = Some(FramePosition::from(meta));
    }

    /// The tracked persons of this frame, as video runs write them to `persons.jsonl` (with
    /// the track's smoothed emotion); empty unless [`Prediction::track`] was called.
    #[must_use]
    pub fn persons(&self, meta: &FrameMeta) -> Vec<PersonRecord> {
        self.tracks.as_ref().map_or_else(Vec::new, |tracks| {
            PersonRecord::of_frame(meta, &self.result.objects, tracks).collect()
        })
    }

    /// The image annotated as `emotic predict` saves it.
    #[must_use]
    pub fn annotate(&self, image: &RgbImage, style: LabelStyle) -> RgbImage {
        let mut annotated = image.clone();
        draw_frame(
            &mut annotated,
            &self.result,
            &self.names,
            self.tracks.as_ref(),
            style,
        );
        annotated
    }
}

impl Predictor {
    /// Loads the detector and, when given, the emotion model.
    ///
    /// # Errors
    /// When a model cannot be loaded or the settings are invalid.
    pub fn load(
        weights: &Path,
        emotion_model: Option<&Path>,
        options: &PredictOptions,
    ) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            pipeline: models::load_pipeline(
                weights,
                emotion_model,
                options.session,
                options.pipeline.clone(),
            )?,
            style: options.style,
        })
    }

    /// The loaded models.
    #[must_use]
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Changes the detection settings (and which classes get emotions) for the next
    /// predictions, as a request's own settings do; the models stay loaded.
    pub fn set_pipeline_config(&mut self, config: PipelineConfig) {
        self.pipeline.set_config(config);
    }

    /// The label style images are annotated with.
    #[must_use]
    pub fn style(&self) -> LabelStyle {
        self.style
    }

    /// Detects objects in an RGB image and the emotions of its persons.
    ///
    /// # Errors
    /// When a model fails to run.
    pub fn predict(&mut self, image: &RgbImage) -> Result<Prediction> {
        Ok(Prediction {
            result: self.pipeline.predict(image)?,
            size: image.dimensions(),
            names: self.pipeline.detector().names().to_vec(),
            tracks: None,
            position: None,
        })
    }

    /// A tracker for one stream of frames (a video, a live connection), with this model's
    /// thresholds.
    #[must_use]
    pub fn tracker(&self, options: &PredictOptions) -> EmotionTracker {
        EmotionTracker::new(
            options.tracking.tracker,
            options.tracking.smooth_window,
            self.pipeline.emotion_model().map(|m| *m.thresholds()),
        )
    }
}
