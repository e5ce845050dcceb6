//! The router and the server around it: binding, model loading, graceful shutdown.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::config::ServeConfig;
use crate::error::{ApiError, ServeError};
use crate::metrics::{self, Metrics};
use crate::pool::{LoadState, Pool};
use crate::state::{AppState, Limits};
use crate::{auth, health, live, page, predict};

/// Every route the service answers, with its methods (the OpenAPI test checks this list
/// against both the router and the committed OpenAPI file).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/style.css"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/v1/model"),
    ("POST", "/v1/predict"),
    ("POST", "/v1/predict/batch"),
    ("GET", "/v1/live"),
];

/// The service's routes and layers over `state`.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/model", get(health::model))
        .route("/v1/predict", post(predict::predict))
        .route("/v1/predict/batch", post(predict::batch))
        .route("/v1/live", get(live::live))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    let mut app = Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/openapi.json", get(page::openapi))
        .route("/healthz", get(health::live))
        .route("/v2/health/live", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/v2/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .merge(v1)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route; see /openapi.json",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(state.limits.max_body))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http());
    if let Some(origin) = &state.cors_origin {
        app = app.layer(
            CorsLayer::new()
                .allow_origin(origin.clone())
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT]),
        );
    }
    app.with_state(state)
}

/// A bound server whose models are loading.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    stopping: watch::Sender<bool>,
}

impl Server {
    /// Binds the address and starts loading the models in the workers (this returns before
    /// they are loaded; `/readyz` says when).
    ///
    /// # Errors
    /// [`ServeError::Bind`] when the address cannot be bound.
    pub async fn bind(config: &ServeConfig) -> Result<Self, ServeError> {
        let address = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Bind {
                address: address.to_string(),
                source,
            })?;
        let cors_origin = config
            .cors_origin
            .as_deref()
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|_| ServeError::Config("--cors-origin is not a valid origin".into()))?;
        let (stopping, shutdown) = watch::channel(false);
        let state = AppState {
            pool: Pool::start(&config.models, config.workers, config.queue),
            metrics: Arc::new(Metrics::default()),
            limits: Limits {
                max_body: config.max_body,
                max_pixels: config.max_pixels,
                timeout: config.timeout,
            },
            api_key: config.api_key.as_deref().map(Arc::from),
            cors_origin,
            shutdown,
        };
        Ok(Self {
            listener,
            state,
            stopping,
        })
    }

    /// The address it listens on (with the real port when 0 was asked for).
    ///
    /// # Errors
    /// When the socket cannot say.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (the pool, the metrics).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish, closes live connections, and returns.
    ///
    /// # Errors
    /// [`ServeError::Load`] when the models cannot be loaded, [`ServeError::Io`] when serving
    /// fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let stopping = self.stopping;
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stopping.send(true);
        };
        let pool = self.state.pool.clone();
        let app = router(self.state);
        let server = axum::serve(self.listener, app)
            .with_graceful_shutdown(signal)
            .into_future();
        tokio::select! {
            served = server => served.map_err(ServeError::Io),
            failed = load_failure(&pool) => Err(ServeError::Load(failed)),
        }
    }
}

/// Completes only when loading the models failed, with the reason.
async fn load_failure(pool: &Pool) -> String {
    match pool.loaded().await {
        LoadState::Failed(e) => e,
        _ => std::future::pending().await,
    }
}

/// Binds, loads and serves until `shutdown` completes.
///
/// # Errors
/// See [`Server::bind`] and [`Server::run`].
pub async fn serve(
    config: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    Server::bind(config).await?.run(shutdown).await
}
