//! The bounded queue: requests beyond one worker and its queue are refused with 503 and
//! `Retry-After` at once; every other one succeeds. Readiness, model facts and metrics.

mod common;

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503_with_retry_after() {
    let Some(mut config) = common::config(true) else {
        return;
    };
    config.workers = 1;
    config.queue = 1;
    let server = common::start(config);
    let bus = common::fixture_bytes("images/bus.jpg").unwrap();
    // Twelve at once: one can run, one can wait, the others find no room. (Each prediction
    // takes many milliseconds; the requests all arrive within a few.)
    let requests = (0..12).map(|_| {
        common::client()
            .post(format!("{}/v1/predict", server.url))
            .header("content-type", "image/jpeg")
            .body(bus.clone())
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let (mut ok, mut refused) = (0, 0);
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "1");
                common::expect_error(response, 503, "queue_full").await;
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 2, "{ok} succeeded");
    assert!(refused >= 1, "none was refused");
    let metrics = common::client()
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "emotic_http_requests_total{{route=\"/v1/predict\",status=\"503\"}} {refused}"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "emotic_http_requests_total{{route=\"/v1/predict\",status=\"200\"}} {ok}"
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_model_and_metrics_describe_the_service() {
    let Some(config) = common::config(true) else {
        return;
    };
    let server = common::start(config);
    let client = common::client();
    for path in ["/healthz", "/v2/health/live", "/readyz", "/v2/health/ready"] {
        let response = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let model: serde_json::Value = client
        .get(format!("{}/v1/model", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["emotions"], true);
    assert_eq!(model["detector"]["classes"][0], "person");
    assert_eq!(model["detector"]["classes"].as_array().unwrap().len(), 80);
    assert_eq!(model["detector"]["imgsz"], serde_json::json!([640, 640]));
    assert_eq!(model["emotion_categories"].as_array().unwrap().len(), 26);
    assert_eq!(model["thresholds"].as_array().unwrap().len(), 26);
    assert_eq!(model["onnxruntime_version"], emotic::engine::ORT_VERSION);

    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let response = client
        .post(format!("{}/v1/predict", server.url))
        .body(zidane)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for stage in emotic_serve::metrics::STAGES {
        let count = format!("emotic_stage_duration_seconds_count{{stage=\"{stage}\"}} ");
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&count))
            .unwrap_or_else(|| panic!("{count}"));
        let n: u64 = line[count.len()..].parse().unwrap();
        assert!(n >= 1, "{line}");
    }
    for series in [
        "emotic_http_request_duration_seconds_bucket{route=\"/v1/predict\",le=\"+Inf\"}",
        "emotic_queue_depth 0",
        "emotic_workers 1",
        "emotic_ready 1",
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }
}
