//! Annotated frames of a video run.

use emotic::emotion::{BoxOutcome, PersonEmotion};
use emotic::pipeline::FrameResult;
use emotic_io::annotate::{Annotator, BoxAnnotation, color_for};

use super::super::draw::LabelStyle;
use super::super::records::class_name;

/// Like [`super::super::draw::draw`], with each tracked box's ID in its label and colour, and its
/// smoothed emotion (what a viewer wants to see; per-frame values flicker).
pub(super) fn draw_tracked(
    image: &mut image::RgbImage,
    frame: &FrameResult,
    names: &[String],
    track_ids: &[Option<u64>],
    smoothed: &[Option<PersonEmotion>],
    style: LabelStyle,
) {
    let annotator = Annotator::new(image.width(), image.height(), style.line_thickness);
    let boxes: Vec<BoxAnnotation> = frame
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let d = &o.detection;
            let name = class_name(names, d.class_id);
            let id = track_ids.get(i).copied().flatten();
            let mut lines = Vec::new();
            if !style.hide_labels {
                let head = if style.hide_conf {
                    name.to_string()
                } else {
                    format!("{name} {:.2}", d.confidence)
                };
                lines.push(id.map_or(head.clone(), |id| format!("#{id} {head}")));
                let emotion = smoothed
                    .get(i)
                    .and_then(Option::as_ref)
                    .or_else(|| o.emotion.as_ref().and_then(BoxOutcome::emotion));
                match (emotion, &o.emotion) {
                    (Some(e), _) => {
                        lines.extend(e.predicted.iter().take(style.top_k).map(|p| {
                            if style.hide_conf {
                                p.name().to_string()
                            } else {
                                format!("{} {:.2}", p.name(), p.score)
                            }
                        }));
                        lines.push(format!(
                            "V {:.1}  A {:.1}  D {:.1}",
                            e.vad[0], e.vad[1], e.vad[2]
                        ));
                    }
                    (None, Some(BoxOutcome::Skipped(_))) => {
                        lines.push("(box too small for emotions)".into())
                    }
                    _ => {}
                }
            }
            #[allow(clippy::cast_possible_truncation)]
            let color = id.map_or_else(|| color_for(d.class_id), |id| color_for(100 + id as usize));
            BoxAnnotation {
                bbox: d.bbox,
                color,
                lines,
            }
        })
        .collect();
    annotator.draw(image, &boxes);
}
