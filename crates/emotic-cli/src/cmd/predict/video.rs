//! `emotic predict` on videos, webcams and streams (and images mixed in with them): one loop
//! over [`Frames`], with track IDs and smoothed emotions per person, an annotated video per
//! input, JSON lines per frame and per person, and per-track summaries and VAD plots.
//!
//! Run folder: `predictions.jsonl` (one line per frame, or per failed input), `persons.jsonl`
//! (one line per person per frame), `<stem>.mp4` per video input, `tracks.json` and
//! `tracks/<stem>_track<id>.png`. Every file is complete at any exit: JSON lines are flushed
//! line by line, videos are finalised by ffmpeg then renamed, and `tracks.json` is replaced
//! atomically whenever an input ends. Ctrl-C stops reading and finalises the same way.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use emotic::detect::Timings;
use emotic::emotion::{
    BoxOutcome, CATEGORIES, NUM_CATEGORIES, PersonEmotion, VAD_NAMES, VAD_SCALE,
};
use emotic::pipeline::Pipeline;
use emotic_io::sinks::{JsonLines, crop_box, yolo_label_line};
use emotic_io::source::{Input, Source};
use emotic_io::tracking::{
    EmotionSample, EmotionTracker, Observation, TrackerConfig, ema_alpha, plot,
};
use emotic_io::video::frames::{FrameEvent, Frames};
use emotic_io::video::writer::{VideoCodec, VideoWriter, Viewer, display_available};
use emotic_io::video::{FrameMeta, InputKind, program_available};
use emotic_io::{image_file, run_dir};

mod args;
mod draw;
mod records;

pub use self::args::VideoArgs;

use self::draw::draw_tracked;
use self::records::{FrameRecord, person_record};
use super::records::{ErrorRecord, class_name, csv_rows, image_record};
use super::{Outcome, PredictArgs, PredictConfig, RunOutputs, open_csv, summarise, unique_in};

/// What is kept per input while it runs.
struct InputState {
    name: String,
    stem: String,
    kind: InputKind,
    writer: Option<VideoWriter>,
    viewer: Option<Viewer>,
    /// Whether opening the viewer was tried (it is not retried after a failure).
    viewer_tried: bool,
    tracker: EmotionTracker,
    frames: u64,
}

/// Everything the loop needs besides the frames.
struct Run<'a> {
    args: &'a PredictArgs,
    config: &'a PredictConfig,
    pipeline: Pipeline,
    thresholds: Option<[f32; NUM_CATEGORIES]>,
    outputs: RunOutputs,
    frames_jsonl: JsonLines,
    persons_jsonl: JsonLines,
    csv: Option<csv::Writer<std::fs::File>>,
    codec: VideoCodec,
    view: bool,
    states: BTreeMap<usize, InputState>,
    summaries: Vec<serde_json::Value>,
    failed: usize,
    totals: Timings,
    emotion_ms: f64,
    processed: u64,
}

