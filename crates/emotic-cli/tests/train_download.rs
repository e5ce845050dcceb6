//! `emotic train --download` against a loopback mirror (the tests have no internet): the
//! official file names are requested, only for streams without given weights, into
//! `$EMOTIC_CACHE_DIR`; bytes that do not match the published sha256 stop the run before a
//! run folder exists and leave nothing in the cache.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Serves `body` with 200 to every request and records the request paths.
fn serve(body: &'static [u8]) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&paths);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h.trim().is_empty() {
                    break;
                }
            }
            log.lock().expect("log").push(path);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    (base, paths)
}

fn emotic_with_cache(dir: &Path, cache: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(args)
        .current_dir(dir)
        .env("EMOTIC_CACHE_DIR", cache)
        // Keep the developer's real torch hub cache out of the test.
        .env("TORCH_HOME", dir.join("no-torch-home"))
        .output()
        .expect("run emotic");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn download_requests_the_official_files_and_refuses_wrong_bytes() {
    let work = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(work.path().join("data/train")).expect("mkdir");
    let cache = work.path().join("cache");
    // As many bytes as the published file has, so only the digest can tell.
    let wrong = vec![7u8; emotic_fetch::PLACES365_RESNET18.size.expect("size") as usize];
    let (mirror, paths) = serve(wrong.leak());
    let (code, stderr) = emotic_with_cache(
        work.path(),
        &cache,
        &[
            "train",
            "--data",
            "data",
            "--download",
            "--download-mirror",
            &mirror,
            "--quiet",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("sha256 mismatch"), "{stderr}");
    assert!(
        stderr.contains(emotic_fetch::PLACES365_RESNET18.sha256),
        "{stderr}"
    );
    assert!(stderr.contains("context stream"), "{stderr}");
    // The context stream's file is fetched first; the failure stops there.
    assert_eq!(
        *paths.lock().expect("log"),
        vec![format!("/{}", emotic_fetch::PLACES365_RESNET18.file_name)]
    );
    assert!(
        !work.path().join("runs").exists(),
        "no run folder on failure"
    );
    let left: Vec<_> = std::fs::read_dir(cache.join("weights"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "cache holds {left:?}");
}

#[test]
fn download_skips_streams_whose_weights_are_given() {
    let work = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(work.path().join("data/train")).expect("mkdir");
    let given = work.path().join("context.pth");
    std::fs::write(&given, b"given").expect("write");
    let cache = work.path().join("cache");
    let (mirror, paths) = serve(b"wrong");
    let (code, stderr) = emotic_with_cache(
        work.path(),
        &cache,
        &[
            "train",
            "--data",
            "data",
            "--context-weights",
            "context.pth",
            "--download",
            "--download-mirror",
            &mirror,
            "--quiet",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("body stream"), "{stderr}");
    assert!(
        stderr.contains("the server's file has 5 bytes, the published one 46830571"),
        "{stderr}"
    );
    assert_eq!(
        *paths.lock().expect("log"),
        vec![format!("/{}", emotic_fetch::IMAGENET_RESNET18.file_name)]
    );
}

#[test]
fn download_checks_the_dataset_before_fetching() {
    let work = tempfile::tempdir().expect("tmp");
    let (mirror, paths) = serve(b"wrong");
    let (code, stderr) = emotic_with_cache(
        work.path(),
        &work.path().join("cache"),
        &[
            "train",
            "--data",
            "nowhere",
            "--download",
            "--download-mirror",
            &mirror,
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert!(paths.lock().expect("log").is_empty());
}

#[test]
fn download_does_not_combine_with_a_whole_model_or_resume() {
    let work = tempfile::tempdir().expect("tmp");
    for args in [
        &[
            "train",
            "--data",
            "d",
            "--init-model",
            "m.safetensors",
            "--download",
        ][..],
        &["train", "--resume", "runs/train/exp", "--download"][..],
        &[
            "train",
            "--data",
            "d",
            "--download-mirror",
            "http://127.0.0.1:9/",
        ][..],
    ] {
        let (code, _, stderr) = common::emotic(work.path(), args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
}
