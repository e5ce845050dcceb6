//! What a run tells the person watching it. The loop reports events; the front end decides
//! how to show them (the CLI prints them on stderr, with a progress bar for image folders).

use std::path::PathBuf;
use std::time::Duration;

use emotic::detect::Timings;

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent<'a> {
    /// The inputs are known and the models loaded.
    Started {
        /// How many inputs the source names.
        inputs: usize,
        /// Whether they are all still images (no tracking, one frame each).
        images_only: bool,
    },
    /// A line of the log: a frame's summary, an input's error, a saved video, a reconnect.
    Line(String),
    /// Something the user may want to fix, but that does not stop the run.
    Warning(String),
    /// An input has ended (successfully or not).
    InputDone,
    /// The run is over.
    Finished(&'a RunReport),
}

/// Receives a run's events.
pub trait Observer {
    /// Called for each event, in order.
    fn event(&mut self, event: &RunEvent<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: &RunEvent<'_>) {}
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run folder.
    pub dir: PathBuf,
    /// Inputs the source named.
    pub inputs: usize,
    /// Whether they were all still images.
    pub images_only: bool,
    /// Frames that went through the pipeline.
    pub processed: u64,
    /// Inputs, frames or outputs that failed (each was reported).
    pub failed: usize,
    /// Whether the run was stopped before its inputs ended.
    pub interrupted: bool,
    /// Whether emotions were computed.
    pub emotions: bool,
    /// Detector timings summed over the processed frames.
    pub totals: Timings,
    /// Emotion-model milliseconds summed over the processed frames.
    pub emotion_ms: f64,
    /// Wall time of the loop.
    pub elapsed: Duration,
}

impl RunReport {
    /// The closing lines: mean speed per stage, end-to-end rate (temporal runs), where the
    /// results are, and how many inputs failed.
    #[must_use]
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let unit = if self.images_only { "image" } else { "frame" };
        if self.processed > 0 {
            #[allow(clippy::cast_precision_loss)]
            let n = self.processed as f64;
            lines.push(format!(
                "Speed: {:.1}ms pre-process, {:.1}ms inference, {:.1}ms NMS{} per {unit}",
                self.totals.preprocess_ms / n,
                self.totals.inference_ms / n,
                self.totals.nms_ms / n,
                if self.emotions {
                    format!(", {:.1}ms emotions", self.emotion_ms / n)
                } else {
                    String::new()
                }
            ));
            if !self.images_only {
                lines.push(format!(
                    "End to end: {} frames in {:.2} s = {:.2} frames/s (decoding, detection, emotions, drawing, encoding)",
                    self.processed,
                    self.elapsed.as_secs_f64(),
                    n / self.elapsed.as_secs_f64().max(1e-9)
                ));
            }
        }
        if self.interrupted {
            lines.push(
                "Interrupted: stopped reading; every output written so far is finalised".into(),
            );
        }
        lines.push(format!("Results saved to {}", self.dir.display()));
        if self.failed > 0 {
            lines.push(if self.images_only {
                format!(
                    "{} of {} inputs failed; see the messages above",
                    self.failed, self.inputs
                )
            } else {
                format!(
                    "{} of {} inputs (or frames) failed; see the messages above",
                    self.failed, self.inputs
                )
            });
        }
        lines
    }
}
