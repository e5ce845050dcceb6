//! The one frame loop. Every source — an image, a folder, a glob, a list, a video, a webcam, a
//! stream, or a mix — is read through [`Frames`]; each frame goes through the [`Pipeline`]
//! (detector, then emotions for its persons), then through an [`EmotionTracker`] when the run
//! has temporal inputs, then to the outputs.
//!
//! Run folder: `predictions.jsonl` (one [`FrameRecord`] per image or frame, or an
//! [`ErrorRecord`] per failed input), annotated images, `labels/`, `crops/`,
//! `predictions.csv`; with videos, webcams or streams also `persons.jsonl`, `<stem>.mp4` per
//! input, `tracks.json` and `tracks/<stem>_track<id>.png`. Every file is complete at any exit:
//! JSON lines and CSV rows are flushed as they are written, videos are finalised by ffmpeg then
//! renamed, and `tracks.json` is replaced atomically whenever an input ends. Raising the stop
//! flag (Ctrl-C in the CLI) stops reading and finalises the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use emotic::detect::Timings;
use emotic::pipeline::{FrameResult, Pipeline};
use emotic::tracking::{EmotionTracker, FrameTracks, ema_alpha};
use emotic_io::image_file;
use emotic_io::sinks::JsonLines;
use emotic_io::source::Source;
use emotic_io::video::frames::{FrameEvent, Frames};
use emotic_io::video::writer::{VideoCodec, display_available};
use emotic_io::video::{FrameMeta, InputKind, program_available};
use image::RgbImage;

use crate::events::{Observer, RunEvent, RunReport};
use crate::options::PredictOptions;
use crate::outputs::csv_rows::{CsvFile, csv_rows};
use crate::outputs::videos::{InputVideo, output_fps};
use crate::outputs::{RunFolder, crops, draw_frame, labels, tracks};
use crate::report::{error_line, frame_line};
use crate::schema::{ErrorRecord, FramePosition, FrameRecord, PersonRecord, TracksFile};
use crate::{Error, Result, error_chain, models};

/// A prediction run: the models, the source and where the results go.
#[derive(Debug, Clone)]
pub struct PredictJob {
    /// Detector weights (YOLOv5 `.pt` or YOLO `.onnx`).
    pub weights: PathBuf,
    /// The emotion model (bundle or reference folder); detection only without one.
    pub emotion_model: Option<PathBuf>,
    /// What to read, as `--source` takes it.
    pub source: String,
    /// Folder that holds the runs.
    pub project: PathBuf,
    /// Run name (`exp`, then `exp2`, ...).
    pub name: String,
    /// Reuse `project/name` when it exists.
    pub exist_ok: bool,
    /// Everything else.
    pub options: PredictOptions,
}

/// Runs a whole job: reads the source, loads the models, creates the run folder, processes
/// every frame, finalises every output. Inputs that fail are reported and recorded; the run
/// goes on. Raising `stop` ends it early, outputs finalised.
///
/// # Errors
/// When the settings are invalid, the source names nothing, a model cannot be loaded, or a
/// run-wide output (the folder, the JSON lines) cannot be written.
pub fn run(
    job: &PredictJob,
    observer: &mut dyn Observer,
    stop: &Arc<AtomicBool>,
) -> Result<RunReport> {
    job.options.validate()?;
    let inputs = Source::parse(&job.source).inputs()?;
    let images_only = inputs.iter().all(|i| i.kind == InputKind::Image);
    if !images_only && !program_available("ffmpeg") {
        return Err(Error::NoFfmpeg);
    }
    let options = &job.options;
    let pipeline = models::load_pipeline(
        &job.weights,
        job.emotion_model.as_deref(),
        options.session,
        options.pipeline.clone(),
    )?;
    let mut folder = RunFolder::create(&job.project, &job.name, job.exist_ok)?;
    let mut looper = FrameLoop::new(
        options,
        pipeline,
        &mut folder,
        images_only,
        inputs.len(),
        observer,
    )?;
    let start = Instant::now();
    for event in Frames::new(inputs.clone(), options.frames, Arc::clone(stop)) {
        looper.event(event)?;
    }
    looper.finish(start, stop.load(Ordering::SeqCst))
}

/// A frame that went through the pipeline (and the tracker), on its way to the outputs.
struct Processed<'f> {
    image: &'f RgbImage,
    meta: &'f FrameMeta,
    frame: FrameResult,
    names: Vec<String>,
    tracks: Option<FrameTracks>,
    /// How records that are not per input name it (`name`, or `name#frame` in temporal runs).
    label: String,
}

/// What is kept per input while it runs.
struct InputState {
    name: String,
    kind: InputKind,
    stem: String,
    tracker: Option<EmotionTracker>,
    video: InputVideo,
    frames: u64,
}

/// The loop's state between frames.
struct FrameLoop<'a> {
    options: &'a PredictOptions,
    pipeline: Pipeline,
    folder: &'a mut RunFolder,
    observer: &'a mut dyn Observer,
    /// Still images only: no tracking, per-image records and log lines.
    images_only: bool,
    inputs: usize,
    frames_jsonl: JsonLines,
    persons_jsonl: Option<JsonLines>,
    csv: Option<CsvFile>,
    codec: VideoCodec,
    view: bool,
    states: BTreeMap<usize, InputState>,
    tracks_file: TracksFile,
    failed: usize,
    processed: u64,
    totals: Timings,
    emotion_ms: f64,
}

