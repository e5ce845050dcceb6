//! YOLOv5's letterbox: aspect-preserving resize plus constant padding.
//!
//! Geometry follows `utils/augmentations.py::letterbox` exactly, including Python's
//! round-half-to-even in `int(round(...))` and the `±0.1` trick that puts the odd padding pixel
//! at the bottom/right.

use image::{Rgb, RgbImage};

/// Padding colour YOLOv5 uses.
pub const PAD_VALUE: u8 = 114;

/// How the padded canvas is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// Minimal padding: each side is padded only up to the next multiple of the stride
    /// (`auto=True`, what `detect.py` does with PyTorch weights).
    MinimalToStride(u32),
    /// Pad to exactly the requested size (`auto=False`, what fixed-shape ONNX exports need).
    Square,
}

/// Where the image lands inside the letterboxed canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LetterboxGeometry {
    /// Source size `(height, width)`.
    pub source_hw: (u32, u32),
    /// Scale factor applied to the source.
    pub ratio: f64,
    /// Size of the resized image before padding, `(height, width)`.
    pub resized_hw: (u32, u32),
    /// Padding `top, bottom, left, right` in pixels.
    pub pad: [u32; 4],
}

impl LetterboxGeometry {
    /// Computes the geometry for an image of `source_hw` into `target_hw` (height, width).
    #[must_use]
    pub fn new(source_hw: (u32, u32), target_hw: (u32, u32), mode: PadMode) -> Self {
        let (h, w) = (f64::from(source_hw.0), f64::from(source_hw.1));
        let r = (f64::from(target_hw.0) / h).min(f64::from(target_hw.1) / w);
        // Python: new_unpad = int(round(w * r)), int(round(h * r)); round() ties to even.
        let new_w = (w * r).round_ties_even().max(1.0);
        let new_h = (h * r).round_ties_even().max(1.0);
        let mut dw = f64::from(target_hw.1) - new_w;
        let mut dh = f64::from(target_hw.0) - new_h;
        if let PadMode::MinimalToStride(stride) = mode {
            let s = f64::from(stride);
            dw = dw.rem_euclid(s);
            dh = dh.rem_euclid(s);
        }
        dw /= 2.0;
        dh /= 2.0;
        let split = |d: f64| {
            // Clamp keeps the cast lossless; a padding is never negative or beyond u32.
            let lo = (d - 0.1).round_ties_even().clamp(0.0, f64::from(u32::MAX));
            let hi = (d + 0.1).round_ties_even().clamp(0.0, f64::from(u32::MAX));
            (as_u32(lo), as_u32(hi))
        };
        let (top, bottom) = split(dh);
        let (left, right) = split(dw);
        Self {
            source_hw,
            ratio: r,
            resized_hw: (as_u32(new_h), as_u32(new_w)),
            pad: [top, bottom, left, right],
        }
    }

