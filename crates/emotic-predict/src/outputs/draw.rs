//! Boxes and label text on a frame, from the typed results.

use emotic::emotion::{BoxOutcome, PersonEmotion};
use emotic::pipeline::FrameResult;
use emotic::tracking::FrameTracks;
use emotic_io::annotate::{Annotator, BoxAnnotation, color_for};
use image::RgbImage;

use crate::schema::class_name;

/// What the labels show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelStyle {
    /// Boxes only.
    pub hide_labels: bool,
    /// No confidences or scores.
    pub hide_conf: bool,
    /// Predicted categories shown per person.
    pub top_k: usize,
    /// Box line width in pixels (`None`: scales with the image).
    pub line_thickness: Option<u32>,
}

impl LabelStyle {
    /// `--top-k` default.
    pub const DEFAULT_TOP_K: usize = 3;
}

impl Default for LabelStyle {
    fn default() -> Self {
        Self {
            hide_labels: false,
            hide_conf: false,
            top_k: Self::DEFAULT_TOP_K,
            line_thickness: None,
        }
    }
}

/// Draws a frame's boxes and labels. Persons with emotions get a colour of their own (their
/// track's, when tracked) and a label with the top-k categories above threshold and a compact
/// `V A D` line; other objects are coloured by class, as YOLOv5 does. Tracked boxes show
/// their ID and their smoothed emotion (what a viewer wants to see: per-frame values flicker).
pub fn draw_frame(
    image: &mut RgbImage,
    frame: &FrameResult,
    names: &[String],
    tracks: Option<&FrameTracks>,
    style: LabelStyle,
) {
    let annotator = Annotator::new(image.width(), image.height(), style.line_thickness);
    let mut person = 0usize;
    let boxes: Vec<BoxAnnotation> = frame
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let d = &o.detection;
            let id = tracks.and_then(|t| t.ids.get(i).copied().flatten());
            let mut lines = Vec::new();
            if !style.hide_labels {
                let name = class_name(names, d.class_id);
                let head = if style.hide_conf {
                    name.to_string()
                } else {
                    format!("{name} {:.2}", d.confidence)
                };
                lines.push(match id {
                    Some(id) => format!("#{id} {head}"),
                    None => head,
                });
            }
            let shown = match tracks {
                Some(t) => t.shown_emotion(i, o),
                None => o.emotion.as_ref().and_then(BoxOutcome::emotion),
            };
            if !style.hide_labels {
                lines.extend(emotion_lines(
                    shown,
                    o.emotion.as_ref(),
                    style,
                    tracks.is_none(),
                ));
            }
            #[allow(clippy::cast_possible_truncation)]
            let color = match (id, &o.emotion) {
                (Some(id), _) => color_for(100 + id as usize),
                (None, Some(_)) if tracks.is_none() => {
                    person += 1;
                    color_for(person + 100)
                }
                _ => color_for(d.class_id),
            };
            BoxAnnotation {
                bbox: d.bbox,
                color,
                lines,
            }
        })
        .collect();
    annotator.draw(image, &boxes);
}

/// The label lines under a box's head line: top-k categories and VAD, or why there are none.
/// `say_none` adds a line when no category is above its threshold (still frames; in videos
/// the line would flicker in and out).
fn emotion_lines(
    shown: Option<&PersonEmotion>,
    outcome: Option<&BoxOutcome>,
    style: LabelStyle,
    say_none: bool,
) -> Vec<String> {
    let Some(e) = shown else {
        return match outcome {
            Some(BoxOutcome::Skipped(_)) => vec!["(box too small for emotions)".into()],
            _ => Vec::new(),
        };
    };
    let mut lines: Vec<String> = e
        .predicted
        .iter()
        .take(style.top_k)
        .map(|p| {
            if style.hide_conf {
                p.name().to_string()
            } else {
                format!("{} {:.2}", p.name(), p.score)
            }
        })
        .collect();
    if say_none && lines.is_empty() && style.top_k > 0 {
        lines.push("no category above threshold".into());
    }
    lines.push(format!(
        "V {:.1}  A {:.1}  D {:.1}",
        e.vad[0], e.vad[1], e.vad[2]
    ));
    lines
}
