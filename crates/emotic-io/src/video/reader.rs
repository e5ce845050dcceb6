//! Frames from one video file, webcam or network stream, decoded by an `ffmpeg` subprocess.
//!
//! Each input gets a thread that runs ffmpeg with `-f rawvideo -pix_fmt rgb24` on stdout and
//! reads ffmpeg's log on stderr: the output stream's line gives the frame size (after the
//! rotation ffmpeg applies), the `showinfo` filter gives each frame's presentation time, and
//! `[error]` lines are kept to explain a failure. The thread sends [`ReaderEvent`]s over a
//! bounded channel. A file is read at full speed and every frame is delivered (the channel
//! blocks ffmpeg when we are behind); a live input's frames are dropped instead, so what we
//! process stays current.
//!
//! A live input that drops after it has delivered frames is reopened with exponential backoff
//! ([`Reconnect`]); one that never delivers a frame fails at once, because retrying a wrong
//! URL only delays the message. A watchdog kills ffmpeg when no frame arrives for
//! [`ReaderOptions::stall_timeout`], so a silent camera or server cannot hang the run.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::{FrameMeta, InputKind};
use crate::{Error, Result};

/// The largest frame side we accept from ffmpeg (bounds the frame buffer).
pub const MAX_FRAME_SIDE: u32 = 8192;
/// How many `[error]` lines of ffmpeg are kept for the message.
const KEPT_ERROR_LINES: usize = 8;

/// Where ffmpeg reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputLocation {
    /// A video file.
    File(PathBuf),
    /// A V4L2 device node such as `/dev/video0`.
    Webcam(String),
    /// A network URL (`rtsp://`, `rtmp://`, `http(s)://`, ...).
    Stream(String),
}

/// How a dropped live input is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    /// Attempts after a drop before giving up (0 = never reconnect).
    pub max_attempts: u32,
    /// Delay before the first attempt; each further attempt doubles it.
    pub initial_delay: Duration,
    /// The delay never grows beyond this.
    pub max_delay: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl Reconnect {
    /// The wait before attempt `attempt` (1-based): `initial × 2^(attempt−1)`, capped.
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

/// Settings of a reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReaderOptions {
    /// Deliver every n-th frame (YOLOv5's `--vid-stride`); at least 1.
    pub vid_stride: u64,
    /// How long ffmpeg may take to open the input and produce its first frame.
    pub open_timeout: Duration,
    /// How long a running input may go without a frame before it counts as dropped.
    pub stall_timeout: Duration,
    /// Reconnection of live inputs.
    pub reconnect: Reconnect,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            vid_stride: 1,
            open_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(10),
            reconnect: Reconnect::default(),
        }
    }
}

/// What a reader reports.
#[derive(Debug)]
pub enum ReaderEvent {
    /// A decoded frame.
    Frame(RgbImage, FrameMeta),
    /// A live input dropped; the reader waits `delay` and opens it again.
    Reconnecting {
        /// 1-based attempt number.
        attempt: u32,
        /// The configured limit.
        max_attempts: u32,
        /// The wait before this attempt.
        delay: Duration,
        /// Why the input dropped.
        reason: String,
    },
    /// The input is finished: `Ok` when it ended normally (or the reader was stopped), `Err`
    /// when it failed; frames delivered before a failure stay valid.
    Finished {
        /// Frames decoded (before `--vid-stride`).
        frames: u64,
        /// How it ended.
        result: Result<()>,
    },
}

/// The per-input facts a reader is given.
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// The input as the user gave it.
    pub name: String,
    /// Index of the input in the run.
    pub index: usize,
    /// Its kind (decides live behaviour).
    pub kind: InputKind,
    /// Where ffmpeg reads.
    pub location: InputLocation,
    /// Frame rate known beforehand (from ffprobe), preferred over ffmpeg's rounded log value.
    pub fps: Option<f64>,
    /// Frame count known beforehand.
    pub total_frames: Option<u64>,
}