    /// Size of the padded canvas, `(height, width)`.
    #[must_use]
    pub fn output_hw(&self) -> (u32, u32) {
        let [top, bottom, left, right] = self.pad;
        (
            self.resized_hw.0 + top + bottom,
            self.resized_hw.1 + left + right,
        )
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn as_u32(v: f64) -> u32 {
    // Callers pass values already rounded and clamped to the u32 range.
    v as u32
}

/// Letterboxes `image` with `resize` doing the aspect-preserving resize (OpenCV `INTER_LINEAR`
/// semantics in production, see [`crate::imageops`]).
///
/// # Errors
/// Whatever `resize` reports.
pub fn letterbox_with<E>(
    image: &RgbImage,
    geometry: &LetterboxGeometry,
    resize: impl Fn(&RgbImage, u32, u32) -> Result<RgbImage, E>,
) -> Result<RgbImage, E> {
    let (rh, rw) = geometry.resized_hw;
    let resized;
    let src = if image.dimensions() == (rw, rh) {
        image
    } else {
        resized = resize(image, rw, rh)?;
        &resized
    };
    let (oh, ow) = geometry.output_hw();
    let mut canvas = RgbImage::from_pixel(ow, oh, Rgb([PAD_VALUE; 3]));
    image::imageops::replace(
        &mut canvas,
        src,
        i64::from(geometry.pad[2]),
        i64::from(geometry.pad[0]),
    );
    Ok(canvas)
}

/// Converts an RGB image to the network input: CHW, `f32`, scaled to [0, 1] by `/ 255` in `f32`
/// as `torch.from_numpy(im).float() / 255` does.
#[must_use]
pub fn to_chw_unit(image: &RgbImage) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let plane = (w as usize) * (h as usize);
    let mut out = vec![0.0f32; plane * 3];
    for (i, px) in image.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = f32::from(px[c]) / 255.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(h: u32, w: u32, mode: PadMode) -> LetterboxGeometry {
        LetterboxGeometry::new((h, w), (640, 640), mode)
    }

    #[test]
    fn reference_shapes_of_the_fixture_images() {
        // detect.py gives 384x640 for zidane (720x1280) and 640x480 for bus (1080x810).
        let z = geo(720, 1280, PadMode::MinimalToStride(32));
        assert_eq!(z.resized_hw, (360, 640));
        assert_eq!(z.pad, [12, 12, 0, 0]);
        assert_eq!(z.output_hw(), (384, 640));
        let b = geo(1080, 810, PadMode::MinimalToStride(32));
        assert_eq!(b.resized_hw, (640, 480));
        assert_eq!(b.output_hw(), (640, 480));
    }

    #[test]
    fn odd_padding_goes_to_bottom_and_right() {
        // 500x333: r = 1.28, new = (640, 426); dw = 214 -> 214 % 32 = 22 -> 11/11;
        // square: dw = 214 -> 107/107. A height pad of 33 splits 16 top / 17 bottom.
        let g = LetterboxGeometry::new((607, 640), (640, 640), PadMode::Square);
        assert_eq!(g.resized_hw, (607, 640));
        assert_eq!(g.pad, [16, 17, 0, 0]);
        let g = LetterboxGeometry::new((640, 607), (640, 640), PadMode::MinimalToStride(32));
        // dw = 33 % 32 = 1 -> 0.5: round(0.4) = 0 left, round(0.6) = 1 right.
        assert_eq!(g.pad, [0, 0, 0, 1]);
        assert_eq!(g.output_hw(), (640, 608));
    }

    #[test]
    fn rounding_ties_to_even_like_python() {
        // 3x5 into 640: r = 128, exact. 2x5 into 640x640 with r = min(320, 128) = 128.
        // A case where w * r hits .5: w = 5, target 2 -> r = 0.4 (h = 1 -> r = 2): 5 * 0.4 = 2.0;
        // use target 3 / h 2 -> r = 1.5 and w = 3 -> 4.5 -> Python round gives 4, not 5.
        let g = LetterboxGeometry::new((2, 3), (3, 64), PadMode::Square);
        assert!((g.ratio - 1.5).abs() < 1e-12);
        assert_eq!(g.resized_hw, (3, 4));
    }

    #[test]
    fn square_mode_pads_to_the_full_target() {
        let g = geo(720, 1280, PadMode::Square);
        assert_eq!(g.output_hw(), (640, 640));
        assert_eq!(g.pad, [140, 140, 0, 0]);
    }

    #[test]
    fn canvas_has_pad_colour_and_image_in_place() {
        let img = RgbImage::from_pixel(4, 2, Rgb([10, 20, 30]));
        let g = LetterboxGeometry::new((2, 4), (8, 8), PadMode::Square);
        // r = 2, resized 4x8, dh = 4 -> 2 top, 2 bottom.
        let out = letterbox_with(&img, &g, |im, w, h| {
            Ok::<_, ()>(image::imageops::resize(
                im,
                w,
                h,
                image::imageops::FilterType::Nearest,
            ))
        })
        .unwrap();
        assert_eq!(out.dimensions(), (8, 8));
        assert_eq!(out.get_pixel(0, 0), &Rgb([PAD_VALUE; 3]));
        assert_eq!(out.get_pixel(3, 2), &Rgb([10, 20, 30]));
        assert_eq!(out.get_pixel(7, 6), &Rgb([PAD_VALUE; 3]));
        let chw = to_chw_unit(&out);
        assert_eq!(chw.len(), 3 * 64);
        assert!((chw[2 * 8 + 3] - 10.0 / 255.0).abs() < f32::EPSILON);
        assert!((chw[64 + 2 * 8 + 3] - 20.0 / 255.0).abs() < f32::EPSILON);
    }
}
