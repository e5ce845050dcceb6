//! ResNet18 features and the EMOTIC fusion head against PyTorch (tools/gen_resnet_golden.py:
//! torchvision's own ResNet forward and a torch head, float64, BatchNorm unfolded, random
//! weights with randomised running statistics), run on ONNX Runtime.
//!
//! Tolerance: |ours - reference| <= 1e-5 * (1 + |reference|). Ours is f32 with BatchNorm
//! folded; the reduced-width nets have short dot products, measured worst 1.6e-7. A wrong eps
//! (1e-3 instead of 1e-5), a missing ReLU or a swapped stream order is off by > 1e-3.
//!
//! The committed fixture is a reduced-width ResNet18 (widths 4/8/16/32) because the real one
//! is 45 MB. Set `EMOTIC_RESNET_FULL_DIR` to the output of
//! `tools/gen_resnet_golden.py --full --out DIR` to run the same checks at real widths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emotic::arch::fusion::build_fusion_head;
use emotic::arch::resnet::build_resnet18_features;
use emotic::engine::{Session, SessionOptions};
use emotic_weights::Tensor;
use serde_json::Value;

const TOL: f32 = 1e-5;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn state_dict(dir: &Path, name: &str) -> BTreeMap<String, Tensor> {
    emotic_weights::load_checkpoint(&dir.join(name))
        .unwrap()
        .tensors
}

fn golden(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("resnet_golden.json")).unwrap()).unwrap()
}

/// `1.5 * sin(0.037 (c+1) y + 0.051 x + 0.7 c + 0.9 n)` as in the script.
fn images(n: usize, size: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n * 3 * size * size);
    for b in 0..n {
        for c in 0..3 {
            for y in 0..size {
                for x in 0..size {
                    let (b, c, y, x) = (b as f64, c as f64, y as f64, x as f64);
                    v.push(
                        (1.5 * (0.037 * (c + 1.0) * y + 0.051 * x + 0.7 * c + 0.9 * b).sin())
                            as f32,
                    );
                }
            }
        }
    }
    v
}

/// `cos(0.13 k + 0.7 n) * (1 + 0.01 k)`.
fn features(n: usize, k: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|b| {
            (0..k).map(move |j| {
                ((0.13 * j as f64 + 0.7 * b as f64).cos() * (1.0 + 0.01 * j as f64)) as f32
            })
        })
        .collect()
}

fn golden_matrix(g: &Value, key: &str) -> Vec<f32> {
    g[key]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect()
}

fn assert_close(ours: &[f32], reference: &[f32], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        let err = (a - b).abs() / (1.0 + b.abs());
        assert!(err <= TOL, "{what}: value {i}: ours {a}, reference {b}");
        worst = worst.max(err);
    }
    eprintln!("{what}: worst |diff|/(1+|ref|) = {worst:.3e}");
}

/// torchvision keys renamed to the reference's `nn.Sequential(*children[:-1])` keys.
fn sequential_layout(tv: &BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    tv.iter()
        .filter(|(k, _)| !k.starts_with("fc."))
        .map(|(k, v)| {
            let renamed = if let Some(rest) = k.strip_prefix("conv1.") {
                format!("0.{rest}")
            } else if let Some(rest) = k.strip_prefix("bn1.") {
                format!("1.{rest}")
            } else if let Some(rest) = k.strip_prefix("layer") {
                let (stage, tail) = rest.split_at(1);
                format!("{}{tail}", stage.parse::<usize>().unwrap() + 3)
            } else {
                k.clone()
            };
            (renamed, v.clone())
        })
        .collect()
}

