//! Whole runs on a tiny synthetic dataset built here: the loss goes down, the bundle loads in
//! the ONNX inference path with the same predictions as burn, and an interrupted run resumes to
//! the same weights as an uninterrupted one.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use emotic::emotion::{CATEGORIES, EmotionModel};
use emotic_data::dataset::Dataset;
use emotic_data::dataset::{DatasetWriter, OwnedRecord, Provenance};
use emotic_train::batch::make_batch;
use emotic_train::checkpoint;
use emotic_train::rng::Rng;
use emotic_train::trainer::{InitWeights, RunOptions, TrainConfig, device_for, train};

/// A split where category 0 and valence follow the context's red level and category 1 and
/// arousal the body's brightness, plus noise: learnable by a small network in a few epochs.
fn write_split(dir: &Path, n: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut w = DatasetWriter::create(dir).expect("writer");
    for i in 0..n {
        let a = i % 2 == 0;
        let b = (i / 2) % 2 == 0;
        let noise = |rng: &mut Rng| (rng.below(40)) as u8;
        let mut context = vec![0u8; 224 * 224 * 3];
        for px in context.chunks_exact_mut(3) {
            px[0] = if a { 200 } else { 40 } + noise(&mut rng);
            px[1] = 90 + noise(&mut rng);
            px[2] = 90 + noise(&mut rng);
        }
        let mut body = vec![0u8; 128 * 128 * 3];
        for px in body.chunks_exact_mut(3) {
            let v = if b { 190 } else { 50 } + noise(&mut rng);
            px.copy_from_slice(&[v, v, v]);
        }
        let mut categories = vec![CATEGORIES[11].to_string()];
        if a {
            categories.push(CATEGORIES[0].to_string());
        }
        if b {
            categories.push(CATEGORIES[1].to_string());
        }
        let vad = [if a { 8.0 } else { 3.0 }, if b { 7.0 } else { 4.0 }, 5.0];
        w.push(&OwnedRecord {
            context,
            body,
            provenance: Provenance {
                folder: "synthetic".into(),
                filename: format!("img_{i}.png"),
                image_size: [224, 224],
                bbox: [0, 0, 128, 128],
                categories,
                vad,
                gender: "Male".into(),
                age: "Adult".into(),
            },
        })
        .expect("push");
    }
    w.finish("split", BTreeMap::new(), "test").expect("finish");
}

fn dataset(root: &Path) {
    write_split(&root.join("train"), 24, 1);
    write_split(&root.join("val"), 12, 2);
}

fn small_config(root: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        data: root.to_path_buf(),
        init: InitWeights {
            widths: [4, 8, 8, 16],
            ..InitWeights::default()
        },
        epochs,
        batch_size: 8,
        seed: 7,
        ..TrainConfig::default()
    }
}

