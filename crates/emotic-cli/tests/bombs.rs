//! Decompression bombs through every command that reads a checkpoint or a MAT file: each is
//! refused with an error naming the entry, and the real binary's peak memory stays far below
//! what the bomb inflates to.
//!
//! * A 4 MB `torch.save` zip whose one storage entry deflates to 4 GiB of zeros, with a pickle
//!   claiming exactly that many float32 values: `predict --weights`, `export`, `predict
//!   --emotion-model`, `import`, `train --init-model`, `eval --model`.
//! * A MAT file of a few hundred KB whose compressed matrix inflates to 260 MB of uint8 (2 GB
//!   once widened to f64): `eval --preds`/`--labels` and `prepare`.
//!
//! The bombs are built at run time (nothing big is committed). Set `EMOTIC_KEEP_BOMBS=<dir>`
//! to have them copied there, to measure another build of `emotic` against the same files.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use emotic_weights::pickle::{Py, to_vec};

/// What the zip bomb's storage inflates to: 2^30 float32 zeros.
const ZIP_BOMB_ELEMENTS: u64 = 1 << 30;
/// What the MAT bomb's matrix inflates to: 260 MB of uint8.
const MAT_BOMB_BYTES: usize = 260_000_000;
/// Every refusal must stay below this; the zip bomb inflates to 4 GiB (8 GiB with its f32
/// copy), the MAT bomb to 2.3 GB.
const PEAK_LIMIT_KIB: u64 = 500 << 10;
/// The entry the zip bomb's storage lives in.
const BOMB_ENTRY: &str = "bomb/data/0";

/// One run of the binary: exit code, stderr and peak resident memory.
struct Measured {
    code: Option<i32>,
    stderr: String,
    peak_kib: u64,
}

/// Runs `emotic args` in `dir`, polling its `VmHWM` (the kernel's high-water mark of resident
/// memory) until it exits. Polling every millisecond cannot miss a real bomb: touching hundreds
/// of MB takes far longer than that, and the mark only grows.
fn run_measured(dir: &Path, args: &[&str]) -> Measured {
    let stderr_path = dir.join(format!("stderr-{}.txt", args[0]));
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("run emotic");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak_kib = peak_kib.max(vm_hwm_kib(&text).unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    eprintln!(
        "emotic {}: exit {:?} after {:.2} s, peak RSS {} MiB",
        args.join(" "),
        status.code(),
        started.elapsed().as_secs_f64(),
        peak_kib >> 10
    );
    Measured {
        code: status.code(),
        stderr,
        peak_kib,
    }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Asserts a refusal: a failure exit, the cause named, peak memory far below the bomb.
fn assert_refused(m: &Measured, names: &[&str]) {
    assert!(m.code.is_some_and(|c| c != 0), "accepted: {}", m.stderr);
    for name in names {
        assert!(m.stderr.contains(name), "no {name:?} in: {}", m.stderr);
    }
    // 0 when the process exited before the first poll: it had no time to allocate much.
    assert!(
        m.peak_kib < PEAK_LIMIT_KIB,
        "peak RSS {} KiB; {}",
        m.peak_kib,
        m.stderr
    );
}

fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("EMOTIC_KEEP_BOMBS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("EMOTIC_KEEP_BOMBS folder");
        std::fs::copy(path, dir.join(path.file_name().expect("name"))).expect("copy bomb");
    }
}

/// The pickle of `{key: tensor of ZIP_BOMB_ELEMENTS float32 in storage "0"}`, as torch.save
/// writes a state dict.
fn bomb_pickle(key: &str) -> Vec<u8> {
    let n = i64::try_from(ZIP_BOMB_ELEMENTS).expect("fits");
    let storage = Py::PersistentId(Box::new(Py::Tuple(vec![
        Py::str("storage"),
        Py::global("torch", "FloatStorage"),
        Py::str("0"),
        Py::str("cpu"),
        Py::Int(n),
    ])));
    let tensor = Py::call(
        "torch._utils",
        "_rebuild_tensor_v2",
        vec![
            storage,
            Py::Int(0),
            Py::int_tuple(&[n]),
            Py::int_tuple(&[1]),
            Py::Bool(false),
            Py::OrderedDict(Vec::new()),
        ],
    );
    to_vec(&Py::OrderedDict(vec![(Py::str(key), tensor)])).expect("pickle")
}

/// The zip bomb, built once: about 4 MB on disk, 4 GiB inflated.
fn zip_bomb() -> &'static Path {
    static BOMB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOMB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("bomb.pt");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(9))
            .large_file(true);
        zip.start_file("bomb/data.pkl", stored).expect("entry");
        zip.write_all(&bomb_pickle("model.0.conv.weight"))
            .expect("write");
        zip.start_file("bomb/byteorder", stored).expect("entry");
        zip.write_all(b"little").expect("write");
        zip.start_file(BOMB_ENTRY, deflated).expect("entry");
        let zeros = vec![0u8; 1 << 24];
        for _ in 0..(ZIP_BOMB_ELEMENTS * 4) / zeros.len() as u64 {
            zip.write_all(&zeros).expect("write");
        }
        zip.start_file("bomb/version", stored).expect("entry");
        zip.write_all(b"3\n").expect("write");
        zip.finish().expect("finish");
        keep(&path);
        (dir, path)
    });
    path
}

