//! Parity with YOLOv5 (PyTorch, CPU): `yolov5n.pt` on the shared images must give the detections
//! in `yolov5n_expected_detections.json` — same count and classes, boxes within 1 px,
//! confidences within 0.005 — and the same letterboxed input shapes.
//!
//! How JPEG decoding differences are bounded: the reference decoded with `cv2.imread`
//! (libjpeg-turbo). We decode JPEGs with mozjpeg, a libjpeg-turbo fork with the same IDCT and
//! upsampling, and get the same pixels: 0 levels of difference on both files (checked against
//! cv2 when this was written; the `image` crate's own decoder differed by up to 4 levels and
//! moved a confidence by 0.005). The letterbox resize is OpenCV-exact and the graph is float
//! arithmetic, so besides the tolerances (1 px, 0.005) the test also holds confidences
//! to 2e-5: the reference file rounds them to 5 decimals (5e-6), the rest is float noise.

mod common;

use emotic::detect::{DetectConfig, Detector};
use emotic::engine::SessionOptions;

#[test]
fn yolov5n_matches_the_pytorch_reference() {
    let (Some(weights), Some(expected)) = (
        common::shared_fixture("yolov5n.pt"),
        common::shared_fixture("yolov5n_expected_detections.json"),
    ) else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
    let mut detector = Detector::load(&weights, SessionOptions::DEFAULT).unwrap();
    assert_eq!(detector.names()[0], "person");
    let mut worst_box = 0.0f64;
    let mut worst_conf = 0.0f64;
    for (name, want) in expected.as_object().unwrap() {
        let image = emotic_io::image_file::read_rgb(
            &common::shared_fixture(&format!("images/{name}")).unwrap(),
        )
        .unwrap();
        let hw: Vec<u64> = want["image_hw"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            hw,
            vec![u64::from(image.height()), u64::from(image.width())],
            "{name} size"
        );
        let got = detector.detect(&image, &DetectConfig::default()).unwrap();
        let shape: Vec<usize> = want["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(got.input_shape.to_vec(), shape, "{name} letterboxed shape");
        let want_dets = want["detections"].as_array().unwrap();
        assert_eq!(
            got.detections.len(),
            want_dets.len(),
            "{name}: {:?}",
            got.detections
        );
        for (g, w) in got.detections.iter().zip(want_dets) {
            let w: Vec<f64> = w
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(g.class_id as f64, w[5], "{name} class");
            for k in 0..4 {
                // The reference file holds boxes rounded to whole pixels; round ours the same way.
                let d = (f64::from(g.bbox[k]).round() - w[k]).abs();
                worst_box = worst_box.max(d);
                assert!(d <= 1.0, "{name} box {:?} vs {:?}", g.bbox, &w[..4]);
            }
            let dc = (f64::from(g.confidence) - w[4]).abs();
            worst_conf = worst_conf.max(dc);
            assert!(dc <= 0.005, "{name} conf {} vs {}", g.confidence, w[4]);
            assert!(
                dc <= 2e-5,
                "{name} conf {} vs {}: decoding no longer matches cv2?",
                g.confidence,
                w[4]
            );
        }
    }
    eprintln!(
        "largest deviation from the reference: box {worst_box:.3} px, confidence {worst_conf:.5}"
    );
}
