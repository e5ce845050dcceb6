//! The records every front end writes or returns, defined once: `predictions.jsonl` (one
//! [`FrameRecord`] per image or frame, or an [`ErrorRecord`] per input that failed),
//! `persons.jsonl` ([`PersonRecord`]), `tracks.json` ([`TracksFile`]) and `emotic infer`'s
//! `inference.jsonl` ([`InferRecord`]).
//!
//! Every record carries [`SCHEMA_VERSION`]. The JSON Schema of all of them is
//! `crates/emotic-predict/schema/emotic-results.schema.json` (also [`JSON_SCHEMA`]); the README
//! has a field table. Numbers are the `f32`s the models produce: scores and VAD are written
//! widened to `f64`, box coordinates and confidences in their shortest `f32` form (as the
//! records always were).

mod frame;
mod infer;
mod person;
mod tracks;

pub use frame::{
    DetectionRecord, EmotionRecord, ErrorRecord, FramePosition, FrameRecord, PredictedRecord, Speed,
};
pub use infer::{InferPrediction, InferRecord};
pub use person::{PersonEmotionRecord, PersonRecord, SmoothedEmotionRecord};
pub use tracks::{SourceTracks, TrackRecord, TracksFile};

/// The version of the record layout. Raised when a field changes meaning or is removed;
/// adding an optional field keeps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of every record, with one `$defs` entry per record type.
pub const JSON_SCHEMA: &str = include_str!("../../schema/emotic-results.schema.json");

/// The class name for an id, or `unknown` past the end of the detector's list.
#[must_use]
pub fn class_name(names: &[String], id: usize) -> &str {
    names.get(id).map_or("unknown", String::as_str)
}

/// Serialises an `f32` widened to `f64` (how `serde_json::json!` wrote them).
pub(crate) fn widen<S: serde::Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(f64::from(*v))
}

/// [`widen`] for arrays.
pub(crate) fn widen4<S: serde::Serializer>(v: &[f32; 4], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&v.map(f64::from), s)
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}
