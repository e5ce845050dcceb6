//! EMOTIC on ONNX Runtime against PyTorch (`tools/gen_emotic_fixtures.py`): the reduced-width
//! reference-layout checkpoints in `tests/data/emotic_small/`, run on the persons of the shared
//! images `zidane.jpg` (2) and `bus.jpg` (4).
//!
//! Tolerance: 1e-4 absolute on the 26 scores and on VAD (x10 scale). Both sides compute in
//! float32 but sum in different orders (ONNX Runtime folds BatchNorm into the convolutions and
//! uses its own kernels); PyTorch itself differs by ~1.6e-5 between batched and single-person
//! runs of the same model, so 1e-4 leaves a margin while still catching any real error (a wrong
//! weight or layer moves scores by 1e-2 or more). Thresholds in the fixture sit at least 1e-2 away
//! from every score, so the predicted sets must be identical.
//!
//! The parity tests feed the model the cv2-preprocessed inputs committed as PNG
//! (`tests/data/emotic_inputs/`) and check the preprocessing exactly against the hashes PyTorch
//! recorded. `full_pipeline_on_the_real_jpegs` runs `predict` on the JPEGs decoded by the `image`
//! crate, whose decoder differs from libjpeg-turbo by a few levels, and bounds that effect; the
//! CLI test `crates/emotic-cli/tests/infer.rs` decodes with mozjpeg (as `cv2.imread` does) and
//! holds the whole pipeline to the same 1e-4.

use std::path::{Path, PathBuf};

use emotic::emotion::{BoxOutcome, CATEGORIES, EmotionModel, PersonEmotion};
use emotic::imageops::{fnv1a64, normalize_chw};
use image::RgbImage;
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn small(name: &str) -> PathBuf {
    data("emotic_small").join(name)
}

fn golden() -> Value {
    let text = std::fs::read_to_string(data("emotic_small_golden.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn load_model() -> EmotionModel {
    match EmotionModel::from_reference_files(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &small("val_thresholds.npy"),
    ) {
        Ok(m) => m,
        Err(e) => panic!("loading the reference-layout fixture failed: {e}"),
    }
}

fn png(name: &str) -> RgbImage {
    match image::open(data("emotic_inputs").join(name)) {
        Ok(img) => img.to_rgb8(),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|x| x as f32)
                .collect()
        })
        .unwrap_or_default()
}

/// Largest absolute differences (scores, VAD on the 1-10 scale) of one person against its
/// golden record; panics on a wrong predicted set.
fn compare(label: &str, ours: &PersonEmotion, golden: &Value) -> (f32, f32) {
    let cat = floats(&golden["cat"]);
    let vad = floats(&golden["vad"]);
    assert_eq!(
        (cat.len(), vad.len()),
        (26, 3),
        "{label}: golden record incomplete"
    );
    let max_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
    };
    let worst = (max_diff(&ours.categories, &cat), max_diff(&ours.vad, &vad));
    let names: Vec<&str> = ours.predicted.iter().map(|p| p.name()).collect();
    let expected: Vec<&str> = golden["predicted"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        names, expected,
        "{label}: predicted categories (sorted by margin) differ"
    );
    worst
}

fn stem(image: &Value) -> String {
    image["image"]
        .as_str()
        .unwrap_or("")
        .trim_end_matches(".jpg")
        .to_string()
}

#[test]
fn preprocessing_is_identical_to_the_reference() {
    // The committed PNGs are the cv2 outputs (hash of the uint8 pixels), and our ToTensor +
    // Normalize gives the same float32 bits as torchvision's.
    let g = golden();
    let images = g["images"].as_array().cloned().unwrap_or_default();
    assert_eq!(images.len(), 2);
    for image in &images {
        let s = stem(image);
        let ctx = png(&format!("{s}_context.png"));
        assert_eq!(
            format!("{:016x}", fnv1a64(ctx.as_raw())),
            image["context_u8_fnv1a64"].as_str().unwrap_or("")
        );
        let mut t = Vec::new();
        normalize_chw(&ctx, &emotic::emotion::CONTEXT_NORM, &mut t);
        assert_eq!(
            format!("{:016x}", fnv1a64(&f32_bytes(&t))),
            image["context_tensor_fnv1a64"].as_str().unwrap_or(""),
            "{s}: context tensor"
        );
        for (i, p) in image["persons"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let body = png(&format!("{s}_body{i}.png"));
            assert_eq!(
                format!("{:016x}", fnv1a64(body.as_raw())),
                p["body_u8_fnv1a64"].as_str().unwrap_or("")
            );
            let mut t = Vec::new();
            normalize_chw(&body, &emotic::emotion::BODY_NORM, &mut t);
            assert_eq!(
                format!("{:016x}", fnv1a64(&f32_bytes(&t))),
                p["body_tensor_fnv1a64"].as_str().unwrap_or(""),
                "{s} body {i}"
            );
        }
    }
}

