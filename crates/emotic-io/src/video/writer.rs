//! Annotated video out through an `ffmpeg` subprocess, and the `--view-img` window (`ffplay`).
//!
//! The video is written under a temporary name in the same folder and renamed when ffmpeg has
//! finalised it, so the final name only ever holds a complete, playable file. H.264
//! (`libx264`) in mp4 is used when this ffmpeg has it; otherwise MPEG-4 part 2 (`mpeg4`,
//! always built in) in mp4, and [`VideoCodec::fallback_note`] says so.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::{Error, Result};

/// The encoder used for annotated videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 through libx264.
    H264,
    /// MPEG-4 part 2, ffmpeg's built-in encoder: larger files, plays everywhere.
    Mpeg4,
}

impl VideoCodec {
    /// The best codec this machine's ffmpeg offers (asks `ffmpeg -encoders`).
    #[must_use]
    pub fn detect() -> Self {
        let output = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-encoders"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let has_x264 = output.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some("libx264"))
        });
        if has_x264 { Self::H264 } else { Self::Mpeg4 }
    }

    /// ffmpeg's encoder name.
    #[must_use]
    pub fn encoder(self) -> &'static str {
        match self {
            Self::H264 => "libx264",
            Self::Mpeg4 => "mpeg4",
        }
    }

    /// A sentence for the log when the preferred codec is missing.
    #[must_use]
    pub fn fallback_note(self) -> Option<&'static str> {
        match self {
            Self::H264 => None,
            Self::Mpeg4 => Some(
                "this ffmpeg has no libx264 encoder; writing MPEG-4 part 2 (mpeg4) video in mp4 instead",
            ),
        }
    }

    fn quality_args(self) -> &'static [&'static str] {
        match self {
            Self::H264 => &["-preset", "veryfast", "-crf", "23"],
            Self::Mpeg4 => &["-q:v", "4"],
        }
    }
}

/// A video being written. Call [`VideoWriter::finish`]; dropping it finishes it too, ignoring
/// errors.
#[derive(Debug)]
pub struct VideoWriter {
    path: PathBuf,
    temp: PathBuf,
    width: u32,
    height: u32,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    frames: u64,
}

