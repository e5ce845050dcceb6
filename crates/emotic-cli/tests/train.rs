//! `emotic train` end to end on a tiny synthetic dataset: run folder layout, recorded options,
//! metrics, a second run in `exp2`, resuming a finished run, and `emotic predict` loading the
//! trained bundle.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{emotic, shared_fixture};
use emotic_data::dataset::{DatasetWriter, OwnedRecord, Provenance};

fn write_split(dir: &Path, n: usize) {
    let mut w = DatasetWriter::create(dir).expect("writer");
    for i in 0..n {
        let level = (i * 37 % 200) as u8;
        let context: Vec<u8> = (0..224 * 224 * 3)
            .map(|p| level.wrapping_add((p % 17) as u8))
            .collect();
        let body: Vec<u8> = (0..128 * 128 * 3)
            .map(|p| level.wrapping_add((p % 13) as u8))
            .collect();
        let mut categories = vec!["Engagement".to_string()];
        if i % 2 == 0 {
            categories.push("Happiness".to_string());
        }
        w.push(&OwnedRecord {
            context,
            body,
            provenance: Provenance {
                folder: "synthetic".into(),
                filename: format!("{i}.png"),
                image_size: [224, 224],
                bbox: [0, 0, 128, 128],
                categories,
                vad: [5.0 + (i % 3) as f64, 4.0, 6.0],
                gender: "Female".into(),
                age: "Adult".into(),
            },
        })
        .expect("push");
    }
    w.finish("split", BTreeMap::new(), "test").expect("finish");
}

const SMALL: [&str; 12] = [
    "train",
    "--data",
    "data",
    "--widths",
    "4,8,8,16",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--quiet",
    "--seed",
    "3",
];

#[test]
fn train_writes_a_run_folder_and_a_bundle_predict_loads() {
    let work = tempfile::tempdir().expect("tmp");
    write_split(&work.path().join("data/train"), 16);
    write_split(&work.path().join("data/val"), 8);

    let (code, _, stderr) = emotic(work.path(), &SMALL);
    assert_eq!(code, 0, "{stderr}");
    let run = work.path().join("runs/train/exp");
    for f in [
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "model_last.safetensors",
        "weights/last.ckpt.safetensors",
        "weights/best.ckpt.safetensors",
    ] {
        assert!(run.join(f).is_file(), "{f} missing; {stderr}");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).expect("config"))
            .expect("json");
    // Reference defaults recorded alongside the options given.
    assert_eq!(config["lr"], 0.01);
    assert_eq!(config["adam"]["weight_decay"], 5e-4);
    assert_eq!(config["lr_step"], 7);
    assert_eq!(config["lr_gamma"], 0.1);
    assert_eq!(config["loss"]["weighting"], "dynamic");
    assert_eq!(config["loss"]["continuous"], "smooth-l1");
    assert_eq!(config["batch_size"], 8);
    assert_eq!(config["seed"], 3);
    assert_eq!(config["trainable"], "all");
    assert!(config["augment"].is_object());
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("epoch,lr,train_loss"));
    assert!(rows[1].starts_with("1,0.01,"));

    // A second run gets its own folder; resuming a finished run changes no weights.
    let (code, _, stderr) = emotic(work.path(), &SMALL);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        work.path()
            .join("runs/train/exp2/model.safetensors")
            .is_file()
    );
    let before = std::fs::read(run.join("weights/last.ckpt.safetensors")).expect("ckpt");
    let (code, _, stderr) = emotic(
        work.path(),
        &["train", "--resume", "runs/train/exp", "--quiet"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(run.join("weights/last.ckpt.safetensors")).expect("ckpt"),
        before
    );

    // Same seed, same options: the same model.
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).expect("a"),
        std::fs::read(work.path().join("runs/train/exp2/model.safetensors")).expect("b")
    );

    let (Some(weights), Some(image)) = (
        shared_fixture("yolov5n.pt"),
        shared_fixture("images/zidane.jpg"),
    ) else {
        return;
    };
    let bundle = run.join("model.safetensors");
    let (code, _, stderr) = emotic(
        work.path(),
        &[
            "predict",
            "--weights",
            weights.to_str().expect("utf8"),
            "--source",
            image.to_str().expect("utf8"),
            "--emotion-model",
            bundle.to_str().expect("utf8"),
            "--nosave",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(work.path().join("runs/predict/exp/predictions.jsonl"))
        .expect("jsonl");
    let with_emotion = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .flat_map(|r| r["detections"].as_array().cloned().unwrap_or_default())
        .filter(|d| d["emotion"]["vad"].is_object())
        .count();
    assert!(with_emotion >= 2, "persons with emotions: {text}");
}

#[test]
fn train_reports_a_missing_dataset_clearly() {
    let work = tempfile::tempdir().expect("tmp");
    let (code, _, stderr) = emotic(work.path(), &["train", "--data", "nowhere", "--quiet"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nowhere"), "{stderr}");
}
