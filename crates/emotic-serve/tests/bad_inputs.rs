//! Bad requests are answered with the right status and a JSON error, and the next good
//! request still succeeds.

mod common;

use std::io::Write as _;

use std::sync::OnceLock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{Running, expect_error};

fn server() -> Option<Running> {
    static SERVER: OnceLock<Option<Running>> = OnceLock::new();
    SERVER
        .get_or_init(|| common::config(true).map(common::start))
        .clone()
}

fn keyed_server() -> Option<Running> {
    static SERVER: OnceLock<Option<Running>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            common::config(false).map(|mut c| {
                c.api_key = Some("s3cret".into());
                common::start(c)
            })
        })
        .clone()
}

/// A good request after a bad one: the server is still well.
async fn still_predicts(server: &Running) {
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let response = common::client()
        .post(format!("{}/v1/predict", server.url))
        .header("content-type", "image/jpeg")
        .body(zidane)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let record: serde_json::Value = response.json().await.unwrap();
    assert_eq!(record["width"], 1280);
}

async fn post(
    server: &Running,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    common::client()
        .post(format!("{}/v1/predict{query}", server.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A valid PNG header declaring 40000 x 40000 1-bit pixels, all zero, deflated: a
/// decompression bomb of about 200 KB that would decode to 4.8 GB of RGB.
fn png_bomb() -> Vec<u8> {
    const SIDE: u32 = 40_000;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // 1-bit grey, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    let row = vec![0u8; 1 + (SIDE as usize).div_ceil(8)];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..SIDE {
        z.write_all(&row).unwrap();
    }
    chunk(&mut png, b"IDAT", &z.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_their_status_and_a_json_error() {
    let Some(server) = server() else { return };
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    // Pseudo-random bytes, the same every run.
    let mut x = 0x2545_f491_u32;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect();
    let bomb = png_bomb();
    assert!(bomb.len() < 1_000_000, "the bomb is {} bytes", bomb.len());
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("empty body", "image/jpeg", Vec::new(), 400, "empty_body"),
        (
            "wrong content type",
            "text/plain",
            zidane.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "truncated JPEG",
            "image/jpeg",
            zidane[..zidane.len() / 2].to_vec(),
            422,
            "corrupt_image",
        ),
        (
            "random bytes",
            "image/jpeg",
            random,
            415,
            "unsupported_image",
        ),
        ("PNG bomb", "image/png", bomb, 413, "image_too_large"),
    ];
    for (what, content_type, body, status, code) in cases {
        let detail = expect_error(post(&server, "", content_type, body).await, status, code).await;
        eprintln!("{what}: {status} {detail}");
        still_predicts(&server).await;
    }
}

/// A server whose body limit is small enough to exceed quickly.
fn small_limit_server() -> Option<Running> {
    static SERVER: OnceLock<Option<Running>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            common::config(false).map(|mut c| {
                c.max_body = 300_000;
                common::start(c)
            })
        })
        .clone()
}

/// Sends `head` and `body` on a raw connection and reads the answer: status and JSON body.
/// (A raw socket lets the test stop sending where it wants: a client that keeps writing
/// after the server has refused would see a reset instead of the answer.)
async fn raw(server: &Running, head: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let (headers, json) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{headers}"
    );
    (status, serde_json::from_str(json).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_are_413() {
    let Some(server) = small_limit_server() else {
        return;
    };
    let limit = server.state.limits.max_body;
    let host = server.addr;
    // Declared too large: refused from the header, before any of the body is sent.
    let (status, body) = raw(
        &server,
        &format!("POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", limit + 1),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{body}"
    );

    // Streamed without a length: refused once the limit is passed.
    let chunk = vec![0xFFu8; limit + 1];
    let mut streamed = format!("{:x}\r\n", chunk.len()).into_bytes();
    streamed.extend_from_slice(&chunk);
    let (status, body) = raw(
        &server,
        &format!("POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n"),
        &streamed,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );

    // The same for a multipart upload.
    let part =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n";
    let mut form = part.to_vec();
    form.resize(limit + 1, 0xFF);
    let mut streamed = format!("{:x}\r\n", form.len()).into_bytes();
    streamed.extend_from_slice(&form);
    let (status, body) = raw(
        &server,
        &format!("POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n"),
        &streamed,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
    still_predicts(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_query_values_are_400() {
    let Some(server) = server() else { return };
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    for query in [
        "?conf=2",
        "?iou=abc",
        "?imgsz=0",
        "?max_det=-1",
        "?classes=a,b",
        "?top_k=x",
        "?nope=1",
    ] {
        let detail = expect_error(
            post(&server, query, "image/jpeg", zidane.clone()).await,
            400,
            "bad_query",
        )
        .await;
        eprintln!("{query}: {detail}");
    }
    still_predicts(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_without_a_file_field_is_400() {
    let Some(server) = server() else { return };
    let form = reqwest::multipart::Form::new().text("image", "zidane.jpg");
    let response = common::client()
        .post(format!("{}/v1/predict", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "missing_file").await;
    still_predicts(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_are_json_errors() {
    let Some(server) = server() else { return };
    let client = common::client();
    let response = client
        .get(format!("{}/v1/nothing", server.url))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
    let response = client
        .get(format!("{}/v1/predict", server.url))
        .send()
        .await
        .unwrap();
    expect_error(response, 405, "method_not_allowed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_is_required_on_v1_only() {
    let Some(server) = keyed_server() else { return };
    let client = common::client();
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let send = |key: Option<&str>| {
        let mut request = client
            .post(format!("{}/v1/predict", server.url))
            .header("content-type", "image/jpeg")
            .body(zidane.clone());
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    expect_error(send(None).await.unwrap(), 401, "unauthorized").await;
    expect_error(send(Some("wrong")).await.unwrap(), 401, "unauthorized").await;
    let model = client
        .get(format!("{}/v1/model", server.url))
        .send()
        .await
        .unwrap();
    expect_error(model, 401, "unauthorized").await;
    assert_eq!(send(Some("s3cret")).await.unwrap().status(), 200);
    // Health, readiness and metrics stay open for probes.
    for path in [
        "/healthz",
        "/readyz",
        "/v2/health/live",
        "/v2/health/ready",
        "/metrics",
    ] {
        let response = client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
