//! Bad EMOTIC inputs give errors that name the file and say what is wrong.

use std::path::{Path, PathBuf};

use emotic::emotion::{EmotionModel, EmotionWeights, read_bundle, write_bundle};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn small(name: &str) -> PathBuf {
    data("emotic_small").join(name)
}

fn load(context: &Path, body: &Path, head: &Path, thresholds: &Path) -> String {
    match EmotionModel::from_reference_files(context, body, head, thresholds) {
        Ok(_) => panic!("loading should have failed"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_thresholds_file() {
    let missing = small("no_such_val_thresholds.npy");
    let msg = load(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &missing,
    );
    assert!(
        msg.contains("no_such_val_thresholds.npy") && msg.contains("thresholds"),
        "{msg}"
    );
}

#[test]
fn thresholds_of_the_wrong_shape() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("val_thresholds.npy");
    emotic_weights::npy::write_f32(&path, &[25], &[0.5; 25])?;
    let msg = load(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &path,
    );
    assert!(
        msg.contains("val_thresholds.npy") && msg.contains("(26,)") && msg.contains("[25]"),
        "{msg}"
    );
    emotic_weights::npy::write_f32(&path, &[2, 13], &[0.5; 26])?;
    let msg = load(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &path,
    );
    assert!(msg.contains("[2, 13]"), "{msg}");
    Ok(())
}

#[test]
fn mismatched_tensor_shapes() {
    // A head whose fc1 expects 8 + 8 features with streams that emit 32.
    let msg = load(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("mismatched_model_emotic1.pth"),
        &small("val_thresholds.npy"),
    );
    assert!(
        msg.contains("mismatched_model_emotic1.pth") && msg.contains("mismatched tensor shapes"),
        "{msg}"
    );
    assert!(msg.contains("Some(32)") && msg.contains("Some(8)"), "{msg}");
}

#[test]
fn a_tampered_tensor_shape_names_the_file() -> anyhow::Result<()> {
    let mut weights = EmotionWeights::from_reference_files(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &small("val_thresholds.npy"),
    )?;
    let w = weights
        .head
        .get_mut("fc_cat.weight")
        .ok_or_else(|| anyhow::anyhow!("no fc_cat"))?;
    w.shape = vec![13, w.data.len() / 13];
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("tampered.emotic.safetensors");
    write_bundle(&weights, &bundle)?;
    let msg = EmotionModel::from_bundle(&bundle)
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("tampered.emotic.safetensors") && msg.contains("fc_cat"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn a_detector_checkpoint_as_the_emotion_model() {
    // The committed tiny YOLOv5 v5.0 checkpoint, and the real yolov5n.pt when present.
    let tiny = data("yolo_v50_tiny.pt");
    for (slot, msg) in [
        (
            "context",
            load(
                &tiny,
                &small("model_body1.pth"),
                &small("model_emotic1.pth"),
                &small("val_thresholds.npy"),
            ),
        ),
        (
            "head",
            load(
                &small("model_context1.pth"),
                &small("model_body1.pth"),
                &tiny,
                &small("val_thresholds.npy"),
            ),
        ),
    ] {
        assert!(
            msg.contains("yolo_v50_tiny.pt") && msg.contains("YOLOv5 detector"),
            "{slot}: {msg}"
        );
        assert!(
            msg.contains(&format!("given as the {slot} model")),
            "{slot}: {msg}"
        );
    }
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/yolov5n.pt");
    if real.exists() {
        let msg = load(
            &small("model_context1.pth"),
            &real,
            &small("model_emotic1.pth"),
            &small("val_thresholds.npy"),
        );
        assert!(
            msg.contains("yolov5n.pt") && msg.contains("YOLOv5 detector"),
            "{msg}"
        );
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "shared fixture yolov5n.pt missing under CI"
        );
        eprintln!("skipping the yolov5n.pt case: {} not found", real.display());
    }
}

#[test]
fn swapped_files_are_caught() {
    let msg = load(
        &small("model_emotic1.pth"),
        &small("model_body1.pth"),
        &small("model_context1.pth"),
        &small("val_thresholds.npy"),
    );
    assert!(
        msg.contains("model_emotic1.pth") && msg.contains("given as the context model"),
        "{msg}"
    );
}

#[test]
fn bundle_round_trip_and_refusals() -> anyhow::Result<()> {
    let weights = EmotionWeights::from_reference_files(
        &small("model_context1.pth"),
        &small("model_body1.pth"),
        &small("model_emotic1.pth"),
        &small("val_thresholds.npy"),
    )?;
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("model.emotic.safetensors");
    write_bundle(&weights, &bundle)?;
    let back = read_bundle(&bundle)?;
    // Bundles store every tensor as float32 (num_batches_tracked included), so compare values.
    assert_eq!(back.thresholds, weights.thresholds);
    for (a, b) in [
        (&back.context, &weights.context),
        (&back.body, &weights.body),
        (&back.head, &weights.head),
    ] {
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, t) in a {
            assert_eq!((&t.shape, &t.data), (&b[k].shape, &b[k].data), "{k}");
        }
    }

    // Export: the three graphs run, the state dicts and thresholds read back unchanged.
    let exported = emotic::emotion::export_bundle(&bundle, &dir.path().join("export"))?;
    assert_eq!(exported.onnx.len(), 3);
    for graph in &exported.onnx {
        emotic::engine::Session::from_file(graph, emotic::engine::SessionOptions::default())?;
    }
    let thr = emotic_weights::npy::read_npy_file(&exported.thresholds)?;
    assert_eq!(
        (thr.shape.clone(), thr.to_f32_vec()),
        (vec![26], weights.thresholds.to_vec())
    );
    let head = emotic_weights::safetensors::read_safetensors_file(&exported.state_dicts[2])?;
    assert_eq!(
        head.tensors["fc1.weight"].data,
        weights.head["fc1.weight"].data
    );

    // A bundle without thresholds is refused, never run thresholdless.
    let mut tensors = weights
        .context
        .iter()
        .map(|(k, t)| (format!("context.{k}"), t.clone()))
        .collect::<std::collections::BTreeMap<_, _>>();
    tensors.extend(
        weights
            .body
            .iter()
            .map(|(k, t)| (format!("body.{k}"), t.clone())),
    );
    tensors.extend(
        weights
            .head
            .iter()
            .map(|(k, t)| (format!("head.{k}"), t.clone())),
    );
    let no_thr = dir.path().join("no_thresholds.safetensors");
    emotic_weights::safetensors::write_safetensors(
        &no_thr,
        &tensors,
        &emotic::emotion::bundle_metadata(),
    )?;
    let msg = read_bundle(&no_thr)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("no_thresholds.safetensors") && msg.contains("without thresholds"),
        "{msg}"
    );

    // A plain state dict is not a bundle.
    let plain = dir.path().join("plain.safetensors");
    emotic_weights::safetensors::write_safetensors(
        &plain,
        &weights.head,
        &std::collections::BTreeMap::new(),
    )?;
    let msg = read_bundle(&plain)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("plain.safetensors") && msg.contains("emotic import"),
        "{msg}"
    );
    Ok(())
}