/// State shared between a reader's thread, its watchdog and its owner.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    child: Mutex<Option<Child>>,
    /// When the thread started waiting for the current frame (`None` while not waiting).
    waiting_since: Mutex<Option<Instant>>,
    /// Whether the current ffmpeg run has delivered a frame.
    got_frame: AtomicBool,
}

impl Shared {
    fn kill_child(&self) {
        if let Some(child) = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let _ = child.kill();
        }
    }
}

/// A running reader: a thread decoding one input. Dropping it stops ffmpeg.
#[derive(Debug)]
pub struct VideoReader {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl VideoReader {
    /// Starts reading `input`; events go to `events`, tagged with the input's index.
    #[must_use]
    pub fn start(
        input: InputSpec,
        options: ReaderOptions,
        events: SyncSender<(usize, ReaderEvent)>,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("ffmpeg-reader-{}", input.index))
            .spawn(move || read_input(&input, options, &thread_shared, &events))
            .ok();
        Self { shared, thread }
    }

    /// Asks the reader to stop and kills its ffmpeg; the thread then sends `Finished(Ok)`.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.kill_child();
    }
}

impl Drop for VideoReader {
    fn drop(&mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How one ffmpeg run ended.
enum SessionEnd {
    /// The input ended; `errors` holds ffmpeg's error lines (empty when it ended cleanly).
    Ended { errors: Vec<String> },
    /// The reader was asked to stop, or the receiver went away.
    Stopped,
}

/// Counters that live across ffmpeg runs (reconnects) of one input.
struct Progress {
    /// Frames decoded so far (the next frame's index).
    frames: u64,
    /// Frames delivered in the current run.
    frames_this_run: u64,
    last_timestamp: Option<f64>,
    /// Added to this run's timestamps so they continue the previous run's.
    offset: Option<f64>,
    fps: Option<f64>,
}

fn read_input(
    input: &InputSpec,
    options: ReaderOptions,
    shared: &Shared,
    events: &SyncSender<(usize, ReaderEvent)>,
) {
    let send = |event: ReaderEvent| events.send((input.index, event)).is_ok();
    let mut progress = Progress {
        frames: 0,
        frames_this_run: 0,
        last_timestamp: None,
        offset: None,
        fps: input.fps,
    };
    let mut attempt = 0u32;
    loop {
        progress.frames_this_run = 0;
        let end = run_ffmpeg(input, options, shared, events, &mut progress);
        let errors = match end {
            Ok(SessionEnd::Stopped) => {
                send(ReaderEvent::Finished {
                    frames: progress.frames,
                    result: Ok(()),
                });
                return;
            }
            Ok(SessionEnd::Ended { errors }) => errors,
            Err(e) => vec![e.to_string()],
        };
        if shared.stop.load(Ordering::SeqCst) {
            send(ReaderEvent::Finished {
                frames: progress.frames,
                result: Ok(()),
            });
            return;
        }
        let fail = |message: String| Error::Video {
            source_name: input.name.clone(),
            message,
        };
        if !input.kind.is_live() {
            let result = if errors.is_empty() {
                Ok(())
            } else {
                Err(fail(format!(
                    "decoding stopped after {} frames: {}",
                    progress.frames,
                    errors.join("; ")
                )))
            };
            send(ReaderEvent::Finished {
                frames: progress.frames,
                result,
            });
            return;
        }
        let reason = if errors.is_empty() {
            "the input ended".to_string()
        } else {
            errors.join("; ")
        };
        if progress.frames == 0 {
            // Never worked: report at once rather than retrying a wrong address.
            let result = Err(fail(format!("could not be opened: {reason}")));
            send(ReaderEvent::Finished { frames: 0, result });
            return;
        }
        if progress.frames_this_run > 0 {
            attempt = 0;
        }
        attempt += 1;
        if attempt > options.reconnect.max_attempts {
            let result = Err(fail(format!(
                "dropped after {} frames and did not come back after {} reconnect attempts: {reason}",
                progress.frames, options.reconnect.max_attempts
            )));
            send(ReaderEvent::Finished {
                frames: progress.frames,
                result,
            });
            return;
        }
        let delay = options.reconnect.delay(attempt);
        let event = ReaderEvent::Reconnecting {
            attempt,
            max_attempts: options.reconnect.max_attempts,
            delay,
            reason,
        };
        if !send(event) || !sleep_unless_stopped(delay, &shared.stop) {
            send(ReaderEvent::Finished {
                frames: progress.frames,
                result: Ok(()),
            });
            return;
        }
    }
}

/// Sleeps in short steps; `false` when the stop flag was raised meanwhile.
fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + total;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(
            Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())),
        );
    }
    !stop.load(Ordering::SeqCst)
}