#[test]
fn scores_match_pytorch_on_real_persons() {
    let g = golden();
    let mut model = load_model();
    let expected_thr = floats(&g["thresholds"]);
    assert_eq!(
        model.thresholds().to_vec(),
        expected_thr,
        "thresholds read from val_thresholds.npy"
    );
    let (mut worst_cat, mut worst_vad) = (0.0f32, 0.0f32);
    let mut persons = 0;
    for image in g["images"].as_array().cloned().unwrap_or_default() {
        let s = stem(&image);
        let golden_persons = image["persons"].as_array().cloned().unwrap_or_default();
        let ctx = png(&format!("{s}_context.png"));
        let bodies: Vec<RgbImage> = (0..golden_persons.len())
            .map(|i| png(&format!("{s}_body{i}.png")))
            .collect();
        let out = model
            .predict_preprocessed(&ctx, &bodies)
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(out.persons.len(), golden_persons.len());
        for (i, (ours, gold)) in out.persons.iter().zip(&golden_persons).enumerate() {
            let (c, v) = compare(&format!("{s} person {i}"), ours, gold);
            (worst_cat, worst_vad) = (worst_cat.max(c), worst_vad.max(v));
            persons += 1;
        }
    }
    assert_eq!(persons, 6);
    eprintln!("max |ours - pytorch| over 6 persons: scores {worst_cat:.3e}, VAD {worst_vad:.3e}");
    assert!(
        worst_cat <= TOLERANCE,
        "scores differ by {worst_cat:e} > {TOLERANCE:e}"
    );
    assert!(
        worst_vad <= TOLERANCE,
        "VAD differs by {worst_vad:e} > {TOLERANCE:e}"
    );
}

