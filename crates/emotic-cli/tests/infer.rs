//! `emotic import` and `emotic infer` end to end: reference files -> bundle, then the real images
//! (decoded like cv2.imread) with the person boxes, against the PyTorch goldens of
//! `tools/gen_emotic_fixtures.py` (reduced-width model in the exact reference layout).

mod common;

use std::path::{Path, PathBuf};

use common::{emotic, shared_fixture};
use serde_json::Value;

/// Same tolerance as the library parity test (float32, different summation order).
const TOLERANCE: f64 = 1e-4;

fn emotic_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../emotic/tests/data")
        .join(rel)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

#[test]
fn import_then_infer_matches_pytorch_on_the_real_images() -> anyhow::Result<()> {
    let (Some(zidane), Some(bus), Some(dets)) = (
        shared_fixture("images/zidane.jpg"),
        shared_fixture("images/bus.jpg"),
        shared_fixture("yolov5n_expected_detections.json"),
    ) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let work = dir.path();
    let model_dir = emotic_data("emotic_small");
    let bundle = work.join("model.emotic.safetensors");

    let (code, _, err) = emotic(
        work,
        &[
            "import",
            "--dir",
            model_dir.to_str().unwrap_or(""),
            "-o",
            "model.emotic.safetensors",
        ],
    );
    assert_eq!(code, 0, "import failed: {err}");
    assert!(bundle.is_file());
    let (code, _, err) = emotic(
        work,
        &[
            "import",
            "--dir",
            model_dir.to_str().unwrap_or(""),
            "-o",
            "model.emotic.safetensors",
        ],
    );
    assert_eq!(code, 1, "a second import must refuse to overwrite");
    assert!(err.contains("already exists"), "{err}");

    // Paths with spaces: unquoted (last four fields are the box) and quoted.
    std::fs::create_dir_all(work.join("my images"))?;
    std::fs::copy(&zidane, work.join("my images/zidane copy.jpg"))?;
    std::fs::copy(&bus, work.join("my images/bus.jpg"))?;
    let detections: Value = serde_json::from_str(&std::fs::read_to_string(dets)?)?;
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(emotic_data(
        "emotic_small_golden.json",
    ))?)?;
    let mut list = String::from("# path x1 y1 x2 y2\n");
    let mut expected = Vec::new(); // (line number, golden person)
    for (name, written) in [
        ("zidane.jpg", "my images/zidane copy.jpg".to_string()),
        ("bus.jpg", "\"my images/bus.jpg\"".to_string()),
    ] {
        let persons = golden["images"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["image"] == name))
            .map(|i| i["persons"].clone());
        let persons = persons
            .and_then(|p| p.as_array().cloned())
            .unwrap_or_default();
        let boxes: Vec<Vec<f64>> = detections[name]["detections"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|d| d[5].as_f64() == Some(0.0))
                    .map(floats)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(boxes.len(), persons.len());
        for (b, p) in boxes.iter().zip(persons) {
            list.push_str(&format!("{written} {} {} {} {}\n", b[0], b[1], b[2], b[3]));
            expected.push((list.lines().count(), p));
        }
    }
    list.push_str("my images/bus.jpg 10 10 10.5 40\n"); // degenerate: skipped with a reason
    list.push_str("my images/bus.jpg 1 2 three 4\n"); // malformed: reported
    std::fs::write(work.join("list.txt"), &list)?;

    let (code, _, err) = emotic(
        work,
        &[
            "infer",
            "--boxes",
            "list.txt",
            "--model",
            "model.emotic.safetensors",
            "-o",
            "out",
        ],
    );
    assert_eq!(code, 3, "some lines fail, so exit code 3: {err}");
    assert!(
        err.contains("list.txt:9") && err.contains("`three`"),
        "{err}"
    );

    let jsonl = std::fs::read_to_string(work.join("out/inference.jsonl"))?;
    let records: Vec<Value> = jsonl
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(records.len(), expected.len() + 2);
    let txt = std::fs::read_to_string(work.join("out/inference_list.txt"))?;
    let txt_lines: Vec<&str> = txt.lines().collect();
    assert_eq!(txt_lines.len(), expected.len());
    let names: Vec<String> = golden["categories"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut worst = 0.0f64;
    for (k, (line, person)) in expected.iter().enumerate() {
        let rec = records
            .iter()
            .find(|r| r["line"].as_u64() == Some(*line as u64))
            .ok_or_else(|| anyhow::anyhow!("line {line} missing"))?;
        assert_eq!(
            floats(&rec["crop"]),
            floats(&person["box"]),
            "line {line}: integer crop"
        );
        for (i, name) in names.iter().enumerate() {
            worst = worst.max(
                (rec["scores"][name].as_f64().unwrap_or(f64::NAN) - floats(&person["cat"])[i])
                    .abs(),
            );
        }
        for (i, v) in ["valence", "arousal", "dominance"].iter().enumerate() {
            worst = worst.max(
                (rec["vad"][v].as_f64().unwrap_or(f64::NAN) - floats(&person["vad"])[i]).abs(),
            );
        }
        let predicted: Vec<&str> = rec["predicted"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p["category"].as_str()).collect())
            .unwrap_or_default();
        let gold: Vec<&str> = person["predicted"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            predicted, gold,
            "line {line}: predicted categories by margin"
        );
        // inference_list.txt: path, predicted categories in category order, V A D with %.4f.
        let mut in_order: Vec<&str> = gold.clone();
        in_order.sort_by_key(|c| names.iter().position(|n| n == c));
        let fields: Vec<&str> = txt_lines[k].rsplitn(4, ' ').collect();
        assert_eq!(fields.len(), 4, "{}", txt_lines[k]);
        for (i, f) in fields[..3].iter().rev().enumerate() {
            let v: f64 = f.parse()?;
            assert!(
                (v - floats(&person["vad"])[i]).abs() <= 5e-5 + TOLERANCE,
                "{}",
                txt_lines[k]
            );
            assert_eq!(
                f.split('.').nth(1).map(str::len),
                Some(4),
                "%.4f: {}",
                txt_lines[k]
            );
        }
        let head = fields[3];
        // Paths holding whitespace are written quoted, whichever way the list gave them.
        let path = if k < 2 {
            "\"my images/zidane copy.jpg\""
        } else {
            "\"my images/bus.jpg\""
        };
        assert_eq!(
            head,
            format!("{path} {}", in_order.join(" ")).trim_end(),
            "line {line}"
        );
    }
    eprintln!(
        "emotic infer vs PyTorch (reference preprocessing on cv2-decoded pixels): max abs diff {worst:.3e}"
    );
    assert!(worst <= TOLERANCE, "max abs difference {worst:e}");
    let skipped = records
        .iter()
        .filter(|r| r.get("skipped").is_some())
        .count();
    let errors = records.iter().filter(|r| r.get("error").is_some()).count();
    assert_eq!((skipped, errors), (1, 1));

    // The folder of reference files gives the same output as the bundle.
    let (code, _, err) = emotic(
        work,
        &[
            "infer",
            "--boxes",
            "list.txt",
            "--model",
            model_dir.to_str().unwrap_or(""),
            "-o",
            "out2",
        ],
    );
    assert_eq!(code, 3, "{err}");
    assert_eq!(
        std::fs::read_to_string(work.join("out2/inference.jsonl"))?,
        jsonl
    );
    Ok(())
}

