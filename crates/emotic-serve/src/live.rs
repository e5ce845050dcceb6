//! `GET /v1/live`: a WebSocket for webcams. The client sends JPEG frames as binary messages;
//! each processed frame is answered with `{"frame", "dropped", "record", "persons"}` (or `{"frame",
//! "dropped", "error", "detail"}`), where `record` is the frame record of a video run: one
//! tracker per connection gives track IDs and smoothed emotions.
//!
//! Latency stays bounded: while a frame is being processed, only the newest frame that
//! arrives is kept; older waiting ones are dropped and counted in `dropped`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use emotic::tracking::EmotionTracker;
use emotic_io::video::{FrameMeta, InputKind};
use emotic_predict::PredictOptions;
use emotic_predict::schema::{FrameRecord, PersonRecord};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::Notify;

use crate::error::ApiError;
use crate::predict::decode_and_predict;
use crate::query::{self, RequestSettings};
use crate::state::AppState;
use crate::upload::Upload;

/// The name live frames have in their records.
const SOURCE: &str = "live";

/// Upgrades to the live protocol. Query: the settings of `/v1/predict` (and `api_key`).
///
/// # Errors
/// 400 for bad settings, before upgrading.
pub async fn live(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            format!("/v1/live is a WebSocket: {}", e.body_text()),
        )
    })?;
    // `api_key` is the auth layer's business; the rest are prediction settings.
    let rest: Option<String> = raw.map(|q| {
        q.split('&')
            .filter(|p| !p.starts_with("api_key="))
            .collect::<Vec<_>>()
            .join("&")
    });
    let settings = query::parse(rest.as_deref())?;
    let limit = state.limits.max_body;
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection(socket, state, settings)))
}

/// The answer to one frame.
#[derive(Serialize)]
struct Reply {
    /// The frame's index among those received on this connection.
    frame: u64,
    /// Frames received since the previous answer that were replaced by newer ones.
    dropped: u64,
    /// The frame record (`predictions.jsonl`'s line) and its tracked persons with smoothed
    /// emotions (`persons.jsonl`'s lines), serialised straight from their types.
    #[serde(flatten)]
    tracked: Option<Tracked>,
    /// The error code, when the frame could not be processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// A processed frame, as a video run records it.
#[derive(Serialize)]
struct Tracked {
    record: FrameRecord,
    persons: Vec<PersonRecord>,
}

/// The newest frame not yet processed, and how many were replaced while it waited.
#[derive(Default)]
struct Slot {
    frame: Option<(u64, f64, Bytes)>,
    dropped: u64,
    closed: bool,
}

async fn connection(socket: WebSocket, state: AppState, settings: RequestSettings) {
    let (mut sink, mut stream) = socket.split();
    let slot = Arc::new(Mutex::new(Slot::default()));
    let wake = Arc::new(Notify::new());
    let start = Instant::now();

    // The reader only ever overwrites the slot, so a fast client never builds a backlog.
    let reader = {
        let (slot, wake) = (Arc::clone(&slot), Arc::clone(&wake));
        tokio::spawn(async move {
            let mut index = 0u64;
            while let Some(Ok(message)) = stream.next().await {
                let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
                match message {
                    Message::Binary(bytes) => {
                        if s.frame.is_some() {
                            s.dropped += 1;
                        }
                        s.frame = Some((index, start.elapsed().as_secs_f64(), bytes));
                        index += 1;
                    }
                    Message::Close(_) => break,
                    // Text is not a frame; answered as an empty one (an error reply).
                    Message::Text(_) => {
                        s.frame = Some((index, start.elapsed().as_secs_f64(), Bytes::new()));
                        index += 1;
                    }
                    Message::Ping(_) | Message::Pong(_) => continue,
                }
                drop(s);
                wake.notify_one();
            }
            slot.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
            wake.notify_one();
        })
    };

    // Shared with the job on the worker; one frame of a connection runs at a time, so the
    // lock is never contended. A job that timed out still updates it when it runs.
    let tracker: Arc<Mutex<Option<EmotionTracker>>> = Arc::default();
    let mut shutdown = state.shutdown.clone();
    loop {
        let next = {
            let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if s.closed {
                break;
            }
            s.frame.take().map(|f| (f, std::mem::take(&mut s.dropped)))
        };
        let Some(((index, timestamp_s, bytes), dropped)) = next else {
            tokio::select! {
                () = wake.notified() => continue,
                () = async {
                    // The borrow `wait_for` returns must not live across the send below.
                    let _ = shutdown.wait_for(|stopping| *stopping).await;
                } => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            }
        };
        state.metrics.dropped_frames(dropped);
        let outcome = process(&state, &settings, &tracker, index, timestamp_s, bytes).await;
        let (tracked, error) = match outcome {
            Ok(tracked) => (Some(tracked), None),
            Err(e) => (None, Some(e)),
        };
        let reply = Reply {
            frame: index,
            dropped,
            tracked,
            error: error.as_ref().map(|e| e.error),
            detail: error.map(|e| e.detail),
        };
        let text = serde_json::to_string(&reply).unwrap_or_default();
        if sink.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    reader.abort();
}

/// Runs one frame on a worker with the connection's tracker.
async fn process(
    state: &AppState,
    settings: &RequestSettings,
    tracker: &Arc<Mutex<Option<EmotionTracker>>>,
    frame_index: u64,
    timestamp_s: f64,
    bytes: Bytes,
) -> Result<Tracked, ApiError> {
    let metrics = Arc::clone(&state.metrics);
    let max_pixels = state.limits.max_pixels;
    let settings = settings.clone();
    let tracker = Arc::clone(tracker);
    let upload = Upload {
        name: SOURCE.into(),
        bytes,
    };
    state
        .run(move |predictor| {
            let (_, mut prediction) =
                decode_and_predict(predictor, &metrics, &upload, &settings, max_pixels)?;
            let mut tracker = tracker.lock().unwrap_or_else(PoisonError::into_inner);
            let tracker =
                tracker.get_or_insert_with(|| predictor.tracker(&PredictOptions::default()));
            let meta = FrameMeta {
                source: SOURCE.into(),
                source_index: 0,
                kind: InputKind::Webcam,
                frame_index,
                timestamp_s,
                fps: None,
                total_frames: None,
            };
            prediction.track(tracker, &meta);
            Ok(Tracked {
                record: prediction.record(SOURCE),
                persons: prediction.persons(&meta),
            })
        })
        .await?
}
