//! The reference whole-module `.pth` export: written from the torch-written fixture, read back
//! through the same path that loads real reference checkpoints, every tensor bit for bit, and
//! the pickled module trees equal to the ones `torch.save` wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emotic::emotion::{EmotionWeights, Part, export_bundle, write_bundle, write_reference_dir};
use emotic_weights::pickle::Value;
use emotic_weights::{DType, Tensor};

fn small(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/emotic_small")
        .join(name)
}

fn fixture() -> EmotionWeights {
    EmotionWeights::from_reference_dir(&small("")).expect("committed fixture loads")
}

/// Same keys, shapes and bits; dtypes too unless `values_only` (a bundle keeps
/// `num_batches_tracked` as float32, the export turns it back into int64).
fn assert_same(a: &BTreeMap<String, Tensor>, b: &BTreeMap<String, Tensor>, values_only: bool) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (key, t) in a {
        let u = &b[key];
        assert_eq!(t.shape, u.shape, "{key}");
        if !values_only {
            assert_eq!(t.dtype, u.dtype, "{key}");
        }
        let bits = |d: &[f32]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(&t.data) == bits(&u.data), "{key} differs");
    }
}

fn assert_same_weights(a: &EmotionWeights, b: &EmotionWeights, values_only: bool) {
    for part in [Part::Context, Part::Body, Part::Head] {
        assert_same(a.part(part), b.part(part), values_only);
    }
    assert_eq!(a.thresholds, b.thresholds);
}

/// The fixture generator left every BatchNorm with `momentum=None` (its calibration pass);
/// reference models and our export have torch's default 0.1. Nothing else is normalised.
fn default_momentum(v: &mut Value) {
    match v {
        Value::Dict(pairs) => {
            for (k, val) in pairs {
                if k.as_str() == Some("momentum") && *val == Value::None {
                    *val = Value::Float(0.1);
                }
                default_momentum(val);
            }
        }
        Value::Object { state: Some(s), .. } => default_momentum(s),
        _ => {}
    }
}

#[test]
fn exported_modules_load_like_torch_written_ones() -> anyhow::Result<()> {
    let weights = fixture();
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("reference");
    let files = write_reference_dir(&weights, &out, false)?;
    assert_eq!(files.modules.len(), 3);
    // The loading path of real reference checkpoints: load_checkpoint + the part checks.
    let back = EmotionWeights::from_reference_dir(&out)?;
    assert_same_weights(&back, &weights, false);
    // Loaded weights carry torchvision keys (the reference's `1.*` is `bn1.*`).
    assert_eq!(back.context["bn1.num_batches_tracked"].dtype, DType::I64);
    for (file, class) in [
        (
            "model_context1.pth",
            "torch.nn.modules.container.Sequential",
        ),
        ("model_body1.pth", "torch.nn.modules.container.Sequential"),
        ("model_emotic1.pth", "emotic.Emotic"),
    ] {
        let ours = emotic_weights::load_checkpoint(&out.join(file))?;
        assert_eq!(ours.module_class.as_deref(), Some(class), "{file}");
        let theirs = emotic_weights::load_checkpoint(&small(file))?;
        assert_eq!(ours.meta, theirs.meta, "{file}");
    }
    Ok(())
}

#[test]
fn pickled_module_trees_equal_torch_save_output() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_reference_dir(&fixture(), dir.path(), false)?;
    for file in ["model_context1.pth", "model_body1.pth", "model_emotic1.pth"] {
        // Every class, attribute (names, order, values), hook dict, parameter/buffer flag,
        // storage key and dtype, as decoded by our reader.
        let ours =
            emotic_weights::torch::read_torch_object(&std::fs::read(dir.path().join(file))?)?;
        let mut theirs = emotic_weights::torch::read_torch_object(&std::fs::read(small(file))?)?;
        default_momentum(&mut theirs);
        assert!(
            ours == theirs,
            "{file}: module tree differs from torch.save's"
        );
    }
    Ok(())
}

