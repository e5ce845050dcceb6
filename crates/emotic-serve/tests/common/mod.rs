//! Shared by the service tests: fixtures, a server on a loopback port, a client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use emotic_serve::pool::LoadState;
use emotic_serve::{AppState, ServeConfig, Server};

/// A file from the shared fixtures, or `None` (with a printed reason) when the folder is
/// missing outside CI. Under `CI=true` a missing fixture fails the test.
pub fn shared_fixture(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared fixture {} is missing in CI",
        path.display()
    );
    eprintln!("skipping: shared fixture {} is missing", path.display());
    None
}

/// The reduced EMOTIC model in the reference layout (crates/emotic/tests/data).
pub fn emotic_small() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../emotic/tests/data/emotic_small")
}

/// The bytes of a fixture image.
pub fn fixture_bytes(rel: &str) -> Option<Vec<u8>> {
    shared_fixture(rel).map(|p| std::fs::read(p).unwrap())
}

/// A config for tests: one worker with two threads, the rest the defaults, any free port.
pub fn config(emotions: bool) -> Option<ServeConfig> {
    let weights = shared_fixture("yolov5n.pt")?;
    let mut config = ServeConfig::new(weights, emotions.then(emotic_small));
    config.port = 0;
    config.workers = 1;
    config.models.session.intra_threads = Some(2);
    Some(config)
}

/// A running server: its base URL and state.
#[derive(Clone)]
pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    pub state: AppState,
}

/// Starts a server on its own thread and runtime (it outlives the test that started it, so
/// tests of one file can share it), and returns once its models are loaded.
pub fn start(config: ServeConfig) -> Running {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let server = Server::bind(&config).await.unwrap();
            let addr = server.local_addr().unwrap();
            let state = server.state().clone();
            match state.pool.loaded().await {
                LoadState::Ready(_) => {}
                other => panic!("models did not load: {other:?}"),
            }
            tx.send(Running {
                url: format!("http://{addr}"),
                addr,
                state,
            })
            .unwrap();
            server.run(std::future::pending()).await.unwrap();
        });
    });
    rx.recv().expect("the test server did not start")
}

/// An HTTP client that opens a connection per request: a server that refuses a request
/// without reading its body closes that connection, and a pooled client could pick it for the
/// next request just as it closes.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Asserts an error answer: the status, a JSON body with `error` (equal to `code`) and a
/// non-empty `detail`; returns the detail.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "{response:?}");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default().to_string();
    assert!(!detail.is_empty(), "{body}");
    detail
}

/// A record as its JSON text reads back, minus the fields that differ by design between two
/// runs of the same image: the stage timings (`speed_ms`) and the name (`image`: the CLI's
/// path, the service's upload name).
pub fn comparable(mut record: serde_json::Value) -> serde_json::Value {
    let object = record.as_object_mut().unwrap();
    object.remove("speed_ms");
    object.remove("image");
    record
}
