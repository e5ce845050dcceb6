//! `emotic bench`: time each stage of detection (and emotions) on one image, many times.
//!
//! Timings come from the pipeline's own clocks, so they are the same numbers `predict` logs,
//! here with warm-up runs, repeated runs, and mean / median / minimum per stage.

use std::path::PathBuf;

use anyhow::Context;
use emotic::detect::Detector;
use emotic::emotion::EmotionModel;
use emotic::engine::SessionOptions;
use emotic::pipeline::{Pipeline, PipelineConfig};

use super::Outcome;

/// Arguments of `emotic bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Detector weights (`.pt` or `.onnx`).
    #[arg(long, short = 'w')]
    pub weights: PathBuf,
    /// The image to run on.
    #[arg(long, short = 's')]
    pub source: PathBuf,
    /// Optional emotion model (bundle or reference folder).
    #[arg(long, short = 'e')]
    pub emotion_model: Option<PathBuf>,
    /// Inference size.
    #[arg(long, default_value_t = 640)]
    pub imgsz: u32,
    /// Timed runs.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Threads for ONNX Runtime (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Mean, median and minimum of a series, in ms.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    (
        mean,
        v.get(v.len() / 2).copied().unwrap_or(0.0),
        v.first().copied().unwrap_or(0.0),
    )
}

/// Runs the benchmark and prints a table to stdout.
pub fn run(args: &BenchArgs) -> anyhow::Result<Outcome> {
    if args.runs == 0 {
        anyhow::bail!("--runs must be at least 1");
    }
    let options = SessionOptions {
        intra_threads: args.threads,
    };
    let detector = Detector::load(&args.weights, options).context("cannot load the detector")?;
    let emotion = args
        .emotion_model
        .as_deref()
        .map(EmotionModel::from_path)
        .transpose()
        .context("cannot load the emotion model")?;
    let mut config = PipelineConfig::default();
    config.detect.imgsz = (args.imgsz, args.imgsz);
    let mut pipeline = Pipeline::new(detector, emotion, config);
    let image = emotic_io::image_file::read_rgb(&args.source)?;
    for _ in 0..args.warmup {
        pipeline.predict(&image)?;
    }
    let mut stages: [Vec<f64>; 4] = Default::default();
    let mut shape = [0; 4];
    let mut persons = 0;
    for _ in 0..args.runs {
        let frame = pipeline.predict(&image)?;
        shape = frame.input_shape;
        persons = frame.objects.iter().filter(|o| o.emotion.is_some()).count();
        stages[0].push(frame.timings.preprocess_ms);
        stages[1].push(frame.timings.inference_ms);
        stages[2].push(frame.timings.nms_ms);
        stages[3].push(frame.emotion_ms);
    }
    let mut out = format!(
        "{} on {} ({}x{} -> input {}x{}), {} runs after {} warm-up, {} persons with emotions\n{:<12} {:>9} {:>9} {:>9}\n",
        args.weights.display(),
        args.source.display(),
        image.width(),
        image.height(),
        shape[3],
        shape[2],
        args.runs,
        args.warmup,
        persons,
        "stage (ms)",
        "mean",
        "median",
        "min"
    );
    let labels = ["pre-process", "inference", "NMS", "emotions"];
    for (label, series) in labels.iter().zip(stages) {
        if *label == "emotions" && !pipeline.has_emotion_model() {
            continue;
        }
        let (mean, median, min) = stats(series);
        out.push_str(&format!(
            "{label:<12} {mean:>9.2} {median:>9.2} {min:>9.2}\n"
        ));
    }
    #[allow(clippy::print_stdout)]
    {
        print!("{out}");
    }
    Ok(Outcome::Success)
}
