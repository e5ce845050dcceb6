//! The predict path, shared by every front end (the `emotic` CLI, the HTTP service, the
//! Python package): one frame loop, one result schema, one set of output writers.
//!
//! # The path of one frame
//!
//! | step | where |
//! |---|---|
//! | source → frames | `emotic_io::source` (what `--source` names), `emotic_io::video::frames` (images, videos, webcams, streams as one iterator) |
//! | frame → detections | `emotic::detect::detector` (letterbox, YOLO on ONNX Runtime, NMS) |
//! | detections → persons | `emotic::pipeline` (which boxes are persons, once) |
//! | persons → emotions | `emotic::emotion::model` (context once per frame, bodies and head batched) |
//! | emotions → tracks | `emotic::tracking` (IDs and smoothed emotions; temporal inputs) |
//! | → records | [`schema`] (typed, versioned JSON records) |
//! | → files | [`outputs`] (drawing, labels, crops, CSV, videos, track summaries) in the [`run`] loop |
//!
//! # Quick start
//!
//! Load the two models once, predict one image, and get its record (the line `emotic predict`
//! writes to `predictions.jsonl`):
//!
//! ```no_run
//! use std::path::Path;
//! use emotic_predict::{Predictor, PredictOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let predictor = Predictor::load(
//!     Path::new("yolov5s.pt"),
//!     Some(Path::new("emotic.safetensors")),
//!     &PredictOptions::default(),
//! )?;
//! let image = emotic_io::image_file::read_rgb(Path::new("photo.jpg"))?;
//! let mut predictor = predictor;
//! let prediction = predictor.predict(&image)?;
//! let record = prediction.record("photo.jpg");
//! for d in &record.detections {
//!     if let Some(e) = &d.emotion {
//!         println!("{} {:.2}: valence {:.1}", d.class_name, d.confidence, e.vad.valence);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A whole run with its folder is [`run::run`] with a [`run::PredictJob`].

mod error;
mod predictor;

pub mod events;
pub mod models;
pub mod options;
pub mod outputs;
pub mod report;
pub mod run;
pub mod schema;

pub use error::{Error, Result, error_chain};
pub use events::{Observer, Quiet, RunEvent, RunReport};
pub use options::{DetectSettings, PredictOptions, SaveOptions, TrackingOptions};
pub use outputs::LabelStyle;
pub use predictor::{Prediction, Predictor};
pub use run::{PredictJob, run};
