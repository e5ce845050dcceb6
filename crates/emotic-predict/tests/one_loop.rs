//! Still images and video frames go through the same loop: a folder of frames and the same
//! frames as a (lossless) clip give the same detections and emotions, number for number.

mod common;

use emotic_predict::{PredictOptions, SaveOptions};
use serde_json::Value;

/// Each record's detections without what differs by design between an image run and a video
/// run (timings, the frame position, track IDs).
fn detections(lines: &[Value]) -> Vec<Value> {
    lines.iter().map(|l| l["detections"].clone()).collect()
}

#[test]
fn a_folder_of_frames_and_the_same_frames_as_a_clip_agree() {
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    if !common::have_ffmpeg() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let zidane = common::shared_fixture("images/zidane.jpg").unwrap();
    // Five different frames: the photo panned across, as PNGs.
    let frames = work.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let pattern = frames.join("f%02d.png");
    common::ffmpeg(&[
        "-loop",
        "1",
        "-i",
        zidane.to_str().unwrap(),
        "-frames:v",
        "5",
        "-vf",
        "crop=960:540:40*n:20*n",
        pattern.to_str().unwrap(),
    ]);
    // The same PNGs as a clip whose codec is PNG too, so decoding gives the same pixels.
    let clip = work.path().join("clip.mkv");
    common::ffmpeg(&[
        "-framerate",
        "5",
        "-i",
        pattern.to_str().unwrap(),
        "-c:v",
        "png",
        clip.to_str().unwrap(),
    ]);
    let options = PredictOptions {
        save: SaveOptions {
            annotated: false,
            csv: true,
            ..SaveOptions::default()
        },
        ..PredictOptions::default()
    };
    let images = common::predict(
        &weights,
        frames.to_str().unwrap(),
        &work.path().join("a"),
        options.clone(),
    );
    let video = common::predict(
        &weights,
        clip.to_str().unwrap(),
        &work.path().join("b"),
        options,
    );
    assert!(images.images_only && !video.images_only);
    assert_eq!((images.processed, video.processed), (5, 5));
    let a = common::json_lines(&images.dir.join("predictions.jsonl"));
    let b = common::json_lines(&video.dir.join("predictions.jsonl"));
    assert_eq!(detections(&a), detections(&b));
    let persons: usize = a
        .iter()
        .map(|l| {
            l["detections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d.get("emotion").is_some())
                .count()
        })
        .sum();
    assert!(persons >= 5, "{persons} persons with emotions");
    // The CSV rows agree too, apart from how a row names its frame (`f00.png` vs `clip.mkv#0`).
    let rows = |dir: &std::path::Path| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').skip(1).map(String::from).collect())
            .collect()
    };
    assert_eq!(rows(&images.dir), rows(&video.dir));
    // Only the video run tracks: it has persons.jsonl, the image run has none.
    assert!(video.dir.join("persons.jsonl").exists() && !images.dir.join("persons.jsonl").exists());
}

/// The one-image API (what the service and the Python package call) gives the record the run
/// writes, apart from the timings.
#[test]
fn the_predictor_gives_the_records_of_a_run() {
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    let images = common::shared_fixture("images").unwrap();
    let work = tempfile::tempdir().unwrap();
    let options = PredictOptions::default();
    let run = common::predict(
        &weights,
        images.to_str().unwrap(),
        work.path(),
        options.clone(),
    );
    let lines = common::json_lines(&run.dir.join("predictions.jsonl"));
    let mut predictor =
        emotic_predict::Predictor::load(&weights, Some(&common::emotic_small()), &options).unwrap();
    for line in lines {
        let name = line["image"].as_str().unwrap();
        let image = emotic_io::image_file::read_rgb(std::path::Path::new(name)).unwrap();
        let record = predictor.predict(&image).unwrap().record(name);
        let mut value = common::as_json(&record);
        let mut expected = line.clone();
        value.as_object_mut().unwrap().remove("speed_ms");
        expected.as_object_mut().unwrap().remove("speed_ms");
        assert_eq!(value, expected);
    }
}