fn ffmpeg_args(location: &InputLocation, options: ReaderOptions) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "level+info",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let micros = options.stall_timeout.as_micros().max(1).to_string();
    match location {
        InputLocation::File(path) => {
            args.extend([OsString::from("-i"), path.clone().into_os_string()])
        }
        InputLocation::Webcam(device) => {
            args.extend(["-f", "v4l2", "-i", device].map(OsString::from))
        }
        InputLocation::Stream(url) => {
            // Socket timeouts inside ffmpeg, so a dead server makes it exit instead of wait.
            let timeout_option = if url.to_ascii_lowercase().starts_with("rtsp") {
                "-timeout"
            } else {
                "-rw_timeout"
            };
            // Probe 1 s of a live stream instead of ffmpeg's default 5 s (which, read in
            // real time, delays the first frame by that much); enough for the codec parameters.
            args.extend(
                [
                    timeout_option,
                    &micros,
                    "-analyzeduration",
                    "1000000",
                    "-i",
                    url,
                ]
                .map(OsString::from),
            );
        }
    }
    // `showinfo` logs each frame's pts_time; passthrough keeps frames as decoded (no
    // duplication or dropping to a constant rate).
    args.extend(
        [
            "-map",
            "0:v:0",
            "-vf",
            "showinfo",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        .map(OsString::from),
    );
    args
}

/// What the stderr thread learns.
enum LogMessage {
    /// The raw output's size and the rate ffmpeg reports.
    Header {
        width: u32,
        height: u32,
        fps: Option<f64>,
    },
    /// One frame's presentation time.
    Pts(f64),
}

