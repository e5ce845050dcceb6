//! The YOLOv5 graph against an independent float64 PyTorch reference (tools/gen_yolo_golden.py:
//! functional torch ops, BatchNorm unfolded, YOLOv5's Detect decode), run on ONNX Runtime.
//!
//! Tolerance: |ours - reference| <= 1e-4 * (1 + |reference|) per value. Ours runs in f32 with
//! BatchNorm folded into the conv weights; the reference is f64 and unfolded, so the gap is f32
//! accumulation error through ~60 convolutions. Measured worst case 3.1e-6 (relative to
//! 1 + |value|; 4.1e-4 px absolute on a 136 px coordinate), so the bound has ~30x headroom while
//! any real mistake (wrong eps, anchor, grid order, padding) is off by 1e-2 or more.

use std::path::{Path, PathBuf};
use std::time::Instant;

use emotic::arch::yolov5::{Yolov5Graph, build_yolov5};
use emotic::engine::{Session, SessionOptions};
use emotic_weights::{Checkpoint, Tensor};
use serde_json::{Value, json};

const TOL: f32 = 1e-4;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The shared yolov5n.pt, or `None` (with a printed reason) when absent outside CI.
fn shared_yolov5n() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/yolov5n.pt");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "missing fixture {}",
        path.display()
    );
    eprintln!("skipping: {} not found", path.display());
    None
}

/// `0.5 + 0.45 * sin(0.037 (c+1) y + 0.051 x + 0.7 c)` in f64, rounded to f32 (as in the script).
fn pattern(h: usize, w: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(3 * h * w);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let (c, y, x) = (c as f64, y as f64, x as f64);
                v.push((0.5 + 0.45 * (0.037 * (c + 1.0) * y + 0.051 * x + 0.7 * c).sin()) as f32);
            }
        }
    }
    v
}

fn run(graph: &Yolov5Graph, h: usize, w: usize, input: &[f32]) -> (Vec<usize>, Vec<f32>) {
    let mut session = Session::from_bytes(&graph.model, SessionOptions::DEFAULT).unwrap();
    let out = session
        .run(&[(graph.input_name.as_str(), &[1, 3, h, w], input)])
        .unwrap();
    assert_eq!(out[0].name, graph.output_name);
    (out[0].shape.clone(), out[0].data.clone())
}

/// Max of |a - b| / (1 + |b|), asserting it is within [`TOL`].
fn assert_close(ours: &[f32], reference: &[f32], what: &str) -> f32 {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let mut worst = 0.0f32;
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        let err = (a - b).abs() / (1.0 + b.abs());
        assert!(err <= TOL, "{what}: value {i}: ours {a}, reference {b}");
        worst = worst.max(err);
    }
    eprintln!("{what}: worst |diff|/(1+|ref|) = {worst:.3e}");
    worst
}

fn rows_at(out: &[f32], no: usize, indices: &[usize]) -> Vec<f32> {
    indices
        .iter()
        .flat_map(|&r| out[r * no..(r + 1) * no].iter().copied())
        .collect()
}

fn golden_case(golden: &Value, key: &str) -> (usize, usize, Vec<usize>, Vec<usize>, f64) {
    let case = &golden[key];
    let hw: Vec<usize> = serde_json::from_value(case["input_hw"].clone()).unwrap();
    let shape: Vec<usize> = serde_json::from_value(case["shape"].clone()).unwrap();
    let indices: Vec<usize> = serde_json::from_value(case["indices"].clone()).unwrap();
    (hw[0], hw[1], shape, indices, case["sum"].as_f64().unwrap())
}

fn npy(name: &str) -> Vec<f32> {
    emotic_weights::npy::read_npy_file(&data(name))
        .unwrap()
        .to_f32_vec()
}

