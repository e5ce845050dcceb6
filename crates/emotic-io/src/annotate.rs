//! Drawing boxes and labels that stay readable: labels never leave the image, avoid each
//! other where there is room, and line width and text size follow the image size.
//!
//! The font is Hack, embedded through the `epaint_default_fonts` crate, so nothing has to be
//! installed on the system.

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;

/// One box to draw, with the lines of its label (drawn top to bottom; empty = no label).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxAnnotation {
    /// `[x1, y1, x2, y2]` in image pixels.
    pub bbox: [f32; 4],
    /// Box and label background colour.
    pub color: Rgb<u8>,
    /// Label lines.
    pub lines: Vec<String>,
}

/// Draws [`BoxAnnotation`]s onto images.
#[derive(Debug, Clone)]
pub struct Annotator {
    font: FontRef<'static>,
    line_width: u32,
    text_px: f32,
}

/// A distinct colour for index `i`: hues spaced by the golden angle, so neighbours differ.
#[must_use]
pub fn color_for(i: usize) -> Rgb<u8> {
    // Fractional part of i * golden ratio conjugate gives well-spread hues.
    #[allow(clippy::cast_precision_loss)]
    let hue = (i as f32 * 0.618_034 + 0.05).fract() * 6.0;
    let (s, v) = (0.85f32, 0.95f32);
    let c = v * s;
    let x = c * (1.0 - (hue % 2.0 - 1.0).abs());
    let (r, g, b) = match hue as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let to8 = |f: f32| ((f + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb([to8(r), to8(g), to8(b)])
}

impl Annotator {
    /// An annotator for images of `width × height`. `line_thickness` overrides the automatic
    /// line width, which is YOLOv5's `max(round((h + w + 3) / 2 × 0.003), 2)`.
    ///
    /// # Panics
    /// Never: the embedded font is valid (a test loads it).
    #[must_use]
    pub fn new(width: u32, height: u32, line_thickness: Option<u32>) -> Self {
        let font = FontRef::try_from_slice(epaint_default_fonts::HACK_REGULAR)
            .expect("embedded font is valid");
        let half_sum = f64::from(width + height + 3) / 2.0;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let auto = ((half_sum * 0.003).round() as u32).max(2);
        let line_width = line_thickness.unwrap_or(auto).max(1);
        // Text grows with the image but stays legible on small ones.
        #[allow(clippy::cast_possible_truncation)]
        let text_px = ((half_sum * 0.018) as f32)
            .max(12.0)
            .max(line_width as f32 * 4.0);
        Self {
            font,
            line_width,
            text_px,
        }
    }

    /// The box line width in pixels.
    #[must_use]
    pub fn line_width(&self) -> u32 {
        self.line_width
    }

    /// Draws every annotation: all boxes first, then the labels, placed in the given order
    /// (put the most important first; it gets the best spot).
    pub fn draw(&self, image: &mut RgbImage, annotations: &[BoxAnnotation]) {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return;
        }
        for a in annotations {
            self.draw_box(image, a);
        }
        let mut placed: Vec<Rect> = Vec::new();
        for a in annotations.iter().filter(|a| !a.lines.is_empty()) {
            let (bw, bh, line_h) = self.block_size(&a.lines);
            let rect = place_label(a.bbox, bw, bh, w, h, &placed, self.line_width);
            placed.push(rect);
            draw_filled_rect_mut(image, rect, a.color);
            let text_color = if luminance(a.color) > 140.0 {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            };
            let pad = self.pad();
            for (i, line) in a.lines.iter().enumerate() {
                #[allow(clippy::cast_possible_wrap)]
                let y = rect.top() + pad as i32 + (i as i32) * line_h as i32;
                #[allow(clippy::cast_possible_wrap)]
                draw_text_mut(
                    image,
                    text_color,
                    rect.left() + pad as i32,
                    y,
                    PxScale::from(self.text_px),
                    &self.font,
                    line,
                );
            }
        }
    }

    fn pad(&self) -> u32 {
        (self.line_width / 2).max(2)
    }

    /// Width and height of a label block, and the height of one line.
    fn block_size(&self, lines: &[String]) -> (u32, u32, u32) {
        let scale = PxScale::from(self.text_px);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let line_h = (self.text_px * 1.15).ceil() as u32;
        let text_w = lines
            .iter()
            .map(|l| text_size(scale, &self.font, l).0)
            .max()
            .unwrap_or(0);
        let pad = self.pad();
        #[allow(clippy::cast_possible_truncation)]
        let n = lines.len() as u32;
        (text_w + 2 * pad, n * line_h + 2 * pad, line_h)
    }

    fn draw_box(&self, image: &mut RgbImage, a: &BoxAnnotation) {
        let (w, h) = image.dimensions();
        #[allow(clippy::cast_possible_truncation)]
        let [x1, y1, x2, y2] = a.bbox.map(|v| v.round() as i64);
        let clamp = |v: i64, max: u32| v.clamp(0, i64::from(max) - 1);
        let (x1, x2) = (clamp(x1, w), clamp(x2, w));
        let (y1, y2) = (clamp(y1, h), clamp(y2, h));
        for t in 0..i64::from(self.line_width) {
            let (l, r) = (x1 + t, x2 - t);
            let (tp, b) = (y1 + t, y2 - t);
            if r <= l || b <= tp {
                break;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let rect =
                Rect::at(l as i32, tp as i32).of_size((r - l + 1) as u32, (b - tp + 1) as u32);
            draw_hollow_rect_mut(image, rect, a.color);
        }
    }
}

fn luminance(c: Rgb<u8>) -> f32 {
    0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2])
}

