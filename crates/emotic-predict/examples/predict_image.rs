//! Quick start: load the detector and (optionally) an emotion model, predict one image, print
//! its record as `emotic predict` writes it to `predictions.jsonl`, and save the annotated
//! picture next to it.
//!
//! ```sh
//! cargo run -p emotic-predict --example predict_image -- yolov5n.pt photo.jpg [emotion-model]
//! ```

#![allow(clippy::print_stdout)] // the example prints the record it made

use std::path::{Path, PathBuf};

use anyhow::Context;
use emotic_predict::{PredictOptions, Predictor};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: predict_image WEIGHTS IMAGE [EMOTION_MODEL]";
    let weights = PathBuf::from(args.next().context(usage)?);
    let image_path = PathBuf::from(args.next().context(usage)?);
    let emotion_model = args.next().map(PathBuf::from);

    let options = PredictOptions::default();
    let mut predictor = Predictor::load(&weights, emotion_model.as_deref(), &options)?;
    let image = emotic_io::image_file::read_rgb(&image_path)?;
    let prediction = predictor.predict(&image)?;
    let record = prediction.record(&image_path.display().to_string());
    println!("{}", serde_json::to_string_pretty(&record)?);

    let annotated = prediction.annotate(&image, predictor.style());
    let out = Path::new(&image_path).with_extension("annotated.jpg");
    emotic_io::image_file::write_rgb(&out, &annotated)?;
    eprintln!("annotated image: {}", out.display());
    Ok(())
}