#[test]
fn yolov5n_matches_the_pytorch_reference() {
    let Some(path) = shared_yolov5n() else { return };
    let ckpt = emotic_weights::load_checkpoint(&path).unwrap();
    let start = Instant::now();
    let graph = build_yolov5(&ckpt).unwrap();
    eprintln!(
        "yolov5n graph built in {:?} ({} bytes)",
        start.elapsed(),
        graph.model.len()
    );
    assert_eq!(graph.nc, 80);
    assert_eq!(graph.strides, [8, 16, 32]);
    assert_eq!(graph.names[0], "person");
    assert_eq!(graph.names[27], "tie");
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(data("yolov5n_golden.json")).unwrap())
            .unwrap();

    // zidane.jpg letterboxed to 192x320 by the script, stored losslessly.
    let (h, w, shape, indices, sum) = golden_case(&golden, "zidane");
    let img = image::open(data("yolo_zidane_320.png")).unwrap().to_rgb8();
    assert_eq!((img.height() as usize, img.width() as usize), (h, w));
    let mut input = vec![0f32; 3 * h * w];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            input[(c * h + y as usize) * w + x as usize] = f32::from(p[c]) / 255.0;
        }
    }
    let (out_shape, out) = run(&graph, h, w, &input);
    assert_eq!(out_shape, shape);
    assert_close(
        &rows_at(&out, 85, &indices),
        &npy("yolov5n_zidane_golden.npy"),
        "zidane rows",
    );
    let total: f64 = out.iter().map(|&v| f64::from(v)).sum();
    let abs_sum = golden["zidane"]["abs_sum"].as_f64().unwrap();
    assert!(
        (total - sum).abs() <= 1e-6 * abs_sum,
        "output sum {total} vs {sum}"
    );

    // A second size through the same graph: H and W are dynamic.
    let (h, w, shape, indices, _) = golden_case(&golden, "pattern");
    let (out_shape, out) = run(&graph, h, w, &pattern(h, w));
    assert_eq!(out_shape, shape);
    assert_close(
        &rows_at(&out, 85, &indices),
        &npy("yolov5n_pattern_golden.npy"),
        "pattern rows",
    );
}

