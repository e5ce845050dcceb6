//! `curves.png` of a run: left panel the training (blue) and validation (orange) loss, each
//! relative to its first epoch (the two are sums over different numbers of persons), on a
//! 0 to max scale; right panel the validation mAP (green) on 0 to 1. Grey lines mark tenths.
//! No text: the numbers are in `metrics.csv`.

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::checkpoint::EpochMetrics;
use crate::{Error, Result};

const W: u32 = 400;
const H: u32 = 300;
const PAD: u32 = 20;

fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: Rgb<u8>) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        let x = x0 + (x1 - x0) * s / steps;
        let y = y0 + (y1 - y0) * s / steps;
        for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
            let (px, py) = (x + dx, y + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, color);
            }
        }
    }
}

/// Draws `values` (already scaled to 0..1) into the panel starting at `x_off`.
fn series(img: &mut RgbImage, x_off: u32, values: &[f64], color: Rgb<u8>) {
    let n = values.len();
    let point = |i: usize, v: f64| -> (i64, i64) {
        let x = x_off
            + PAD
            + if n > 1 {
                (W - 2 * PAD) * i as u32 / (n as u32 - 1)
            } else {
                0
            };
        let v = if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let y = (H - PAD) as f64 - v * (H - 2 * PAD) as f64;
        (i64::from(x), y.round() as i64)
    };
    for i in 1..n {
        line(img, point(i - 1, values[i - 1]), point(i, values[i]), color);
    }
    if n == 1 {
        let p = point(0, values[0]);
        line(img, p, (p.0 + 2, p.1), color);
    }
}

/// Writes the curves of `history` to `path` (PNG).
pub fn write_curves(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut img = RgbImage::from_pixel(2 * W, H, Rgb([255, 255, 255]));
    for panel in 0..2 {
        for t in 0..=10 {
            let y = i64::from(H - PAD) - i64::from((H - 2 * PAD) * t / 10);
            let x0 = i64::from(panel * W + PAD);
            line(
                &mut img,
                (x0, y),
                (x0 + i64::from(W - 2 * PAD), y),
                Rgb([225, 225, 225]),
            );
        }
    }
    let relative = |values: Vec<f64>| -> Vec<f64> {
        let first = values.first().copied().unwrap_or(1.0);
        let rel: Vec<f64> = values.iter().map(|v| v / first).collect();
        let max = rel
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(1.0, f64::max);
        rel.iter().map(|v| v / max).collect()
    };
    series(
        &mut img,
        0,
        &relative(history.iter().map(|m| m.train_loss).collect()),
        Rgb([31, 119, 180]),
    );
    series(
        &mut img,
        0,
        &relative(history.iter().map(|m| m.val_loss).collect()),
        Rgb([255, 127, 14]),
    );
    series(
        &mut img,
        W,
        &history.iter().map(|m| m.val_map).collect::<Vec<_>>(),
        Rgb([44, 160, 44]),
    );
    // Encoded in memory, then written atomically: a crash mid-epoch never leaves half a PNG.
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    crate::trainer::write_atomic(path, png.get_ref())
}