impl<'a> FrameLoop<'a> {
    fn new(
        options: &'a PredictOptions,
        pipeline: Pipeline,
        folder: &'a mut RunFolder,
        images_only: bool,
        inputs: usize,
        observer: &'a mut dyn Observer,
    ) -> Result<Self> {
        let frames_jsonl = folder.json_lines("predictions")?;
        let persons_jsonl = if images_only {
            None
        } else {
            Some(folder.json_lines("persons")?)
        };
        let csv = if options.save.csv {
            Some(CsvFile::create(folder)?)
        } else {
            None
        };
        let codec = if images_only {
            VideoCodec::Mpeg4
        } else {
            VideoCodec::detect()
        };
        if let (Some(note), false, true) =
            (codec.fallback_note(), images_only, options.save.annotated)
        {
            observer.event(&RunEvent::Warning(note.to_string()));
        }
        let view = options.view && display_available();
        if options.view && !view {
            observer.event(&RunEvent::Warning(
                "--view-img ignored: no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
                    .into(),
            ));
        }
        if !pipeline.has_emotion_model() {
            observer.event(&RunEvent::Line(models::NO_EMOTION_MODEL.into()));
        }
        observer.event(&RunEvent::Started {
            inputs,
            images_only,
        });
        let tracking = options.tracking;
        Ok(Self {
            tracks_file: TracksFile::new(
                tracking.smooth_window,
                ema_alpha(tracking.smooth_window),
                tracking.tracker.iou_threshold,
                tracking.tracker.max_age,
            ),
            options,
            pipeline,
            folder,
            observer,
            images_only,
            inputs,
            frames_jsonl,
            persons_jsonl,
            csv,
            codec,
            view,
            states: BTreeMap::new(),
            failed: 0,
            processed: 0,
            totals: Timings::default(),
            emotion_ms: 0.0,
        })
    }

    fn say(&mut self, line: String) {
        self.observer.event(&RunEvent::Line(line));
    }

    /// A failure that does not stop the run: counted, reported, and recorded when `record`.
    fn fail(&mut self, line: String, record: Option<ErrorRecord>) -> Result<()> {
        self.failed += 1;
        self.say(line);
        if let Some(record) = record {
            self.frames_jsonl.write(&record)?;
        }
        Ok(())
    }

    fn event(&mut self, event: FrameEvent) -> Result<()> {
        match event {
            FrameEvent::Frame(image, meta) => self.frame(&image, &meta),
            FrameEvent::Reconnecting {
                source,
                attempt,
                max_attempts,
                delay,
                reason,
                ..
            } => {
                self.say(format!(
                    "{source}: stream dropped ({reason}); reconnecting in {:.1} s (attempt {attempt}/{max_attempts})",
                    delay.as_secs_f64()
                ));
                Ok(())
            }
            FrameEvent::InputEnded {
                source_index,
                source,
                frames,
                error,
            } => {
                self.finish_input(source_index)?;
                if let Some(error) = error {
                    let message = error_chain(&error);
                    let line = error_line(
                        self.images_only,
                        source_index,
                        self.inputs,
                        &source,
                        frames,
                        &message,
                    );
                    self.fail(line, Some(ErrorRecord::new(source, message)))?;
                }
                self.observer.event(&RunEvent::InputDone);
                Ok(())
            }
        }
    }

    fn frame(&mut self, image: &RgbImage, meta: &FrameMeta) -> Result<()> {
        let temporal = !self.images_only;
        // Failures of one frame are named by frame in temporal runs.
        let label = if temporal {
            format!("{}#{}", meta.source, meta.frame_index)
        } else {
            meta.source.clone()
        };
        let frame = match self.pipeline.predict(image) {
            Ok(frame) => frame,
            Err(e) => {
                let message = error_chain(&e);
                let line = if temporal {
                    format!(
                        "{} frame {}: error: {message}",
                        meta.source, meta.frame_index
                    )
                } else {
                    format!(
                        "image {}/{} {}: error: {message}",
                        meta.source_index + 1,
                        self.inputs,
                        meta.source
                    )
                };
                return self.fail(line, Some(ErrorRecord::new(label, message)));
            }
        };
        self.processed += 1;
        self.totals.preprocess_ms += frame.timings.preprocess_ms;
        self.totals.inference_ms += frame.timings.inference_ms;
        self.totals.nms_ms += frame.timings.nms_ms;
        self.emotion_ms += frame.emotion_ms;

        let options = self.options;
        let thresholds = self.pipeline.emotion_model().map(|m| *m.thresholds());
        let state = self
            .states
            .entry(meta.source_index)
            .or_insert_with(|| InputState {
                name: meta.source.clone(),
                kind: meta.kind,
                stem: input_stem(&meta.source, meta.kind, meta.source_index),
                tracker: temporal.then(|| {
                    EmotionTracker::new(
                        options.tracking.tracker,
                        options.tracking.smooth_window,
                        thresholds,
                    )
                }),
                video: InputVideo::default(),
                frames: 0,
            });
        state.frames += 1;
        let tracks = state
            .tracker
            .as_mut()
            .map(|t| t.track(meta.frame_index, meta.timestamp_s, &frame));

        let names = self.pipeline.detector().names().to_vec();
        let line = frame_line(
            self.images_only,
            meta,
            self.inputs,
            &frame,
            &names,
            self.pipeline.has_emotion_model(),
        );
        self.say(line);
        let done = Processed {
            image,
            meta,
            frame,
            names,
            tracks,
            label,
        };
        self.records(&done)?;
        self.pictures(&done)
    }