#[test]
fn a_few_epochs_drive_the_loss_down_and_the_bundle_predicts_like_burn() {
    let tmp = tempfile::tempdir().expect("tmp");
    dataset(tmp.path());
    let config = TrainConfig {
        augment: None,
        lr: 0.001,
        lr_step: 100,
        ..small_config(tmp.path(), 6)
    };
    let run = tmp.path().join("run");
    let outcome = train(&config, &run, false, &RunOptions::default()).expect("train");
    let losses: Vec<f64> = outcome.history.iter().map(|m| m.train_loss).collect();
    eprintln!("train losses per epoch: {losses:?}");
    eprintln!(
        "val mAP per epoch: {:?}",
        outcome
            .history
            .iter()
            .map(|m| m.val_map)
            .collect::<Vec<_>>()
    );
    assert_eq!(losses.len(), 6);
    let last = *losses.last().expect("epochs");
    assert!(
        last < 0.7 * losses[0],
        "loss did not clearly go down: {losses:?}"
    );
    for name in [
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "model_last.safetensors",
    ] {
        assert!(run.join(name).is_file(), "{name} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 7, "header + 6 epochs");
    let curves = image::open(run.join("curves.png"))
        .expect("curves.png")
        .to_rgb8();
    assert_eq!(curves.dimensions(), (800, 300));
    assert!(
        curves.pixels().any(|p| p.0 == [31, 119, 180]),
        "no training-loss curve drawn"
    );

    // The bundle in the ONNX Runtime path vs the burn forward pass of the same weights.
    let (best, _, state) = checkpoint::load(
        &run.join("weights/best.ckpt.safetensors"),
        &device_for("cpu").expect("cpu"),
    )
    .expect("best");
    assert_eq!(state.best.map(|b| b.1), Some(state.epoch));
    let mut onnx = EmotionModel::from_bundle(&outcome.bundle).expect("bundle loads");
    let val = Dataset::open(&tmp.path().join("val")).expect("val");
    let eval_model = best.valid();
    let mut worst = 0.0_f32;
    for i in 0..val.len() {
        let rec = val.get(i).expect("record");
        let ctx = image::RgbImage::from_raw(224, 224, rec.context.to_vec()).expect("ctx");
        let body = image::RgbImage::from_raw(128, 128, rec.body.to_vec()).expect("body");
        let out = onnx.predict_preprocessed(&ctx, &[body]).expect("onnx");
        let host = make_batch(&val, &[i], None).expect("batch");
        let b = host.to_device(&device_for("cpu").expect("cpu"));
        let (pc, pv) = eval_model.forward(b.context, b.body, None);
        let cat = pc.into_data().try_into_vec::<f32>().expect("cat");
        let vad = pv.into_data().try_into_vec::<f32>().expect("vad");
        let person = &out.persons[0];
        for (x, y) in person.categories.iter().zip(&cat) {
            worst = worst.max((x - y).abs());
        }
        for (x, y) in person.vad.iter().zip(&vad) {
            worst = worst.max((x / 10.0 - y).abs());
        }
    }
    eprintln!("largest |ONNX - burn| over the val split: {worst:e}");
    assert!(worst <= 1e-4, "ONNX and burn differ by {worst}");
    assert_eq!(onnx.thresholds(), &outcome.thresholds);
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let tmp = tempfile::tempdir().expect("tmp");
    dataset(tmp.path());
    let config = small_config(tmp.path(), 3);
    let full = tmp.path().join("full");
    train(&config, &full, false, &RunOptions::default()).expect("full run");

    // 24 persons / batch 8 = 3 batches per epoch: stop in the middle of epoch 2.
    let cut = tmp.path().join("cut");
    let stop = RunOptions {
        abort_after_batches: Some(4),
        ..RunOptions::default()
    };
    assert!(
        train(&config, &cut, false, &stop).is_err(),
        "the run should stop"
    );
    let (_, _, state) = checkpoint::load(
        &cut.join("weights/last.ckpt.safetensors"),
        &device_for("cpu").expect("cpu"),
    )
    .expect("last");
    assert_eq!(state.epoch, 1, "only epoch 1 was saved");
    train(&config, &cut, true, &RunOptions::default()).expect("resumed run");

    let read = |dir: &Path| {
        emotic_weights::safetensors::read_safetensors_file(
            &dir.join("weights/last.ckpt.safetensors"),
        )
        .expect("checkpoint")
    };
    let (a, b) = (read(&full), read(&cut));
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (k, t) in &a.tensors {
        assert_eq!(t.data, b.tensors[k].data, "{k} differs after resume");
    }
    // The same metrics, apart from the measured speed.
    let history = |c: &emotic_weights::Checkpoint| -> Vec<serde_json::Value> {
        let text = c
            .meta
            .get("history")
            .and_then(|v| v.as_str())
            .expect("history");
        let mut rows: Vec<serde_json::Value> = serde_json::from_str(text).expect("json");
        for row in &mut rows {
            row.as_object_mut()
                .expect("row")
                .remove("samples_per_second");
        }
        rows
    };
    assert_eq!(history(&a).len(), 3);
    assert_eq!(history(&a), history(&b));
    assert_eq!(
        std::fs::read(full.join("model.safetensors")).expect("a"),
        std::fs::read(cut.join("model.safetensors")).expect("b")
    );
}

#[test]
fn frozen_backbones_keep_their_weights_but_update_batchnorm_statistics() {
    let tmp = tempfile::tempdir().expect("tmp");
    dataset(tmp.path());
    let config = TrainConfig {
        trainable: emotic_train::model::Trainable::Head,
        max_train_batches: Some(2),
        ..small_config(tmp.path(), 1)
    };
    let run = tmp.path().join("run");
    train(&config, &run, false, &RunOptions::default()).expect("train");
    let (trained, _, _) = checkpoint::load(
        &run.join("weights/last.ckpt.safetensors"),
        &device_for("cpu").expect("cpu"),
    )
    .expect("last");
    // The same seed draws the same initial model.
    let initial = emotic_train::trainer::initial_model(
        &config.init,
        &mut Rng::derive(config.seed, 1),
        &device_for("cpu").expect("cpu"),
    )
    .expect("initial");
    let (a, b) = (
        initial.state_dict().expect("a"),
        trained.state_dict().expect("b"),
    );
    assert_eq!(
        a["context.layer1.0.conv1.weight"].data,
        b["context.layer1.0.conv1.weight"].data
    );
    assert_eq!(
        a["body.layer4.1.bn2.weight"].data,
        b["body.layer4.1.bn2.weight"].data
    );
    assert_ne!(
        a["context.bn1.running_mean"].data,
        b["context.bn1.running_mean"].data
    );
    assert_ne!(a["head.fc1.weight"].data, b["head.fc1.weight"].data);
}
