//! What `predict` writes per image: JSON-lines records and CSV rows.

use emotic::detect::Timings;
use emotic::emotion::{BoxOutcome, CATEGORIES, PersonEmotion, VAD_NAMES};
use emotic::pipeline::{DetectedObject, FrameResult};
use serde::Serialize;

/// Stage timings of one image, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Speed {
    #[serde(flatten)]
    detector: Timings,
    emotion_ms: f64,
}

/// One image's record in `predictions.jsonl`.
#[derive(Debug, Serialize)]
pub struct ImageRecord<'a> {
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub input_shape: [usize; 4],
    pub speed_ms: Speed,
    pub detections: Vec<DetectionRecord<'a>>,
}

/// One detection, with its emotion when it is a person and an emotion model is loaded.
#[derive(Debug, Serialize)]
pub struct DetectionRecord<'a> {
    pub class_id: usize,
    pub class_name: &'a str,
    pub confidence: f32,
    pub bbox: [f32; 4],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion: Option<EmotionRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion_skipped: Option<String>,
}

/// A person's emotion in the JSON lines.
#[derive(Debug, Serialize)]
pub struct EmotionRecord {
    /// The integer crop `[x1, y1, x2, y2]` the body stream saw.
    pub body_crop: [u32; 4],
    /// All 26 raw scores, by name, in the model's order.
    pub categories: serde_json::Map<String, serde_json::Value>,
    /// Categories above their threshold, largest margin first.
    pub predicted: Vec<PredictedRecord>,
    /// Valence, arousal, dominance on the 1-10 scale.
    pub vad: serde_json::Map<String, serde_json::Value>,
}

/// One predicted category.
#[derive(Debug, Serialize)]
pub struct PredictedRecord {
    pub category: &'static str,
    pub score: f32,
    pub margin: f32,
}

/// A failed input's record in `predictions.jsonl`.
#[derive(Debug, Serialize)]
pub struct ErrorRecord {
    pub image: String,
    pub error: String,
}

fn emotion_record(rect: [u32; 4], e: &PersonEmotion) -> EmotionRecord {
    let categories = CATEGORIES
        .iter()
        .zip(e.categories)
        .map(|(n, s)| ((*n).to_string(), serde_json::json!(s)))
        .collect();
    let vad = VAD_NAMES
        .iter()
        .zip(e.vad)
        .map(|(n, v)| (n.to_ascii_lowercase(), serde_json::json!(v)))
        .collect();
    let predicted = e
        .predicted
        .iter()
        .map(|p| PredictedRecord {
            category: p.name(),
            score: p.score,
            margin: p.margin,
        })
        .collect();
    EmotionRecord {
        body_crop: rect,
        categories,
        predicted,
        vad,
    }
}

/// Builds the JSON record of one image.
pub fn image_record<'a>(
    image: String,
    size: (u32, u32),
    frame: &FrameResult,
    names: &'a [String],
) -> ImageRecord<'a> {
    let detections = frame
        .objects
        .iter()
        .map(|o| detection_record(o, names))
        .collect();
    ImageRecord {
        image,
        width: size.0,
        height: size.1,
        input_shape: frame.input_shape,
        speed_ms: Speed {
            detector: frame.timings,
            emotion_ms: frame.emotion_ms,
        },
        detections,
    }
}

fn detection_record<'a>(o: &DetectedObject, names: &'a [String]) -> DetectionRecord<'a> {
    let d = &o.detection;
    let (emotion, emotion_skipped) = match &o.emotion {
        Some(BoxOutcome::Scored { rect, emotion }) => (
            Some(emotion_record(
                [rect.x1, rect.y1, rect.x2, rect.y2],
                emotion,
            )),
            None,
        ),
        Some(BoxOutcome::Skipped(reason)) => (None, Some(reason.to_string())),
        None => (None, None),
    };
    DetectionRecord {
        class_id: d.class_id,
        class_name: class_name(names, d.class_id),
        confidence: d.confidence,
        bbox: d.bbox,
        emotion,
        emotion_skipped,
    }
}

/// The class name for an id, or `unknown` past the end of the list.
pub fn class_name(names: &[String], id: usize) -> &str {
    names.get(id).map_or("unknown", String::as_str)
}

/// The CSV header: one row per person with an emotion.
pub fn csv_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "image",
        "person",
        "confidence",
        "x1",
        "y1",
        "x2",
        "y2",
        "predicted",
    ]
    .map(String::from)
    .to_vec();
    h.extend(VAD_NAMES.iter().map(|n| n.to_ascii_lowercase()));
    h.extend(CATEGORIES.iter().map(|c| (*c).to_string()));
    h
}

/// The CSV rows of one image: persons with an emotion, numbered from 0 in detection order.
pub fn csv_rows(image: &str, frame: &FrameResult) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (person, o) in frame
        .objects
        .iter()
        .filter(|o| o.emotion.as_ref().is_some_and(|e| e.emotion().is_some()))
        .enumerate()
    {
        let Some(e) = o.emotion.as_ref().and_then(BoxOutcome::emotion) else {
            continue;
        };
        let d = &o.detection;
        let mut row = vec![
            image.to_string(),
            person.to_string(),
            format!("{:.5}", d.confidence),
        ];
        row.extend(d.bbox.iter().map(|v| format!("{v:.1}")));
        row.push(
            e.predicted
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(";"),
        );
        row.extend(e.vad.iter().map(|v| format!("{v:.4}")));
        row.extend(e.categories.iter().map(|v| format!("{v:.6}")));
        rows.push(row);
    }
    rows
}
