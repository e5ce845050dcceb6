//! Fuzzes the MAT v5 reader and the EMOTIC annotation layout on top of it: any bytes must give
//! `Ok` or an error, never a panic, and memory stays bounded by the decompression and decoding
//! limits below (256 MiB each), well inside the RSS limit of the run command in
//! `fuzz/README.md`.
#![no_main]

use emotic_data::annotations::parse_split;
use emotic_data::mat::{ReadOptions, parse_mat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions {
        max_decompressed_bytes: 256 << 20,
        max_decoded_bytes: 256 << 20,
        max_depth: 32,
        ..ReadOptions::default()
    };
    if let Ok(mat) = parse_mat(data, "fuzz.mat", options) {
        for split in ["train", "val", "test"] {
            let _ = parse_split(&mat, split, "fuzz.mat");
        }
    }
});
