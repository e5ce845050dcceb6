//! `emotic export`: write the graphs we build from checkpoints.
//!
//! - a YOLOv5 checkpoint (`.pt`) becomes one `.onnx` file;
//! - an emotion bundle (`emotic import`'s or `emotic train`'s output) becomes a folder with the
//!   three ONNX graphs, the three state dicts as safetensors, the reference's whole-module
//!   `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth` (what Tandon-A/emotic's
//!   scripts `torch.load`; the head needs its `emotic` module importable, as the reference's own
//!   files do) and `val_thresholds.npy`. That folder is itself a reference model folder that
//!   `emotic predict -e` and `emotic import --dir` accept.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Outcome;

/// Arguments of `emotic export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A YOLOv5 checkpoint (`.pt`) or an emotion bundle (`.safetensors`).
    #[arg(long, short = 'w')]
    pub weights: PathBuf,
    /// Fix the detector's input size (height and width, or one value for a square), as
    /// Ultralytics' ONNX export does; by default height and width stay dynamic.
    #[arg(long, num_args = 1..=2)]
    pub imgsz: Option<Vec<usize>>,
    /// Output file (detector) or folder (emotion bundle: `context.onnx`, `body.onnx`,
    /// `head.onnx`, the state dicts as `.safetensors`, the reference's whole-module
    /// `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth` and `val_thresholds.npy`);
    /// defaults to the weights path with `.onnx`, or with `_export` appended for a bundle.
    /// Existing files are never replaced.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

fn is_bundle(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// Builds the graph(s) and writes them; never overwrites existing files.
pub fn run(args: &ExportArgs) -> anyhow::Result<Outcome> {
    if is_bundle(&args.weights) {
        return export_emotion_bundle(args);
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.weights.with_extension("onnx"));
    if output.exists() {
        anyhow::bail!(
            "{} already exists; choose another --output",
            output.display()
        );
    }
    let not_usable = || {
        format!(
            "{} is not a usable YOLOv5 checkpoint",
            args.weights.display()
        )
    };
    // emotic-weights names the file in its errors: the context says only what failed.
    let opened = emotic_weights::open_checkpoint(&args.weights)
        .context("cannot read the detector checkpoint")?;
    // The model dict before the weights: a file that is no detector is refused unread.
    emotic::arch::yolov5::check_model_dict(&opened.meta).with_context(not_usable)?;
    let checkpoint = opened
        .load()
        .context("cannot read the detector checkpoint")?;
    let fixed = match args.imgsz.as_deref() {
        None => None,
        Some([s]) => Some((*s, *s)),
        Some([h, w]) => Some((*h, *w)),
        Some(_) => anyhow::bail!("--imgsz takes one or two values"),
    };
    let graph = emotic::arch::yolov5::build_yolov5_with_input(&checkpoint, fixed)
        .with_context(not_usable)?;
    graph.write_onnx(&output)?;
    #[allow(clippy::cast_precision_loss)]
    let megabytes = graph.model.len() as f64 / 1e6;
    tracing::info!(
        "wrote {} ({megabytes:.1} MB, {} classes)",
        output.display(),
        graph.names.len()
    );
    Ok(Outcome::Success)
}

fn export_emotion_bundle(args: &ExportArgs) -> anyhow::Result<Outcome> {
    let output = args.output.clone().unwrap_or_else(|| {
        let mut name = args.weights.file_stem().unwrap_or_default().to_os_string();
        name.push("_export");
        args.weights.with_file_name(name)
    });
    if output.exists()
        && std::fs::read_dir(&output)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        anyhow::bail!(
            "{} already exists and is not empty; choose another --output",
            output.display()
        );
    }
    let files = emotic::emotion::export_bundle(&args.weights, &output)?;
    for path in files
        .onnx
        .iter()
        .chain(&files.state_dicts)
        .chain(&files.reference_modules)
        .chain([&files.thresholds])
    {
        tracing::info!("wrote {}", path.display());
    }
    Ok(Outcome::Success)
}
