//! The MAT reader's decompression and decoding limits ([`ReadOptions`]) against crafted files:
//! compressed bombs are refused from the size their tag declares, before the rest is
//! inflated; a tag that lies is stopped where the lie starts; widened values are bounded.

use std::io::Write;
use std::path::Path;

use emotic_data::mat::{ReadOptions, parse_mat, read_mat_file};

fn u32le(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&u32::try_from(x).unwrap().to_le_bytes());
}

/// A miMATRIX element: a `rows x cols` uint8 matrix of `fill` called `name`; `claimed` replaces
/// the matrix tag's byte count when given.
fn uint8_matrix(name: &str, rows: usize, cols: usize, fill: u8, claimed: Option<usize>) -> Vec<u8> {
    let mut body = Vec::new();
    for word in [6, 8, 9, 0, 5, 8, rows, cols, 1, name.len()] {
        u32le(&mut body, word);
    }
    body.extend_from_slice(name.as_bytes());
    body.resize(body.len().div_ceil(8) * 8, 0);
    u32le(&mut body, 2); // miUINT8
    u32le(&mut body, rows * cols);
    body.resize(body.len() + (rows * cols).div_ceil(8) * 8, fill);
    let mut m = Vec::new();
    u32le(&mut m, 14); // miMATRIX
    u32le(&mut m, claimed.unwrap_or(body.len()));
    m.extend_from_slice(&body);
    m
}

fn compressed(element: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(element).unwrap();
    let z = z.finish().unwrap();
    let mut out = Vec::new();
    u32le(&mut out, 15); // miCOMPRESSED
    u32le(&mut out, z.len());
    out.extend_from_slice(&z);
    out
}

fn mat_file(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut file = vec![b' '; 116];
    file[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&0x0100u16.to_le_bytes());
    file.extend_from_slice(b"IM");
    for e in elements {
        file.extend_from_slice(e);
    }
    file
}

fn error(bytes: &[u8], options: ReadOptions) -> String {
    parse_mat(bytes, "bomb.mat", options)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_compressed_bomb_is_refused_from_its_declared_size() {
    // 64 MiB of uint8 zeros (512 MiB as f64) in about 64 KB.
    let bytes = mat_file(&[compressed(&uint8_matrix("x", 1, 64 << 20, 0, None))]);
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
    let err = error(&bytes, ReadOptions::default());
    assert!(
        err.contains("bomb.mat") && err.contains("compressed variable 'x' declares"),
        "{err}"
    );
    // With no ratio limit it still stops at the decoded budget: 512 MiB of f64 over 256 MiB.
    let no_ratio = ReadOptions {
        max_ratio: usize::MAX,
        max_decoded_bytes: 256 << 20,
        ..ReadOptions::default()
    };
    let err = error(&bytes, no_ratio);
    assert!(
        err.contains("'x'") && err.contains("decoded values"),
        "{err}"
    );
}

#[test]
fn a_tag_that_understates_is_stopped_where_the_lie_starts() {
    // The tag claims 64 bytes; the stream holds 8 MB of zeros.
    let bytes = mat_file(&[compressed(&uint8_matrix("x", 1, 8 << 20, 0, Some(64)))]);
    let err = error(&bytes, ReadOptions::default());
    assert!(
        err.contains("more than the 72 bytes its tag declares"),
        "{err}"
    );
}

#[test]
fn many_compressed_elements_are_bounded_together() {
    // Each element (8 MiB of zeros) is under the allowance; four of them from 32 KB are not.
    let element = compressed(&uint8_matrix("x", 1, 8 << 20, 0, None));
    let bytes = mat_file(&[element.clone(), element.clone(), element.clone(), element]);
    let err = error(
        &bytes,
        ReadOptions {
            max_decoded_bytes: usize::MAX,
            ..ReadOptions::default()
        },
    );
    assert!(err.contains("with the elements before it"), "{err}");
    let err = error(
        &bytes,
        ReadOptions {
            max_decompressed_bytes: 20 << 20,
            max_decoded_bytes: usize::MAX,
            max_ratio: usize::MAX,
            ..ReadOptions::default()
        },
    );
    assert!(err.contains("limit for the whole file"), "{err}");
}

#[test]
fn widening_uncompressed_data_is_bounded() {
    // 1 MB of uint8 takes 8 MB as f64.
    let bytes = mat_file(&[uint8_matrix("pixels", 1000, 1000, 7, None)]);
    let tight = ReadOptions {
        max_decoded_bytes: 4 << 20,
        ..ReadOptions::default()
    };
    assert!(error(&bytes, tight).contains("'pixels'"));
    let mat = parse_mat(&bytes, "ok.mat", ReadOptions::default()).unwrap();
    assert_eq!(mat.get("pixels").unwrap().len(), 1_000_000);
}

#[test]
fn the_synthetic_annotations_pass_far_inside_the_limits() {
    // Like the real Annotations.mat: struct-heavy, deflated 12-14:1. Ten times tighter limits
    // than the defaults still read it.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/synthetic/release/Annotations/Annotations.mat");
    read_mat_file(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let tight = ReadOptions {
        max_ratio: 20,
        ratio_allowance: 0,
        ..ReadOptions::default()
    };
    parse_mat(&bytes, "Annotations.mat", tight).unwrap();
}
