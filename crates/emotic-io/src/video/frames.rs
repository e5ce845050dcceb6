//! One iterator over the frames of every input of a run: images, video files, webcams and
//! streams alike, so a single loop processes them.
//!
//! Files (images and videos) are read one after another. Consecutive live inputs (the
//! entries of a `.streams` list) are opened together and their frames interleave as they
//! arrive, each tagged with its input's index.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use image::RgbImage;

use super::reader::{InputLocation, InputSpec, ReaderEvent, ReaderOptions, VideoReader};
use super::{FrameMeta, InputKind, check_webcam, probe};
use crate::source::Input;
use crate::{Error, Result, image_file};

/// What the frame loop receives.
#[derive(Debug)]
pub enum FrameEvent {
    /// A frame to process.
    Frame(RgbImage, FrameMeta),
    /// A live input dropped and is being reopened.
    Reconnecting {
        /// The input's index.
        source_index: usize,
        /// The input as given.
        source: String,
        /// 1-based attempt.
        attempt: u32,
        /// The limit.
        max_attempts: u32,
        /// The wait before this attempt.
        delay: Duration,
        /// Why it dropped.
        reason: String,
    },
    /// An input has no more frames. `error` says why when it failed (frames delivered before
    /// stay valid).
    InputEnded {
        /// The input's index.
        source_index: usize,
        /// The input as given.
        source: String,
        /// Frames decoded from it.
        frames: u64,
        /// The failure, if any.
        error: Option<Error>,
    },
}

/// Settings of the frame iterator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameOptions {
    /// Reader settings for videos, webcams and streams.
    pub reader: ReaderOptions,
    /// Limit for `ffprobe` on a video file.
    pub probe_timeout: Duration,
}

impl Default for FrameOptions {
    fn default() -> Self {
        Self {
            reader: ReaderOptions::default(),
            probe_timeout: Duration::from_secs(20),
        }
    }
}

/// Readers that are running, and the channel they all send on.
struct Active {
    // Declared before `readers` so it is dropped first: a reader thread blocked sending to
    // it then fails and exits, and dropping the readers (which joins them) cannot hang.
    events: Receiver<(usize, ReaderEvent)>,
    _readers: Vec<VideoReader>,
    /// Inputs of this group that have not finished yet.
    remaining: usize,
}

/// Iterates over the frames of a run's inputs; see the module docs. Stops early (ending
/// every reader) when `stop` is raised.
pub struct Frames {
    inputs: Vec<Input>,
    next_input: usize,
    active: Option<Active>,
    pending: VecDeque<FrameEvent>,
    options: FrameOptions,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("inputs", &self.inputs)
            .field("next_input", &self.next_input)
            .finish_non_exhaustive()
    }
}

impl Frames {
    /// Frames of `inputs` (from [`crate::source::Source::inputs`]).
    #[must_use]
    pub fn new(inputs: Vec<Input>, options: FrameOptions, stop: Arc<AtomicBool>) -> Self {
        Self {
            inputs,
            next_input: 0,
            active: None,
            pending: VecDeque::new(),
            options,
            stop,
        }
    }

