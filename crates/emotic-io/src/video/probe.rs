//! Facts about a video file from `ffprobe`: size, frame rate, frame count, duration, codec.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::parse_rate;
use crate::{Error, Result};

/// What `ffprobe` says about the first video stream of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Width in pixels (before any rotation ffmpeg applies on decoding).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second (`r_frame_rate`, else `avg_frame_rate`), when known.
    pub fps: Option<f64>,
    /// Number of frames, when the container records it.
    pub frames: Option<u64>,
    /// Duration in seconds (the stream's, else the container's), when known.
    pub duration_s: Option<f64>,
    /// The codec's short name (`h264`, `mpeg4`, ...).
    pub codec: String,
}

#[derive(Debug, Deserialize)]
struct ProbeOutput {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Debug, Deserialize)]
struct ProbeStream {
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    r_frame_rate: Option<String>,
    avg_frame_rate: Option<String>,
    nb_frames: Option<String>,
    nb_read_frames: Option<String>,
    duration: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// Runs `ffprobe` on a file's first video stream. With `count_frames` every frame is decoded
/// and counted (slow, exact); otherwise the container's count is used where it has one.
///
/// # Errors
/// When ffprobe cannot be started, fails (its message is included), runs past `timeout`, or
/// the file has no video stream.
pub fn probe_file(path: &Path, count_frames: bool, timeout: Duration) -> Result<VideoInfo> {
    let name = path.display().to_string();
    let mut command = Command::new("ffprobe");
    command.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-select_streams",
        "v:0",
        "-show_streams",
        "-show_format",
    ]);
    if count_frames {
        command.arg("-count_frames");
    }
    command.arg(path);
    let output = run_with_timeout(&mut command, timeout, &name)?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(Error::Video {
            source_name: name,
            message: format!("ffprobe failed: {message}"),
        });
    }
    let parsed: ProbeOutput = serde_json::from_slice(&output.stdout).map_err(|e| Error::Video {
        source_name: name.clone(),
        message: format!("unreadable ffprobe output: {e}"),
    })?;
    let Some(stream) = parsed.streams.into_iter().next() else {
        return Err(Error::Video {
            source_name: name,
            message: "has no video stream".into(),
        });
    };
    let (Some(width), Some(height)) = (stream.width, stream.height) else {
        return Err(Error::Video {
            source_name: name,
            message: "video stream has no frame size".into(),
        });
    };
    let fps = stream
        .r_frame_rate
        .as_deref()
        .and_then(parse_rate)
        .or(stream.avg_frame_rate.as_deref().and_then(parse_rate));
    let frames = stream
        .nb_read_frames
        .or(stream.nb_frames)
        .and_then(|n| n.parse().ok());
    let duration_s = stream
        .duration
        .or(parsed.format.and_then(|f| f.duration))
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0);
    Ok(VideoInfo {
        width,
        height,
        fps,
        frames,
        duration_s,
        codec: stream.codec_name.unwrap_or_default(),
    })
}

/// Runs a command to completion, collecting stdout and stderr, and kills it when it takes
/// longer than `timeout` (ffprobe on a dead network share or device can block forever).
pub(crate) fn run_with_timeout(
    command: &mut Command,
    timeout: Duration,
    name: &str,
) -> Result<Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = super::detach_from_terminal(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Video {
            source_name: name.to_string(),
            message: format!("cannot start {program}: {e}"),
        })?;
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                // Bounded: a probe's output is small; more than this is not worth keeping.
                let _ = pipe.by_ref().take(16 << 20).read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Video {
                    source_name: name.to_string(),
                    message: format!(
                        "{program} did not finish within {:.1} s",
                        timeout.as_secs_f64()
                    ),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(Error::Video {
                    source_name: name.to_string(),
                    message: format!("waiting for {program}: {e}"),
                });
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_video_is_a_clear_error() {
        if !super::super::program_available("ffprobe") {
            eprintln!("skipping: ffprobe is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mp4");
        std::fs::write(&path, b"this is not a video").unwrap();
        let err = probe_file(&path, false, Duration::from_secs(10))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.mp4") && err.contains("ffprobe failed"),
            "{err}"
        );
    }

    #[test]
    fn a_slow_command_is_killed_at_the_timeout() {
        let start = Instant::now();
        let err = run_with_timeout(
            Command::new("sleep").arg("5"),
            Duration::from_millis(200),
            "sleeper",
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(err.to_string().contains("did not finish"), "{err}");
    }
}
