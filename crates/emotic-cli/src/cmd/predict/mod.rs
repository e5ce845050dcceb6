//! `emotic predict`: detect people and their emotions in images and write a run folder.

mod draw;
mod records;
mod video;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use emotic::detect::{DetectConfig, Detector, NmsConfig, Timings};
use emotic::emotion::EmotionModel;
use emotic::engine::SessionOptions;
use emotic::pipeline::{FrameResult, Pipeline, PipelineConfig};
use emotic_io::sinks::{JsonLines, crop_box, yolo_label_line};
use emotic_io::source::Source;
use emotic_io::{image_file, run_dir};
use indicatif::{ProgressBar, ProgressStyle};

use self::draw::{LabelStyle, draw};
use self::records::{ErrorRecord, class_name, csv_header, csv_rows, image_record};
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
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// Also write `predictions.csv`, one row per person with all scores.
    #[arg(long)]
    pub save_csv: bool,
    /// Videos, webcams and streams.
    #[command(flatten)]
    pub video: video::VideoArgs,
}

/// The validated settings of a prediction run.
#[derive(Debug, Clone)]
struct PredictConfig {
    pipeline: PipelineConfig,
    session: SessionOptions,
    style: LabelStyle,
}

impl TryFrom<&PredictArgs> for PredictConfig {
    type Error = anyhow::Error;

    fn try_from(args: &PredictArgs) -> anyhow::Result<Self> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(anyhow::anyhow!("--{name} must be in [0, 1], got {v}"))
            }
        };
        let imgsz = match args.imgsz[..] {
            [s] => (s, s),
            [h, w] => (h, w),
            _ => anyhow::bail!("--imgsz takes one or two values"),
        };
        if imgsz.0 == 0 || imgsz.1 == 0 || imgsz.0 > 8192 || imgsz.1 > 8192 {
            anyhow::bail!("--imgsz must be between 1 and 8192, got {imgsz:?}");
        }
        if args.max_det == 0 {
            anyhow::bail!("--max-det must be at least 1");
        }
        let detect = DetectConfig {
            imgsz,
            square: args.square,
            nms: NmsConfig {
                conf_threshold: unit("conf-thres", args.conf_thres)?,
                iou_threshold: unit("iou-thres", args.iou_thres)?,
                max_det: args.max_det,
                classes: args.classes.clone(),
                agnostic: args.agnostic_nms,
            },
        };
        Ok(Self {
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
        })
    }
}

/// Everything a run writes, besides the JSON lines.
struct RunOutputs {
    dir: PathBuf,
    taken: HashSet<PathBuf>,
}

/// Loads the detector and, when asked for, the emotion model: once per run.
fn load_models(
    args: &PredictArgs,
    config: &PredictConfig,
) -> anyhow::Result<(Detector, Option<EmotionModel>)> {
    let detector = Detector::load(&args.weights, config.session)
        .with_context(|| format!("cannot load detector weights {}", args.weights.display()))?;
    let emotion = match &args.emotion_model {
        Some(path) => Some(
            EmotionModel::from_path(path)
                .with_context(|| format!("cannot load the emotion model {}", path.display()))?,
        ),
        None => None,
    };
    Ok((detector, emotion))
}