    /// The JSON lines and CSV rows of a frame.
    fn records(&mut self, done: &Processed<'_>) -> Result<()> {
        let Processed {
            image,
            meta,
            frame,
            names,
            label,
            ..
        } = done;
        let tracks = done.tracks.as_ref();
        let position = tracks.is_some().then(|| FramePosition::from(*meta));
        let record = FrameRecord::new(
            meta.source.clone(),
            image.dimensions(),
            frame,
            names,
            position,
            tracks,
        );
        self.frames_jsonl.write(&record)?;
        if let (Some(persons), Some(tracks)) = (&mut self.persons_jsonl, tracks) {
            for person in PersonRecord::of_frame(meta, &frame.objects, tracks) {
                persons.write(&person)?;
            }
        }
        if let Some(csv) = &mut self.csv {
            csv.write(&csv_rows(label, frame))?;
        }
        Ok(())
    }

    /// The annotated picture (image file, video frame, window), labels and crops of a frame.
    fn pictures(&mut self, done: &Processed<'_>) -> Result<()> {
        let Processed {
            image,
            meta,
            frame,
            names,
            ..
        } = done;
        let tracks = done.tracks.as_ref();
        let save = self.options.save;
        let Some(state) = self.states.get_mut(&meta.source_index) else {
            return Ok(());
        };
        let stem = state.stem.clone();
        if save.annotated || self.view {
            let mut annotated = (*image).clone();
            draw_frame(&mut annotated, frame, names, tracks, self.options.style);
            let fps = output_fps(meta, self.options.frames.reader.vid_stride);
            let mut problems = Vec::new();
            if save.annotated {
                if meta.kind == InputKind::Image {
                    let path = self.folder.unique(
                        &[],
                        &stem,
                        output_extension(Path::new(&meta.source)),
                    )?;
                    image_file::write_rgb(&path, &annotated)?;
                } else if let Err(e) =
                    state
                        .video
                        .write(self.folder, &stem, &annotated, fps, self.codec)
                {
                    problems.push(format!("error: {}", error_chain(&e)));
                }
            }
            if self.view
                && let Err(e) = state.video.show(&meta.source, &annotated, fps)
            {
                self.observer.event(&RunEvent::Warning(format!(
                    "--view-img: {}",
                    error_chain(&e)
                )));
            }
            for line in problems {
                self.fail(line, None)?;
            }
        }
        // Per-frame files of temporal runs are named by frame.
        let stem = if tracks.is_some() {
            format!("{stem}_{}", meta.frame_index)
        } else {
            stem
        };
        if save.txt {
            labels::write_labels(self.folder, &stem, frame, image.dimensions(), save.conf)?;
        }
        if save.crop {
            crops::write_crops(self.folder, &stem, image, frame, names)?;
        }
        Ok(())
    }

    /// Finalises an input's video and, for temporal inputs, writes its tracks.
    fn finish_input(&mut self, index: usize) -> Result<()> {
        let Some(state) = self.states.remove(&index) else {
            return Ok(());
        };
        match state.video.finish() {
            Ok(Some((path, frames))) => {
                self.say(format!("saved {} ({frames} frames)", path.display()))
            }
            Ok(None) => {}
            Err(e) => self.fail(format!("error: {}", error_chain(&e)), None)?,
        }
        // A still image in a temporal run is tracked (its persons get IDs) but has no tracks
        // worth summarising.
        if let Some(tracker) = &state.tracker
            && state.kind != InputKind::Image
        {
            tracks::write_input_tracks(
                self.folder,
                &mut self.tracks_file,
                &state.name,
                &state.stem,
                state.frames,
                tracker,
            )?;
        }
        Ok(())
    }

    fn finish(mut self, start: Instant, interrupted: bool) -> Result<RunReport> {
        let open: Vec<usize> = self.states.keys().copied().collect();
        for index in open {
            self.finish_input(index)?;
        }
        let report = RunReport {
            dir: self.folder.dir().to_path_buf(),
            inputs: self.inputs,
            images_only: self.images_only,
            processed: self.processed,
            failed: self.failed,
            interrupted,
            emotions: self.pipeline.has_emotion_model(),
            totals: self.totals,
            emotion_ms: self.emotion_ms,
            elapsed: start.elapsed(),
        };
        self.observer.event(&RunEvent::Finished(&report));
        Ok(report)
    }
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
