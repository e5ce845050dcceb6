//! `emotic predict` on videos and streams made on the spot with ffmpeg's test sources and a
//! looped still of a person from the shared fixtures. Needs ffmpeg (CI installs it; elsewhere
//! the tests skip with a message) and the shared yolov5n weights.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn have_ffmpeg() -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "ffmpeg/ffprobe are missing in CI"
    );
    if !ok {
        eprintln!("skipping: ffmpeg/ffprobe are not installed");
    }
    ok
}

/// The weights, or `None` when the test must be skipped.
fn setup() -> Option<PathBuf> {
    if !have_ffmpeg() {
        return None;
    }
    common::shared_fixture("yolov5n.pt")
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ffprobe` facts of a video's first stream: (frames counted by decoding, r_frame_rate, duration).
fn probe(path: &Path) -> (u64, String, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    let frames = s["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    (
        frames,
        s["r_frame_rate"].as_str().unwrap().to_string(),
        duration,
    )
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is whole JSON"))
        .collect()
}

fn emotion_model() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../emotic/tests/data/emotic_small"
    )
    .to_string()
}

#[test]
fn video_frames_timestamps_and_output_rate() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("bars.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=12",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let w = weights.to_str().unwrap();
    for (stride, name) in [(1u64, "all"), (3, "stride")] {
        let stride_text = stride.to_string();
        let (code, _, err) = common::emotic(
            dir.path(),
            &[
                "predict",
                "-w",
                w,
                "-s",
                "bars.mp4",
                "--project",
                "runs",
                "--name",
                name,
                "--vid-stride",
                &stride_text,
            ],
        );
        assert_eq!(code, 0, "{err}");
        let run = dir.path().join("runs").join(name);
        let records = jsonl(&run.join("predictions.jsonl"));
        let want: Vec<u64> = (0..24).step_by(stride as usize).collect();
        let got: Vec<u64> = records
            .iter()
            .map(|r| r["frame_index"].as_u64().unwrap())
            .collect();
        assert_eq!(got, want);
        for r in &records {
            let t = r["timestamp_s"].as_f64().unwrap();
            let i = r["frame_index"].as_f64().unwrap();
            assert!((t - i / 12.0).abs() < 1e-3, "frame {i} at {t} s");
            assert_eq!(r["source"], "bars.mp4");
            assert_eq!(r["fps"].as_f64(), Some(12.0));
            assert_eq!(r["total_frames"].as_u64(), Some(24));
        }
        // The annotated video lasts as long as the input: the rate is divided by the stride.
        let (frames, rate, duration) = probe(&run.join("bars.mp4"));
        assert_eq!(frames, want.len() as u64);
        assert_eq!(rate, if stride == 1 { "12/1" } else { "4/1" });
        assert!((duration - 2.0).abs() < 0.05, "duration {duration}");
        assert!(err.contains("End to end:"), "{err}");
    }
}

#[test]
fn static_clip_gives_identical_frames_and_stable_tracks() {
    let Some(weights) = setup() else { return };
    let Some(zidane) = common::shared_fixture("images/zidane.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // MJPEG: every frame is coded on its own, so a still decodes to identical frames.
    let clip = dir.path().join("still.avi");
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        zidane.to_str().unwrap(),
        "-frames:v",
        "8",
        "-r",
        "8",
        "-vf",
        "scale=640:-2",
        "-c:v",
        "mjpeg",
        "-q:v",
        "3",
        clip.to_str().unwrap(),
    ]);
    let model = emotion_model();
    let (code, _, err) = common::emotic(
        dir.path(),
        &[
            "predict",
            "-w",
            weights.to_str().unwrap(),
            "-e",
            &model,
            "-s",
            "still.avi",
            "--project",
            "runs",
            "--smooth-window",
            "4",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let run = dir.path().join("runs/exp");
    let frames = jsonl(&run.join("predictions.jsonl"));
    assert_eq!(frames.len(), 8);
    let first = &frames[0]["detections"];
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["class_id"] == 0)
            .count()
            == 2,
        "zidane has 2 persons: {first}"
    );
    for f in &frames[1..] {
        assert_eq!(
            &f["detections"], first,
            "frame {} differs from frame 0",
            f["frame_index"]
        );
        assert_eq!(f["track_ids"], frames[0]["track_ids"]);
    }
    // Two tracks, 1 and 2, each in every frame; a constant input smooths to itself.
    let persons = jsonl(&run.join("persons.jsonl"));
    assert_eq!(persons.len(), 16);
    for p in &persons {
        let e = &p["emotion"];
        for k in ["valence", "arousal", "dominance"] {
            let (raw, smooth) = (
                e["vad"][k].as_f64().unwrap(),
                e["smoothed"]["vad"][k].as_f64().unwrap(),
            );
            assert!((raw - smooth).abs() < 1e-4, "{k}: {raw} vs {smooth}");
        }
        assert_eq!(e["predicted"], e["smoothed"]["predicted"]);
    }
    let ids: std::collections::BTreeSet<u64> = persons
        .iter()
        .map(|p| p["track_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![1, 2]);
    let tracks: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("tracks.json")).unwrap()).unwrap();
    assert_eq!(tracks["smooth_window"], 4);
    assert!((tracks["ema_alpha"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    let list = tracks["sources"][0]["tracks"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for t in list {
        assert_eq!(
            (
                t["first_frame"].as_u64(),
                t["last_frame"].as_u64(),
                t["frames_seen"].as_u64()
            ),
            (Some(0), Some(7), Some(8))
        );
        let v = &t["vad"]["valence"];
        assert!((v["min"].as_f64().unwrap() - v["max"].as_f64().unwrap()).abs() < 1e-4);
        let plot = image::open(run.join(t["plot"].as_str().unwrap())).unwrap();
        assert_eq!((plot.width(), plot.height()), (900, 420));
    }
    let (n, rate, _) = probe(&run.join("still.mp4"));
    assert_eq!((n, rate.as_str()), (8, "8/1"));
}

#[test]
fn truncated_video_keeps_decodable_frames_and_exits_3() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.mp4");
    // Noise makes every frame large, so cutting the file in half loses real frames.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "3",
        "-vf",
        "noise=alls=30:allf=t",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        full.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&full).unwrap();
    std::fs::write(dir.path().join("cut.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = common::emotic(
        dir.path(),
        &[
            "predict",
            "-w",
            weights.to_str().unwrap(),
            "-s",
            "cut.mp4",
            "--project",
            "runs",
        ],
    );
    assert_eq!(code, 3, "{err}");
    let records = jsonl(&dir.path().join("runs/exp/predictions.jsonl"));
    let (frames, last) = records.split_at(records.len() - 1);
    assert!(
        frames.len() > 3 && frames.len() < 30,
        "{} frames",
        frames.len()
    );
    assert!(
        frames
            .iter()
            .enumerate()
            .all(|(i, r)| r["frame_index"].as_u64() == Some(i as u64))
    );
    let error = last[0]["error"].as_str().unwrap();
    assert!(
        error.contains("cut.mp4")
            && error.contains(&format!("decoding stopped after {} frames", frames.len())),
        "{error}"
    );
    assert!(err.contains("error after"), "{err}");
    // The annotated video has exactly the frames that were decoded.
    assert_eq!(
        probe(&dir.path().join("runs/exp/cut.mp4")).0,
        frames.len() as u64
    );
}

#[test]
fn missing_webcam_fails_fast_and_clearly() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (code, _, err) = common::emotic(
        dir.path(),
        &[
            "predict",
            "-w",
            weights.to_str().unwrap(),
            "-s",
            "/dev/video97",
            "--project",
            "runs",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("webcam /dev/video97 does not exist"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
}

/// A free loopback port (taken from the OS, then released for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the port (read from /proc, so no connection is used up:
/// `-listen 1` serves exactly one client).
fn wait_listening(port: u16) {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the ffmpeg server did not start listening on port {port}");
}

/// Starts `emotic` and returns it with a channel of its stderr lines.
fn spawn_emotic(
    dir: &Path,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Collects stderr lines until `count` of them contain `what` (or 60 s pass).
fn wait_for_lines(
    rx: &std::sync::mpsc::Receiver<String>,
    log: &mut Vec<String>,
    what: &str,
    count: usize,
) {
    let start = Instant::now();
    while log.iter().filter(|l| l.contains(what)).count() < count {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited for {count} lines with {what:?}:\n{}",
            log.join("\n")
        );
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            log.push(line);
        }
    }
}

fn wait_exit(
    child: &mut std::process::Child,
    rx: &std::sync::mpsc::Receiver<String>,
    log: &mut Vec<String>,
) -> i32 {
    let start = Instant::now();
    loop {
        while let Ok(line) = rx.try_recv() {
            log.push(line);
        }
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            log.extend(rx.try_iter());
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("emotic did not exit:\n{}", log.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dropped_stream_is_retried_then_outputs_are_finalised() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
            "-t",
            "60",
        ])
        .args([
            "-c:v",
            "mpeg2video",
            "-g",
            "5",
            "-f",
            "mpegts",
            "-listen",
            "1",
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    let args = [
        "predict",
        "-w",
        weights.to_str().unwrap(),
        "-s",
        &url,
        "--project",
        "runs",
        "--reconnect-attempts",
        "2",
        "--reconnect-delay",
        "0.2",
        "--stream-timeout",
        "5",
    ];
    let (mut child, rx) = spawn_emotic(dir.path(), &args);
    let mut log = Vec::new();
    wait_for_lines(&rx, &mut log, "stream 1/1", 4);
    server.kill().unwrap();
    server.wait().unwrap();
    let code = wait_exit(&mut child, &rx, &mut log);
    let text = log.join("\n");
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("reconnecting in 0.2 s (attempt 1/2)")
            && text.contains("reconnecting in 0.4 s (attempt 2/2)"),
        "{text}"
    );
    assert!(
        text.contains("did not come back after 2 reconnect attempts"),
        "{text}"
    );
    let run = dir.path().join("runs/exp");
    let records = jsonl(&run.join("predictions.jsonl"));
    let frames: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("frame_index").is_some())
        .collect();
    assert!(frames.len() >= 4);
    assert!(
        frames
            .windows(2)
            .all(|w| w[0]["timestamp_s"].as_f64() < w[1]["timestamp_s"].as_f64())
    );
    assert!(
        records.last().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("reconnect attempts")
    );
    let stem = format!("127.0.0.1:{port}");
    let video = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mp4"));
    let video =
        video.unwrap_or_else(|| panic!("no finalised video for {stem} in {}", run.display()));
    assert_eq!(
        probe(&video).0,
        frames.len() as u64,
        "the video holds every processed frame"
    );
}

#[test]
fn interrupt_finalises_the_video_and_json() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "60",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let (mut child, rx) = spawn_emotic(
        dir.path(),
        &[
            "predict",
            "-w",
            weights.to_str().unwrap(),
            "-s",
            "long.mp4",
            "--project",
            "runs",
        ],
    );
    let mut log = Vec::new();
    wait_for_lines(&rx, &mut log, "video 1/1", 3);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = wait_exit(&mut child, &rx, &mut log);
    let text = log.join("\n");
    assert_eq!(code, 130, "Ctrl-C exits 130 after finalising\n{text}");
    assert!(text.contains("Interrupted"), "{text}");
    let run = dir.path().join("runs/exp");
    let frames = jsonl(&run.join("predictions.jsonl"));
    assert!(
        frames.len() >= 3 && frames.len() < 600,
        "{} frames",
        frames.len()
    );
    assert_eq!(probe(&run.join("long.mp4")).0, frames.len() as u64);
    assert!(!run.join(".long.mp4.part").exists());
}

#[test]
fn a_streams_list_reads_every_stream_side_by_side() {
    let Some(weights) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for (i, pattern) in ["testsrc", "smptebars"].iter().enumerate() {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/cam{i}.mjpg");
        // MJPEG over HTTP (multipart), like an IP camera.
        let server = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-re",
                "-f",
                "lavfi",
            ])
            .args(["-i", &format!("{pattern}=size=320x240:rate=10"), "-t", "3"])
            .args([
                "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1", &url,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(port);
        servers.push(server);
        urls.push(url);
    }
    std::fs::write(dir.path().join("cams.streams"), urls.join("\n") + "\n").unwrap();
    let args = [
        "predict",
        "-w",
        weights.to_str().unwrap(),
        "-s",
        "cams.streams",
        "--project",
        "runs",
        "--reconnect-attempts",
        "0",
    ];
    let (mut child, rx) = spawn_emotic(dir.path(), &args);
    let mut log = Vec::new();
    let code = wait_exit(&mut child, &rx, &mut log);
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    let text = log.join("\n");
    // Both streams end (the servers stop after 3 s); with no reconnects allowed that is a failure.
    assert_eq!(code, 3, "{text}");
    let run = dir.path().join("runs/exp");
    let records = jsonl(&run.join("predictions.jsonl"));
    for (i, url) in urls.iter().enumerate() {
        let frames: Vec<&Value> = records
            .iter()
            .filter(|r| r["source_index"] == i && r.get("frame_index").is_some())
            .collect();
        assert!(
            frames.len() >= 3,
            "stream {i}: {} frames\n{text}",
            frames.len()
        );
        assert!(
            frames
                .iter()
                .all(|r| r["source"] == url.as_str() && r["kind"] == "stream")
        );
        assert!(
            frames
                .windows(2)
                .all(|w| w[0]["frame_index"].as_u64() < w[1]["frame_index"].as_u64())
        );
        let stem = format!(
            "127_0_0_1_{}_cam{i}_mjpg.mp4",
            url.split(':').nth(2).unwrap().split('/').next().unwrap()
        );
        assert!(run.join(&stem).is_file(), "no {stem}\n{text}");
    }
    // The two streams were read at the same time: their frames interleave.
    let order: Vec<u64> = records
        .iter()
        .filter_map(|r| r["source_index"].as_u64())
        .collect();
    let first_of_1 = order.iter().position(|&s| s == 1).unwrap();
    assert!(
        order[first_of_1..].contains(&0),
        "stream 0 was read to its end before stream 1 started: {order:?}"
    );
}