/// Runs prediction over every file of `--source`.
pub fn run(args: &PredictArgs) -> anyhow::Result<Outcome> {
    let config = PredictConfig::try_from(args)?;
    let source = Source::parse(&args.source);
    if source.has_video()? {
        return video::run(args, &config, &source);
    }
    let files = source.files()?;
    let (detector, emotion) = load_models(args, &config)?;
    let mut pipeline = Pipeline::new(detector, emotion, config.pipeline.clone());
    let dir = run_dir::create_run_dir(&args.project, &args.name, args.exist_ok)?;
    let mut outputs = RunOutputs {
        dir,
        taken: HashSet::new(),
    };
    let mut jsonl = JsonLines::create(&unique_in(&mut outputs, "predictions", "jsonl"))?;
    let mut csv = open_csv(&mut outputs, args.save_csv)?;

    let progress = progress_bar(files.len());
    let mut failed = 0usize;
    let mut totals = Timings::default();
    let mut emotion_total = 0.0;
    let mut done = 0usize;
    for (i, file) in files.iter().enumerate() {
        let shown = file.display().to_string();
        match predict_one(file, &mut pipeline, &config, args, &mut outputs) {
            Ok((frame, size)) => {
                let t = frame.timings;
                totals.preprocess_ms += t.preprocess_ms;
                totals.inference_ms += t.inference_ms;
                totals.nms_ms += t.nms_ms;
                emotion_total += frame.emotion_ms;
                done += 1;
                let names = pipeline.detector().names();
                say(
                    &progress,
                    format!(
                        "image {}/{} {shown}: {}x{} {}, {:.1}ms{}",
                        i + 1,
                        files.len(),
                        frame.input_shape[2],
                        frame.input_shape[3],
                        summarise(&frame, names),
                        t.inference_ms,
                        if pipeline.has_emotion_model() {
                            format!(" + {:.1}ms emotions", frame.emotion_ms)
                        } else {
                            String::new()
                        }
                    ),
                );
                jsonl.write(&image_record(shown.clone(), size, &frame, names))?;
                if let Some(writer) = &mut csv {
                    for row in csv_rows(&shown, &frame) {
                        writer.write_record(&row)?;
                    }
                    writer.flush()?;
                }
            }
            Err(err) => {
                failed += 1;
                let message = super::render_error(&err);
                say(
                    &progress,
                    format!("image {}/{} {shown}: error: {message}", i + 1, files.len()),
                );
                jsonl.write(&ErrorRecord {
                    image: shown,
                    error: message,
                })?;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if done > 0 {
        #[allow(clippy::cast_precision_loss)]
        let n = done as f64;
        eprintln!(
            "Speed: {:.1}ms pre-process, {:.1}ms inference, {:.1}ms NMS{} per image",
            totals.preprocess_ms / n,
            totals.inference_ms / n,
            totals.nms_ms / n,
            if pipeline.has_emotion_model() {
                format!(", {:.1}ms emotions", emotion_total / n)
            } else {
                String::new()
            }
        );
    }
    eprintln!("Results saved to {}", outputs.dir.display());
    if failed > 0 {
        eprintln!(
            "{failed} of {} inputs failed; see the messages above",
            files.len()
        );
        return Ok(Outcome::SomeInputsFailed);
    }
    Ok(Outcome::Success)
}

/// Prints a line above the progress bar. (`ProgressBar::println` prints nothing when the bar is
/// hidden, e.g. when stderr is not a terminal; these lines must always appear.)
fn say(progress: &ProgressBar, line: String) {
    progress.suspend(|| eprintln!("{line}"));
}

fn progress_bar(len: usize) -> ProgressBar {
    if len < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} images [{elapsed_precise} < {eta}]")
    {
        bar.set_style(style);
    }
    bar
}

/// `predictions.csv` with its header, when `--save-csv` asks for it.
fn open_csv(
    outputs: &mut RunOutputs,
    save_csv: bool,
) -> anyhow::Result<Option<csv::Writer<std::fs::File>>> {
    if !save_csv {
        return Ok(None);
    }
    let path = unique_in(outputs, "predictions", "csv");
    let mut writer =
        csv::Writer::from_path(&path).with_context(|| format!("creating {}", path.display()))?;
    writer.write_record(csv_header())?;
    Ok(Some(writer))
}

fn unique_in(outputs: &mut RunOutputs, stem: &str, ext: &str) -> PathBuf {
    run_dir::unique_file(&outputs.dir, stem, ext, &mut outputs.taken)
}

fn predict_one(
    file: &Path,
    pipeline: &mut Pipeline,
    config: &PredictConfig,
    args: &PredictArgs,
    outputs: &mut RunOutputs,
) -> anyhow::Result<(FrameResult, (u32, u32))> {
    let image = image_file::read_rgb(file)?;
    let frame = pipeline.predict(&image)?;
    let names = pipeline.detector().names();
    let stem = file
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());

    if !args.nosave {
        let mut annotated = image.clone();
        draw(&mut annotated, &frame, names, config.style);
        let path = unique_in(outputs, &stem, output_extension(file));
        image_file::write_rgb(&path, &annotated)?;
    }
    if args.save_txt {
        let dir = outputs.dir.join("labels");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lines: String = frame
            .objects
            .iter()
            .map(|o| {
                let d = &o.detection;
                let conf = args.save_conf.then_some(d.confidence);
                yolo_label_line(d.class_id, d.bbox, image.dimensions(), conf) + "\n"
            })
            .collect();
        let path = run_dir::unique_file(&dir, &stem, "txt", &mut outputs.taken);
        image_file::write_atomic(&path, lines.as_bytes())?;
    }
    if args.save_crop {
        for o in &frame.objects {
            let d = &o.detection;
            let Some(crop) = crop_box(&image, d.bbox) else {
                continue;
            };
            let dir = outputs
                .dir
                .join("crops")
                .join(class_name(names, d.class_id));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = run_dir::unique_file(&dir, &stem, "jpg", &mut outputs.taken);
            image_file::write_rgb(&path, &crop)?;
        }
    }
    Ok((frame, image.dimensions()))
}

/// Annotated images keep the input's format where we can encode it, else become JPEG.
fn output_extension(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "png",
        Some("bmp") => "bmp",
        Some("tif" | "tiff") => "tiff",
        _ => "jpg",
    }
}

/// `2 persons, 1 tie` in class-id order, like YOLOv5's log line.
fn summarise(frame: &FrameResult, names: &[String]) -> String {
    if frame.objects.is_empty() {
        return "(no detections)".into();
    }
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for o in &frame.objects {
        *counts.entry(o.detection.class_id).or_default() += 1;
    }
    counts
        .iter()
        .map(|(&c, &n)| {
            format!(
                "{n} {}{}",
                class_name(names, c),
                if n > 1 { "s" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
