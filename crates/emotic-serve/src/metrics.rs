//! `GET /metrics` in the Prometheus text format: requests by route and status, request
//! latency and per-stage time as histograms (seconds, Prometheus' base unit), queue depth.
//! Labels are route templates and stage names only, so the number of series stays small.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::pool::{LoadState, Pool};

/// Latency buckets in seconds: from a fast health check to a slow batch.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Stage buckets in seconds: stages are parts of one image's work.
const STAGE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The stages of one image, as `stage` labels.
pub const STAGES: &[&str] = &["decode", "preprocess", "inference", "nms", "emotions"];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&mut self.counts) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, label: &str) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{label},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{label},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{label}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{label}}} {}", self.count);
    }
}

#[derive(Debug)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    stages: BTreeMap<&'static str, Histogram>,
    dropped_frames: u64,
}

/// The service's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                requests: BTreeMap::new(),
                latency: BTreeMap::new(),
                // Every stage is exported from the start, at zero (Prometheus' advice for
                // series known to exist).
                stages: STAGES
                    .iter()
                    .map(|s| (*s, Histogram::new(STAGE_BUCKETS)))
                    .collect(),
                dropped_frames: 0,
            }),
        }
    }
}

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a finished request.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        let mut inner = self.inner();
        *inner
            .requests
            .entry((route.to_string(), status))
            .or_default() += 1;
        inner
            .latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(REQUEST_BUCKETS))
            .observe(seconds);
    }

    /// Records the time of one stage of one image, in milliseconds.
    pub fn stage_ms(&self, stage: &'static str, ms: f64) {
        if let Some(h) = self.inner().stages.get_mut(stage) {
            h.observe(ms / 1000.0);
        }
    }

    /// Counts live frames dropped because newer ones arrived.
    pub fn dropped_frames(&self, n: u64) {
        self.inner().dropped_frames += n;
    }

    /// The text exposition.
    #[must_use]
    pub fn render(&self, pool: &Pool) -> String {
        let inner = self.inner();
        let mut out = String::new();
        out.push_str("# HELP emotic_http_requests_total HTTP requests by route template and status.\n# TYPE emotic_http_requests_total counter\n");
        for ((route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "emotic_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP emotic_http_request_duration_seconds Time from request to response, by route template.\n# TYPE emotic_http_request_duration_seconds histogram\n");
        for (route, h) in &inner.latency {
            h.render(
                &mut out,
                "emotic_http_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out.push_str("# HELP emotic_stage_duration_seconds Time of each stage of one image (decode, detector preprocess, inference, nms, emotions).\n# TYPE emotic_stage_duration_seconds histogram\n");
        for (stage, h) in &inner.stages {
            h.render(
                &mut out,
                "emotic_stage_duration_seconds",
                &format!("stage=\"{stage}\""),
            );
        }
        let ready = u8::from(matches!(pool.state(), LoadState::Ready(_)));
        let _ = write!(
            out,
            "# HELP emotic_queue_depth Jobs waiting for a model worker.\n# TYPE emotic_queue_depth gauge\nemotic_queue_depth {}\n\
             # HELP emotic_jobs_running Jobs a model worker is working on.\n# TYPE emotic_jobs_running gauge\nemotic_jobs_running {}\n\
             # HELP emotic_queue_capacity Jobs that may wait before requests get 503.\n# TYPE emotic_queue_capacity gauge\nemotic_queue_capacity {}\n\
             # HELP emotic_workers Model workers.\n# TYPE emotic_workers gauge\nemotic_workers {}\n\
             # HELP emotic_ready Whether the models are loaded.\n# TYPE emotic_ready gauge\nemotic_ready {ready}\n\
             # HELP emotic_live_dropped_frames_total Live frames replaced by newer ones before they were processed.\n# TYPE emotic_live_dropped_frames_total counter\nemotic_live_dropped_frames_total {}\n",
            pool.depth(),
            pool.running(),
            pool.capacity(),
            pool.workers(),
            inner.dropped_frames,
        );
        out
    }
}

/// Middleware: counts every request by its route template (never the raw path, which would
/// make a series per URL) and status.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let response = next.run(request).await;
    metrics.request(
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
