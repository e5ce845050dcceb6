//! Feeds arbitrary bytes to every emotic-weights reader: the pickle interpreter, torch.save
//! (zip and legacy), safetensors and .npy. Any panic, hang or runaway allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emotic_weights::pickle::from_slice(data);
    let _ = emotic_weights::torch::read_torch_bytes(data);
    let _ = emotic_weights::safetensors::read_safetensors_bytes(data);
    let _ = emotic_weights::npy::read_npy_bytes(data);
    // Steer the torch reader into its legacy parser by prepending the pickled magic number.
    let mut legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19".to_vec();
    legacy.extend_from_slice(data);
    let _ = emotic_weights::torch::read_torch_bytes(&legacy);
});