#[test]
fn import_refuses_missing_thresholds() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let m = emotic_data("emotic_small");
    let p = |f: &str| m.join(f).to_string_lossy().into_owned();
    let (code, _, err) = emotic(
        dir.path(),
        &[
            "import",
            "--context",
            &p("model_context1.pth"),
            "--body",
            &p("model_body1.pth"),
            "--head",
            &p("model_emotic1.pth"),
            "-o",
            "x.safetensors",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--thresholds"), "{err}");
    let (code, _, err) = emotic(
        dir.path(),
        &[
            "import",
            "--dir",
            &m.to_string_lossy(),
            "--thresholds",
            "nope.npy",
            "-o",
            "x.safetensors",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("nope.npy") && err.contains("thresholds"),
        "{err}"
    );
    assert!(!dir.path().join("x.safetensors").exists());
    Ok(())
}

#[test]
fn real_images_preprocess_to_the_exact_cv2_bytes() -> anyhow::Result<()> {
    // Decoding as cv2.imread does (emotic-io, mozjpeg), then our resize and crop: the hashes of the
    // 224x224 context and every 128x128 body equal those of the reference's cv2 outputs.
    use emotic::imageops::{PixelRect, crop_rgb, fnv1a64, resize_rgb};
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(emotic_data(
        "emotic_small_golden.json",
    ))?)?;
    let mut checked = 0;
    for image in golden["images"].as_array().cloned().unwrap_or_default() {
        let name = image["image"].as_str().unwrap_or("");
        let Some(path) = shared_fixture(&format!("images/{name}")) else {
            return Ok(());
        };
        let frame = emotic_io::image_file::read_rgb(&path)?;
        assert_eq!(
            format!("{:016x}", fnv1a64(frame.as_raw())),
            image["image_rgb_fnv1a64"].as_str().unwrap_or(""),
            "{name}: decoded pixels differ from cv2.imread"
        );
        let ctx = resize_rgb(&frame, 224, 224)?;
        assert_eq!(
            format!("{:016x}", fnv1a64(ctx.as_raw())),
            image["context_u8_fnv1a64"].as_str().unwrap_or("")
        );
        for p in image["persons"].as_array().cloned().unwrap_or_default() {
            let b: Vec<u32> = floats(&p["box"]).iter().map(|v| *v as u32).collect();
            let crop = crop_rgb(
                &frame,
                PixelRect {
                    x1: b[0],
                    y1: b[1],
                    x2: b[2],
                    y2: b[3],
                },
            )?;
            let body = resize_rgb(&crop, 128, 128)?;
            assert_eq!(
                format!("{:016x}", fnv1a64(body.as_raw())),
                p["body_u8_fnv1a64"].as_str().unwrap_or(""),
                "{name} {b:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
    Ok(())
}
