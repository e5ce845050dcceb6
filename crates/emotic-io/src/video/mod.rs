//! Video files, webcams and network streams through the `ffmpeg` program.
//!
//! Decoding and encoding run in `ffmpeg`/`ffprobe` subprocesses (the Debian package), never
//! linked in: frames travel as raw RGB24 over pipes. That keeps every container and codec
//! ffmpeg knows available without a C dependency in the build, and a crash in a decoder
//! cannot take the program down with it.
//!
//! | module | job |
//! |---|---|
//! | [`frames`] | one iterator over images, videos, webcams and streams for the frame loop |
//! | [`probe`] | size, frame rate, frame count and duration from `ffprobe` |
//! | [`reader`] | frames from a file, webcam or stream, with timestamps; reconnects live streams |
//! | [`writer`] | annotated video out (H.264 in mp4, else MPEG-4 part 2), and the `--view-img` window |
//!
//! Every child process is put in its own process group, so a Ctrl-C in the terminal reaches
//! only us: we then close the encoder's input ourselves and it finalises the file.

pub mod frames;
pub mod probe;
pub mod reader;
pub mod writer;

#[cfg(test)]
mod ffmpeg_tests;

use std::path::Path;
use std::process::Command;

/// Where a frame came from and when.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMeta {
    /// The input as given (a path or URL).
    pub source: String,
    /// Which input of the run this is (0 for a single source; several for stream lists).
    pub source_index: usize,
    /// What kind of input it is.
    pub kind: InputKind,
    /// 0-based index of the frame in its input, counting every decoded frame (also those
    /// skipped by `--vid-stride`). Images are frame 0.
    pub frame_index: u64,
    /// Presentation time in seconds from the start of the input (0 for images). Rises
    /// strictly within one input, also across stream reconnects.
    pub timestamp_s: f64,
    /// Frames per second of the input, when known.
    pub fps: Option<f64>,
    /// Total frames of the input, when known (files only).
    pub total_frames: Option<u64>,
}

/// The kind of input a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// A still image file.
    Image,
    /// A video file: has an end, is read at full speed, every frame is kept.
    Video,
    /// A webcam: live, frames are dropped when processing falls behind.
    Webcam,
    /// A network stream: live, reconnected when it drops.
    Stream,
}

impl InputKind {
    /// Whether the input is live (frames come at their own pace and may be dropped).
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, Self::Webcam | Self::Stream)
    }
}

/// Whether a program can be started (`name -version` succeeds).
#[must_use]
pub fn program_available(name: &str) -> bool {
    Command::new(name)
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A frame rate as ffmpeg writes it (`30000/1001`, `25`, `0/0`), or `None` when it is not a
/// positive finite number.
#[must_use]
pub fn parse_rate(text: &str) -> Option<f64> {
    let value = match text.split_once('/') {
        Some((n, d)) => {
            let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
            if d == 0.0 {
                return None;
            }
            n / d
        }
        None => text.trim().parse().ok()?,
    };
    (value.is_finite() && value > 0.0).then_some(value)
}

/// The device path of a webcam given as an index (`0` → `/dev/video0`) or as a path.
#[must_use]
pub fn webcam_device(name: &str) -> String {
    if name.parse::<u32>().is_ok() {
        format!("/dev/video{name}")
    } else {
        name.to_string()
    }
}

/// Checks that a webcam device exists before ffmpeg is asked to open it, so that a missing
/// camera is reported at once and by name.
///
/// # Errors
/// When the device node does not exist.
pub fn check_webcam(name: &str) -> crate::Result<String> {
    let device = webcam_device(name);
    if !Path::new(&device).exists() {
        return Err(crate::Error::Video {
            source_name: name.to_string(),
            message: format!(
                "webcam {device} does not exist (no such video device on this machine)"
            ),
        });
    }
    Ok(device)
}

/// Puts a child in its own process group so a terminal's Ctrl-C does not reach it.
fn detach_from_terminal(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    command.process_group(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_like_ffprobe_writes_them() {
        assert_eq!(parse_rate("25/1"), Some(25.0));
        assert!((parse_rate("30000/1001").unwrap() - 29.970_03).abs() < 1e-5);
        assert_eq!(parse_rate("12.5"), Some(12.5));
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("-5"), None);
        assert_eq!(parse_rate("abc"), None);
    }

    #[test]
    fn webcams_by_index_or_path() {
        assert_eq!(webcam_device("0"), "/dev/video0");
        assert_eq!(webcam_device("/dev/video3"), "/dev/video3");
        let err = check_webcam("/dev/video987").unwrap_err().to_string();
        assert!(
            err.contains("/dev/video987") && err.contains("does not exist"),
            "{err}"
        );
    }
}