#[test]
fn yolov5n_runs_at_letterbox_shapes() {
    let Some(path) = shared_yolov5n() else { return };
    let graph = build_yolov5(&emotic_weights::load_checkpoint(&path).unwrap()).unwrap();
    let mut session = Session::from_bytes(&graph.model, SessionOptions::DEFAULT).unwrap();
    assert_eq!(session.metadata("stride").as_deref(), Some("32"));
    assert!(
        session
            .metadata("names")
            .unwrap()
            .starts_with("{0: 'person', 1: 'bicycle',")
    );
    for (h, w) in [(384, 640), (640, 480), (640, 640), (32, 32)] {
        let out = session
            .run(&[("images", &[1, 3, h, w], &pattern(h, w))])
            .unwrap();
        let rows = 3 * (h / 8 * w / 8 + h / 16 * w / 16 + h / 32 * w / 32);
        assert_eq!(out[0].shape, [1, rows, 85], "input {h}x{w}");
        assert!(out[0].data.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn v50_layout_focus_spp_matches_the_pytorch_reference() {
    // Random tiny model in YOLOv5 v5.0's layout, pickled as {'model': models.yolo.Model}.
    let ckpt = emotic_weights::load_checkpoint(&data("yolo_v50_tiny.pt")).unwrap();
    let graph = build_yolov5(&ckpt).unwrap();
    assert_eq!(graph.names, ["cat", "dog", "bird"]);
    let (h, w) = (128, 160);
    let (shape, out) = run(&graph, h, w, &pattern(h, w));
    assert_eq!(shape, [1, 3 * (16 * 20 + 8 * 10 + 4 * 5), 8]);
    assert_close(&out, &npy("yolo_v50_tiny_golden.npy"), "v5.0 tiny");
}

// ----- synthetic checkpoints: decode semantics and error reporting, checked by hand -----

fn tensor(shape: &[usize], f: impl Fn(usize) -> f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_f32(shape.to_vec(), (0..n).map(f).collect())
}

/// One stride-2 Conv(8) and a one-level Detect with nc = 2 (no = 7), 3 anchors.
fn synthetic() -> Checkpoint {
    let mut ckpt = Checkpoint::default();
    let yaml = json!({
        "nc": 2, "depth_multiple": 1.0, "width_multiple": 1.0,
        "anchors": [[10, 13, 16, 30, 33, 23]],
        "backbone": [[-1, 1, "Conv", [8, 3, 2]]],
        "head": [[[0], 1, "Detect", ["nc", "anchors"]]],
    });
    ckpt.meta.insert("yaml".into(), yaml);
    ckpt.meta.insert("names".into(), json!(["a", "b"]));
    let t = &mut ckpt.tensors;
    t.insert(
        "model.0.conv.weight".into(),
        tensor(&[8, 3, 3, 3], |i| (i % 7) as f32 * 0.1),
    );
    t.insert("model.0.bn.weight".into(), tensor(&[8], |_| 1.0));
    t.insert("model.0.bn.bias".into(), tensor(&[8], |_| 0.0));
    t.insert("model.0.bn.running_mean".into(), tensor(&[8], |_| 0.0));
    t.insert("model.0.bn.running_var".into(), tensor(&[8], |_| 1.0));
    // Zero 1x1 weights: every prediction is its bias, so the decode can be checked by hand.
    t.insert("model.1.m.0.weight".into(), tensor(&[21, 8, 1, 1], |_| 0.0));
    t.insert(
        "model.1.m.0.bias".into(),
        tensor(&[21], |i| (i as f32 - 10.0) * 0.2),
    );
    // Anchors in grid units (pixels / stride 2).
    t.insert(
        "model.1.anchors".into(),
        tensor(&[1, 3, 2], |i| [5.0, 6.5, 8.0, 15.0, 16.5, 11.5][i]),
    );
    ckpt
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn detect_decode_follows_yolov5_formulas_and_row_order() {
    let graph = build_yolov5(&synthetic()).unwrap();
    assert_eq!(graph.strides, [2]);
    let (h, w) = (6, 10);
    let (shape, out) = run(&graph, h, w, &pattern(h, w));
    let (ny, nx, no) = (3, 5, 7);
    assert_eq!(shape, [1, 3 * ny * nx, no]);
    let anchors_px = [[10.0, 13.0], [16.0, 30.0], [33.0, 23.0]];
    for a in 0..3 {
        for y in 0..ny {
            for x in 0..nx {
                let row = &out[((a * ny + y) * nx + x) * no..][..no];
                let s = |j: usize| sigmoid((a * no + j) as f32 * 0.2 - 2.0);
                let expected = [
                    (2.0 * s(0) - 0.5 + x as f32) * 2.0,
                    (2.0 * s(1) - 0.5 + y as f32) * 2.0,
                    (2.0 * s(2)).powi(2) * anchors_px[a][0],
                    (2.0 * s(3)).powi(2) * anchors_px[a][1],
                    s(4),
                    s(5),
                    s(6),
                ];
                for (j, (got, want)) in row.iter().zip(expected).enumerate() {
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "anchor {a} y {y} x {x} col {j}: {got} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_weight_shapes_name_the_key_and_both_shapes() {
    let mut ckpt = synthetic();
    ckpt.tensors
        .insert("model.0.conv.weight".into(), tensor(&[8, 3, 5, 5], |_| 0.0));
    let msg = build_yolov5(&ckpt).unwrap_err().to_string();
    assert!(
        msg.contains("model.0.conv.weight")
            && msg.contains("[8, 3, 3, 3]")
            && msg.contains("[8, 3, 5, 5]"),
        "{msg}"
    );
    assert!(msg.contains("layer 0"), "{msg}");

    let mut ckpt = synthetic();
    ckpt.tensors.remove("model.0.bn.running_var");
    let msg = build_yolov5(&ckpt).unwrap_err().to_string();
    assert!(
        msg.contains("missing weight `model.0.bn.running_var`"),
        "{msg}"
    );
}

#[test]
fn unsupported_or_missing_architecture_is_an_error() {
    let mut ckpt = synthetic();
    ckpt.meta.remove("yaml");
    assert!(
        build_yolov5(&ckpt)
            .unwrap_err()
            .to_string()
            .contains("yaml")
    );

    let mut ckpt = synthetic();
    ckpt.meta["yaml"]["backbone"] = json!([[-1, 1, "BottleneckCSP", [8]]]);
    let msg = build_yolov5(&ckpt).unwrap_err().to_string();
    assert!(
        msg.contains("BottleneckCSP") && msg.contains("not supported"),
        "{msg}"
    );

    let mut ckpt = synthetic();
    ckpt.meta.insert("names".into(), json!(["only one"]));
    assert!(
        build_yolov5(&ckpt)
            .unwrap_err()
            .to_string()
            .contains("nc = 2")
    );

    let mut ckpt = synthetic();
    ckpt.meta.insert("stride".into(), json!([8.0]));
    assert!(
        build_yolov5(&ckpt)
            .unwrap_err()
            .to_string()
            .contains("strides")
    );
}

#[test]
fn write_onnx_replaces_the_file_atomically() {
    let graph = build_yolov5(&synthetic()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b"old").unwrap();
    graph.write_onnx(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), graph.model);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    assert!(
        graph
            .write_onnx(&dir.path().join("missing/x.onnx"))
            .is_err()
    );
}
