//! A PNG of one track's valence, arousal and dominance over time: the per-frame values as thin
//! light lines, the smoothed values as thick lines, on a 1-10 scale widened to fit the data.
//! Text uses the annotator's embedded font (Hack), so no system font is needed.

use std::path::Path;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_line_segment_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;

use emotic::tracking::VadPoint;

use crate::Result;

/// Plot size in pixels.
pub const PLOT_SIZE: (u32, u32) = (900, 420);
const MARGIN_LEFT: f32 = 60.0;
const MARGIN_RIGHT: f32 = 20.0;
const MARGIN_TOP: f32 = 50.0;
const MARGIN_BOTTOM: f32 = 50.0;
/// Valence, arousal, dominance colours (blue, orange, green).
const COLORS: [Rgb<u8>; 3] = [Rgb([31, 119, 180]), Rgb([255, 127, 14]), Rgb([44, 160, 44])];
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);

/// Maps data to pixels inside the plot area.
struct Axes {
    t0: f64,
    t1: f64,
    v0: f32,
    v1: f32,
}

impl Axes {
    #[allow(clippy::cast_possible_truncation)]
    fn x(&self, t: f64) -> f32 {
        let width = PLOT_SIZE.0 as f32 - MARGIN_LEFT - MARGIN_RIGHT;
        MARGIN_LEFT + ((t - self.t0) / (self.t1 - self.t0)) as f32 * width
    }

    fn y(&self, v: f32) -> f32 {
        let height = PLOT_SIZE.1 as f32 - MARGIN_TOP - MARGIN_BOTTOM;
        MARGIN_TOP + (1.0 - (v - self.v0) / (self.v1 - self.v0)) * height
    }
}

/// Draws the plot of `points` (from [`emotic::tracking::TrackHistory::points`]).
#[must_use]
pub fn render_vad_plot(title: &str, points: &[VadPoint], vad_names: [&str; 3]) -> RgbImage {
    let (w, h) = PLOT_SIZE;
    let mut image = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let font = FontRef::try_from_slice(epaint_default_fonts::HACK_REGULAR).ok();
    let finite = |v: f32| v.is_finite();
    let values = points
        .iter()
        .flat_map(|p| p.raw.into_iter().chain(p.smoothed))
        .filter(|v| finite(*v));
    let (lo, hi) = values.fold((1.0f32, 10.0f32), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let t0 = points.first().map_or(0.0, |p| p.timestamp_s);
    let t1 = points.last().map_or(1.0, |p| p.timestamp_s).max(t0 + 1e-3);
    let axes = Axes {
        t0,
        t1,
        v0: lo.floor(),
        v1: hi.ceil().max(lo.floor() + 1.0),
    };

    // Grid and y labels.
    let step = ((axes.v1 - axes.v0) / 10.0).ceil().max(1.0);
    let mut v = axes.v0;
    while v <= axes.v1 + 1e-3 {
        let y = axes.y(v);
        draw_line_segment_mut(
            &mut image,
            (MARGIN_LEFT, y),
            (w as f32 - MARGIN_RIGHT, y),
            GRID,
        );
        label(
            &mut image,
            font.as_ref(),
            &format!("{v:.0}"),
            MARGIN_LEFT - 8.0,
            y,
            Align::Right,
        );
        v += step;
    }
    // x ticks: about six, at round numbers of seconds.
    let span = axes.t1 - axes.t0;
    let raw_step = span / 6.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let tick = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step)
        .unwrap_or(raw_step);
    let mut t = (axes.t0 / tick).ceil() * tick;
    while t <= axes.t1 + 1e-9 {
        let x = axes.x(t);
        draw_line_segment_mut(
            &mut image,
            (x, MARGIN_TOP),
            (x, h as f32 - MARGIN_BOTTOM),
            GRID,
        );
        label(
            &mut image,
            font.as_ref(),
            &format_seconds(t, tick),
            x,
            h as f32 - MARGIN_BOTTOM + 14.0,
            Align::Center,
        );
        t += tick;
    }
    // Axes frame.
    let (l, r, top, bottom) = (
        MARGIN_LEFT,
        w as f32 - MARGIN_RIGHT,
        MARGIN_TOP,
        h as f32 - MARGIN_BOTTOM,
    );
    for (a, b) in [
        ((l, top), (l, bottom)),
        ((l, bottom), (r, bottom)),
        ((l, top), (r, top)),
        ((r, top), (r, bottom)),
    ] {
        draw_line_segment_mut(&mut image, a, b, BLACK);
    }
    label(
        &mut image,
        font.as_ref(),
        "time (s)",
        (l + r) / 2.0,
        h as f32 - 14.0,
        Align::Center,
    );

    // Data: raw values light and thin, smoothed values dark and thick.
    for (k, color) in COLORS.iter().enumerate() {
        let light = Rgb(color.0.map(|c| c / 3 + 170));
        let mut draw_series = |get: &dyn Fn(&VadPoint) -> f32, thick: bool, color: Rgb<u8>| {
            for pair in points.windows(2) {
                let (a, b) = (get(&pair[0]), get(&pair[1]));
                if !finite(a) || !finite(b) {
                    continue;
                }
                let (x0, x1) = (axes.x(pair[0].timestamp_s), axes.x(pair[1].timestamp_s));
                let offsets: &[f32] = if thick { &[-1.0, 0.0, 1.0] } else { &[0.0] };
                for d in offsets {
                    draw_line_segment_mut(
                        &mut image,
                        (x0, axes.y(a) + d),
                        (x1, axes.y(b) + d),
                        color,
                    );
                }
            }
            if points.len() == 1 && finite(get(&points[0])) {
                let (x, y) = (axes.x(points[0].timestamp_s), axes.y(get(&points[0])));
                #[allow(clippy::cast_possible_truncation)]
                draw_filled_rect_mut(
                    &mut image,
                    Rect::at(x as i32 - 2, y as i32 - 2).of_size(5, 5),
                    color,
                );
            }
        };
        draw_series(&|p: &VadPoint| p.raw[k], false, light);
        draw_series(&|p: &VadPoint| p.smoothed[k], true, *color);
    }

    // Title and legend.
    label(&mut image, font.as_ref(), title, l, 14.0, Align::Left);
    let mut x = l;
    for (name, color) in vad_names.iter().zip(COLORS) {
        #[allow(clippy::cast_possible_truncation)]
        draw_filled_rect_mut(&mut image, Rect::at(x as i32, 33).of_size(18, 6), color);
        x += 24.0;
        x += label(&mut image, font.as_ref(), name, x, 36.0, Align::Left) + 18.0;
    }
    label(
        &mut image,
        font.as_ref(),
        "thin: per frame, thick: smoothed",
        r,
        36.0,
        Align::Right,
    );
    image
}

