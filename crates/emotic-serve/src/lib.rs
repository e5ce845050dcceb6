//! The HTTP service behind `emotic serve`: the library's predict path ([`emotic_predict`])
//! behind a JSON API, a WebSocket for live webcams, and a web page.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/predict` | one image (raw body or multipart `file`) → its frame record, or the annotated JPEG |
//! | `POST /v1/predict/batch` | several `file` fields → one record each |
//! | `GET /v1/model` | detector classes and input size, emotion categories and thresholds, versions |
//! | `GET /v1/live` | WebSocket: JPEG frames in, tracked frame records out, newest frame wins |
//! | `GET /healthz`, `/v2/health/live` | alive |
//! | `GET /readyz`, `/v2/health/ready` | models loaded and queue not full |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | the API description |
//! | `GET /` | the web page |
//!
//! Model work runs on a fixed pool of worker threads ([`pool`]), each owning its models, fed
//! by a bounded queue: a request that finds it full is refused with 503 at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), emotic_serve::ServeError> {
//! let config = emotic_serve::ServeConfig::new("yolov5s.pt".into(), None);
//! emotic_serve::serve(&config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod auth;
mod health;
mod live;
mod page;
mod predict;
mod query;
mod upload;

pub mod config;
pub mod error;
pub mod metrics;
pub mod model_info;
pub mod pool;
pub mod server;
pub mod state;

pub use config::{ModelSpec, ServeConfig, default_workers};
pub use error::{ApiError, ServeError};
pub use page::OPENAPI;
pub use server::{ROUTES, Server, router, serve};
pub use state::AppState;
