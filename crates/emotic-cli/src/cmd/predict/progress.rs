//! How `emotic predict` shows a run: every log line on stderr, and a progress bar over image
//! folders when stderr is a terminal.

use emotic_predict::{Observer, RunEvent};
use indicatif::{ProgressBar, ProgressStyle};

/// Prints a run's events on stderr.
#[derive(Debug, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Prints a line above the bar. (`ProgressBar::println` prints nothing when the bar is
    /// hidden, e.g. when stderr is not a terminal; these lines must always appear.)
    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl Observer for Progress {
    fn event(&mut self, event: &RunEvent<'_>) {
        match event {
            RunEvent::Started {
                inputs,
                images_only: true,
            } if *inputs >= 2 => {
                let bar = ProgressBar::new(*inputs as u64);
                if let Ok(style) = ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} images [{elapsed_precise} < {eta}]",
                ) {
                    bar.set_style(style);
                }
                self.bar = Some(bar);
            }
            RunEvent::Started { .. } => {}
            RunEvent::Line(line) => self.say(line),
            RunEvent::Warning(line) => tracing::warn!("{line}"),
            RunEvent::InputDone => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            RunEvent::Finished(report) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                for line in report.summary_lines() {
                    eprintln!("{line}");
                }
            }
        }
    }
}
