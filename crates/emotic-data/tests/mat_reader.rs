//! The MAT v5 reader against files written by scipy (`tools/gen_synthetic_emotic.py`,
//! `tools/gen_eval_golden.py`), and against truncated and corrupted bytes.

use std::path::{Path, PathBuf};

use emotic_data::mat::{MatValue, NumericClass, ReadOptions, parse_mat, read_mat_file};
use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn expected_number(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        v => v.as_f64().expect("number"),
    }
}

#[test]
fn every_type_written_by_scipy_reads_back() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data("synthetic/mat_types.json")).unwrap())
            .unwrap();
    for file in ["synthetic/mat_types.mat", "synthetic/mat_types_z.mat"] {
        let mat = read_mat_file(&data(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            mat.header_text.starts_with("MATLAB 5.0 MAT-file"),
            "{}",
            mat.header_text
        );
        for (name, want) in expected.as_object().unwrap() {
            let got = mat.get(name).unwrap_or_else(|| panic!("{file}: no {name}"));
            if let Some(text) = want.get("text") {
                assert_eq!(got.as_string().as_deref(), text.as_str(), "{file}: {name}");
                continue;
            }
            let dims: Vec<usize> = want["dims"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(got.dims(), dims.as_slice(), "{file}: {name} dims");
            let values: Vec<f64> = want["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(expected_number)
                .collect();
            assert_eq!(
                got.as_numbers().unwrap(),
                values.as_slice(),
                "{file}: {name}"
            );
            if want.get("logical").is_some() {
                assert!(
                    matches!(got, MatValue::Numeric { logical: true, .. }),
                    "{name} logical"
                );
            }
        }
        assert!(matches!(
            mat.get("i16"),
            Some(MatValue::Numeric {
                class: NumericClass::Int16,
                ..
            })
        ));
        // Cell {1.0, 'a', {2.0}} and the nested struct array.
        let c = mat.get("c").unwrap().as_cells().unwrap();
        assert_eq!(c[0].as_numbers(), Some(&[1.0][..]));
        assert_eq!(c[1].as_string().as_deref(), Some("a"));
        assert_eq!(c[2].as_cells().unwrap()[0].as_numbers(), Some(&[2.0][..]));
        let st = mat.get("st").unwrap();
        assert_eq!(st.dims(), &[1, 2]);
        assert_eq!(st.field(0, "a").unwrap().as_numbers(), Some(&[1.5][..]));
        assert_eq!(st.field(0, "b").unwrap().as_string().as_deref(), Some("x"));
        let deep = st
            .field(1, "a")
            .unwrap()
            .field(0, "deep")
            .unwrap()
            .as_cells()
            .unwrap();
        assert_eq!(deep[0].as_string().as_deref(), Some("z"));
        assert_eq!(deep[1].as_numbers(), Some(&[7.0][..]));
        assert!(st.field(1, "b").unwrap().is_empty());
    }
}

#[test]
fn reads_the_reference_result_files() {
    // (26, N) float64 written by scipy.io.savemat like the reference test.py.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../emotic-eval/tests/data/val_cat_preds.mat");
    let mat = read_mat_file(&path).unwrap();
    let v = mat.get("cat_preds").unwrap();
    assert_eq!(v.dims()[0], 26);
    assert!(
        v.as_numbers()
            .unwrap()
            .iter()
            .all(|x| (0.0..=1.0).contains(x))
    );
}

#[test]
fn every_truncation_is_a_clear_error() {
    for file in [
        "synthetic/mat_types.mat",
        "synthetic/mat_types_z.mat",
        "synthetic/release/Annotations/Annotations.mat",
    ] {
        let bytes = std::fs::read(data(file)).unwrap();
        // Dropping whole elements at the end can leave a valid file; everything else must fail.
        let full = parse_mat(&bytes, file, ReadOptions::default()).unwrap();
        for len in 0..bytes.len() {
            match parse_mat(&bytes[..len], file, ReadOptions::default()) {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(file) && msg.contains("MAT"), "{msg}");
                }
                Ok(m) => assert!(
                    m.variables.len() < full.variables.len(),
                    "{file}: truncated at {len} parsed fully"
                ),
            }
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    // Deterministic xorshift so failures reproduce.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let limits = ReadOptions {
        max_decompressed_bytes: 1 << 20,
        max_depth: 16,
        ..ReadOptions::default()
    };
    for file in [
        "synthetic/mat_types.mat",
        "synthetic/release/Annotations/Annotations.mat",
    ] {
        let bytes = std::fs::read(data(file)).unwrap();
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            let _ = parse_mat(&b, file, limits);
        }
    }
}

#[test]
fn unsupported_and_malformed_inputs_say_what_is_wrong() {
    let err = |b: &[u8]| {
        parse_mat(b, "x.mat", ReadOptions::default())
            .unwrap_err()
            .to_string()
    };
    assert!(err(b"short").contains("too short"));
    let mut header = vec![b' '; 128];
    header[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
    header[126..128].copy_from_slice(b"IM");
    assert!(err(&header).contains("v7.3"));
    header[126..128].copy_from_slice(b"XX");
    assert!(err(&header).contains("endian"));
    // A sparse array: flags class 5.
    let mut sparse = header.clone();
    sparse[124..126].copy_from_slice(&0x0100u16.to_le_bytes());
    sparse[126..128].copy_from_slice(b"IM");
    let body: Vec<u8> = [
        &[6u8, 0, 0, 0, 8, 0, 0, 0][..],
        &[5, 0, 0, 0, 0, 0, 0, 0],
        &[5, 0, 0, 0, 8, 0, 0, 0],
        &[1, 0, 0, 0, 1, 0, 0, 0],
        &[1, 0, 1, 0, b'a', 0, 0, 0],
    ]
    .concat();
    sparse.extend_from_slice(&[14, 0, 0, 0]);
    sparse.extend_from_slice(&(body.len() as u32).to_le_bytes());
    sparse.extend_from_slice(&body);
    assert!(err(&sparse).contains("sparse"), "{}", err(&sparse));
    // A cell claiming 2^31 elements in a few bytes is refused before allocating.
    let mut cell = sparse.clone();
    let at = 128 + 8 + 8; // flags data
    cell[at] = 1; // class cell
    cell[at + 8 + 8..at + 8 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    assert!(err(&cell).contains("cannot fit"), "{}", err(&cell));
}

#[test]
fn decompression_is_capped() {
    let bytes = std::fs::read(data("synthetic/mat_types_z.mat")).unwrap();
    let e = parse_mat(
        &bytes,
        "z.mat",
        ReadOptions {
            max_decompressed_bytes: 16,
            max_depth: 64,
            ..ReadOptions::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}
