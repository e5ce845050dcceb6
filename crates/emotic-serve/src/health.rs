//! Health, readiness, model facts and metrics. `/healthz` and `/v2/health/live` say the process
//! answers; `/readyz` and `/v2/health/ready` say the models are loaded and the queue has room
//! (the Open Inference Protocol's routes, so KServe-style probes work unchanged).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::pool::LoadState;
use crate::state::AppState;

/// `GET /healthz`, `GET /v2/health/live`.
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

/// `GET /readyz`, `GET /v2/health/ready`: 200 when ready, else 503 saying why.
pub async fn ready(State(state): State<AppState>) -> Response {
    let pool = &state.pool;
    let (ready, reason) = match pool.state() {
        LoadState::Loading => (false, Some("the models are loading".to_string())),
        LoadState::Failed(e) => (false, Some(format!("the models failed to load: {e}"))),
        LoadState::Ready(_) if pool.depth() >= pool.capacity() => {
            (false, Some("the queue is full".to_string()))
        }
        LoadState::Ready(_) => (true, None),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = match reason {
        Some(reason) => json!({ "ready": false, "reason": reason }),
        None => json!({ "ready": true }),
    };
    (status, Json(body)).into_response()
}

/// `GET /v1/model`.
///
/// # Errors
/// 503 until the models are loaded.
pub async fn model(State(state): State<AppState>) -> Result<Response, ApiError> {
    match state.pool.state() {
        LoadState::Ready(info) => Ok(Json(&*info).into_response()),
        _ => Err(ApiError::unavailable(
            "not_ready",
            "the models are not loaded yet",
        )),
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&state.pool),
    )
        .into_response()
}
