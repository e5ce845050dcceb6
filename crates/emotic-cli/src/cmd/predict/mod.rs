//! `emotic predict`: the flags, turned into one call of the library's predict path
//! ([`emotic_predict::run`]), and the progress shown on stderr.

mod progress;
mod video_args;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use emotic::detect::{DetectConfig, NmsConfig};
use emotic::engine::SessionOptions;
use emotic::pipeline::PipelineConfig;
use emotic_predict::{
    DetectSettings, LabelStyle, PredictJob, PredictOptions, RunReport, SaveOptions,
};

use self::progress::Progress;
use super::Outcome;

/// Arguments of `emotic predict`. Names and defaults follow YOLOv5's `detect.py`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Detector weights: a YOLOv5 `.pt` checkpoint (v5.0 or v6+), or a YOLOv5/YOLOv8/YOLO11 `.onnx` export.
    #[arg(long, short = 'w')]
    pub weights: PathBuf,
    /// An image, a folder, a glob (quote it: 'photos/*.jpg'), a `.txt` list, a video file, a
    /// webcam (`0`, `/dev/video0`), a stream URL (rtsp/rtmp/http(s)) or a `.streams` list.
    #[arg(long, short = 's')]
    pub source: String,
    /// Inference size: one value for a square, or height and width.
    #[arg(long, num_args = 1..=2, default_values_t = [DetectConfig::DEFAULT_IMGSZ])]
    pub imgsz: Vec<u32>,
    /// Pad to the full --imgsz square instead of the smallest multiple of the stride.
    #[arg(long)]
    pub square: bool,
    /// Confidence threshold (objectness × class probability).
    #[arg(long = "conf-thres", visible_alias = "conf", default_value_t = NmsConfig::DEFAULT_CONF)]
    pub conf_thres: f32,
    /// NMS IoU threshold.
    #[arg(long = "iou-thres", visible_alias = "iou", default_value_t = NmsConfig::DEFAULT_IOU)]
    pub iou_thres: f32,
    /// Maximum detections per image.
    #[arg(long, default_value_t = NmsConfig::DEFAULT_MAX_DET)]
    pub max_det: usize,
    /// Keep only these class ids (e.g. --classes 0 to keep persons).
    #[arg(long, num_args = 1..)]
    pub classes: Option<Vec<usize>>,
    /// Class-agnostic NMS.
    #[arg(long)]
    pub agnostic_nms: bool,
    /// Save YOLO-format labels to `labels/<stem>.txt`.
    #[arg(long)]
    pub save_txt: bool,
    /// Add the confidence to each label line (with --save-txt).
    #[arg(long)]
    pub save_conf: bool,
    /// Save each detection's crop to `crops/<class>/<stem>.jpg`.
    #[arg(long)]
    pub save_crop: bool,
    /// Do not save annotated images.
    #[arg(long)]
    pub nosave: bool,
    /// Folder that holds the runs.
    #[arg(long, default_value = "runs/predict")]
    pub project: PathBuf,
    /// Run name; `exp`, `exp2`, ... are used so earlier runs are never overwritten.
    #[arg(long, default_value = "exp")]
    pub name: String,
    /// Reuse `project/name` if it exists (files already there are still never overwritten).
    #[arg(long)]
    pub exist_ok: bool,
    /// Box line width in pixels (default: scales with the image).
    #[arg(long)]
    pub line_thickness: Option<u32>,
    /// Draw boxes without labels.
    #[arg(long)]
    pub hide_labels: bool,
    /// Leave confidences out of the labels.
    #[arg(long)]
    pub hide_conf: bool,
    /// Threads for ONNX Runtime (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// EMOTIC emotion model: a bundle made by `emotic import`, or a folder holding the reference
    /// `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth` and `val_thresholds.npy`.
    /// Without it only detection runs.
    #[arg(long, short = 'e')]
    pub emotion_model: Option<PathBuf>,
    /// Detector classes that get emotions.
    #[arg(long, num_args = 1.., default_values_t = PipelineConfig::DEFAULT_EMOTION_CLASSES)]
    pub emotion_classes: Vec<usize>,
    /// How many predicted categories each person's label shows.
    #[arg(long, default_value_t = LabelStyle::DEFAULT_TOP_K)]
    pub top_k: usize,
    /// Also write `predictions.csv`, one row per person with all scores.
    #[arg(long)]
    pub save_csv: bool,
    /// Videos, webcams and streams.
    #[command(flatten)]
    pub video: video_args::VideoArgs,
}

impl TryFrom<&PredictArgs> for PredictJob {
    type Error = anyhow::Error;

    fn try_from(args: &PredictArgs) -> anyhow::Result<Self> {
        let detect = DetectSettings {
            imgsz: args.imgsz.clone(),
            square: args.square,
            conf: args.conf_thres,
            iou: args.iou_thres,
            max_det: args.max_det,
            classes: args.classes.clone(),
            agnostic: args.agnostic_nms,
        }
        .to_config()?;
        Ok(Self {
            weights: args.weights.clone(),
            emotion_model: args.emotion_model.clone(),
            source: args.source.clone(),
            project: args.project.clone(),
            name: args.name.clone(),
            exist_ok: args.exist_ok,
            options: PredictOptions {
                pipeline: PipelineConfig {
                    detect,
                    emotion_classes: args.emotion_classes.clone(),
                },
                session: SessionOptions {
                    intra_threads: args.threads,
                },
                style: LabelStyle {
                    hide_labels: args.hide_labels,
                    hide_conf: args.hide_conf,
                    top_k: args.top_k,
                    line_thickness: args.line_thickness,
                },
                save: SaveOptions {
                    annotated: !args.nosave,
                    txt: args.save_txt,
                    conf: args.save_conf,
                    crop: args.save_crop,
                    csv: args.save_csv,
                },
                tracking: args.video.tracking(),
                frames: args.video.frame_options()?,
                view: args.video.view_img,
            },
        })
    }
}

/// Runs prediction over every input of `--source`.
pub fn run(args: &PredictArgs) -> anyhow::Result<Outcome> {
    let job = PredictJob::try_from(args)?;
    // Ctrl-C (and SIGTERM) raise the flag; the loop then stops reading and finalises every
    // output, and the run exits 130.
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst)) {
        tracing::warn!("Ctrl-C will not finalise outputs: {e}");
    }
    let report = emotic_predict::run(&job, &mut Progress::default(), &stop)?;
    Ok(outcome(&report))
}

fn outcome(report: &RunReport) -> Outcome {
    if report.failed > 0 {
        Outcome::SomeInputsFailed
    } else if report.interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Success
    }
}