impl VideoWriter {
    /// Starts ffmpeg writing `width × height` RGB frames at `fps` to `path` (an `.mp4`).
    ///
    /// # Errors
    /// When the size or rate is unusable or ffmpeg cannot be started.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: f64,
        codec: VideoCodec,
    ) -> Result<Self> {
        let fail = |message: String| Error::Video {
            source_name: path.display().to_string(),
            message,
        };
        if width == 0 || height == 0 || !fps.is_finite() || fps <= 0.0 || fps > 1000.0 {
            return Err(fail(format!(
                "cannot write {width}x{height} video at {fps} fps"
            )));
        }
        let name = path
            .file_name()
            .map_or_else(|| "video".into(), |n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!(".{name}.part"));
        let size = format!("{width}x{height}");
        let rate = format!("{fps}");
        let mut command = Command::new("ffmpeg");
        command
            .args([
                "-hide_banner",
                "-nostdin",
                "-nostats",
                "-loglevel",
                "error",
                "-y",
            ])
            .args([
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &size, "-r", &rate, "-i", "pipe:0",
            ])
            // yuv420p (what players expect) needs even sides.
            .args([
                "-an",
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-c:v",
                codec.encoder(),
            ])
            .args(codec.quality_args())
            .args([
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
            ])
            .arg(&temp);
        let mut child = super::detach_from_terminal(&mut command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start ffmpeg (is it installed?): {e}")))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.by_ref().take(64 * 1024).read_to_string(&mut text);
                text
            })
        });
        Ok(Self {
            path: path.to_path_buf(),
            temp,
            width,
            height,
            child: Some(child),
            stdin,
            stderr,
            frames: 0,
        })
    }

    /// The final path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written so far.
    #[must_use]
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends a frame. A frame of another size (a stream that came back at a new
    /// resolution) is scaled to the video's size.
    ///
    /// # Errors
    /// When ffmpeg has stopped accepting frames (its message is included).
    pub fn write(&mut self, frame: &RgbImage) -> Result<()> {
        let scaled;
        let frame = if frame.dimensions() == (self.width, self.height) {
            frame
        } else {
            scaled = image::imageops::resize(
                frame,
                self.width,
                self.height,
                image::imageops::FilterType::Triangle,
            );
            &scaled
        };
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.error("the writer is already finished".into()));
        };
        if let Err(e) = stdin.write_all(frame.as_raw()) {
            self.stdin = None;
            let log = self.wait_for_ffmpeg().1;
            return Err(self.error(format!("ffmpeg stopped taking frames ({e}): {log}")));
        }
        self.frames += 1;
        Ok(())
    }

    /// Closes ffmpeg's input, waits for it to finalise the file, and moves it to its name.
    ///
    /// # Errors
    /// When ffmpeg fails or the rename fails; the temporary file is then removed.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.finalise()
    }

    fn finalise(&mut self) -> Result<PathBuf> {
        self.stdin = None;
        let (status, log) = self.wait_for_ffmpeg();
        if !status {
            let _ = std::fs::remove_file(&self.temp);
            return Err(self.error(format!("ffmpeg could not write the video: {}", log.trim())));
        }
        if self.frames == 0 {
            let _ = std::fs::remove_file(&self.temp);
            return Err(self.error("no frames were written".into()));
        }
        std::fs::rename(&self.temp, &self.path).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: e,
        })?;
        Ok(self.path.clone())
    }

    /// Waits (at most a minute) for ffmpeg to exit: whether it succeeded, and its log.
    fn wait_for_ffmpeg(&mut self) -> (bool, String) {
        let Some(mut child) = self.child.take() else {
            return (false, "ffmpeg already exited".into());
        };
        let start = Instant::now();
        let ok = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.success(),
                Ok(None) if start.elapsed() > Duration::from_secs(60) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break false,
            }
        };
        let log = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        (ok, log)
    }

    fn error(&self, message: String) -> Error {
        Error::Video {
            source_name: self.path.display().to_string(),
            message,
        }
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.finalise();
        }
    }
}

/// Whether a graphical display is available for `--view-img`.
#[must_use]
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// A live window (`ffplay` reading raw frames). Frames it cannot take at once are dropped, so
/// a slow window never slows processing; closing the window just stops the display.
#[derive(Debug)]
pub struct Viewer {
    frames: Option<SyncSender<RgbImage>>,
    thread: Option<JoinHandle<()>>,
    width: u32,
    height: u32,
}

impl Viewer {
    /// Opens a window titled `title` for `width × height` frames.
    ///
    /// # Errors
    /// When ffplay cannot be started.
    pub fn open(title: &str, width: u32, height: u32, fps: f64) -> Result<Self> {
        let size = format!("{width}x{height}");
        let mut command = Command::new("ffplay");
        command
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "rawvideo",
                "-pixel_format",
                "rgb24",
            ])
            .args([
                "-video_size",
                &size,
                "-framerate",
                &format!("{fps}"),
                "-window_title",
                title,
                "-i",
                "pipe:0",
            ]);
        let mut child = super::detach_from_terminal(&mut command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Video {
                source_name: title.to_string(),
                message: format!("cannot start ffplay: {e}"),
            })?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<RgbImage>(1);
        let thread = std::thread::spawn(move || {
            if let Some(mut stdin) = child.stdin.take() {
                for frame in rx {
                    if stdin.write_all(frame.as_raw()).is_err() {
                        break;
                    }
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        });
        Ok(Self {
            frames: Some(tx),
            thread: Some(thread),
            width,
            height,
        })
    }

    /// Shows a frame if the window is ready for one.
    pub fn show(&mut self, frame: &RgbImage) {
        if frame.dimensions() != (self.width, self.height) {
            return;
        }
        if let Some(tx) = &self.frames
            && let Err(TrySendError::Disconnected(_)) = tx.try_send(frame.clone())
        {
            self.frames = None;
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.frames = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
