//! `emotic predict` end to end through the real binary: run folders, result files, per-file
//! errors and exit codes.

mod common;

use common::{emotic, shared_fixture};

#[test]
fn a_folder_with_bad_files_is_processed_and_reported() {
    let (Some(weights), Some(zidane)) = (
        shared_fixture("yolov5n.pt"),
        shared_fixture("images/zidane.jpg"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let images = work.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(&zidane, images.join("zidane.jpg")).unwrap();
    std::fs::write(
        images.join("corrupt.jpg"),
        b"\xff\xd8\xff\xe0 this is not really a jpeg",
    )
    .unwrap();
    std::fs::write(images.join("notes.txt"), b"not an image").unwrap();

    let args = [
        "predict",
        "--weights",
        weights.to_str().unwrap(),
        "--source",
        "images",
        "--save-txt",
        "--save-conf",
        "--save-crop",
    ];
    let (code, _, stderr) = emotic(work.path(), &args);
    assert_eq!(code, 3, "some inputs failed -> exit 3\n{stderr}");
    assert!(
        stderr.contains("corrupt.jpg") && stderr.contains("notes.txt"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 3 inputs failed"), "{stderr}");

    let run = work.path().join("runs/predict/exp");
    assert!(run.join("zidane.jpg").is_file());
    let labels = std::fs::read_to_string(run.join("labels/zidane.txt")).unwrap();
    let lines: Vec<&str> = labels.lines().collect();
    assert_eq!(lines.len(), 3, "{labels}");
    // class cx cy w h conf, normalised.
    let first: Vec<f64> = lines[0].split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(first.len(), 6);
    assert_eq!(first[0], 0.0);
    assert!(first[1..5].iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(run.join("crops/person/zidane.jpg").is_file());
    assert!(run.join("crops/person/zidane2.jpg").is_file());
    assert!(run.join("crops/tie/zidane.jpg").is_file());

    let records: Vec<serde_json::Value> = std::fs::read_to_string(run.join("predictions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    let ok: Vec<_> = records
        .iter()
        .filter(|r| r.get("error").is_none())
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["detections"].as_array().unwrap().len(), 3);
    assert_eq!(ok[0]["detections"][0]["class_name"], "person");
    assert_eq!(ok[0]["input_shape"], serde_json::json!([1, 3, 384, 640]));

    // A second run never touches the first.
    let before = std::fs::read(run.join("predictions.jsonl")).unwrap();
    let (code, _, _) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            weights.to_str().unwrap(),
            "--source",
            "images/zidane.jpg",
        ],
    );
    assert_eq!(code, 0);
    assert!(work.path().join("runs/predict/exp2/zidane.jpg").is_file());
    assert_eq!(
        std::fs::read(run.join("predictions.jsonl")).unwrap(),
        before
    );
}

#[test]
fn missing_and_truncated_weights_are_errors_naming_the_file() {
    let Some(weights) = shared_fixture("yolov5n.pt") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("a.jpg"), b"x").unwrap();
    let (code, _, stderr) = emotic(
        work.path(),
        &["predict", "--weights", "nope.pt", "--source", "a.jpg"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nope.pt"), "{stderr}");

    let bytes = std::fs::read(weights).unwrap();
    std::fs::write(work.path().join("cut.pt"), &bytes[..bytes.len() / 3]).unwrap();
    let (code, _, stderr) = emotic(
        work.path(),
        &["predict", "--weights", "cut.pt", "--source", "a.jpg"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cut.pt"), "{stderr}");
    // Nothing half-made is left behind: no run folder was started.
    assert!(!work.path().join("runs").exists());
}

#[test]
fn empty_folder_and_bad_arguments() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("empty")).unwrap();
    let (code, _, stderr) = emotic(
        work.path(),
        &["predict", "--weights", "w.pt", "--source", "empty"],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("no files"), "{stderr}");
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            "w.pt",
            "--source",
            "x.jpg",
            "--conf-thres",
            "1.5",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("conf-thres"), "{stderr}");
    let (code, _, _) = emotic(work.path(), &["predict", "--no-such-flag"]);
    assert_eq!(code, 2, "usage errors exit 2");
}

#[test]
fn export_writes_an_onnx_graph_and_refuses_to_overwrite() {
    let Some(weights) = shared_fixture("yolov5n.pt") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "export",
            "--weights",
            weights.to_str().unwrap(),
            "-o",
            "y.onnx",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let onnx = work.path().join("y.onnx");
    assert!(std::fs::metadata(&onnx).unwrap().len() > 1_000_000);
    // The exported file loads as a user-supplied ONNX model and detects exactly what the .pt does.
    let zidane = shared_fixture("images/zidane.jpg").unwrap();
    let detections = |w: &str, name: &str| {
        let (code, _, stderr) = emotic(
            work.path(),
            &[
                "predict",
                "-w",
                w,
                "-s",
                zidane.to_str().unwrap(),
                "--name",
                name,
                "--nosave",
            ],
        );
        assert_eq!(code, 0, "{stderr}");
        let text = std::fs::read_to_string(
            work.path()
                .join("runs/predict")
                .join(name)
                .join("predictions.jsonl"),
        )
        .unwrap();
        let record: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        record["detections"].clone()
    };
    let from_onnx = detections("y.onnx", "onnx");
    assert_eq!(from_onnx.as_array().unwrap().len(), 3);
    assert_eq!(from_onnx, detections(weights.to_str().unwrap(), "pt"));
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "export",
            "--weights",
            weights.to_str().unwrap(),
            "-o",
            "y.onnx",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
fn a_fixed_shape_onnx_export_letterboxes_to_its_square() {
    let (Some(weights), Some(zidane)) = (
        shared_fixture("yolov5n.pt"),
        shared_fixture("images/zidane.jpg"),
    ) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "export",
            "-w",
            weights.to_str().unwrap(),
            "--imgsz",
            "640",
            "-o",
            "fixed.onnx",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "export",
            "-w",
            weights.to_str().unwrap(),
            "--imgsz",
            "630",
            "-o",
            "bad.onnx",
        ],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("multiple of 32"), "{stderr}");
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "predict",
            "-w",
            "fixed.onnx",
            "-s",
            zidane.to_str().unwrap(),
            "--nosave",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let text =
        std::fs::read_to_string(work.path().join("runs/predict/exp/predictions.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    // A fixed 640x640 model gets the full square, not the minimal 384x640 rectangle.
    assert_eq!(record["input_shape"], serde_json::json!([1, 3, 640, 640]));
    let persons: Vec<&serde_json::Value> = record["detections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["class_id"] == 0)
        .collect();
    assert_eq!(persons.len(), 2, "{record}");
    // The grey padding changes the input, so only roughly the reference's boxes (within 3 px).
    let reference = [[743.0, 40.0, 1154.0, 715.0], [134.0, 181.0, 742.0, 720.0]];
    for (p, r) in persons.iter().zip(reference) {
        for k in 0..4 {
            let v = p["bbox"][k].as_f64().unwrap();
            assert!((v - r[k]).abs() <= 3.0, "{p} vs {r:?}");
        }
    }
}