/// Runs prediction over a source that has videos, webcams or streams.
pub fn run(args: &PredictArgs, config: &PredictConfig, source: &Source) -> anyhow::Result<Outcome> {
    let options = args.video.frame_options()?;
    let inputs = source.inputs()?;
    if inputs.iter().any(|i| i.kind != InputKind::Image) && !program_available("ffmpeg") {
        anyhow::bail!(
            "reading videos, webcams and streams needs the ffmpeg program; install it (Debian: apt-get install ffmpeg, or scripts/setup.sh)"
        );
    }
    let (detector, emotion) = super::load_models(args, config)?;
    let thresholds = emotion.as_ref().map(|m| *m.thresholds());
    let pipeline = Pipeline::new(detector, emotion, config.pipeline.clone());
    let dir = run_dir::create_run_dir(&args.project, &args.name, args.exist_ok)?;
    let mut outputs = RunOutputs {
        dir,
        taken: std::collections::HashSet::new(),
    };
    let frames_jsonl = JsonLines::create(&unique_in(&mut outputs, "predictions", "jsonl"))?;
    let persons_jsonl = JsonLines::create(&unique_in(&mut outputs, "persons", "jsonl"))?;
    let csv = open_csv(&mut outputs, args.save_csv)?;
    let codec = VideoCodec::detect();
    if let (Some(note), false) = (codec.fallback_note(), args.nosave) {
        tracing::warn!("{note}");
    }
    let view = args.video.view_img && display_available();
    if args.video.view_img && !view {
        tracing::warn!(
            "--view-img ignored: no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || handler_stop.store(true, Ordering::SeqCst)) {
        tracing::warn!("Ctrl-C will not finalise outputs: {e}");
    }
    let mut run = Run {
        args,
        config,
        pipeline,
        thresholds,
        outputs,
        frames_jsonl,
        persons_jsonl,
        csv,
        codec,
        view,
        states: BTreeMap::new(),
        summaries: Vec::new(),
        failed: 0,
        totals: Timings::default(),
        emotion_ms: 0.0,
        processed: 0,
    };
    let start = Instant::now();
    let count = inputs.len();
    for event in Frames::new(inputs.clone(), options, Arc::clone(&stop)) {
        match event {
            FrameEvent::Frame(image, meta) => run.frame(&image, &meta, &inputs)?,
            FrameEvent::Reconnecting {
                source,
                attempt,
                max_attempts,
                delay,
                reason,
                ..
            } => eprintln!(
                "{source}: stream dropped ({reason}); reconnecting in {:.1} s (attempt {attempt}/{max_attempts})",
                delay.as_secs_f64()
            ),
            FrameEvent::InputEnded {
                source_index,
                source,
                frames,
                error,
            } => {
                run.finish_input(source_index)?;
                if let Some(error) = error {
                    run.failed += 1;
                    eprintln!("{source}: error after {frames} frames: {error}");
                    run.frames_jsonl.write(&ErrorRecord {
                        image: source,
                        error: error.to_string(),
                    })?;
                }
            }
        }
    }
    let interrupted = stop.load(Ordering::SeqCst);
    let open: Vec<usize> = run.states.keys().copied().collect();
    for index in open {
        run.finish_input(index)?;
    }
    if let Some(csv) = &mut run.csv {
        csv.flush()?;
    }
    run.report(start.elapsed(), interrupted, count)
}

impl Run<'_> {
    fn frame(
        &mut self,
        image: &image::RgbImage,
        meta: &FrameMeta,
        inputs: &[Input],
    ) -> anyhow::Result<()> {
        let name = &meta.source;
        let frame = match self.pipeline.predict(image) {
            Ok(frame) => frame,
            Err(e) => {
                self.failed += 1;
                eprintln!("{name} frame {}: error: {e:#}", meta.frame_index);
                self.frames_jsonl.write(&ErrorRecord {
                    image: format!("{name}#{}", meta.frame_index),
                    error: format!("{e:#}"),
                })?;
                return Ok(());
            }
        };
        self.processed += 1;
        let t = frame.timings;
        self.totals.preprocess_ms += t.preprocess_ms;
        self.totals.inference_ms += t.inference_ms;
        self.totals.nms_ms += t.nms_ms;
        self.emotion_ms += frame.emotion_ms;
        let args = &self.args.video;
        let state = self
            .states
            .entry(meta.source_index)
            .or_insert_with(|| InputState {
                name: name.clone(),
                stem: input_stem(name, meta.kind, meta.source_index),
                kind: meta.kind,
                writer: None,
                viewer: None,
                viewer_tried: false,
                tracker: EmotionTracker::new(
                    TrackerConfig {
                        iou_threshold: args.track_iou,
                        max_age: args.track_max_age,
                    },
                    args.smooth_window,
                ),
                frames: 0,
            });
        state.frames += 1;

        // Track the boxes of the emotion classes, smoothing their emotions.
        let tracked_classes = &self.config.pipeline.emotion_classes;
        let tracked: Vec<usize> = (0..frame.objects.len())
            .filter(|&i| tracked_classes.contains(&frame.objects[i].detection.class_id))
            .collect();
        let observations: Vec<Observation> = tracked
            .iter()
            .map(|&i| {
                let o = &frame.objects[i];
                let emotion =
                    o.emotion
                        .as_ref()
                        .and_then(BoxOutcome::emotion)
                        .map(|e| EmotionSample {
                            scores: e.categories.to_vec(),
                            predicted: e.predicted.iter().map(|p| p.index).collect(),
                            vad: e.vad,
                        });
                Observation {
                    bbox: o.detection.bbox,
                    emotion,
                }
            })
            .collect();
        let results = state
            .tracker
            .update(meta.frame_index, meta.timestamp_s, &observations);
        let mut track_ids = vec![None; frame.objects.len()];
        let mut smoothed: Vec<Option<PersonEmotion>> = vec![None; frame.objects.len()];
        for (&i, result) in tracked.iter().zip(&results) {
            track_ids[i] = Some(result.track_id);
            if let (Some((scores, vad)), Some(thresholds)) = (&result.smoothed, &self.thresholds) {
                let scores: [f32; NUM_CATEGORIES] = scores
                    .as_slice()
                    .try_into()
                    .unwrap_or([0.0; NUM_CATEGORIES]);
                smoothed[i] = Some(PersonEmotion::from_raw(
                    scores,
                    vad.map(|v| v / VAD_SCALE),
                    thresholds,
                ));
            }
        }

        let names = self.pipeline.detector().names();
        let position = match meta.total_frames {
            Some(total) if meta.kind == InputKind::Video => {
                format!("frame {}/{total}", meta.frame_index + 1)
            }
            _ => format!("frame {}", meta.frame_index),
        };
        eprintln!(
            "{} {}/{} ({position}, {:.2}s) {name}: {}x{} {}, {:.1}ms{}",
            kind_word(meta.kind),
            meta.source_index + 1,
            inputs.len(),
            meta.timestamp_s,
            frame.input_shape[2],
            frame.input_shape[3],
            summarise(&frame, names),
            t.inference_ms,
            if self.pipeline.has_emotion_model() {
                format!(" + {:.1}ms emotions", frame.emotion_ms)
            } else {
                String::new()
            }
        );

        // Records.
        let record = FrameRecord {
            source: name,
            source_index: meta.source_index,
            kind: meta.kind,
            frame_index: meta.frame_index,
            timestamp_s: meta.timestamp_s,
            fps: meta.fps,
            total_frames: meta.total_frames,
            result: image_record(name.clone(), image.dimensions(), &frame, names),
            track_ids: track_ids.clone(),
        };
        self.frames_jsonl.write(&record)?;
        for &i in &tracked {
            let o = &frame.objects[i];
            let line = person_record(meta, o, track_ids[i].unwrap_or(0), smoothed[i].as_ref());
            self.persons_jsonl.write(&line)?;
        }
        if let Some(csv) = &mut self.csv {
            for row in csv_rows(&format!("{name}#{}", meta.frame_index), &frame) {
                csv.write_record(&row)?;
            }
        }

        // Pictures.
        let needs_picture = !self.args.nosave || self.view;
        if needs_picture {
            let mut annotated = image.clone();
            draw_tracked(
                &mut annotated,
                &frame,
                names,
                &track_ids,
                &smoothed,
                self.config.style,
            );
            if state.kind == InputKind::Image {
                if !self.args.nosave {
                    let path = run_dir::unique_file(
                        &self.outputs.dir,
                        &state.stem,
                        super::output_extension(Path::new(name)),
                        &mut self.outputs.taken,
                    );
                    image_file::write_rgb(&path, &annotated)?;
                }
            } else if !self.args.nosave {
                write_video_frame(
                    state,
                    &annotated,
                    meta,
                    args.vid_stride,
                    self.codec,
                    &mut self.outputs,
                    &mut self.failed,
                );
            }
            if self.view && !state.viewer_tried {
                state.viewer_tried = true;
                match Viewer::open(
                    name,
                    annotated.width(),
                    annotated.height(),
                    output_fps(meta, args.vid_stride),
                ) {
                    Ok(viewer) => state.viewer = Some(viewer),
                    Err(e) => tracing::warn!("--view-img: {e}"),
                }
            }
            if let Some(viewer) = &mut state.viewer {
                viewer.show(&annotated);
            }
        }
        let stem = format!("{}_{}", state.stem, meta.frame_index);
        if self.args.save_txt {
            let dir = self.outputs.dir.join("labels");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let lines: String = frame
                .objects
                .iter()
                .map(|o| {
                    let d = &o.detection;
                    yolo_label_line(
                        d.class_id,
                        d.bbox,
                        image.dimensions(),
                        self.args.save_conf.then_some(d.confidence),
                    ) + "\n"
                })
                .collect();
            let path = run_dir::unique_file(&dir, &stem, "txt", &mut self.outputs.taken);
            image_file::write_atomic(&path, lines.as_bytes())?;
        }
        if self.args.save_crop {
            for o in &frame.objects {
                let Some(crop) = crop_box(image, o.detection.bbox) else {
                    continue;
                };
                let dir = self
                    .outputs
                    .dir
                    .join("crops")
                    .join(class_name(names, o.detection.class_id));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let path = run_dir::unique_file(&dir, &stem, "jpg", &mut self.outputs.taken);
                image_file::write_rgb(&path, &crop)?;
            }
        }
        Ok(())
    }

    /// Finalises an input's video and writes its track summaries and plots.
    fn finish_input(&mut self, index: usize) -> anyhow::Result<()> {
        let Some(mut state) = self.states.remove(&index) else {
            return Ok(());
        };
        state.viewer = None;
        if let Some(writer) = state.writer.take() {
            let frames = writer.frames();
            match writer.finish() {
                Ok(path) => eprintln!("saved {} ({frames} frames)", path.display()),
                Err(e) => {
                    self.failed += 1;
                    eprintln!("error: {e}");
                }
            }
        }
        if state.kind == InputKind::Image {
            return Ok(());
        }
        let tracks_dir = self.outputs.dir.join("tracks");
        let mut tracks = Vec::new();
        for history in state.tracker.histories().values() {
            let summary = history.summary(&CATEGORIES, VAD_NAMES);
            let mut value = serde_json::to_value(&summary)?;
            if !history.points().is_empty() {
                std::fs::create_dir_all(&tracks_dir)
                    .with_context(|| format!("creating {}", tracks_dir.display()))?;
                let path = run_dir::unique_file(
                    &tracks_dir,
                    &format!("{}_track{}", state.stem, history.id()),
                    "png",
                    &mut self.outputs.taken,
                );
                let title = format!(
                    "{}: track {} (EMA window {})",
                    state.stem,
                    history.id(),
                    self.args.video.smooth_window
                );
                plot::write_vad_plot(&path, &title, history.points(), VAD_NAMES)?;
                if let (Some(obj), Ok(rel)) =
                    (value.as_object_mut(), path.strip_prefix(&self.outputs.dir))
                {
                    obj.insert("plot".into(), serde_json::json!(rel.display().to_string()));
                }
            }
            tracks.push(value);
        }
        self.summaries.push(serde_json::json!({ "source": state.name, "frames_processed": state.frames, "tracks": tracks }));
        let all = serde_json::json!({
            "smooth_window": self.args.video.smooth_window,
            "ema_alpha": ema_alpha(self.args.video.smooth_window),
            "track_iou": self.args.video.track_iou,
            "track_max_age": self.args.video.track_max_age,
            "sources": self.summaries,
        });
        let path = self.outputs.dir.join("tracks.json");
        image_file::write_atomic(&path, serde_json::to_string_pretty(&all)?.as_bytes())?;
        Ok(())
    }

    fn report(
        &self,
        elapsed: Duration,
        interrupted: bool,
        inputs: usize,
    ) -> anyhow::Result<Outcome> {
        if self.processed > 0 {
            #[allow(clippy::cast_precision_loss)]
            let n = self.processed as f64;
            eprintln!(
                "Speed: {:.1}ms pre-process, {:.1}ms inference, {:.1}ms NMS{} per frame",
                self.totals.preprocess_ms / n,
                self.totals.inference_ms / n,
                self.totals.nms_ms / n,
                if self.pipeline.has_emotion_model() {
                    format!(", {:.1}ms emotions", self.emotion_ms / n)
                } else {
                    String::new()
                }
            );
            eprintln!(
                "End to end: {} frames in {:.2} s = {:.2} frames/s (decoding, detection, emotions, drawing, encoding)",
                self.processed,
                elapsed.as_secs_f64(),
                n / elapsed.as_secs_f64().max(1e-9)
            );
        }
        if interrupted {
            eprintln!("Interrupted: stopped reading; every output written so far is finalised");
        }
        eprintln!("Results saved to {}", self.outputs.dir.display());
        if self.failed > 0 {
            eprintln!(
                "{} of {inputs} inputs (or frames) failed; see the messages above",
                self.failed
            );
            return Ok(Outcome::SomeInputsFailed);
        }
        if interrupted {
            return Ok(Outcome::Interrupted);
        }
        Ok(Outcome::Success)
    }
}