/// Chooses where a `bw × bh` label for `bbox` goes: above the box, inside its top, below it,
/// inside its bottom — the first spot that is inside the image and clear of earlier labels;
/// when none is clear, the one overlapping them least. Always inside the image.
fn place_label(
    bbox: [f32; 4],
    bw: u32,
    bh: u32,
    img_w: u32,
    img_h: u32,
    placed: &[Rect],
    lw: u32,
) -> Rect {
    let bw = bw.min(img_w).max(1);
    let bh = bh.min(img_h).max(1);
    #[allow(clippy::cast_possible_truncation)]
    let [x1, y1, _, y2] = bbox.map(|v| v.round() as i64);
    let (bw_i, bh_i, lw_i) = (i64::from(bw), i64::from(bh), i64::from(lw));
    let candidates = [
        (x1, y1 - bh_i),
        (x1 + lw_i, y1 + lw_i),
        (x1, y2),
        (x1 + lw_i, y2 - bh_i - lw_i),
    ];
    let max_x = i64::from(img_w) - bw_i;
    let max_y = i64::from(img_h) - bh_i;
    let mut best: Option<(i64, Rect)> = None;
    for (i, &(x, y)) in candidates.iter().enumerate() {
        let inside = y >= 0 && y <= max_y;
        let (cx, cy) = (x.clamp(0, max_x.max(0)), y.clamp(0, max_y.max(0)));
        #[allow(clippy::cast_possible_truncation)]
        let rect = Rect::at(cx as i32, cy as i32).of_size(bw, bh);
        let overlap: i64 = placed.iter().map(|p| overlap_area(&rect, p)).sum();
        if inside && overlap == 0 {
            return rect;
        }
        // Prefer spots that were inside before clamping, then the earlier candidate.
        #[allow(clippy::cast_possible_wrap)]
        let cost = overlap * 4 + if inside { 0 } else { bw_i * bh_i } + i as i64;
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, rect));
        }
    }
    best.map_or_else(|| Rect::at(0, 0).of_size(bw, bh), |(_, r)| r)
}

fn overlap_area(a: &Rect, b: &Rect) -> i64 {
    let w = i64::from(a.right().min(b.right())) - i64::from(a.left().max(b.left())) + 1;
    let h = i64::from(a.bottom().min(b.bottom())) - i64::from(a.top().max(b.top())) + 1;
    if w > 0 && h > 0 { w * h } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(r: &Rect, w: u32, h: u32) -> bool {
        r.left() >= 0 && r.top() >= 0 && r.right() < w as i32 && r.bottom() < h as i32
    }

    #[test]
    fn line_width_scales_with_image_like_yolov5() {
        assert_eq!(Annotator::new(1280, 720, None).line_width(), 3);
        assert_eq!(Annotator::new(320, 240, None).line_width(), 2);
        assert_eq!(Annotator::new(4000, 3000, None).line_width(), 11);
        assert_eq!(Annotator::new(1280, 720, Some(7)).line_width(), 7);
    }

    #[test]
    fn labels_stay_inside_and_avoid_each_other() {
        // Two boxes at the top edge, side by side and overlapping: labels can't go above.
        let placed0 = place_label([0.0, 0.0, 100.0, 100.0], 80, 20, 200, 200, &[], 2);
        assert!(inside(&placed0, 200, 200));
        let placed1 = place_label([10.0, 0.0, 110.0, 100.0], 80, 20, 200, 200, &[placed0], 2);
        assert!(inside(&placed1, 200, 200));
        assert_eq!(overlap_area(&placed0, &placed1), 0);
        // A box near the right edge: its label is shifted left to stay inside.
        let r = place_label([190.0, 50.0, 199.0, 150.0], 80, 20, 200, 200, &[], 2);
        assert!(inside(&r, 200, 200));
        assert_eq!(r.top(), 30);
        // A label larger than the image is shrunk to it.
        let r = place_label([0.0, 0.0, 10.0, 10.0], 500, 500, 50, 40, &[], 2);
        assert!(inside(&r, 50, 40));
    }

    #[test]
    fn drawing_changes_pixels_of_box_and_label_only() {
        let mut img = RgbImage::from_pixel(300, 200, Rgb([0, 0, 0]));
        let ann = Annotator::new(300, 200, None);
        let red = Rgb([255, 0, 0]);
        ann.draw(
            &mut img,
            &[BoxAnnotation {
                bbox: [50.0, 60.0, 150.0, 180.0],
                color: red,
                lines: vec!["person 0.88".into()],
            }],
        );
        assert_eq!(img.get_pixel(50, 120), &red); // left edge of the box
        assert_eq!(img.get_pixel(100, 120), &Rgb([0, 0, 0])); // inside stays untouched
        assert_eq!(img.get_pixel(250, 20), &Rgb([0, 0, 0])); // far away untouched
        // The label sits above the box and has white text on red somewhere.
        let label_has_text = (60..200).any(|x| (30..60).any(|y| img.get_pixel(x, y)[1] > 100));
        assert!(label_has_text);
    }

    #[test]
    fn colours_are_distinct() {
        let colors: Vec<_> = (0..10).map(color_for).collect();
        for i in 0..colors.len() {
            for j in i + 1..colors.len() {
                assert_ne!(colors[i], colors[j]);
            }
        }
    }
}
