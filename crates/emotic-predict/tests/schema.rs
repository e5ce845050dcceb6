//! Real outputs of an image run and of a video run validate against the committed JSON Schema,
//! and parse back into the typed records.

mod common;

use std::path::Path;

use emotic_predict::schema::{FrameRecord, JSON_SCHEMA, PersonRecord, TracksFile};
use emotic_predict::{PredictOptions, SaveOptions};
use serde_json::Value;

/// A validator for one `$defs` entry of the schema.
fn validator(def: &str) -> jsonschema::Validator {
    let mut doc: Value = serde_json::from_str(JSON_SCHEMA).unwrap();
    doc["$ref"] = Value::String(format!("#/$defs/{def}"));
    jsonschema::validator_for(&doc).unwrap()
}

fn assert_valid(def: &str, values: &[Value]) {
    assert!(!values.is_empty(), "no {def} to validate");
    let v = validator(def);
    for value in values {
        let errors: Vec<String> = v
            .iter_errors(value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{def} invalid: {errors:?}\n{value}");
    }
}

fn options() -> PredictOptions {
    PredictOptions {
        save: SaveOptions {
            annotated: false,
            ..SaveOptions::default()
        },
        ..PredictOptions::default()
    }
}

#[test]
fn image_run_outputs_follow_the_schema() {
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    let images = common::shared_fixture("images").unwrap();
    let work = tempfile::tempdir().unwrap();
    // A broken file too, so an error record is validated.
    let folder = work.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    for name in ["bus.jpg", "zidane.jpg"] {
        std::fs::copy(images.join(name), folder.join(name)).unwrap();
    }
    std::fs::write(folder.join("broken.jpg"), b"\xff\xd8\xff not a jpeg").unwrap();
    let report = common::predict(&weights, folder.to_str().unwrap(), work.path(), options());
    assert_eq!((report.processed, report.failed), (2, 1));
    let lines = common::json_lines(&report.dir.join("predictions.jsonl"));
    assert_eq!(lines.len(), 3);
    assert_valid("PredictionsLine", &lines);
    let frames: Vec<Value> = lines
        .iter()
        .filter(|l| l.get("detections").is_some())
        .cloned()
        .collect();
    assert_valid("FrameRecord", &frames);
    assert_valid(
        "ErrorRecord",
        &lines
            .iter()
            .filter(|l| l.get("error").is_some())
            .cloned()
            .collect::<Vec<_>>(),
    );
    // Persons carry emotions, and the records read back into the typed schema unchanged.
    let persons = frames
        .iter()
        .flat_map(|f| f["detections"].as_array().unwrap().clone())
        .filter(|d| d.get("emotion").is_some())
        .count();
    assert!(persons >= 6, "{persons} persons with emotions");
    for value in &frames {
        let record: FrameRecord = serde_json::from_value(value.clone()).unwrap();
        assert!(record.position.is_none() && record.track_ids.is_none());
        assert_eq!(&common::as_json(&record), value);
    }
    // A broken record (a renamed field) fails validation: the schema is strict.
    let mut renamed = frames[0].clone();
    let d = renamed["detections"][0].as_object_mut().unwrap();
    let conf = d.remove("confidence").unwrap();
    d.insert("conf".into(), conf);
    assert!(!validator("FrameRecord").is_valid(&renamed));
}

#[test]
fn video_run_outputs_follow_the_schema() {
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    if !common::have_ffmpeg() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let zidane = common::shared_fixture("images/zidane.jpg").unwrap();
    let clip = work.path().join("clip.mp4");
    common::ffmpeg(&[
        "-loop",
        "1",
        "-i",
        zidane.to_str().unwrap(),
        "-t",
        "0.4",
        "-r",
        "10",
        "-vf",
        "scale=640:360",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let report = common::predict(&weights, clip.to_str().unwrap(), work.path(), options());
    assert_eq!((report.processed, report.failed), (4, 0));
    let dir = &report.dir;
    let frames = common::json_lines(&dir.join("predictions.jsonl"));
    assert_eq!(frames.len(), 4);
    assert_valid("FrameRecord", &frames);
    assert_valid("PredictionsLine", &frames);
    let persons = common::json_lines(&dir.join("persons.jsonl"));
    assert_valid("PersonRecord", &persons);
    let tracks: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tracks.json")).unwrap()).unwrap();
    assert_valid("TracksFile", std::slice::from_ref(&tracks));
    for value in &frames {
        let record: FrameRecord = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            record.position.as_ref().unwrap().frame_index as usize,
            frames.iter().position(|f| f == value).unwrap()
        );
        assert_eq!(&common::as_json(&record), value);
    }
    for value in &persons {
        let record: PersonRecord = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(&common::as_json(&record), value);
    }
    let file: TracksFile = serde_json::from_value(tracks.clone()).unwrap();
    assert_eq!(common::as_json(&file), tracks);
    assert!(Path::new(&dir.join(file.sources[0].tracks[0].plot.as_ref().unwrap())).exists());
}
