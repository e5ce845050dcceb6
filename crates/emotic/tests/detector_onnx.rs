//! User-supplied ONNX detectors: the YOLOv8/YOLO11 output layout `[1, 4 + nc, rows]` (no
//! objectness) is recognised from the class names in the model's metadata and decoded.

use emotic::detect::{DetectConfig, Detector};
use emotic::engine::SessionOptions;
use emotic_onnx::{Attribute, Dim, ElemType, GraphBuilder};

/// A stand-in "YOLOv8" model: any 64x64 image in, a fixed `[1, 6, 3]` prediction out
/// (2 classes, 3 candidate boxes), plus Ultralytics-style metadata.
fn fake_v8_model() -> Vec<u8> {
    let mut g = GraphBuilder::new("fake_v8");
    let images = g
        .input(
            "images",
            ElemType::Float,
            vec![Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(64), Dim::Fixed(64)],
        )
        .unwrap();
    // Rows (transposed): cx, cy, w, h, p(person), p(car) for 3 candidates.
    #[rustfmt::skip]
    let predictions = vec![
        16.0, 16.5, 48.0,   // cx
        16.0, 16.0, 40.0,   // cy
        10.0, 10.0, 8.0,    // w
        20.0, 20.0, 8.0,    // h
        0.9, 0.8, 0.1,      // person
        0.05, 0.1, 0.7,     // car
    ];
    let constant = g
        .initializer("predictions", &[1, 6, 3], &predictions)
        .unwrap();
    // Keep the image input used: add 0 * mean(images) (a scalar) so the output depends on it.
    let mean = g
        .node(
            "ReduceMean",
            &[&images],
            vec![Attribute::int("keepdims", 0)],
        )
        .unwrap();
    let zero = g.scalar_f32("zero", 0.0).unwrap();
    let nothing = g.mul(&mean, &zero).unwrap();
    let summed = g.add(&constant, &nothing).unwrap();
    g.output(
        &summed,
        "output0",
        ElemType::Float,
        vec![Dim::Fixed(1), Dim::Fixed(6), Dim::Fixed(3)],
    )
    .unwrap();
    g.metadata("names", "{0: 'person', 1: 'car'}");
    g.metadata("stride", "32");
    g.finish("test").encode()
}

#[test]
fn yolov8_layout_is_transposed_and_has_no_objectness() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v8.onnx");
    std::fs::write(&path, fake_v8_model()).unwrap();
    let mut detector = Detector::load(&path, SessionOptions::DEFAULT).unwrap();
    assert_eq!(detector.names(), ["person", "car"]);
    // A 64x64 image needs no letterbox, so boxes come back unchanged.
    let image = image::RgbImage::new(64, 64);
    let out = detector.detect(&image, &DetectConfig::default()).unwrap();
    assert_eq!(out.input_shape, [1, 3, 64, 64]);
    // Candidates 0 and 1 overlap (IoU > 0.45) and are both persons: one survives. Candidate 2
    // is a car with confidence 0.7 (class probability, no objectness).
    assert_eq!(out.detections.len(), 2, "{:?}", out.detections);
    assert_eq!(out.detections[0].class_id, 0);
    assert!((out.detections[0].confidence - 0.9).abs() < 1e-6);
    assert_eq!(out.detections[0].bbox, [11.0, 6.0, 21.0, 26.0]);
    assert_eq!(out.detections[1].class_id, 1);
    assert!((out.detections[1].confidence - 0.7).abs() < 1e-6);
}
