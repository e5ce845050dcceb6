//! What the service is started with: the models, where it listens, its limits.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use emotic::engine::SessionOptions;

/// The models every worker loads.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Detector weights (YOLOv5 `.pt` or YOLO `.onnx`).
    pub weights: PathBuf,
    /// The emotion model (bundle or reference folder); detection only without one.
    pub emotion_model: Option<PathBuf>,
    /// ONNX Runtime threads of each worker's sessions.
    pub session: SessionOptions,
}

/// Everything [`crate::Server::bind`] needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The models.
    pub models: ModelSpec,
    /// Address to listen on; loopback unless the operator says otherwise.
    pub host: IpAddr,
    /// Port (0: any free one; the bound address says which).
    pub port: u16,
    /// Model workers, each with its own loaded models.
    pub workers: usize,
    /// Jobs that may wait for a worker before requests are refused with 503.
    pub queue: usize,
    /// Longest a request may wait for its prediction (504 after that).
    pub timeout: Duration,
    /// Largest request body in bytes (413 beyond).
    pub max_body: usize,
    /// Largest image in pixels, judged from its header before decoding (413 beyond).
    pub max_pixels: u64,
    /// When set, `/v1/*` requires `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// When set, browsers on this origin may call the API (CORS); off otherwise.
    pub cors_origin: Option<String>,
}

impl ServeConfig {
    /// Default port, as most inference servers use.
    pub const DEFAULT_PORT: u16 = 8000;
    /// Default `--max-body`: 20 MB.
    pub const DEFAULT_MAX_BODY: usize = 20 * 1024 * 1024;
    /// Default pixel limit: 50 megapixels, more than any camera photo, far below a bomb.
    pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;
    /// Default `--timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default `--queue`.
    pub const DEFAULT_QUEUE: usize = 16;

    /// A configuration with the defaults for these models.
    #[must_use]
    pub fn new(weights: PathBuf, emotion_model: Option<PathBuf>) -> Self {
        let (workers, threads) = default_workers();
        Self {
            models: ModelSpec {
                weights,
                emotion_model,
                session: SessionOptions {
                    intra_threads: Some(threads),
                },
            },
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: Self::DEFAULT_PORT,
            workers,
            queue: Self::DEFAULT_QUEUE,
            timeout: Self::DEFAULT_TIMEOUT,
            max_body: Self::DEFAULT_MAX_BODY,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            api_key: None,
            cors_origin: None,
        }
    }
}

/// Default workers and ONNX Runtime threads per worker for this machine's cores.
///
/// One image keeps about four intra-op threads busy (the detector's convolutions split well
/// up to there; beyond, threads mostly wait). So every four cores get one worker, each
/// running four threads: small machines keep one worker with every core (lowest latency),
/// large ones serve several requests at once (throughput).
#[must_use]
pub fn default_workers() -> (usize, usize) {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let workers = (cores / 4).max(1);
    (workers, (cores / workers).max(1))
}