/// A folder of the EMOTIC reference files whose context checkpoint is the zip bomb (the
/// thresholds are read first, so they are valid).
fn bomb_model_dir(work: &Path) -> PathBuf {
    let dir = work.join("model");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(zip_bomb(), dir.join("model_context1.pth")).expect("copy");
    std::fs::copy(zip_bomb(), dir.join("model_body1.pth")).expect("copy");
    std::fs::copy(zip_bomb(), dir.join("model_emotic1.pth")).expect("copy");
    emotic_weights::npy::write_f32(&dir.join("val_thresholds.npy"), &[26], &[0.5; 26])
        .expect("thresholds");
    dir
}

fn tiny_image(work: &Path) -> PathBuf {
    let path = work.join("a.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 150]))
        .save(&path)
        .expect("png");
    path
}

/// A MAT v5 file (as MATLAB's `-v7` writes it) with one compressed `rows x cols` uint8 matrix
/// of zeros called `name`.
fn mat_bomb(path: &Path, name: &str, rows: usize, cols: usize) {
    let pad = |v: &mut Vec<u8>| v.resize(v.len().div_ceil(8) * 8, 0);
    let u32le = |v: &mut Vec<u8>, x: usize| {
        v.extend_from_slice(&u32::try_from(x).expect("fits").to_le_bytes());
    };
    let mut body = Vec::new();
    // Array flags: class 9 (uint8). Dimensions. Name.
    for word in [6, 8, 9, 0, 5, 8, rows, cols, 1, name.len()] {
        u32le(&mut body, word);
    }
    body.extend_from_slice(name.as_bytes());
    pad(&mut body);
    u32le(&mut body, 2); // miUINT8
    u32le(&mut body, rows * cols);
    let mut matrix = Vec::new();
    u32le(&mut matrix, 14); // miMATRIX
    u32le(&mut matrix, body.len() + (rows * cols).div_ceil(8) * 8);
    matrix.extend_from_slice(&body);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&matrix).expect("deflate");
    let zeros = vec![0u8; 1 << 20];
    let mut left = (rows * cols).div_ceil(8) * 8;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).expect("deflate");
        left -= n;
    }
    let compressed = z.finish().expect("deflate");
    let mut file = vec![b' '; 116];
    file[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&0x0100u16.to_le_bytes());
    file.extend_from_slice(b"IM");
    u32le(&mut file, 15); // miCOMPRESSED
    u32le(&mut file, compressed.len());
    file.extend_from_slice(&compressed);
    std::fs::write(path, file).expect("write mat");
    keep(path);
}

