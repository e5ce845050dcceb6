//! The service returns what `emotic predict` writes: for each fixture image, the record of
//! `POST /v1/predict` equals the `predictions.jsonl` line of the CLI's code path
//! (`emotic_predict::run`), field for field and number for number, with the detector alone and
//! with the EMOTIC fixture model, with default and with changed settings.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use emotic::pipeline::PipelineConfig;
use emotic_predict::{DetectSettings, PredictJob, PredictOptions, Quiet, SaveOptions};

const IMAGES: &[&str] = &["images/zidane.jpg", "images/bus.jpg"];

/// The CLI's record of one image with these detection settings.
fn cli_record(
    weights: &Path,
    emotion_model: Option<&Path>,
    image: &Path,
    detect: &DetectSettings,
) -> serde_json::Value {
    let project = tempfile::tempdir().unwrap();
    let job = PredictJob {
        weights: weights.to_path_buf(),
        emotion_model: emotion_model.map(Path::to_path_buf),
        source: image.to_str().unwrap().to_string(),
        project: project.path().to_path_buf(),
        name: "exp".into(),
        exist_ok: false,
        options: PredictOptions {
            pipeline: PipelineConfig {
                detect: detect.to_config().unwrap(),
                ..PipelineConfig::default()
            },
            save: SaveOptions {
                annotated: false,
                ..SaveOptions::default()
            },
            ..PredictOptions::default()
        },
    };
    let report = emotic_predict::run(&job, &mut Quiet, &Arc::new(AtomicBool::new(false))).unwrap();
    let text = std::fs::read_to_string(report.dir.join("predictions.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    serde_json::from_str(lines[0]).unwrap()
}

async fn check(emotions: bool) {
    let Some(config) = common::config(emotions) else {
        return;
    };
    let weights = config.models.weights.clone();
    let emotion_model = config.models.emotion_model.clone();
    let server = common::start(config);
    let client = common::client();
    let changed = DetectSettings {
        conf: 0.4,
        iou: 0.5,
        imgsz: vec![320, 480],
        max_det: 3,
        classes: Some(vec![0]),
        ..DetectSettings::default()
    };
    let settings = [
        (DetectSettings::default(), ""),
        (
            changed,
            "?conf=0.4&iou=0.5&imgsz=320,480&max_det=3&classes=0",
        ),
    ];
    let mut persons_with_emotions = 0;
    for image in IMAGES {
        let path = common::shared_fixture(image).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for (detect, query) in &settings {
            let expected = cli_record(&weights, emotion_model.as_deref(), &path, detect);
            let response = client
                .post(format!("{}/v1/predict{query}", server.url))
                .header("content-type", "image/jpeg")
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let got: serde_json::Value = response.json().await.unwrap();
            assert_eq!(got["image"], "upload");
            assert!(
                !expected["detections"].as_array().unwrap().is_empty(),
                "{image}: the CLI found nothing, so the comparison would prove little"
            );
            persons_with_emotions += expected["detections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| !d["emotion"].is_null())
                .count();
            assert_eq!(
                common::comparable(got),
                common::comparable(expected),
                "{image} {query}"
            );
        }
    }
    // With the emotion model the comparison covers emotions too.
    assert_eq!(persons_with_emotions > 0, emotions);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_equal_the_clis_with_the_detector_alone() {
    check(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn records_equal_the_clis_with_the_emotion_model() {
    check(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_uploads_and_batches_give_the_same_records() {
    let Some(config) = common::config(true) else {
        return;
    };
    let server = common::start(config);
    let client = common::client();
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    let bus = common::fixture_bytes("images/bus.jpg").unwrap();
    let raw: serde_json::Value = client
        .post(format!("{}/v1/predict", server.url))
        .body(zidane.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let part = |bytes: &Vec<u8>, name: &str| {
        reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string())
    };
    let form = reqwest::multipart::Form::new().part("file", part(&zidane, "zidane.jpg"));
    let multi: serde_json::Value = client
        .post(format!("{}/v1/predict", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(multi["image"], "zidane.jpg");
    assert_eq!(common::comparable(multi.clone()), common::comparable(raw));

    // A batch: a bad file in the middle gets its own error record, the rest still succeed.
    let form = reqwest::multipart::Form::new()
        .part("file", part(&zidane, "zidane.jpg"))
        .part("file", part(&b"not an image".to_vec(), "junk.bin"))
        .part("file", part(&bus, "bus.jpg"));
    let response = client
        .post(format!("{}/v1/predict/batch", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let batch: serde_json::Value = response.json().await.unwrap();
    let records = batch["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(
        common::comparable(records[0].clone()),
        common::comparable(multi)
    );
    assert_eq!(records[1]["image"], "junk.bin");
    assert!(
        records[1]["error"]
            .as_str()
            .unwrap()
            .contains("not a supported image")
    );
    assert_eq!(records[2]["image"], "bus.jpg");
    assert!(
        records[2]["detections"]
            .as_array()
            .is_some_and(|d| d.len() >= 4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_annotated_picture_is_a_jpeg_of_the_image_size() {
    let Some(config) = common::config(true) else {
        return;
    };
    let server = common::start(config);
    let zidane = common::fixture_bytes("images/zidane.jpg").unwrap();
    for (accept, query) in [("image/jpeg", ""), ("*/*", "?annotate=true")] {
        let response = common::client()
            .post(format!("{}/v1/predict{query}", server.url))
            .header("accept", accept)
            .body(zidane.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let bytes = response.bytes().await.unwrap();
        let picture = image::load_from_memory(&bytes).unwrap();
        assert_eq!((picture.width(), picture.height()), (1280, 720));
        let original = image::load_from_memory(&zidane).unwrap().to_rgb8();
        // Boxes were drawn: the picture differs from the photo by more than JPEG noise.
        let changed = picture
            .to_rgb8()
            .pixels()
            .zip(original.pixels())
            .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 60))
            .count();
        assert!(changed > 1000, "{changed} pixels changed");
    }
}