/// Runs ffmpeg once and delivers its frames.
fn run_ffmpeg(
    input: &InputSpec,
    options: ReaderOptions,
    shared: &Shared,
    events: &SyncSender<(usize, ReaderEvent)>,
    progress: &mut Progress,
) -> Result<SessionEnd> {
    let fail = |message: String| Error::Video {
        source_name: input.name.clone(),
        message,
    };
    let mut command = Command::new("ffmpeg");
    command.args(ffmpeg_args(&input.location, options));
    let mut child = super::detach_from_terminal(&mut command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start ffmpeg (is it installed?): {e}")))?;
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        return Err(fail("ffmpeg's pipes were not set up".into()));
    };
    *shared.child.lock().unwrap_or_else(PoisonError::into_inner) = Some(child);
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (log_tx, log_rx) = std::sync::mpsc::channel();
    let log_errors = Arc::clone(&errors);
    let log_thread = std::thread::spawn(move || parse_log(stderr, &log_tx, &log_errors));
    *shared
        .waiting_since
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    shared.got_frame.store(false, Ordering::SeqCst);
    let session_done = AtomicBool::new(false);

    let end = std::thread::scope(|scope| {
        // Watchdog: kills ffmpeg when stopped or when a frame takes too long.
        scope.spawn(|| {
            while !session_done.load(Ordering::SeqCst) {
                // The open timeout until the first frame, then the stall timeout.
                let limit = if shared.got_frame.load(Ordering::SeqCst) {
                    options.stall_timeout
                } else {
                    options.open_timeout
                };
                let waiting = *shared
                    .waiting_since
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let stalled = waiting.is_some_and(|t| t.elapsed() > limit);
                if shared.stop.load(Ordering::SeqCst) || stalled {
                    if stalled {
                        let mut kept = errors.lock().unwrap_or_else(PoisonError::into_inner);
                        kept.push(format!("no frame for {:.1} s", limit.as_secs_f64()));
                    }
                    shared.kill_child();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let end = deliver_frames(
            input,
            options,
            shared,
            events,
            progress,
            &mut stdout,
            &log_rx,
        );
        session_done.store(true, Ordering::SeqCst);
        end
    });
    *shared
        .waiting_since
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    drop(stdout);
    let status = {
        let mut slot = shared.child.lock().unwrap_or_else(PoisonError::into_inner);
        let status = slot.as_mut().map(|c| {
            // At the end of its output ffmpeg may still be logging why it stopped: give it a
            // moment to exit by itself so those lines are not lost, then make sure it is gone.
            let grace = Instant::now();
            while !shared.stop.load(Ordering::SeqCst)
                && grace.elapsed() < Duration::from_secs(2)
                && matches!(c.try_wait(), Ok(None))
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            c.wait()
        });
        *slot = None;
        status
    };
    let _ = log_thread.join();
    let mut errors = std::mem::take(&mut *errors.lock().unwrap_or_else(PoisonError::into_inner));
    match end? {
        SessionEnd::Stopped => Ok(SessionEnd::Stopped),
        SessionEnd::Ended {
            errors: mut read_errors,
        } => {
            errors.append(&mut read_errors);
            if errors.is_empty()
                && let Some(Ok(status)) = status
                && !status.success()
                && progress.frames_this_run == 0
            {
                errors.push(format!(
                    "ffmpeg exited with {status} before the first frame"
                ));
            }
            Ok(SessionEnd::Ended { errors })
        }
    }
}

/// Reads frames from ffmpeg's stdout until it ends, pairing each with its pts.
fn deliver_frames(
    input: &InputSpec,
    options: ReaderOptions,
    shared: &Shared,
    events: &SyncSender<(usize, ReaderEvent)>,
    progress: &mut Progress,
    stdout: &mut ChildStdout,
    log: &Receiver<LogMessage>,
) -> Result<SessionEnd> {
    let fail = |message: String| Error::Video {
        source_name: input.name.clone(),
        message,
    };
    let mut pending_pts: VecDeque<f64> = VecDeque::new();
    // The header comes once ffmpeg has opened the input and set up its output.
    let (width, height, logged_fps) = loop {
        match log.recv_timeout(Duration::from_millis(50)) {
            Ok(LogMessage::Header { width, height, fps }) => break (width, height, fps),
            Ok(LogMessage::Pts(t)) => pending_pts.push_back(t),
            Err(RecvTimeoutError::Timeout) if shared.stop.load(Ordering::SeqCst) => {
                return Ok(SessionEnd::Stopped);
            }
            Err(RecvTimeoutError::Timeout) => {}
            // ffmpeg ended without producing a video stream; its error lines say why.
            Err(RecvTimeoutError::Disconnected) => {
                return Ok(SessionEnd::Ended { errors: Vec::new() });
            }
        }
    };
    if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(fail(format!(
            "frame size {width}x{height} is outside 1..={MAX_FRAME_SIDE}"
        )));
    }
    if progress.fps.is_none() {
        progress.fps = logged_fps;
    }
    let frame_bytes = width as usize * height as usize * 3;
    let stride = options.vid_stride.max(1);
    let mut log_open = true;
    loop {
        let mut buffer = vec![0u8; frame_bytes];
        *shared
            .waiting_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        let filled = read_full(stdout, &mut buffer)
            .map_err(|e| fail(format!("reading frames from ffmpeg: {e}")))?;
        *shared
            .waiting_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(SessionEnd::Stopped);
        }
        shared.got_frame.store(true, Ordering::SeqCst);
        if filled < frame_bytes {
            let errors = if filled == 0 {
                Vec::new()
            } else {
                vec![format!(
                    "the last frame was cut short ({filled} of {frame_bytes} bytes)"
                )]
            };
            return Ok(SessionEnd::Ended { errors });
        }
        // The frame's pts was logged before ffmpeg wrote the frame; wait briefly for the log
        // thread to pass it on, and fall back to counting frames when it does not come.
        while log_open && pending_pts.is_empty() {
            match log.recv_timeout(Duration::from_secs(1)) {
                Ok(LogMessage::Pts(t)) => pending_pts.push_back(t),
                Ok(LogMessage::Header { .. }) => {}
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => log_open = false,
            }
        }
        let timestamp = next_timestamp(progress, pending_pts.pop_front());
        let index = progress.frames;
        progress.frames += 1;
        progress.frames_this_run += 1;
        if !index.is_multiple_of(stride) {
            continue;
        }
        let Some(image) = RgbImage::from_raw(width, height, buffer) else {
            return Err(fail("frame buffer has the wrong size".into()));
        };
        let meta = FrameMeta {
            source: input.name.clone(),
            source_index: input.index,
            kind: input.kind,
            frame_index: index,
            timestamp_s: timestamp,
            fps: progress.fps,
            total_frames: input.total_frames,
        };
        let event = (input.index, ReaderEvent::Frame(image, meta));
        if input.kind.is_live() {
            // Live: never let ffmpeg wait for us; a frame we cannot take now is stale later.
            match events.try_send(event) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return Ok(SessionEnd::Stopped),
            }
        } else if events.send(event).is_err() {
            return Ok(SessionEnd::Stopped);
        }
    }
}

/// The frame's time: its pts shifted to continue earlier runs, forced to rise strictly.
fn next_timestamp(progress: &mut Progress, pts: Option<f64>) -> f64 {
    let step = 1.0 / progress.fps.unwrap_or(30.0);
    let expected = progress.last_timestamp.map_or(0.0, |t| t + step);
    let timestamp = match pts {
        Some(raw) => {
            let offset = match progress.offset {
                // A new run (reconnect) starts where the last one stopped.
                Some(offset) if progress.frames_this_run > 0 => offset,
                // The input's first frame is time 0 (MPEG-TS, for one, starts at 1.4 s).
                _ if progress.last_timestamp.is_none() => -raw,
                _ => expected - raw,
            };
            progress.offset = Some(offset);
            raw + offset
        }
        None => expected,
    };
    let timestamp = match progress.last_timestamp {
        Some(last) if timestamp <= last => last + step,
        _ => timestamp,
    };
    progress.last_timestamp = Some(timestamp);
    timestamp
}

/// Reads until `buffer` is full or the pipe ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads ffmpeg's log: the output header, each frame's pts, and error lines.
fn parse_log(
    stderr: impl Read,
    messages: &std::sync::mpsc::Sender<LogMessage>,
    errors: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    let mut in_output = false;
    let mut input_fps = None;
    let mut header_sent = false;
    loop {
        line.clear();
        // Bounded lines: a garbage log cannot make us buffer without limit.
        match reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if let Some(pts) = text
            .contains("Parsed_showinfo")
            .then(|| showinfo_pts(text))
            .flatten()
        {
            let _ = messages.send(LogMessage::Pts(pts));
        } else if text.contains("Output #0") {
            in_output = true;
        } else if text.contains("Stream #0:") && text.contains("Video:") {
            let fps = stream_fps(text);
            if !in_output {
                input_fps = fps;
            } else if !header_sent && let Some((width, height)) = stream_size(text) {
                header_sent = true;
                let _ = messages.send(LogMessage::Header {
                    width,
                    height,
                    fps: input_fps.or(fps),
                });
            }
        } else if text.contains("[error]") || text.contains("[fatal]") {
            let mut kept = errors.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() < KEPT_ERROR_LINES {
                kept.push(clean_log_line(text));
            }
        }
    }
}

/// `[h264 @ 0x55..] [error] Invalid NAL unit size` → `Invalid NAL unit size`.
fn clean_log_line(text: &str) -> String {
    let rest = text
        .rsplit_once("[error]")
        .or_else(|| text.rsplit_once("[fatal]"))
        .map_or(text, |(_, r)| r);
    rest.trim().to_string()
}

fn showinfo_pts(text: &str) -> Option<f64> {
    let value = text.split("pts_time:").nth(1)?.split_whitespace().next()?;
    value.parse().ok().filter(|v: &f64| v.is_finite())
}

/// The first `WxH` token of a stream line (`0x1234` codec tags have a zero width and are skipped).
fn stream_size(text: &str) -> Option<(u32, u32)> {
    text.split([' ', ',']).find_map(|token| {
        let (w, h) = token.split_once('x')?;
        let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
        (w > 0 && h > 0).then_some((w, h))
    })
}

/// The number before ` fps` (else before ` tbr`) in a stream line.
fn stream_fps(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    ["fps", "tbr"].iter().find_map(|unit| {
        parts.iter().find_map(|p| {
            let (value, u) = p.split_once(' ')?;
            if u.trim() != *unit {
                return None;
            }
            let value = value.strip_suffix('k').map_or_else(
                || value.parse::<f64>().ok(),
                |v| v.parse::<f64>().ok().map(|v| v * 1000.0),
            )?;
            (value.is_finite() && value > 0.0).then_some(value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_understood() {
        let input = "[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 39 kb/s, 29.97 fps, 29.97 tbr, 10240 tbn (default)";
        let output = "[info]   Stream #0:0(und): Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/unknown/unknown, progressive), 240x320 [SAR 1:1 DAR 3:4], q=2-31, 18432 kb/s, 10 fps, 10 tbn (default)";
        assert_eq!(stream_size(input), Some((320, 240)));
        assert_eq!(stream_size(output), Some((240, 320)));
        assert_eq!(stream_fps(input), Some(29.97));
        assert_eq!(
            stream_fps("Stream #0:0: Video: mjpeg, 640x480, 25 tbr, 1200k tbn"),
            Some(25.0)
        );
        assert_eq!(stream_fps("Stream #0:0: Video: mjpeg, 640x480"), None);
        let info = "[Parsed_showinfo_0 @ 0x5574] [info] n:  12 pts:  12288 pts_time:1.2     pos: 48 fmt:yuv420p";
        assert_eq!(showinfo_pts(info), Some(1.2));
        assert_eq!(
            clean_log_line("[h264 @ 0x56] [error] Invalid NAL unit size (38874 > 35344)."),
            "Invalid NAL unit size (38874 > 35344)."
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = Reconnect {
            max_attempts: 9,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        let delays: Vec<u128> = (1..=5).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 700, 700]);
    }

    #[test]
    fn timestamps_rise_across_reconnects() {
        let mut p = Progress {
            frames: 0,
            frames_this_run: 0,
            last_timestamp: None,
            offset: None,
            fps: Some(10.0),
        };
        let mut seen = Vec::new();
        for pts in [1.4, 1.5, 1.6] {
            seen.push(next_timestamp(&mut p, Some(pts)));
            p.frames_this_run += 1;
        }
        // A reconnect: the new run's pts start over.
        p.frames_this_run = 0;
        for pts in [0.0, 0.1] {
            seen.push(next_timestamp(&mut p, Some(pts)));
            p.frames_this_run += 1;
        }
        seen.push(next_timestamp(&mut p, None));
        let want = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5];
        for (s, w) in seen.iter().zip(want) {
            assert!((s - w).abs() < 1e-9, "{seen:?}");
        }
    }
}