#[test]
fn state_dict_variants_give_the_same_scores() {
    let mut whole = load_model();
    let mut from_state_dicts = EmotionModel::from_reference_files(
        &small("model_context1.pth"),
        &small("model_body1_state_dict.pth"),
        &small("model_emotic1_state_dict.pth"),
        &small("val_thresholds.npy"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ctx = png("bus_context.png");
    let bodies: Vec<RgbImage> = (0..4).map(|i| png(&format!("bus_body{i}.png"))).collect();
    let a = whole
        .predict_preprocessed(&ctx, &bodies)
        .unwrap_or_else(|e| panic!("{e}"));
    let b = from_state_dicts
        .predict_preprocessed(&ctx, &bodies)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
}

#[test]
fn batching_changes_nothing() {
    let mut model = load_model();
    let ctx = png("bus_context.png");
    let bodies: Vec<RgbImage> = (0..4).map(|i| png(&format!("bus_body{i}.png"))).collect();
    let all = model
        .predict_preprocessed(&ctx, &bodies)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0.0f32;
    for (i, body) in bodies.iter().enumerate() {
        let one = model
            .predict_preprocessed(&ctx, std::slice::from_ref(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (&one.persons[0], &all.persons[i]);
        for (x, y) in a
            .categories
            .iter()
            .zip(&b.categories)
            .chain(a.vad.iter().zip(&b.vad))
        {
            worst = worst.max((x - y).abs());
        }
        let names = |p: &PersonEmotion| p.predicted.iter().map(|c| c.index).collect::<Vec<_>>();
        assert_eq!(
            names(a),
            names(b),
            "person {i}: predicted set depends on batching"
        );
    }
    eprintln!("one at a time vs batch of 4: max abs difference {worst:.3e}");
    assert!(worst <= 1e-6, "batching changed scores by {worst:e}");

    // A crowd larger than one body batch is split; the split changes nothing either.
    let crowd: Vec<RgbImage> = (0..emotic::emotion::MAX_BODY_BATCH + 6)
        .map(|i| bodies[i % 4].clone())
        .collect();
    let big = model
        .predict_preprocessed(&ctx, &crowd)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(big.persons.len(), crowd.len());
    for (i, p) in big.persons.iter().enumerate() {
        let d = p
            .categories
            .iter()
            .zip(&all.persons[i % 4].categories)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(d <= 1e-6, "crowd person {i} differs by {d:e}");
    }
}

fn shared(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared fixture {} missing under CI",
        p.display()
    );
    eprintln!("skipping: shared fixture {} not found", p.display());
    None
}

#[test]
fn full_pipeline_on_the_real_jpegs() {
    // Decoded by the `image` crate (not libjpeg-turbo), so inputs differ from the reference by a
    // few levels; this bounds how much that moves the scores, and checks that `predict` crops
    // with the reference's integer boxes.
    let Some(det_path) = shared("yolov5n_expected_detections.json") else {
        return;
    };
    let detections: Value =
        serde_json::from_str(&std::fs::read_to_string(det_path).unwrap_or_default())
            .unwrap_or(Value::Null);
    let g = golden();
    let mut model = load_model();
    let mut worst = 0.0f32;
    let mut worst_pixel = 0u8;
    for image in g["images"].as_array().cloned().unwrap_or_default() {
        let name = image["image"].as_str().unwrap_or("");
        let Some(path) = shared(&format!("images/{name}")) else {
            return;
        };
        let frame = image::open(&path)
            .map(|i| i.to_rgb8())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Person boxes as floats, plus a degenerate and an outside box that must be skipped.
        let mut boxes: Vec<[f32; 4]> = detections[name]["detections"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|d| d[5].as_f64() == Some(0.0))
            .map(|d| std::array::from_fn(|k| d[k].as_f64().unwrap_or(0.0) as f32 + 0.4))
            .collect();
        boxes.push([10.0, 10.0, 10.9, 50.0]);
        boxes.push([5000.0, 10.0, 6000.0, 50.0]);
        let outcomes = model
            .predict(&frame, &boxes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let golden_persons = image["persons"].as_array().cloned().unwrap_or_default();
        assert_eq!(outcomes.len(), golden_persons.len() + 2);
        for (i, gold) in golden_persons.iter().enumerate() {
            let BoxOutcome::Scored { rect, emotion } = &outcomes[i] else {
                panic!("{name} person {i} skipped")
            };
            let gb: Vec<u64> = gold["box"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            assert_eq!(
                vec![
                    u64::from(rect.x1),
                    u64::from(rect.y1),
                    u64::from(rect.x2),
                    u64::from(rect.y2)
                ],
                gb
            );
            for (a, b) in emotion
                .categories
                .iter()
                .zip(&floats(&gold["cat"]))
                .chain(emotion.vad.iter().zip(&floats(&gold["vad"])))
            {
                worst = worst.max((a - b).abs());
            }
        }
        assert!(matches!(
            outcomes[golden_persons.len()],
            BoxOutcome::Skipped(_)
        ));
        assert!(matches!(
            outcomes[golden_persons.len() + 1],
            BoxOutcome::Skipped(_)
        ));
        // The decoder difference after the context resize, against the cv2 output.
        let ours = emotic::imageops::resize_rgb(&frame, 224, 224).unwrap_or_else(|e| panic!("{e}"));
        let reference = png(&format!("{}_context.png", name.trim_end_matches(".jpg")));
        for (a, b) in ours.as_raw().iter().zip(reference.as_raw()) {
            worst_pixel = worst_pixel.max(a.abs_diff(*b));
        }
    }
    eprintln!(
        "image-crate decoding: context pixels differ by <= {worst_pixel}, scores/VAD by <= {worst:.3e}"
    );
    assert!(
        worst_pixel <= 4,
        "JPEG decoder differs from libjpeg-turbo by {worst_pixel} levels"
    );
    assert!(worst <= 0.15, "decoder differences moved scores by {worst}");
    assert_eq!(CATEGORIES.len(), 26);
}