/// Output videos play at the input's rate divided by the stride, so they last as long as the
/// input did. Unknown rates (some streams) are taken as 30 fps, as YOLOv5 does.
fn output_fps(meta: &FrameMeta, stride: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let stride = stride.max(1) as f64;
    meta.fps.unwrap_or(30.0) / stride
}

fn write_video_frame(
    state: &mut InputState,
    annotated: &image::RgbImage,
    meta: &FrameMeta,
    stride: u64,
    codec: VideoCodec,
    outputs: &mut RunOutputs,
    failed: &mut usize,
) {
    if state.writer.is_none() && state.frames == 1 {
        let path = unique_in(outputs, &state.stem, "mp4");
        match VideoWriter::create(
            &path,
            annotated.width(),
            annotated.height(),
            output_fps(meta, stride),
            codec,
        ) {
            Ok(writer) => state.writer = Some(writer),
            Err(e) => {
                *failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if let Some(writer) = &mut state.writer
        && let Err(e) = writer.write(annotated)
    {
        *failed += 1;
        eprintln!("error: {e}");
        state.writer = None;
    }
}

/// The name stem of an input's outputs: the file stem for files; for webcams and streams the
/// device or URL without its scheme, reduced to characters that are safe in file names.
fn input_stem(name: &str, kind: InputKind, index: usize) -> String {
    let text = match kind {
        InputKind::Image | InputKind::Video => Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        InputKind::Webcam | InputKind::Stream => {
            let rest = name.split_once("://").map_or(name, |(_, r)| r);
            let safe: String = rest
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            safe.trim_matches('_').chars().take(64).collect()
        }
    };
    if text.is_empty() {
        format!("input{index}")
    } else {
        text
    }
}

fn kind_word(kind: InputKind) -> &'static str {
    match kind {
        InputKind::Image => "image",
        InputKind::Video => "video",
        InputKind::Webcam => "webcam",
        InputKind::Stream => "stream",
    }
}
