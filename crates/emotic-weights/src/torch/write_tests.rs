//! Tests of the `torch.save` writer, read back with this crate's own reader.

use super::*;
use crate::pickle::Value;
use crate::torch::{read_torch_bytes, read_torch_object};
use std::io::Read;

fn tensor(dtype: DType, shape: &[usize], data: &[f32]) -> Tensor {
    Tensor {
        dtype,
        shape: shape.to_vec(),
        data: data.to_vec(),
    }
}

/// A BatchNorm-like module: two parameters, three buffers (one int64 scalar), a child.
fn module(w: &mut TorchWriter) -> Py {
    let weight = tensor(
        DType::F32,
        &[2, 3],
        &[1.0, -2.5, 3.25, f32::MIN_POSITIVE, 1e-30, 0.0],
    );
    let child = Py::Object {
        module: "torch.nn.modules.activation".into(),
        name: "ReLU".into(),
        args: vec![],
        state: Some(Box::new(Py::Dict(vec![(
            Py::str("inplace"),
            Py::Bool(true),
        )]))),
    };
    let state = Py::Dict(vec![
        (Py::str("training"), Py::Bool(false)),
        (
            Py::str("_parameters"),
            Py::Dict(vec![
                (Py::str("weight"), w.parameter(&weight).unwrap()),
                (Py::str("bias"), Py::None),
            ]),
        ),
        (
            Py::str("_buffers"),
            Py::Dict(vec![
                (
                    Py::str("half"),
                    w.tensor(&tensor(DType::F16, &[2], &[0.5, -65504.0]))
                        .unwrap(),
                ),
                (
                    Py::str("num_batches_tracked"),
                    w.tensor(&tensor(DType::I64, &[], &[940.0])).unwrap(),
                ),
            ]),
        ),
        (Py::str("_modules"), Py::Dict(vec![(Py::str("act"), child)])),
        (Py::str("num_features"), Py::Int(2)),
    ]);
    Py::Object {
        module: "my.layers".into(),
        name: "Block".into(),
        args: vec![],
        state: Some(Box::new(state)),
    }
}

#[test]
fn whole_module_reads_back_bit_for_bit() {
    let mut w = TorchWriter::new();
    let root = module(&mut w);
    let bytes = w.to_bytes(&root, "block").unwrap();
    let ckpt = read_torch_bytes(&bytes).unwrap();
    assert_eq!(ckpt.module_class.as_deref(), Some("my.layers.Block"));
    let keys: Vec<&str> = ckpt.tensors.keys().map(String::as_str).collect();
    assert_eq!(keys, ["half", "num_batches_tracked", "weight"]);
    let weight = &ckpt.tensors["weight"];
    assert_eq!(
        (weight.dtype, weight.shape.as_slice()),
        (DType::F32, &[2, 3][..])
    );
    let bits = |d: &[f32]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&weight.data),
        bits(&[1.0, -2.5, 3.25, f32::MIN_POSITIVE, 1e-30, 0.0])
    );
    assert_eq!(
        ckpt.tensors["half"],
        tensor(DType::F16, &[2], &[0.5, -65504.0])
    );
    assert_eq!(
        ckpt.tensors["num_batches_tracked"],
        tensor(DType::I64, &[], &[940.0])
    );
    assert_eq!(ckpt.meta.get("num_features"), Some(&serde_json::json!(2)));
    // The parameter is a Parameter (requires_grad), the buffers are plain tensors.
    let Value::Object { state, .. } = read_torch_object(&bytes).unwrap() else {
        panic!("root is not an object")
    };
    let state = state.unwrap();
    let grad = |field: &str, name: &str| match state.get(field).and_then(|d| d.get(name)) {
        Some(Value::Tensor(t)) => t.requires_grad,
        other => panic!("{field}[{name}] is {other:?}"),
    };
    assert!(grad("_parameters", "weight"));
    assert!(!grad("_buffers", "num_batches_tracked"));
}

#[test]
fn zip_layout_is_torchs() {
    let mut w = TorchWriter::new();
    let root = module(&mut w);
    let bytes = w.to_bytes(&root, "model_body1").unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut expected = vec!["model_body1/data.pkl", "model_body1/byteorder"];
    expected.extend([
        "model_body1/data/0",
        "model_body1/data/1",
        "model_body1/data/2",
    ]);
    expected.push("model_body1/version");
    let mut sorted_names = names.clone();
    sorted_names.sort();
    let mut sorted_expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    sorted_expected.sort();
    assert_eq!(sorted_names, sorted_expected);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
        let start = entry.data_start().unwrap();
        let name = entry.name().unwrap().into_owned();
        assert_eq!(start % 64, 0, "{name} starts at {start}");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        match name.rsplit('/').next().unwrap() {
            "byteorder" => assert_eq!(content, b"little"),
            "version" => assert_eq!(content, b"3\n"),
            _ => {}
        }
        // Stored data sits verbatim in the file at its aligned offset.
        let start = usize::try_from(start).unwrap();
        assert_eq!(&bytes[start..start + content.len()], content.as_slice());
    }
    // Storage 2 is the int64 scalar 940.
    let mut entry = zip.by_name("model_body1/data/2").unwrap();
    let mut content = Vec::new();
    entry.read_to_end(&mut content).unwrap();
    assert_eq!(content, 940i64.to_le_bytes());
}

#[test]
fn inexact_values_are_refused() {
    let mut w = TorchWriter::new();
    for (dtype, v) in [
        (DType::I64, 0.5),
        (DType::I64, f32::NAN),
        (DType::U8, 256.0),
        (DType::I8, -129.0),
        (DType::Bool, 2.0),
        (DType::F16, 1e-9),
        (DType::BF16, 1.001),
    ] {
        let err = w.tensor(&tensor(dtype, &[1], &[v])).unwrap_err();
        assert!(
            err.to_string().contains("cannot be stored exactly"),
            "{err}"
        );
    }
    for dtype in [
        DType::I64,
        DType::I32,
        DType::I16,
        DType::I8,
        DType::U8,
        DType::Bool,
    ] {
        w.tensor(&tensor(dtype, &[2], &[1.0, 0.0])).unwrap();
    }
}

#[test]
fn files_are_not_replaced_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model_emotic1.pth");
    let mut w = TorchWriter::new();
    let sd = Py::OrderedDict(vec![(
        Py::str("x"),
        w.tensor(&tensor(DType::F32, &[3], &[1.0, 2.0, 3.0]))
            .unwrap(),
    )]);
    w.write_file(&path, &sd, false).unwrap();
    let first = std::fs::read(&path).unwrap();
    let ckpt = crate::load_checkpoint(&path).unwrap();
    assert_eq!(ckpt.tensors["x"].data, [1.0, 2.0, 3.0]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&first)).unwrap();
    assert!(zip.by_name("model_emotic1/data.pkl").is_ok());
    let err = w.write_file(&path, &sd, false).unwrap_err();
    assert!(crate::error::chain(&err).contains("exists"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), first);
    w.write_file(&path, &Py::OrderedDict(vec![]), true).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), first);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(archive_name(Path::new("dir/a b.pth")), "archive");
}
