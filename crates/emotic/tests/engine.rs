//! The ONNX Runtime engine: the library is found without hand-set variables, models run, and
//! bad input is an error rather than a crash.

use std::path::Path;

use emotic::engine::{ORT_VERSION, Session, SessionOptions};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn setup_script_installs_the_version_the_code_expects() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup.sh"),
    )
    .unwrap();
    assert!(
        script.contains(&format!("ORT_VERSION={ORT_VERSION}\n")),
        "scripts/setup.sh must pin ONNX Runtime {ORT_VERSION}"
    );
}

#[test]
fn runs_a_model_made_by_the_onnx_package() {
    // tools/gen_engine_fixture.py: y = 2x + [0.5, -1, 3], dynamic batch.
    let mut session =
        Session::from_file(&fixture("engine_affine.onnx"), SessionOptions::DEFAULT).unwrap();
    assert_eq!(session.inputs()[0].name, "x");
    assert_eq!(session.inputs()[0].shape, vec![None, Some(3)]);
    assert_eq!(session.metadata("stride").as_deref(), Some("32"));
    let x = [1.0f32, 2.0, 3.0, -1.0, 0.0, 0.25];
    let out = session.run(&[("x", &[2, 3], &x)]).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].name, "y");
    assert_eq!(out[0].shape, vec![2, 3]);
    assert_eq!(out[0].data, vec![2.5, 3.0, 9.0, -1.5, -1.0, 3.5]);
}

#[test]
fn shape_mismatch_is_an_error() {
    let mut session =
        Session::from_file(&fixture("engine_affine.onnx"), SessionOptions::DEFAULT).unwrap();
    let err = session.run(&[("x", &[2, 3], &[1.0; 5])]).unwrap_err();
    assert!(err.to_string().contains("needs 6 values"), "{err}");
    // Wrong rank: ONNX Runtime refuses it, and we report it rather than panic.
    assert!(session.run(&[("x", &[6], &[1.0; 6])]).is_err());
}

#[test]
fn a_corrupt_model_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.onnx");
    std::fs::write(&path, b"definitely not protobuf").unwrap();
    let err = Session::from_file(&path, SessionOptions::DEFAULT).unwrap_err();
    assert!(err.to_string().contains("broken.onnx"), "{err}");
}
