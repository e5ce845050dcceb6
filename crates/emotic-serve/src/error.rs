//! Errors: [`ApiError`], what a request is answered with (always a JSON body), and
//! [`ServeError`], why the service itself could not run.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use emotic_io::image_file::DecodeError;
use serde::Serialize;

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// What was asked for.
        address: String,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A setting is invalid.
    #[error("{0}")]
    Config(String),
    /// The models could not be loaded.
    #[error("cannot load the models: {0}")]
    Load(String),
    /// Serving failed.
    #[error("the server failed")]
    Io(#[from] std::io::Error),
}

/// An error answer: an HTTP status and `{"error": <code>, "detail": <message>}`. Messages say
/// what was wrong with the request, never internal traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// A short stable code clients can match on (`queue_full`, `image_too_large`, ...).
    pub error: &'static str,
    /// What happened, for people.
    pub detail: String,
    /// Seconds after which trying again makes sense (503).
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: &'a str,
}

impl ApiError {
    /// An error with a status, code and detail.
    #[must_use]
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    #[must_use]
    pub fn bad_request(error: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, detail)
    }

    /// 413: the body is over `--max-body`.
    #[must_use]
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the {limit} bytes allowed (--max-body)"),
        )
    }

    /// 503 with `Retry-After`: no room in the queue, or models still loading.
    #[must_use]
    pub fn unavailable(error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, error, detail)
        }
    }

    /// 500: something failed that is not the request's fault.
    #[must_use]
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// The error for an image that could not be decoded.
    #[must_use]
    pub fn from_decode(e: &DecodeError) -> Self {
        let (status, code) = match e {
            DecodeError::Unsupported => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image"),
            DecodeError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "image_too_large"),
            DecodeError::Corrupt(_) => (StatusCode::UNPROCESSABLE_ENTITY, "corrupt_image"),
        };
        Self::new(status, code, e.to_string())
    }

    /// The JSON body as text (for WebSocket replies, which have no status).
    #[must_use]
    pub fn json(&self) -> String {
        serde_json::to_string(&Body {
            error: self.error,
            detail: &self.detail,
        })
        .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.json(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
