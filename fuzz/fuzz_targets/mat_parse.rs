//! Fuzzes the MAT v5 reader and the EMOTIC annotation layout on top of it: any bytes must give
//! `Ok` or an error, never a panic, and memory stays bounded by the small decompression limit.
//!
//! Run (nightly): `cd fuzz && cargo +nightly fuzz run mat_parse corpus/mat_parse -- -max_len=65536`
//! with the corpus seeded from `crates/emotic-data/tests/data/synthetic/*.mat`,
//! `.../release/Annotations/Annotations.mat` and `crates/emotic-eval/tests/data/*.mat`.
#![no_main]

use emotic_data::annotations::parse_split;
use emotic_data::mat::{ReadOptions, parse_mat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions { max_decompressed_bytes: 1 << 22, max_depth: 32 };
    if let Ok(mat) = parse_mat(data, "fuzz.mat", options) {
        for split in ["train", "val", "test"] {
            let _ = parse_split(&mat, split, "fuzz.mat");
        }
    }
});
