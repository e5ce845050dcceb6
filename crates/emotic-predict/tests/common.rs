//! Shared by the predict-path tests: fixtures, ffmpeg, and running a job.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use emotic_predict::{PredictJob, PredictOptions, Quiet, RunReport};

/// A file from the shared fixtures, or `None` (with a printed reason) when the folder is missing
/// outside CI. Under `CI=true` a missing fixture fails the test.
pub fn shared_fixture(rel: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared fixture {} is missing in CI",
        path.display()
    );
    eprintln!("skipping: shared fixture {} is missing", path.display());
    None
}

/// The reduced EMOTIC model in the reference layout (made by tools/gen_emotic_fixtures.py).
pub fn emotic_small() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../emotic/tests/data/emotic_small")
}

/// Whether ffmpeg is installed (required under `CI=true`).
pub fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "ffmpeg is missing in CI"
    );
    if !ok {
        eprintln!("skipping: ffmpeg is not installed");
    }
    ok
}

/// Runs ffmpeg quietly and asserts it succeeded.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the predict path on `source` into `project/exp` with the EMOTIC fixture model.
pub fn predict(weights: &Path, source: &str, project: &Path, options: PredictOptions) -> RunReport {
    let job = PredictJob {
        weights: weights.to_path_buf(),
        emotion_model: Some(emotic_small()),
        source: source.to_string(),
        project: project.to_path_buf(),
        name: "exp".into(),
        exist_ok: false,
        options,
    };
    emotic_predict::run(&job, &mut Quiet, &Arc::new(AtomicBool::new(false))).unwrap()
}

/// The JSON values of a JSON-lines file.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A record as its JSON text reads back (`serde_json::to_value` would widen its `f32`s).
pub fn as_json<T: serde::Serialize>(record: &T) -> serde_json::Value {
    serde_json::from_str(&serde_json::to_string(record).unwrap()).unwrap()
}
