//! `emotic prepare` and `emotic eval` end to end, in temporary folders, on the committed
//! fixtures of emotic-data (synthetic release) and emotic-eval (scikit-learn goldens).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn emotic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(args)
        .output()
        .expect("run emotic")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn eval_on_reference_mat_results_matches_sklearn() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let data = crates().join("emotic-eval/tests/data");
    for kind in ["cat_preds", "cat_labels", "cont_preds", "cont_labels"] {
        std::fs::copy(
            data.join(format!("val_{kind}.mat")),
            results.join(format!("val_{kind}.mat")),
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let o = emotic(&[
        "eval",
        "--results-dir",
        s(&results),
        "--split",
        "val",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let golden = json(&data.join("golden_full.json"));
    let thr = emotic_weights::npy::read_npy_file(&out.join("val_thresholds.npy")).unwrap();
    assert_eq!(thr.shape, vec![26]);
    let want: Vec<f32> = golden["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(thr.to_f32_vec(), want);
    let report = json(&out.join("val_eval.json"));
    assert_eq!(report["mean_ap"].as_f64(), golden["mean_ap"].as_f64());
    assert_eq!(report["vad"]["mean"].as_f64(), golden["mean_vad"].as_f64());
    assert_eq!(report["persons"].as_u64(), Some(150));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("Mean AP") && table.contains("Mean VAD Error"),
        "{table}"
    );
    assert_eq!(
        std::fs::read_dir(out.join("val_pr_curves"))
            .unwrap()
            .count(),
        26
    );
    // The same set as JSON lines gives the same numbers.
    let out2 = tmp.path().join("out2");
    let o = emotic(&[
        "eval",
        "--preds",
        s(&data.join("val_preds.jsonl")),
        "--labels",
        s(&data.join("val_labels.jsonl")),
        "-o",
        s(&out2),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        json(&out2.join("val_eval.json"))["mean_ap"],
        report["mean_ap"]
    );
}

#[test]
fn eval_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.mat");
    let o = emotic(&[
        "eval",
        "--preds",
        s(&missing),
        "--labels",
        s(&missing),
        "-o",
        s(tmp.path()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.mat"));
    let bytes = std::fs::read(crates().join("emotic-eval/tests/data/val_cat_preds.mat")).unwrap();
    let truncated = tmp.path().join("val_cat_preds.mat");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let o = emotic(&[
        "eval",
        "--preds",
        s(&truncated),
        "--labels",
        s(&truncated),
        "-o",
        s(tmp.path()),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("val_cat_preds.mat") && err.contains("truncated"),
        "{err}"
    );
}

/// The synthetic reference arrays with the gzipped image arrays inflated.
fn reference_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("reference");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in
        std::fs::read_dir(crates().join("emotic-data/tests/data/synthetic/reference")).unwrap()
    {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        let name = match name.strip_suffix(".gz") {
            Some(stem) => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(bytes.as_slice())
                    .read_to_end(&mut out)
                    .unwrap();
                bytes = out;
                stem.to_string()
            }
            None => name,
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

#[test]
fn prepare_both_inputs_export_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let release = crates().join("emotic-data/tests/data/synthetic/release");
    let (a, b, export) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("export"),
    );
    let o = emotic(&[
        "prepare",
        "--data-dir",
        s(&release),
        "-o",
        s(&a),
        "--no-progress",
    ]);
    // Missing and corrupt images are reported per file, the rest kept: exit code 3.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("img_train_03.png") && err.contains("missing_image"),
        "{err}"
    );
    let report = json(&a.join("prepare_report.json"));
    let expected = json(&crates().join("emotic-data/tests/data/synthetic/expected.json"));
    for split in ["train", "val", "test"] {
        assert_eq!(report[split]["count"], expected[split]["count"], "{split}");
        assert_eq!(
            report[split]["skipped"], expected[split]["skipped"],
            "{split}"
        );
    }
    let refdir = reference_dir(tmp.path());
    let o = emotic(&[
        "prepare",
        "--npy-dir",
        s(&refdir),
        "-o",
        s(&b),
        "--export",
        s(&export),
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for split in ["train", "val", "test"] {
        for file in ["context.u8", "body.u8", "cat.f32", "vad.f32", "index.jsonl"] {
            assert_eq!(
                std::fs::read(a.join(split).join(file)).unwrap(),
                std::fs::read(b.join(split).join(file)).unwrap(),
                "{split}/{file}"
            );
        }
        for file in [
            format!("{split}_context_arr.npy"),
            format!("{split}_cont_arr.npy"),
        ] {
            let (g, w) = (
                emotic_weights::npy::read_npy_file(&export.join(&file)).unwrap(),
                emotic_weights::npy::read_npy_file(&refdir.join(&file)).unwrap(),
            );
            assert_eq!(g.shape, w.shape, "{file}");
            assert_eq!(g.to_f64_vec(), w.to_f64_vec(), "{file}");
        }
    }
    // Labels straight from a prepared split: perfect predictions score AP 1 where positives exist.
    let val = a.join("val");
    let o = emotic(&[
        "eval",
        "--preds",
        s(&val),
        "--labels",
        s(&val),
        "-o",
        s(&tmp.path().join("ev")),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&tmp.path().join("ev/val_eval.json"));
    for c in r["categories"].as_array().unwrap() {
        let want = if c["positives"].as_u64().unwrap() > 0 {
            1.0
        } else {
            0.0
        };
        assert_eq!(c["average_precision"].as_f64(), Some(want), "{c}");
    }
    assert_eq!(r["vad"]["mean"].as_f64(), Some(0.0));
}

#[test]
fn prepare_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let o = emotic(&["prepare", "--data-dir", s(tmp.path()), "--no-progress"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Annotations.mat"));
    let o = emotic(&["prepare", "--no-progress"]);
    assert_eq!(o.status.code(), Some(2), "usage error without an input");
}

#[test]
fn eval_runs_a_model_on_a_prepared_split() {
    let tmp = tempfile::tempdir().unwrap();
    let release = crates().join("emotic-data/tests/data/synthetic/release");
    let prepared = tmp.path().join("p");
    let o = emotic(&[
        "prepare",
        "--data-dir",
        s(&release),
        "-o",
        s(&prepared),
        "--label",
        "val",
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = crates().join("emotic/tests/data/emotic_small");
    let out = tmp.path().join("ev");
    let o = emotic(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&prepared.join("val")),
        "-o",
        s(&out),
        "--no-plots",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() && err.contains("ONNX Runtime is not available") {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ONNX Runtime missing in CI: {err}"
        );
        eprintln!("skipping: {err}");
        return;
    }
    assert!(o.status.success(), "{err}");
    // One prediction per record, and re-scoring the saved predictions reproduces the report.
    let preds = out.join("val_preds.jsonl");
    assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 17);
    let out2 = tmp.path().join("ev2");
    let o = emotic(&[
        "eval",
        "--preds",
        s(&preds),
        "--labels",
        s(&prepared.join("val")),
        "-o",
        s(&out2),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (
        json(&out.join("val_eval.json")),
        json(&out2.join("val_eval.json")),
    );
    assert_eq!(a["categories"], b["categories"]);
    assert_eq!(a["vad"], b["vad"]);
    assert_eq!(a["persons"].as_u64(), Some(17));
}
