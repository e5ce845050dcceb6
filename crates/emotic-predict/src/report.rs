//! The log lines of a run, worded like YOLOv5's `detect.py`.

use std::collections::BTreeMap;

use emotic::pipeline::FrameResult;
use emotic_io::video::{FrameMeta, InputKind};

use crate::schema::class_name;

/// `2 persons, 1 tie` in class-id order, like YOLOv5's log line.
#[must_use]
pub fn summarise(frame: &FrameResult, names: &[String]) -> String {
    if frame.objects.is_empty() {
        return "(no detections)".into();
    }
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
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

fn kind_word(kind: InputKind) -> &'static str {
    match kind {
        InputKind::Image => "image",
        InputKind::Video => "video",
        InputKind::Webcam => "webcam",
        InputKind::Stream => "stream",
    }
}

/// A processed frame's line: `image 1/2 bus.jpg: 640x480 4 persons, 1 bus, 20.1ms`, or for
/// temporal runs `video 1/1 (frame 3/90, 0.10s) clip.mp4: ...`.
#[must_use]
pub fn frame_line(
    images_only: bool,
    meta: &FrameMeta,
    inputs: usize,
    frame: &FrameResult,
    names: &[String],
    emotions: bool,
) -> String {
    let name = &meta.source;
    let place = if images_only {
        format!("image {}/{inputs} {name}", meta.source_index + 1)
    } else {
        let position = match meta.total_frames {
            Some(total) if meta.kind == InputKind::Video => {
                format!("frame {}/{total}", meta.frame_index + 1)
            }
            _ => format!("frame {}", meta.frame_index),
        };
        format!(
            "{} {}/{inputs} ({position}, {:.2}s) {name}",
            kind_word(meta.kind),
            meta.source_index + 1,
            meta.timestamp_s,
        )
    };
    format!(
        "{place}: {}x{} {}, {:.1}ms{}",
        frame.input_shape[2],
        frame.input_shape[3],
        summarise(frame, names),
        frame.timings.inference_ms,
        if emotions {
            format!(" + {:.1}ms emotions", frame.emotion_ms)
        } else {
            String::new()
        }
    )
}

/// A failed input's line.
#[must_use]
pub fn error_line(
    images_only: bool,
    index: usize,
    inputs: usize,
    source: &str,
    frames: u64,
    message: &str,
) -> String {
    if images_only {
        format!("image {}/{inputs} {source}: error: {message}", index + 1)
    } else {
        format!("{source}: error after {frames} frames: {message}")
    }
}
