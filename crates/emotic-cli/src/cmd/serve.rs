//! `emotic serve`: the HTTP service (crates/emotic-serve) on this machine's address and port,
//! until Ctrl-C or SIGTERM; then requests in flight finish and it exits 0.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use emotic_serve::{ServeConfig, Server};

use super::Outcome;

/// Arguments of `emotic serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Detector weights: a YOLOv5 `.pt` checkpoint or a YOLO `.onnx` export.
    #[arg(long, short = 'w')]
    pub weights: PathBuf,
    /// EMOTIC emotion model (bundle or reference folder); without it only detection runs.
    #[arg(long, short = 'e')]
    pub emotion_model: Option<PathBuf>,
    /// Address to listen on. Loopback by default; give another address (0.0.0.0) explicitly
    /// to serve other machines.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port; 0 picks a free one (the printed URL says which).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_PORT)]
    pub port: u16,
    /// Model workers, each with its own loaded models (default: one per four cores, so each
    /// keeps four ONNX Runtime threads busy; one on small machines, for the lowest latency).
    #[arg(long)]
    pub workers: Option<usize>,
    /// ONNX Runtime threads per worker (default: the cores shared among the workers).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Requests that may wait for a worker; more get 503 with Retry-After at once.
    #[arg(long, default_value_t = ServeConfig::DEFAULT_QUEUE)]
    pub queue: usize,
    /// Seconds a request may wait for its prediction (then 504).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_TIMEOUT.as_secs_f64())]
    pub timeout: f64,
    /// Largest request body in bytes (then 413).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Largest image in pixels, judged from its header before decoding (then 413).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Require `Authorization: Bearer KEY` on /v1/* (default: the EMOTIC_API_KEY variable).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Let browsers on this origin call the API (CORS); off by default.
    #[arg(long)]
    pub cors_origin: Option<String>,
}

impl TryFrom<&ServeArgs> for ServeConfig {
    type Error = anyhow::Error;

    fn try_from(args: &ServeArgs) -> anyhow::Result<Self> {
        let mut config = Self::new(args.weights.clone(), args.emotion_model.clone());
        config.host = args.host;
        config.port = args.port;
        if let Some(workers) = args.workers {
            anyhow::ensure!(workers >= 1, "--workers must be at least 1");
            config.workers = workers;
            let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            config.models.session.intra_threads = Some((cores / workers).max(1));
        }
        if let Some(threads) = args.threads {
            config.models.session.intra_threads = Some(threads);
        }
        anyhow::ensure!(args.queue >= 1, "--queue must be at least 1");
        config.queue = args.queue;
        anyhow::ensure!(
            args.timeout.is_finite() && args.timeout > 0.0,
            "--timeout must be a positive number of seconds"
        );
        config.timeout = Duration::from_secs_f64(args.timeout);
        config.max_body = args.max_body;
        config.max_pixels = args.max_pixels;
        config.api_key = args
            .api_key
            .clone()
            .or_else(|| std::env::var("EMOTIC_API_KEY").ok())
            .filter(|k| !k.is_empty());
        config.cors_origin = args.cors_origin.clone();
        Ok(config)
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs) -> anyhow::Result<Outcome> {
    let config = ServeConfig::try_from(args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(&config).await?;
        let address = server.local_addr()?;
        announce(address)?;
        tracing::info!(
            "{} worker(s), queue {}; loading the models (GET /readyz says when they are ready)",
            config.workers,
            config.queue
        );
        server.run(stop_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}

/// The one line on stdout, so scripts and tests can read the URL (with the real port when
/// --port 0 was given).
#[allow(clippy::print_stdout)]
fn announce(address: std::net::SocketAddr) -> std::io::Result<()> {
    println!("emotic serve: listening on http://{address}");
    std::io::stdout().flush()
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
