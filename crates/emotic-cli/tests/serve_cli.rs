//! `emotic serve` as a program: `--port 0` prints the URL it listens on, it answers, and
//! SIGTERM during a request lets that request complete before it exits 0.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// Sends one HTTP/1.1 request on a new connection and returns it, unread.
fn send(address: &str, method: &str, path: &str, headers: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream
}

/// Reads a response to its end: the status code and the body.
fn response(mut stream: TcpStream) -> (u16, String) {
    let mut text = Vec::new();
    stream.read_to_end(&mut text).unwrap();
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(address: &str, path: &str) -> (u16, String) {
    response(send(address, "GET", path, "", &[]))
}

/// A value of the metrics text.
fn metric(address: &str, name: &str) -> f64 {
    let (_, text) = get(address, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

#[test]
fn sigterm_during_a_request_lets_it_finish_and_exits_0() {
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    let Some(bus) = common::shared_fixture("images/bus.jpg") else {
        return;
    };
    let emotic_small =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../emotic/tests/data/emotic_small");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(["serve", "--port", "0", "--workers", "1", "--weights"])
        .arg(&weights)
        .arg("--emotion-model")
        .arg(&emotic_small)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("emotic serve: listening on ")
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    let address = url.strip_prefix("http://").unwrap().to_string();
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );

    // Ready once the models are loaded.
    while get(&address, "/readyz").0 != 200 {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // A batch of six images keeps the worker busy; SIGTERM arrives once it is at work.
    let image = std::fs::read(&bus).unwrap();
    let mut body = Vec::new();
    for i in 0..6 {
        body.extend_from_slice(
            format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bus{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&image);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let request = send(
        &address,
        "POST",
        "/v1/predict/batch",
        "Content-Type: multipart/form-data; boundary=XyZ\r\n",
        &body,
    );
    while metric(&address, "emotic_jobs_running") < 1.0 {
        std::thread::yield_now();
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let (status, body) = response(request);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let records = answer["records"].as_array().unwrap();
    assert_eq!(records.len(), 6);
    assert!(records.iter().all(|r| r["detections"].is_array()), "{body}");
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}
