//! The official YOLOv5n checkpoint from `../shared/fixtures` (not part of the repository).

use emotic_weights::{DType, load_checkpoint};
use std::path::Path;

const YOLOV5N: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/yolov5n.pt"
);

/// The fixture path, or `None` (with a printed reason) when it is absent outside CI.
fn fixture() -> Option<&'static Path> {
    let path = Path::new(YOLOV5N);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {YOLOV5N} is missing"
    );
    eprintln!("skipping: {YOLOV5N} not found");
    None
}

fn is_parameter(key: &str) -> bool {
    !(key.ends_with(".running_mean")
        || key.ends_with(".running_var")
        || key.ends_with(".num_batches_tracked")
        || key.ends_with(".anchors"))
}

#[test]
fn yolov5n_checkpoint_facts() -> anyhow::Result<()> {
    let Some(path) = fixture() else { return Ok(()) };
    let ckpt = load_checkpoint(path)?;
    let class = ckpt.module_class.as_deref().unwrap_or_default();
    // The file pickles `models.yolo.Model` (renamed DetectionModel in later YOLOv5 releases).
    assert!(
        class.starts_with("models.yolo.") && class.ends_with("Model"),
        "{class}"
    );
    let yaml = ckpt
        .meta
        .get("yaml")
        .and_then(|y| y.as_object())
        .expect("yaml dict");
    assert_eq!(yaml["nc"], 80);
    for key in [
        "depth_multiple",
        "width_multiple",
        "anchors",
        "backbone",
        "head",
    ] {
        assert!(yaml.contains_key(key), "yaml lacks {key}");
    }
    assert_eq!(yaml["depth_multiple"], 0.33);
    assert_eq!(yaml["width_multiple"], 0.25);
    let names = ckpt.meta["names"].as_array().expect("names list");
    assert_eq!(names.len(), 80);
    assert_eq!(names[0], "person");
    assert_eq!(ckpt.meta["stride"], serde_json::json!([8.0, 16.0, 32.0]));
    assert_eq!(ckpt.meta["epoch"], -1);
    // Facts computed by PyTorch from the same file (tools/gen_weights_fixtures.py --yolo).
    let facts: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/yolov5n_facts.json"
    ))?)?;
    assert_eq!(facts["class"].as_str(), Some(class));
    assert_eq!(
        ckpt.tensors.len() as u64,
        facts["keys"].as_u64().unwrap_or_default()
    );
    let params: usize = ckpt
        .tensors
        .iter()
        .filter(|(k, _)| is_parameter(k))
        .map(|(_, t)| t.numel())
        .sum();
    assert_eq!(
        params as u64,
        facts["parameters"].as_u64().unwrap_or_default()
    );
    // The published "1,867,405 parameters" is YOLOv5's count after fusing each BatchNorm into its
    // conv (2C BN parameters replaced by a C-element conv bias).
    let bn_channels: usize = ckpt
        .tensors
        .iter()
        .filter(|(k, _)| k.ends_with(".bn.weight"))
        .map(|(_, t)| t.numel())
        .sum();
    assert_eq!(params - bn_channels, 1_867_405);
    assert_eq!(
        (params - bn_channels) as u64,
        facts["parameters_after_conv_bn_fusion"]
            .as_u64()
            .unwrap_or_default()
    );
    let w = &ckpt.tensors["model.0.conv.weight"];
    assert_eq!(w.shape, vec![16, 3, 6, 6]);
    assert_eq!(w.dtype, DType::F16);
    let first: Vec<f64> = serde_json::from_value(facts["first_weight"].clone())?;
    let got: Vec<f64> = w.data[..4].iter().map(|&x| f64::from(x)).collect();
    assert_eq!(got, first);
    let sum: f64 = w.data.iter().map(|&x| f64::from(x)).sum();
    let want_sum = facts["model.0.conv.weight_sum"]
        .as_f64()
        .unwrap_or_default();
    assert!((sum - want_sum).abs() < 1e-9, "{sum} vs {want_sum}");
    assert!(
        ckpt.tensors
            .values()
            .all(|t| t.dtype == DType::F16 || t.dtype == DType::I64)
    );
    assert_eq!(ckpt.tensors["model.24.anchors"].shape, vec![3, 3, 2]);
    assert_eq!(
        ckpt.tensors["model.24.m.0.weight"].shape,
        vec![255, 64, 1, 1]
    );
    Ok(())
}