    /// The inputs, indexed as in [`FrameMeta::source_index`].
    #[must_use]
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// Starts the next input (or group of live inputs); queues events for inputs that end at
    /// once (images, missing webcams).
    fn open_next(&mut self) {
        let index = self.next_input;
        let Some(input) = self.inputs.get(index).cloned() else {
            return;
        };
        self.next_input += 1;
        match input.kind {
            InputKind::Image => {
                let path = PathBuf::from(&input.name);
                match image_file::read_rgb(&path) {
                    Ok(image) => {
                        let meta = FrameMeta {
                            source: input.name.clone(),
                            source_index: index,
                            kind: InputKind::Image,
                            frame_index: 0,
                            timestamp_s: 0.0,
                            fps: None,
                            total_frames: Some(1),
                        };
                        self.pending.push_back(FrameEvent::Frame(image, meta));
                        self.pending.push_back(ended(index, &input.name, 1, None));
                    }
                    Err(e) => self
                        .pending
                        .push_back(ended(index, &input.name, 0, Some(e))),
                }
            }
            InputKind::Video => {
                let path = PathBuf::from(&input.name);
                if !path.is_file() {
                    let error = Error::Source(format!("{} does not exist", input.name));
                    self.pending
                        .push_back(ended(index, &input.name, 0, Some(error)));
                    return;
                }
                // The probe's exact rate and count are nice to have; when it fails, ffmpeg's
                // own error for the file is the one worth reporting.
                let info = probe::probe_file(&path, false, self.options.probe_timeout).ok();
                let spec = InputSpec {
                    name: input.name.clone(),
                    index,
                    kind: InputKind::Video,
                    location: InputLocation::File(path),
                    fps: info.as_ref().and_then(|i| i.fps),
                    total_frames: info.and_then(|i| i.frames),
                };
                self.start(vec![spec]);
            }
            InputKind::Webcam | InputKind::Stream => {
                let mut specs = Vec::new();
                let mut group = vec![(index, input)];
                // Open every consecutive live input together.
                while let Some(next) = self
                    .inputs
                    .get(self.next_input)
                    .filter(|i| i.kind.is_live())
                {
                    group.push((self.next_input, next.clone()));
                    self.next_input += 1;
                }
                for (index, input) in group {
                    let location = if input.kind == InputKind::Webcam {
                        match check_webcam(&input.name) {
                            Ok(device) => InputLocation::Webcam(device),
                            Err(e) => {
                                self.pending
                                    .push_back(ended(index, &input.name, 0, Some(e)));
                                continue;
                            }
                        }
                    } else {
                        InputLocation::Stream(input.name.clone())
                    };
                    specs.push(InputSpec {
                        name: input.name,
                        index,
                        kind: input.kind,
                        location,
                        fps: None,
                        total_frames: None,
                    });
                }
                self.start(specs);
            }
        }
    }

    fn start(&mut self, specs: Vec<InputSpec>) {
        if specs.is_empty() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(2 * specs.len());
        let remaining = specs.len();
        let readers = specs
            .into_iter()
            .map(|spec| VideoReader::start(spec, self.options.reader, tx.clone()))
            .collect();
        self.active = Some(Active {
            events: rx,
            _readers: readers,
            remaining,
        });
    }

    fn input_name(&self, index: usize) -> String {
        self.inputs
            .get(index)
            .map(|i| i.name.clone())
            .unwrap_or_default()
    }
}

fn ended(source_index: usize, source: &str, frames: u64, error: Option<Error>) -> FrameEvent {
    FrameEvent::InputEnded {
        source_index,
        source: source.to_string(),
        frames,
        error,
    }
}

impl Iterator for Frames {
    type Item = FrameEvent;

    fn next(&mut self) -> Option<FrameEvent> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                self.active = None;
                self.next_input = self.inputs.len();
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if let Some(active) = &mut self.active {
                match active.events.recv_timeout(Duration::from_millis(100)) {
                    Ok((_, ReaderEvent::Frame(image, meta))) => {
                        return Some(FrameEvent::Frame(image, meta));
                    }
                    Ok((
                        index,
                        ReaderEvent::Reconnecting {
                            attempt,
                            max_attempts,
                            delay,
                            reason,
                        },
                    )) => {
                        let source = self.input_name(index);
                        return Some(FrameEvent::Reconnecting {
                            source_index: index,
                            source,
                            attempt,
                            max_attempts,
                            delay,
                            reason,
                        });
                    }
                    Ok((index, ReaderEvent::Finished { frames, result })) => {
                        active.remaining = active.remaining.saturating_sub(1);
                        if active.remaining == 0 {
                            self.active = None;
                        }
                        return Some(ended(index, &self.input_name(index), frames, result.err()));
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.active = None;
                        continue;
                    }
                }
            }
            if self.next_input >= self.inputs.len() {
                return None;
            }
            self.open_next();
        }
    }
}

/// Reads every frame of one input into memory (for tests and small tools).
///
/// # Errors
/// The input's error, if it failed.
pub fn read_all(input: Input, options: FrameOptions) -> Result<Vec<(RgbImage, FrameMeta)>> {
    let mut frames = Vec::new();
    for event in Frames::new(vec![input], options, Arc::new(AtomicBool::new(false))) {
        match event {
            FrameEvent::Frame(image, meta) => frames.push((image, meta)),
            FrameEvent::InputEnded { error: Some(e), .. } => return Err(e),
            _ => {}
        }
    }
    Ok(frames)
}