/// A prepared split with two records, so that `train` gets as far as loading its model.
fn tiny_split(dir: &Path) {
    use emotic_data::dataset::{DatasetWriter, OwnedRecord, Provenance};
    let mut w = DatasetWriter::create(dir).expect("writer");
    for i in 0..2 {
        w.push(&OwnedRecord {
            context: vec![100; 224 * 224 * 3],
            body: vec![100; 128 * 128 * 3],
            provenance: Provenance {
                folder: "synthetic".into(),
                filename: format!("{i}.png"),
                image_size: [224, 224],
                bbox: [0, 0, 128, 128],
                categories: vec!["Engagement".to_string()],
                vad: [5.0, 4.0, 6.0],
                gender: "Female".into(),
                age: "Adult".into(),
            },
        })
        .expect("push");
    }
    w.finish("split", BTreeMap::new(), "test").expect("finish");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn zip_bomb_as_predict_weights() {
    let work = tempfile::tempdir().expect("tmp");
    let image = tiny_image(work.path());
    let m = run_measured(
        work.path(),
        &["predict", "--weights", s(zip_bomb()), "--source", s(&image)],
    );
    assert_refused(&m, &[BOMB_ENTRY, "bomb.pt"]);
}

#[test]
fn zip_bomb_as_export_weights() {
    let work = tempfile::tempdir().expect("tmp");
    let out = work.path().join("out.onnx");
    let m = run_measured(
        work.path(),
        &["export", "--weights", s(zip_bomb()), "--output", s(&out)],
    );
    assert_refused(&m, &[BOMB_ENTRY, "bomb.pt"]);
    assert!(!out.exists());
}

#[test]
fn zip_bomb_as_predict_emotion_model() {
    let work = tempfile::tempdir().expect("tmp");
    let Some(weights) = common::shared_fixture("yolov5n.pt") else {
        return;
    };
    let image = tiny_image(work.path());
    let model = bomb_model_dir(work.path());
    let m = run_measured(
        work.path(),
        &[
            "predict",
            "--weights",
            s(&weights),
            "--emotion-model",
            s(&model),
            "--source",
            s(&image),
        ],
    );
    assert_refused(&m, &[BOMB_ENTRY, "model_context1.pth"]);
}

#[test]
fn zip_bomb_through_import() {
    let work = tempfile::tempdir().expect("tmp");
    let model = bomb_model_dir(work.path());
    let out = work.path().join("m.emotic.safetensors");
    let m = run_measured(work.path(), &["import", "--dir", s(&model), "-o", s(&out)]);
    assert_refused(&m, &[BOMB_ENTRY, "model_context1.pth"]);
    assert!(!out.exists());
}

#[test]
fn zip_bomb_as_train_init_model() {
    let work = tempfile::tempdir().expect("tmp");
    tiny_split(&work.path().join("data/train"));
    tiny_split(&work.path().join("data/val"));
    let model = bomb_model_dir(work.path());
    let m = run_measured(
        work.path(),
        &[
            "train",
            "--data",
            "data",
            "--init-model",
            s(&model),
            "--epochs",
            "1",
            "--quiet",
        ],
    );
    assert_refused(&m, &[BOMB_ENTRY, "model_context1.pth"]);
}

#[test]
fn zip_bomb_as_eval_model() {
    let work = tempfile::tempdir().expect("tmp");
    let model = bomb_model_dir(work.path());
    let m = run_measured(
        work.path(),
        &["eval", "--model", s(&model), "--data", "data/val"],
    );
    assert_refused(&m, &[BOMB_ENTRY, "model_context1.pth"]);
}

#[test]
fn mat_bomb_as_eval_preds_and_labels() {
    let work = tempfile::tempdir().expect("tmp");
    let bomb = work.path().join("val_cat_preds.mat");
    mat_bomb(&bomb, "cat_preds", 26, MAT_BOMB_BYTES / 26);
    let small = work.path().join("val_cat_labels.mat");
    mat_bomb(&small, "cat_labels", 26, 4);
    for (preds, labels) in [(&bomb, &small), (&small, &bomb)] {
        let m = run_measured(
            work.path(),
            &["eval", "--preds", s(preds), "--labels", s(labels)],
        );
        assert_refused(
            &m,
            &["val_cat_preds.mat", "compressed variable 'cat_preds'"],
        );
    }
}

#[test]
fn mat_bomb_as_prepare_annotations() {
    let work = tempfile::tempdir().expect("tmp");
    let annotations = work.path().join("release/Annotations");
    std::fs::create_dir_all(&annotations).expect("mkdir");
    mat_bomb(
        &annotations.join("Annotations.mat"),
        "train",
        1,
        MAT_BOMB_BYTES,
    );
    let release = work.path().join("release");
    let out = work.path().join("prepared");
    let m = run_measured(
        work.path(),
        &[
            "prepare",
            "--data-dir",
            s(&release),
            "-o",
            s(&out),
            "--no-progress",
        ],
    );
    assert_refused(&m, &["Annotations.mat", "compressed variable 'train'"]);
}
