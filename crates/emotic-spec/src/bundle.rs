//! The model bundle's format: one safetensors file with everything the EMOTIC model needs.
//!
//! Tensors: `context.<key>`, `body.<key>` (torchvision keys, see [`crate::weight_keys`]),
//! `head.<key>` (the `emotic.Emotic` keys `fc1.*`, `bn1.*`, `fc_cat.*`, `fc_cont.*`) and
//! [`THRESHOLDS_TENSOR`] (26 values). Metadata (`__metadata__`, strings), as [`metadata`]
//! writes it:
//!
//! | key | value |
//! |---|---|
//! | `format` | [`FORMAT`] |
//! | `format_version` | [`VERSION`] |
//! | `categories` | JSON list of the 26 category names, in output order |
//! | `vad_names` | JSON list `["Valence", "Arousal", "Dominance"]` |
//! | `vad_scale` | `10` (the model emits VAD / 10) |
//! | `context_mean`, `context_std`, `body_mean`, `body_std` | JSON lists of 3 numbers |
//! | `context_input_size`, `body_input_size` | JSON `[width, height]` |
//!
//! A reader refuses a bundle whose [`MUST_MATCH`] entries differ from this build's, and one
//! without thresholds: the model must never run thresholdless.

use std::collections::BTreeMap;

use crate::input::{BODY_NORM, BODY_SIZE, CONTEXT_NORM, CONTEXT_SIZE};
use crate::labels::{CATEGORIES, VAD_NAMES, VAD_SCALE};

/// Value of the `format` metadata entry.
pub const FORMAT: &str = "emotic-rs/emotion-bundle";
/// Version of the bundle layout this code writes and reads.
pub const VERSION: u32 = 1;

/// Metadata key of [`FORMAT`].
pub const FORMAT_KEY: &str = "format";
/// Metadata key of [`VERSION`].
pub const VERSION_KEY: &str = "format_version";

/// Name of the thresholds tensor.
pub const THRESHOLDS_TENSOR: &str = "thresholds";

/// Metadata entries that must equal this build's (as JSON values) for a bundle to run: the
/// output order and every preprocessing fact the weights were trained with.
pub const MUST_MATCH: [&str; 8] = [
    "categories",
    "vad_scale",
    "context_mean",
    "context_std",
    "body_mean",
    "body_std",
    "context_input_size",
    "body_input_size",
];

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The metadata every bundle carries (see the module documentation).
#[must_use]
pub fn metadata() -> BTreeMap<String, String> {
    let size = |s: crate::ImageSize| json(&[s.width, s.height]);
    [
        (FORMAT_KEY, FORMAT.to_owned()),
        (VERSION_KEY, VERSION.to_string()),
        ("categories", json(&CATEGORIES)),
        ("vad_names", json(&VAD_NAMES)),
        ("vad_scale", VAD_SCALE.to_string()),
        ("context_mean", json(&CONTEXT_NORM.mean)),
        ("context_std", json(&CONTEXT_NORM.std)),
        ("body_mean", json(&BODY_NORM.mean)),
        ("body_std", json(&BODY_NORM.std)),
        ("context_input_size", size(CONTEXT_SIZE)),
        ("body_input_size", size(BODY_SIZE)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_holds_every_checked_entry_as_json() {
        let m = metadata();
        assert_eq!(m["format"], FORMAT);
        assert_eq!(m["format_version"], "1");
        assert_eq!(m["vad_scale"], "10");
        assert_eq!(m["context_input_size"], "[224,224]");
        for key in MUST_MATCH {
            assert!(
                serde_json::from_str::<serde_json::Value>(&m[key]).is_ok(),
                "{key}"
            );
        }
    }
}
