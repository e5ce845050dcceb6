//! Compares what the readers produce with what PyTorch/numpy computed for the same files
//! (`tools/gen_weights_fixtures.py` writes both the fixtures and `expected.json`).

use anyhow::{Context, Result, bail};
use emotic_weights::npy::{self, NpyData};
use emotic_weights::{Checkpoint, load_checkpoint};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn expected() -> Result<Value> {
    let text = std::fs::read_to_string(data_dir().join("expected.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Checks every tensor's shape, dtype, first values (exactly: f32 values and widened f16 are
/// representable in f64 without rounding) and sum (summation order differs, so relative 1e-9).
fn check_checkpoint(name: &str, ckpt: &Checkpoint, want: &Value) -> Result<()> {
    let want_tensors = want["tensors"].as_object().context("tensors")?;
    let got_keys: Vec<&String> = ckpt.tensors.keys().collect();
    let want_keys: Vec<&String> = want_tensors.keys().collect();
    assert_eq!(got_keys, want_keys, "{name}: keys");
    for (key, w) in want_tensors {
        let t = &ckpt.tensors[key];
        let shape: Vec<usize> = serde_json::from_value(w["shape"].clone())?;
        assert_eq!(t.shape, shape, "{name} {key}: shape");
        assert_eq!(
            format!("{:?}", t.dtype),
            w["dtype"].as_str().unwrap_or_default(),
            "{name} {key}"
        );
        let first: Vec<f64> = serde_json::from_value(w["first"].clone())?;
        let got_first: Vec<f64> = t
            .data
            .iter()
            .take(first.len())
            .map(|&x| f64::from(x))
            .collect();
        assert_eq!(got_first, first, "{name} {key}: first values");
        let sum: f64 = t.data.iter().map(|&x| f64::from(x)).sum();
        let want_sum = w["sum"].as_f64().context("sum")?;
        assert!(
            (sum - want_sum).abs() <= 1e-9 * want_sum.abs().max(1.0),
            "{name} {key}: sum {sum} vs {want_sum}"
        );
    }
    assert_eq!(
        ckpt.module_class.as_deref(),
        want["module_class"].as_str(),
        "{name}: module_class"
    );
    for (key, w) in want["meta"].as_object().context("meta")? {
        assert_eq!(ckpt.meta.get(key), Some(w), "{name}: meta[{key}]");
    }
    Ok(())
}

#[test]
fn every_checkpoint_fixture_matches_pytorch() -> Result<()> {
    let expected = expected()?;
    let checkpoints = expected["checkpoints"].as_object().context("checkpoints")?;
    assert!(checkpoints.len() >= 13, "fixture list looks incomplete");
    for (name, want) in checkpoints {
        let path = data_dir().join(name);
        let ckpt = load_checkpoint(&path).with_context(|| format!("loading {name}"))?;
        check_checkpoint(name, &ckpt, want)?;
    }
    Ok(())
}

#[test]
fn module_pickles_flatten_like_state_dict() -> Result<()> {
    let ckpt = load_checkpoint(&data_dir().join("sequential_module.pth"))?;
    for key in [
        "0.weight",
        "1.running_mean",
        "1.num_batches_tracked",
        "4.0.conv1.weight",
        "4.0.bn2.bias",
    ] {
        assert!(ckpt.tensors.contains_key(key), "missing {key}");
    }
    assert_eq!(ckpt.tensors["1.num_batches_tracked"].data, vec![1.0]);
    let yolo = load_checkpoint(&data_dir().join("yolo_style.pt"))?;
    // Detect's non-persistent buffer is not part of the state dict; anchors is.
    assert!(yolo.tensors.contains_key("model.1.anchors"));
    assert!(!yolo.tensors.keys().any(|k| k.contains("grid_cache")));
    assert!(!yolo.meta.contains_key("model") && !yolo.meta.contains_key("optimizer"));
    Ok(())
}

#[test]
fn npy_fixtures_match_numpy() -> Result<()> {
    let expected = expected()?;
    let arrays = expected["npy"]["arrays"].as_object().context("arrays")?;
    assert!(arrays.len() >= 15);
    for (name, want) in arrays {
        let path = data_dir().join(name);
        let arr = npy::read_npy_file(&path)?;
        let shape: Vec<usize> = serde_json::from_value(want["shape"].clone())?;
        assert_eq!(arr.shape, shape, "{name}");
        let values: Vec<f64> = serde_json::from_value(want["values"].clone())?;
        // i8_be holds -2^40: exactly representable in f64.
        assert_eq!(arr.to_f64_vec(), values, "{name}");
        let header = npy::read_header(&mut std::fs::File::open(&path)?)?;
        assert_eq!(
            header.fortran_order,
            want["fortran_order"].as_bool().unwrap_or_default()
        );
        let descr = want["dtype"].as_str().unwrap_or_default();
        assert_eq!(header.dtype.descr(), descr, "{name}");
        assert_eq!(
            header.data_len()? as u64 + header.data_offset,
            std::fs::metadata(&path)?.len()
        );
    }
    let t = npy::read_npy_file(&data_dir().join("thresholds_f4.npy"))?;
    let NpyData::F32(v) = &t.data else {
        bail!("thresholds are not f32")
    };
    assert_eq!(v.len(), 26);
    Ok(())
}

#[test]
fn npy_writers_roundtrip_through_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.npy");
    let values: Vec<f32> = (0..10).map(|i| i as f32 / 3.0).collect();
    npy::write_f32(&path, &[2, 5], &values)?;
    let back = npy::read_npy_file(&path)?;
    assert_eq!((back.shape, back.data), (vec![2, 5], NpyData::F32(values)));
    npy::write_f64(&path, &[3], &[1.5, -2.0, 1e300])?;
    assert_eq!(
        npy::read_npy_file(&path)?.data,
        NpyData::F64(vec![1.5, -2.0, 1e300])
    );
    npy::write_u8(&path, &[2, 1, 2], &[1, 2, 3, 4])?;
    assert_eq!(
        npy::read_npy_file(&path)?.data,
        NpyData::U8(vec![1, 2, 3, 4])
    );
    assert!(npy::write_u8(&path, &[3], &[1]).is_err());
    // Only the final file remains: the temporary file was renamed, not left behind.
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
    Ok(())
}
