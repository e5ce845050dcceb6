//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::pool::{Pool, Refused};

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body in bytes.
    pub max_body: usize,
    /// Largest image in pixels.
    pub max_pixels: u64,
    /// Longest wait for a prediction.
    pub timeout: Duration,
}

/// The service's state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The model workers.
    pub pool: Pool,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// Request limits.
    pub limits: Limits,
    /// The key `/v1/*` requires, when set.
    pub api_key: Option<Arc<str>>,
    /// The one origin CORS lets in, when set.
    pub cors_origin: Option<axum::http::HeaderValue>,
    /// Turns true when the server shuts down (live connections then close).
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// Runs `work` on a model worker and waits for it, within the request timeout.
    ///
    /// # Errors
    /// 503 when the queue is full or the models are not loaded, 504 after the timeout, 500
    /// when the job died.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut emotic_predict::Predictor) -> T + Send + 'static,
    {
        let answer = self.pool.submit(work).map_err(|refused| match refused {
            Refused::Full => ApiError::unavailable(
                "queue_full",
                format!(
                    "all {} workers are busy and {} requests are waiting; try again shortly",
                    self.pool.workers(),
                    self.pool.capacity()
                ),
            ),
            Refused::NotReady => {
                ApiError::unavailable("not_ready", "the models are not loaded yet")
            }
        })?;
        match tokio::time::timeout(self.limits.timeout, answer).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(ApiError::internal("the prediction failed unexpectedly")),
            Err(_) => Err(ApiError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "no prediction within {} s (--timeout)",
                    self.limits.timeout.as_secs_f64()
                ),
            )),
        }
    }
}
