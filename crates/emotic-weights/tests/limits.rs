//! Decompression and expansion limits ([`torch::ReadLimits`]) against crafted checkpoints:
//! deflate bombs are refused from their declared sizes, before anything is inflated; shapes
//! that would decode to too much are refused before any storage is read; and the model's
//! structure can be inspected without reading tensor data at all.

use std::io::Write;
use std::path::{Path, PathBuf};

use emotic_weights::pickle::Py;
use emotic_weights::torch::{self, ReadLimits, TorchWriter};
use emotic_weights::{Error, Tensor};
use zip::write::SimpleFileOptions;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A persistent id for float32 storage `key` claiming `numel` elements.
fn storage(key: &str, numel: i64) -> Py {
    Py::PersistentId(Box::new(Py::Tuple(vec![
        Py::str("storage"),
        Py::global("torch", "FloatStorage"),
        Py::str(key),
        Py::str("cpu"),
        Py::Int(numel),
    ])))
}

/// A view of `size`/`stride` into `storage`.
fn view(storage: Py, size: &[i64], stride: &[i64]) -> Py {
    Py::call(
        "torch._utils",
        "_rebuild_tensor_v2",
        vec![
            storage,
            Py::Int(0),
            Py::int_tuple(size),
            Py::int_tuple(stride),
            Py::Bool(false),
            Py::OrderedDict(Vec::new()),
        ],
    )
}

/// A torch.save zip of a state dict `{name: view}` plus the given storage entries, each deflated.
fn zip_with(dict: Vec<(&str, Py)>, entries: &[(&str, &[u8])]) -> Vec<u8> {
    let pairs = dict.into_iter().map(|(k, v)| (Py::str(k), v)).collect();
    let pickle = emotic_weights::pickle::to_vec(&Py::OrderedDict(pairs)).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    zip.start_file("ckpt/data.pkl", stored).unwrap();
    zip.write_all(&pickle).unwrap();
    for (name, bytes) in entries {
        zip.start_file(format!("ckpt/data/{name}"), deflated)
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn limit_message(err: Error) -> String {
    let text = err.to_string();
    assert!(matches!(err, Error::Limit(_)), "not a limit error: {text}");
    text
}

#[test]
fn a_deflate_bomb_is_refused_from_its_declared_size() {
    // 64 MiB of zeros in about 64 KB; the pickle claims exactly that many float32s.
    let zeros = vec![0u8; 64 << 20];
    let bytes = zip_with(
        vec![("w", view(storage("0", 16 << 20), &[16 << 20], &[1]))],
        &[("0", &zeros)],
    );
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let err = limit_message(torch::read_torch_bytes(&bytes).unwrap_err());
    assert!(
        err.contains("zip entry ckpt/data/0 declares 67108864 bytes"),
        "{err}"
    );
    // Within looser limits the same file reads: the refusal is the limit, not the file.
    let loose = ReadLimits {
        max_ratio: 2000,
        ..ReadLimits::default()
    };
    let ckpt = torch::open_torch_bytes(&bytes, &loose)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(ckpt.tensors["w"].numel(), 16 << 20);
}

#[test]
fn many_small_entries_are_bounded_together() {
    // Each entry (1 MiB of zeros) is under the allowance; twenty of them from 20 KB are not.
    let zeros = vec![0u8; 1 << 20];
    let names: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &zeros[..])).collect();
    let bytes = zip_with(
        vec![("w", view(storage("0", 1 << 18), &[1 << 18], &[1]))],
        &entries,
    );
    let err = limit_message(torch::read_torch_bytes(&bytes).unwrap_err());
    assert!(
        err.contains("zip entries declare") && err.contains("in all"),
        "{err}"
    );
}

#[test]
fn shapes_beyond_the_decoded_budget_are_refused_before_reading() {
    let mut w = TorchWriter::new();
    let t = w
        .tensor(&Tensor::from_f32(vec![1000], vec![1.0; 1000]))
        .unwrap();
    let root = Py::OrderedDict(vec![(Py::str("big"), t)]);
    let bytes = w.to_bytes(&root, "ckpt").unwrap();
    let tight = ReadLimits {
        max_decoded_bytes: 3999,
        ..ReadLimits::default()
    };
    let err = limit_message(torch::open_torch_bytes(&bytes, &tight).unwrap_err());
    assert!(err.contains("tensor big"), "{err}");
    torch::open_torch_bytes(&bytes, &ReadLimits::default()).unwrap();
}

#[test]
fn a_broadcast_view_cannot_expand_a_tiny_storage() {
    // One float viewed as 2^28 of them (stride 0): 1 GiB of f32 from 4 bytes of file.
    let mut w = TorchWriter::new();
    w.tensor(&Tensor::from_f32(vec![1], vec![1.0])).unwrap();
    let root = Py::OrderedDict(vec![(
        Py::str("wide"),
        view(storage("0", 1), &[1 << 28], &[0]),
    )]);
    let bytes = w.to_bytes(&root, "ckpt").unwrap();
    let err = limit_message(torch::read_torch_bytes(&bytes).unwrap_err());
    assert!(
        err.contains("tensor wide") && err.contains("views storage 0"),
        "{err}"
    );
    // Small broadcasts (an expanded bias) are fine.
    let root = Py::OrderedDict(vec![(Py::str("bias"), view(storage("0", 1), &[64], &[0]))]);
    let bytes = w.to_bytes(&root, "ckpt").unwrap();
    let t = &torch::read_torch_bytes(&bytes).unwrap().tensors["bias"];
    assert_eq!(t.data, vec![1.0; 64]);
}

#[test]
fn structure_is_known_before_any_storage_is_read() {
    // Damage the first storage: opening still tells the names, shapes and types; only
    // reading the tensors finds the damage.
    let mut bytes = std::fs::read(data("state_dict_fp16.pth")).unwrap();
    let data_start = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let name = archive
            .file_names()
            .filter_map(Result::ok)
            .find(|n| n.ends_with("/data/0"))
            .unwrap()
            .into_owned();
        usize::try_from(archive.by_name(&name).unwrap().data_start().unwrap()).unwrap()
    };
    bytes[data_start + 1] ^= 0x40;
    let opened = torch::open_torch_bytes(&bytes, &ReadLimits::default()).unwrap();
    assert!(!opened.tensors.is_empty());
    assert!(
        opened
            .tensors
            .values()
            .all(|t| t.dtype == emotic_weights::DType::F16)
    );
    assert!(opened.load().is_err());
}

#[test]
fn lazy_and_eager_reads_agree() {
    for name in [
        "state_dict_fp16.pth",
        "state_dict_legacy.pth",
        "yolo_style.pt",
    ] {
        let eager = emotic_weights::load_checkpoint(&data(name)).unwrap();
        let mut opened = emotic_weights::open_checkpoint(&data(name)).unwrap();
        assert_eq!(
            opened.tensors.keys().collect::<Vec<_>>(),
            eager.tensors.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (key, tensor) in &eager.tensors {
            assert_eq!(opened.tensors[key].shape, tensor.shape, "{name} {key}");
            assert_eq!(&opened.tensor(key).unwrap(), tensor, "{name} {key}");
        }
        assert_eq!(opened.meta, eager.meta, "{name}");
        assert_eq!(opened.load().unwrap().tensors, eager.tensors, "{name}");
    }
}