/// Writes the plot as a PNG (atomically).
///
/// # Errors
/// When encoding or writing fails.
pub fn write_vad_plot(
    path: &Path,
    title: &str,
    points: &[VadPoint],
    vad_names: [&str; 3],
) -> Result<()> {
    let image = render_vad_plot(title, points, vad_names);
    Ok(emotic_io::image_file::write_rgb(path, &image)?)
}

fn format_seconds(t: f64, tick: f64) -> String {
    if tick >= 1.0 {
        format!("{t:.0}")
    } else {
        format!("{t:.*}", decimals(tick))
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn decimals(tick: f64) -> usize {
    (-tick.log10().floor()).clamp(0.0, 6.0) as usize
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
    Right,
}

/// Draws text vertically centred on `y`; returns its width.
fn label(
    image: &mut RgbImage,
    font: Option<&FontRef<'_>>,
    text: &str,
    x: f32,
    y: f32,
    align: Align,
) -> f32 {
    let Some(font) = font else { return 0.0 };
    let scale = PxScale::from(14.0);
    let (tw, th) = text_size(scale, font, text);
    #[allow(clippy::cast_precision_loss)]
    let (tw, th) = (tw as f32, th as f32);
    let left = match align {
        Align::Left => x,
        Align::Center => x - tw / 2.0,
        Align::Right => x - tw,
    };
    #[allow(clippy::cast_possible_truncation)]
    draw_text_mut(
        image,
        BLACK,
        left as i32,
        (y - th / 2.0) as i32,
        scale,
        font,
        text,
    );
    tw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: u64, v: f32) -> VadPoint {
        #[allow(clippy::cast_precision_loss)]
        let t = i as f64 * 0.1;
        VadPoint {
            frame_index: i,
            timestamp_s: t,
            raw: [v, 5.0, 2.0],
            smoothed: [v, 5.0, 2.0],
        }
    }

    #[test]
    fn lines_land_where_the_values_are() {
        let points: Vec<VadPoint> = (0..20).map(|i| point(i, 8.0)).collect();
        let image = render_vad_plot("track 1", &points, ["Valence", "Arousal", "Dominance"]);
        assert_eq!(image.dimensions(), PLOT_SIZE);
        let axes = Axes {
            t0: 0.0,
            t1: 1.9,
            v0: 1.0,
            v1: 10.0,
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let at =
            |t: f64, v: f32| *image.get_pixel(axes.x(t).round() as u32, axes.y(v).round() as u32);
        // Valence at 8 is blue, arousal at 5 orange, dominance at 2 green, in mid-plot.
        assert_eq!(at(1.0, 8.0), COLORS[0]);
        assert_eq!(at(1.0, 5.0), COLORS[1]);
        assert_eq!(at(1.0, 2.0), COLORS[2]);
        // Nothing drawn at 6.5 there (between grid lines).
        assert_eq!(at(1.05, 6.5), Rgb([255, 255, 255]));
    }

    #[test]
    fn writes_a_png_even_for_one_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.png");
        write_vad_plot(&path, "track 2", &[point(0, 4.0)], ["V", "A", "D"]).unwrap();
        let back = image::open(&path).unwrap();
        assert_eq!((back.width(), back.height()), PLOT_SIZE);
    }
}
