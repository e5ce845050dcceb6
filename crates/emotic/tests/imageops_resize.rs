//! `emotic::imageops::resize_linear_u8` against `cv2.resize(INTER_LINEAR)` goldens made by
//! `tools/gen_resize_golden.py`: every case must be byte-identical.

use emotic::imageops::{fnv1a64, resize_linear_u8};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/resize_golden.json");

/// The low byte of successive splitmix64 outputs, as in the generator.
fn splitmix64_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// The generator's `make_image`.
fn make_image(w: usize, h: usize, seed: u64, pattern: &str) -> Vec<u8> {
    let noise = splitmix64_bytes(seed, w * h * 3);
    if pattern == "noise" {
        return noise;
    }
    let mut out = Vec::with_capacity(noise.len());
    for y in 0..h {
        for x in 0..w {
            let base = [x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)];
            for (c, b) in base.into_iter().enumerate() {
                let n = i64::from(noise[(y * w + x) * 3 + c]) % 9 - 4;
                out.push((b as i64 + n).clamp(0, 255) as u8);
            }
        }
    }
    out
}

fn field(case: &Value, name: &str) -> usize {
    case[name].as_u64().map_or(usize::MAX, |v| v as usize)
}

#[test]
fn resize_matches_opencv_bit_exactly() -> anyhow::Result<()> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(GOLDEN)?)?;
    let cases = doc["cases"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no cases"))?;
    assert!(cases.len() > 150, "golden file lost its cases");
    let mut failures = Vec::new();
    let mut bytes_compared = 0usize;
    for case in cases {
        let (w, h) = (field(case, "src_w"), field(case, "src_h"));
        let (dw, dh) = (field(case, "dst_w"), field(case, "dst_h"));
        let seed = case["seed"].as_u64().unwrap_or(0);
        let src = make_image(w, h, seed, case["pattern"].as_str().unwrap_or(""));
        let out = resize_linear_u8(&src, w, h, 3, dw, dh)?;
        bytes_compared += out.len();
        let label = format!("{w}x{h} -> {dw}x{dh} (seed {seed})");
        if let Some(hex) = case["bytes_hex"].as_str() {
            let expected: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            let differing = expected.iter().zip(&out).filter(|(a, b)| a != b).count();
            if differing > 0 || expected.len() != out.len() {
                failures.push(format!(
                    "{label}: {differing} of {} bytes differ",
                    out.len()
                ));
            }
        }
        let hash = format!("{:016x}", fnv1a64(&out));
        if Some(hash.as_str()) != case["fnv1a64"].as_str() {
            failures.push(format!("{label}: hash {hash} != {}", case["fnv1a64"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(bytes_compared > 1_000_000);
    Ok(())
}

#[test]
fn splitmix_matches_generator() {
    // First outputs of splitmix64 seeded with 1234567 (low bytes), a published test vector:
    // 6457827717110365317, 3203168211198807973, 9817491932198370423.
    assert_eq!(splitmix64_bytes(1_234_567, 3), vec![0x85, 0xa5, 0x77]);
}
