//! Errors say each thing once: the failing file is named once, no cause is printed twice, and
//! the line says what the user gave wrongly (a detector as the emotion model, say).

mod common;

use std::path::Path;

use common::{emotic, shared_fixture};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The single `error: ...` line of a failed command (exit code 1).
fn error_line(code: i32, stderr: &str) -> String {
    assert_eq!(code, 1, "exit code; stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line expected:\n{stderr}");
    lines[0].to_string()
}

/// Fails if `file` is not named exactly once, or if any `: `-separated part of the line
/// appears twice.
fn assert_said_once(line: &str, file: &Path, must_say: &[&str]) {
    let name = file.display().to_string();
    assert_eq!(
        line.matches(&name).count(),
        1,
        "{name} should be named once in: {line}"
    );
    let parts: Vec<&str> = line
        .trim_start_matches("error: ")
        .split(": ")
        .filter(|p| p.len() > 3)
        .collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..].contains(part),
            "{part:?} is repeated in: {line}"
        );
    }
    for phrase in must_say {
        assert!(line.contains(phrase), "{phrase:?} missing from: {line}");
    }
}

/// A file that is no model of any kind.
fn garbage(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b"this is not a checkpoint, just some text").expect("write");
    path
}

fn tiny_image(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tiny.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 150]))
        .save(&path)
        .expect("png");
    path
}

#[test]
fn missing_detector_weights() {
    let work = tempfile::tempdir().expect("tmp");
    let image = tiny_image(work.path());
    let weights = work.path().join("yolov5x.pt");
    let (code, _, err) = emotic(
        work.path(),
        &["predict", "--weights", s(&weights), "--source", s(&image)],
    );
    assert_said_once(
        &error_line(code, &err),
        &weights,
        &["cannot load the detector"],
    );
}

#[test]
fn garbage_as_detector_in_predict_bench_and_export() {
    let work = tempfile::tempdir().expect("tmp");
    let image = tiny_image(work.path());
    let weights = garbage(work.path(), "weights.pt");
    let out = work.path().join("out.onnx");
    for args in [
        vec!["predict", "--weights", s(&weights), "--source", s(&image)],
        vec!["bench", "--weights", s(&weights), "--source", s(&image)],
        vec!["export", "--weights", s(&weights), "--output", s(&out)],
    ] {
        let (code, _, err) = emotic(work.path(), &args);
        let line = error_line(code, &err);
        assert_said_once(&line, &weights, &["not a PyTorch/safetensors file"]);
        assert!(
            line.contains("detector"),
            "{args:?} should say what failed to load: {line}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn detector_checkpoint_given_as_the_emotion_model() {
    let Some(yolo) = shared_fixture("yolov5n.pt") else {
        return;
    };
    let work = tempfile::tempdir().expect("tmp");
    let image = tiny_image(work.path());
    let (code, _, err) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            s(&yolo),
            "--emotion-model",
            s(&yolo),
            "--source",
            s(&image),
        ],
    );
    let line = error_line(code, &err);
    assert_said_once(
        &line,
        &yolo,
        &[
            "cannot load the emotion model",
            "YOLOv5 detector checkpoint",
        ],
    );
    assert!(!line.contains("header"), "no safetensors detail: {line}");
}

#[test]
fn garbage_as_emotion_model_in_infer_and_eval() {
    let work = tempfile::tempdir().expect("tmp");
    let model = garbage(work.path(), "emotic.safetensors");
    let boxes = work.path().join("boxes.txt");
    std::fs::write(&boxes, "tiny.png 0 0 10 10\n").expect("write");
    tiny_image(work.path());
    for args in [
        vec!["infer", "--boxes", s(&boxes), "--model", s(&model)],
        vec!["eval", "--model", s(&model), "--data", "data/val"],
    ] {
        let (code, _, err) = emotic(work.path(), &args);
        assert_said_once(
            &error_line(code, &err),
            &model,
            &["cannot load the emotion model", "cannot read model bundle"],
        );
    }
}

#[test]
fn reference_file_missing_from_import() {
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path().join("reference");
    std::fs::create_dir(&dir).expect("mkdir");
    let out = work.path().join("m.emotic.safetensors");
    let (code, _, err) = emotic(work.path(), &["import", "--dir", s(&dir), "-o", s(&out)]);
    let line = error_line(code, &err);
    // The thresholds are read first: a model must never load without them.
    assert_said_once(&line, &dir.join("val_thresholds.npy"), &["not found"]);
    assert!(!out.exists());
}