#[test]
fn bundle_export_writes_the_reference_files_and_never_replaces() -> anyhow::Result<()> {
    let weights = fixture();
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("model.safetensors");
    write_bundle(&weights, &bundle)?;
    let out = dir.path().join("export");
    let files = export_bundle(&bundle, &out)?;
    let names: Vec<_> = files
        .reference_modules
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["model_context1.pth", "model_body1.pth", "model_emotic1.pth"]
    );
    assert_same_weights(&EmotionWeights::from_reference_dir(&out)?, &weights, true);
    let before = std::fs::read(&files.reference_modules[2])?;
    let err = export_bundle(&bundle, &out).unwrap_err().to_string();
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&files.reference_modules[2])?, before);
    // Replacing is the caller's explicit choice.
    let err = write_reference_dir(&weights, &out, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model_context1.pth") && err.contains("exists"),
        "{err}"
    );
    write_reference_dir(&weights, &out, true)?;
    Ok(())
}

/// Training writes torchvision keys (`conv1.*`, `layer1.*`); they go under the reference's
/// `0.*`, `4.*`, ... and torchvision's classifier is left out.
#[test]
fn torchvision_keys_are_placed_in_the_reference_layout() -> anyhow::Result<()> {
    let weights = fixture();
    // The file's own keys (the reference layout), before the conversion at load.
    let reference_body = emotic_weights::load_checkpoint(&small("model_body1.pth"))?.tensors;
    let rename = |key: &str| -> String {
        let (head, rest) = key.split_once('.').unwrap();
        let new = match head {
            "0" => "conv1".to_owned(),
            "1" => "bn1".to_owned(),
            n => format!("layer{}", n.parse::<usize>().unwrap() - 3),
        };
        format!("{new}.{rest}")
    };
    let mut tv = weights.clone();
    tv.body = reference_body
        .iter()
        .map(|(k, t)| (rename(k), t.clone()))
        .collect();
    tv.body.insert(
        "fc.weight".into(),
        Tensor::from_f32(vec![2, 32], vec![0.0; 64]),
    );
    tv.body
        .insert("fc.bias".into(), Tensor::from_f32(vec![2], vec![0.0; 2]));
    assert!(tv.body.contains_key("layer4.1.bn2.running_var"));
    let dir = tempfile::tempdir()?;
    write_reference_dir(&tv, dir.path(), false)?;
    let written = emotic_weights::load_checkpoint(&dir.path().join("model_body1.pth"))?.tensors;
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        reference_body.keys().collect::<Vec<_>>()
    );
    assert_same_weights(
        &EmotionWeights::from_reference_dir(dir.path())?,
        &weights,
        false,
    );
    Ok(())
}

#[test]
fn weights_without_the_reference_structure_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let expect_err = |w: &EmotionWeights, needle: &str| {
        let err = write_reference_dir(w, &out, false).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
        assert!(!out.exists(), "nothing may be written");
    };
    let mut extra = fixture();
    extra
        .context
        .insert("9.weight".into(), Tensor::from_f32(vec![1], vec![1.0]));
    expect_err(&extra, "context stream: tensor `9.weight` has no place");
    let mut missing = fixture();
    missing.body.remove("layer3.1.bn2.running_var"); // `6.1.*` in the reference's file
    expect_err(
        &missing,
        "body stream: missing tensor `6.1.bn2.running_var`",
    );
    let mut head = fixture();
    head.head = emotic_weights::load_checkpoint(&small("mismatched_model_emotic1.pth"))
        .unwrap()
        .tensors;
    expect_err(&head, "fc1 takes 16 features but the streams give 32 + 32");
    let mut counted = fixture();
    counted.head.insert(
        "bn1.num_batches_tracked".into(),
        Tensor::from_f32(vec![], vec![1.5]),
    );
    expect_err(
        &counted,
        "fusion head: `bn1.num_batches_tracked`: element 0 (1.5) cannot be stored exactly as I64",
    );
}
