//! Feeds arbitrary bytes to every emotic-weights reader: the pickle interpreter, torch.save
//! (zip and legacy), safetensors and .npy. Any panic, hang or runaway allocation is a bug.
//!
//! The torch reader runs under limits four times tighter than its defaults, so that what an
//! input may legitimately inflate and decode to (512 MiB each) stays well inside the RSS limit
//! of the documented run command (see `fuzz/README.md`); anything beyond it is a real hole.
#![no_main]

use emotic_weights::torch::ReadLimits;
use libfuzzer_sys::fuzz_target;

const LIMITS: ReadLimits = ReadLimits {
    max_inflated_bytes: 512 << 20,
    max_ratio: 100,
    ratio_allowance: 16 << 20,
    max_decoded_bytes: 512 << 20,
};

fn torch(bytes: &[u8]) {
    if let Ok(checkpoint) = emotic_weights::torch::open_torch_bytes(bytes, &LIMITS) {
        let _ = checkpoint.load();
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = emotic_weights::pickle::from_slice(data);
    torch(data);
    let _ = emotic_weights::safetensors::read_safetensors_bytes(data);
    let _ = emotic_weights::npy::read_npy_bytes(data);
    // Steer the torch reader into its legacy parser by prepending the pickled magic number.
    let mut legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19".to_vec();
    legacy.extend_from_slice(data);
    torch(&legacy);
});