fn check_features(dir: &Path) {
    let g = golden(dir);
    let dim = g["feature_dim"].as_u64().unwrap() as usize;
    let tv = state_dict(dir, "resnet_small_state_dict.pth");
    let seq = sequential_layout(&tv);
    assert!(
        seq.contains_key("4.0.conv1.weight") && seq.contains_key("5.0.downsample.1.running_var")
    );
    for size in [224, 128] {
        let reference = golden_matrix(&g, &format!("features_{size}"));
        for (layout, tensors) in [("torchvision", &tv), ("sequential", &seq)] {
            let model = build_resnet18_features(tensors, (size, size)).unwrap();
            let mut s = Session::from_bytes(&model, SessionOptions::DEFAULT).unwrap();
            let out = s
                .run(&[("images", &[2, 3, size, size], &images(2, size))])
                .unwrap();
            assert_eq!(out[0].name, "features");
            assert_eq!(out[0].shape, [2, dim]);
            assert_close(
                &out[0].data,
                &reference,
                &format!("{layout} features at {size}"),
            );
            // Dynamic batch: 5 images, of which the first two are the golden ones.
            let out = s
                .run(&[("images", &[5, 3, size, size], &images(5, size))])
                .unwrap();
            assert_eq!(out[0].shape, [5, dim]);
            assert_close(
                &out[0].data[..2 * dim],
                &reference,
                &format!("{layout} batch 5 at {size}"),
            );
        }
    }
}

fn check_head(dir: &Path) {
    let g = golden(dir);
    let dim = g["feature_dim"].as_u64().unwrap() as usize;
    let model = build_fusion_head(&state_dict(dir, "resnet_fusion_state_dict.pth")).unwrap();
    let mut s = Session::from_bytes(&model, SessionOptions::DEFAULT).unwrap();
    let context = features(2, dim);
    // body[n][k] = context[n][dim - 1 - k], as in the script.
    let body: Vec<f32> = context
        .chunks(dim)
        .flat_map(|r| r.iter().rev().copied())
        .collect();
    let out = s
        .run(&[
            ("context_features", &[2, dim], &context),
            ("body_features", &[2, dim], &body),
        ])
        .unwrap();
    let by_name = |n: &str| out.iter().find(|o| o.name == n).unwrap();
    assert_eq!(by_name("cat").shape, [2, 26]);
    assert_eq!(by_name("cont").shape, [2, 3]);
    assert_close(
        &by_name("cat").data,
        &golden_matrix(&g, "head_cat"),
        "fusion cat",
    );
    assert_close(
        &by_name("cont").data,
        &golden_matrix(&g, "head_cont"),
        "fusion cont",
    );
}

#[test]
fn resnet_features_match_torchvision_in_both_key_layouts() {
    check_features(&data_dir());
}

#[test]
fn fusion_head_matches_pytorch() {
    check_head(&data_dir());
}

#[test]
fn full_width_models_match_when_generated_locally() {
    let Some(dir) = std::env::var_os("EMOTIC_RESNET_FULL_DIR") else {
        eprintln!(
            "skipping: EMOTIC_RESNET_FULL_DIR not set (see tools/gen_resnet_golden.py --full)"
        );
        return;
    };
    check_features(Path::new(&dir));
    check_head(Path::new(&dir));
}

#[test]
fn missing_or_misshapen_weights_are_named() {
    let tv = state_dict(&data_dir(), "resnet_small_state_dict.pth");
    let mut t = tv.clone();
    t.remove("layer3.1.bn2.running_var");
    let msg = build_resnet18_features(&t, (224, 224))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("missing weight `layer3.1.bn2.running_var`"),
        "{msg}"
    );

    let mut t = tv.clone();
    t.insert(
        "layer2.0.conv2.weight".into(),
        Tensor::from_f32(vec![8, 8, 1, 1], vec![0.0; 64]),
    );
    let msg = build_resnet18_features(&t, (224, 224))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("layer2.0.conv2.weight")
            && msg.contains("[8, 8, 3, 3]")
            && msg.contains("[8, 8, 1, 1]"),
        "{msg}"
    );

    let mut t = tv.clone();
    t.retain(|k, _| !k.starts_with("layer2.0.downsample"));
    let msg = build_resnet18_features(&t, (224, 224))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("layer2.0.downsample.0.weight"), "{msg}");

    assert!(
        build_resnet18_features(&BTreeMap::new(), (224, 224))
            .unwrap_err()
            .to_string()
            .contains("conv1.weight")
    );
    assert!(build_resnet18_features(&tv, (0, 224)).is_err());

    let mut head = state_dict(&data_dir(), "resnet_fusion_state_dict.pth");
    head.remove("bn1.running_mean");
    let msg = build_fusion_head(&head).unwrap_err().to_string();
    assert!(msg.contains("bn1.running_mean"), "{msg}");
}
