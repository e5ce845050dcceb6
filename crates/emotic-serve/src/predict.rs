//! `POST /v1/predict` and `POST /v1/predict/batch`: images through the library's predict path,
//! answered with the records `emotic predict` writes (or the annotated picture).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use emotic_io::image_file;
use emotic_predict::schema::{ErrorRecord, FrameRecord};
use emotic_predict::{Prediction, Predictor, error_chain};
use image::RgbImage;
use serde::Serialize;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::query::{self, RequestSettings};
use crate::state::AppState;
use crate::upload::{self, Upload};

/// `POST /v1/predict`: one image's frame record, or with `Accept: image/jpeg` or
/// `?annotate=true` the annotated JPEG.
///
/// # Errors
/// See [`ApiError`]: 400, 413, 415, 422, 503, 504.
pub async fn predict(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let mut settings = query::parse(query.as_deref())?;
    settings.annotate |= wants_jpeg(&headers);
    let upload = upload::read(&state, request, false).await?.remove(0);
    let metrics = Arc::clone(&state.metrics);
    let max_pixels = state.limits.max_pixels;
    let answer = state
        .run(move |predictor| {
            let (image, prediction) =
                decode_and_predict(predictor, &metrics, &upload, &settings, max_pixels)?;
            if settings.annotate {
                let picture = prediction.annotate(&image, settings.style);
                encode_jpeg(&picture).map(Answer::Jpeg)
            } else {
                Ok(Answer::Record(Box::new(prediction.record(&upload.name))))
            }
        })
        .await??;
    Ok(match answer {
        Answer::Jpeg(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        Answer::Record(record) => Json(*record).into_response(),
    })
}

/// `POST /v1/predict/batch`: one record per `file` field, in order. A file that fails gets an
/// error record (`{"image", "error"}`, as `predictions.jsonl` holds for failed inputs); the
/// others are still predicted.
///
/// # Errors
/// For the request as a whole: 400, 413, 415, 503, 504.
pub async fn batch(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Result<Json<BatchAnswer>, ApiError> {
    let settings = query::parse(query.as_deref())?;
    if settings.annotate {
        return Err(ApiError::bad_request(
            "bad_query",
            "annotate is for /v1/predict (one image per answer)",
        ));
    }
    let uploads = upload::read(&state, request, true).await?;
    let metrics = Arc::clone(&state.metrics);
    let max_pixels = state.limits.max_pixels;
    let records = state
        .run(move |predictor| {
            uploads
                .iter()
                .map(|upload| {
                    match decode_and_predict(predictor, &metrics, upload, &settings, max_pixels) {
                        Ok((_, prediction)) => {
                            BatchRecord::Frame(Box::new(prediction.record(&upload.name)))
                        }
                        Err(e) => {
                            BatchRecord::Error(ErrorRecord::new(upload.name.clone(), e.detail))
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(BatchAnswer { records }))
}

// Records are serialised straight to the answer's text, as `predictions.jsonl` is written:
// going through `serde_json::Value` would widen their `f32`s and change the numbers' text.
enum Answer {
    Record(Box<FrameRecord>),
    Jpeg(Vec<u8>),
}

/// The answer of a batch.
#[derive(Serialize)]
pub struct BatchAnswer {
    records: Vec<BatchRecord>,
}

/// One file's record in a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum BatchRecord {
    Frame(Box<FrameRecord>),
    Error(ErrorRecord),
}

/// Whether the client asked for a picture rather than JSON.
fn wants_jpeg(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("image/jpeg"))
}

/// The work of one image on a worker: decode (bombs refused from the header), predict with the
/// request's settings, time each stage.
///
/// # Errors
/// 413, 415 or 422 for an image that cannot be decoded; 500 when a model fails.
pub fn decode_and_predict(
    predictor: &mut Predictor,
    metrics: &Metrics,
    upload: &Upload,
    settings: &RequestSettings,
    max_pixels: u64,
) -> Result<(RgbImage, Prediction), ApiError> {
    let start = Instant::now();
    let image = image_file::decode_rgb(&upload.bytes, max_pixels).map_err(|e| {
        let mut error = ApiError::from_decode(&e);
        error.detail = format!("{}: {}", upload.name, error.detail);
        error
    })?;
    metrics.stage_ms("decode", start.elapsed().as_secs_f64() * 1000.0);
    predictor.set_pipeline_config(settings.pipeline.clone());
    let prediction = predictor
        .predict(&image)
        .map_err(|e| ApiError::internal(format!("the model failed: {}", error_chain(&e))))?;
    observe(metrics, &prediction);
    Ok((image, prediction))
}

/// Records the stage times of one prediction.
pub fn observe(metrics: &Metrics, prediction: &Prediction) {
    let t = prediction.result.timings;
    metrics.stage_ms("preprocess", t.preprocess_ms);
    metrics.stage_ms("inference", t.inference_ms);
    metrics.stage_ms("nms", t.nms_ms);
    metrics.stage_ms("emotions", prediction.result.emotion_ms);
}

fn encode_jpeg(image: &RgbImage) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(image)
        .map_err(|e| ApiError::internal(format!("cannot encode the annotated image: {e}")))?;
    Ok(bytes)
}
