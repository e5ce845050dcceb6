//! Promises of the workspace layout that the README makes: the dataset and training crates
//! reach the model's facts, weights and preprocessing without ONNX Runtime.

use std::process::Command;

/// The packages `package` depends on when built as a library (no dev-dependencies).
fn normal_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn training_and_dataset_crates_do_not_pull_in_onnx_runtime() {
    for package in [
        "emotic-train",
        "emotic-data",
        "emotic-bundle",
        "emotic-imageops",
    ] {
        let deps = normal_dependencies(package);
        assert!(deps.len() > 1, "{package}: {deps:?}");
        for runtime in ["ort", "ort-sys", "emotic"] {
            assert!(
                !deps.iter().any(|d| d == runtime),
                "{package} depends on {runtime}"
            );
        }
    }
    // The check itself can see a dependency: the predict path does pull in ONNX Runtime.
    assert!(
        normal_dependencies("emotic-predict")
            .iter()
            .any(|d| d == "ort")
    );
}
