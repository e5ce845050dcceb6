//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// Runs the `emotic` binary in `dir` and returns (exit code, stdout, stderr).
pub fn emotic(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emotic"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run emotic");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
