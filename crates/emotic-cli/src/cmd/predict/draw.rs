//! Turning a frame's results into readable box annotations.

use emotic::emotion::BoxOutcome;
use emotic::pipeline::FrameResult;
use emotic_io::annotate::{Annotator, BoxAnnotation, color_for};

use super::records::class_name;

/// What the labels show.
#[derive(Debug, Clone, Copy)]
pub struct LabelStyle {
    pub hide_labels: bool,
    pub hide_conf: bool,
    pub top_k: usize,
    pub line_thickness: Option<u32>,
}

/// Draws boxes and labels. Persons with emotions get their own colour and a label with the
/// top-k categories above threshold and a compact `V A D` line; other objects are coloured by
/// class, as YOLOv5 does.
pub fn draw(image: &mut image::RgbImage, frame: &FrameResult, names: &[String], style: LabelStyle) {
    let annotator = Annotator::new(image.width(), image.height(), style.line_thickness);
    let mut person = 0usize;
    let boxes: Vec<BoxAnnotation> = frame
        .objects
        .iter()
        .map(|o| {
            let d = &o.detection;
            let name = class_name(names, d.class_id);
            let mut lines = Vec::new();
            if !style.hide_labels {
                lines.push(if style.hide_conf {
                    name.to_string()
                } else {
                    format!("{name} {:.2}", d.confidence)
                });
            }
            let color = match &o.emotion {
                Some(outcome) => {
                    person += 1;
                    if !style.hide_labels {
                        lines.extend(emotion_lines(outcome, style));
                    }
                    color_for(person + 100)
                }
                None => color_for(d.class_id),
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

fn emotion_lines(outcome: &BoxOutcome, style: LabelStyle) -> Vec<String> {
    let Some(e) = outcome.emotion() else {
        return vec!["(box too small for emotions)".into()];
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
    if lines.is_empty() && style.top_k > 0 {
        lines.push("no category above threshold".into());
    }
    lines.push(format!(
        "V {:.1}  A {:.1}  D {:.1}",
        e.vad[0], e.vad[1], e.vad[2]
    ));
    lines
}
