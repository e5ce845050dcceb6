//! Train-time augmentation of the reference (`RandomHorizontalFlip()` then
//! `ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)` on PIL images), applied to
//! interleaved RGB `u8` images. Context and body draw independently.
//!
//! The colour operations follow Pillow's `ImageEnhance` arithmetic: each blends the image with
//! a "degenerate" image (`out = degenerate + f·(img − degenerate)`, computed in float, clipped
//! to [0, 255] and truncated to `u8`, as `Image.blend` does): black for brightness, the rounded
//! mean grey level for contrast, the pixel's own grey level for saturation. Grey is Pillow's
//! `L` conversion, `(19595 R + 38470 G + 7471 B + 32768) >> 16`. The three are applied in a
//! random order with factors uniform in [0.6, 1.4], like torchvision's `ColorJitter`.

use crate::rng::Rng;

/// Augmentation strength.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AugmentConfig {
    /// Probability of a horizontal flip (0.5).
    pub flip: f64,
    /// Brightness jitter (0.4: factor in [0.6, 1.4]).
    pub brightness: f64,
    /// Contrast jitter (0.4).
    pub contrast: f64,
    /// Saturation jitter (0.4).
    pub saturation: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip: 0.5,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
        }
    }
}

/// Pillow's `L` (grey) value of one RGB pixel.
#[must_use]
pub fn grey(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000) >> 16) as u8
}

/// `Image.blend(degenerate, image, factor)` for one channel value.
fn blend(degenerate: u8, value: u8, factor: f32) -> u8 {
    let t = f32::from(degenerate) + factor * (f32::from(value) - f32::from(degenerate));
    if t <= 0.0 {
        0
    } else if t >= 255.0 {
        255
    } else {
        t as u8
    }
}

/// Mirrors an interleaved RGB image of `width` pixels per row in place.
pub fn flip_horizontal(pixels: &mut [u8], width: usize) {
    for row in pixels.chunks_exact_mut(width * 3) {
        for x in 0..width / 2 {
            let (a, b) = (x * 3, (width - 1 - x) * 3);
            for c in 0..3 {
                row.swap(a + c, b + c);
            }
        }
    }
}

/// `ImageEnhance.Brightness(img).enhance(factor)`.
pub fn adjust_brightness(pixels: &mut [u8], factor: f32) {
    for v in pixels.iter_mut() {
        *v = blend(0, *v, factor);
    }
}

/// `ImageEnhance.Contrast(img).enhance(factor)`: blends with the image's mean grey level,
/// rounded to an integer.
pub fn adjust_contrast(pixels: &mut [u8], factor: f32) {
    let count = (pixels.len() / 3).max(1);
    let sum: u64 = pixels
        .chunks_exact(3)
        .map(|p| u64::from(grey(p[0], p[1], p[2])))
        .sum();
    let mean = (sum as f64 / count as f64 + 0.5) as u8;
    for v in pixels.iter_mut() {
        *v = blend(mean, *v, factor);
    }
}

/// `ImageEnhance.Color(img).enhance(factor)`: blends each pixel with its grey level.
pub fn adjust_saturation(pixels: &mut [u8], factor: f32) {
    for p in pixels.chunks_exact_mut(3) {
        let l = grey(p[0], p[1], p[2]);
        for v in p.iter_mut() {
            *v = blend(l, *v, factor);
        }
    }
}

/// Flip and colour jitter with fresh draws from `rng`.
pub fn augment(pixels: &mut [u8], width: usize, config: &AugmentConfig, rng: &mut Rng) {
    if rng.bernoulli(config.flip) {
        flip_horizontal(pixels, width);
    }
    let mut order = [0usize, 1, 2];
    rng.shuffle(&mut order);
    let factor = |rng: &mut Rng, s: f64| rng.uniform((1.0 - s).max(0.0), 1.0 + s) as f32;
    let fb = factor(rng, config.brightness);
    let fc = factor(rng, config.contrast);
    let fs = factor(rng, config.saturation);
    for op in order {
        match op {
            0 if config.brightness > 0.0 => adjust_brightness(pixels, fb),
            1 if config.contrast > 0.0 => adjust_contrast(pixels, fc),
            2 if config.saturation > 0.0 => adjust_saturation(pixels, fs),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_matches_pillow_weights() {
        assert_eq!(grey(255, 255, 255), 255);
        assert_eq!(grey(255, 0, 0), 76); // Pillow: Image.new("RGB",(1,1),(255,0,0)).convert("L")
        assert_eq!(grey(0, 255, 0), 150);
        assert_eq!(grey(0, 0, 255), 29);
    }

    #[test]
    fn flip_twice_is_identity_and_mirrors_columns() {
        let mut img: Vec<u8> = (0..2 * 3 * 3).map(|v| v as u8).collect(); // 3 wide, 2 high
        let orig = img.clone();
        flip_horizontal(&mut img, 3);
        assert_eq!(&img[0..3], &orig[6..9]);
        assert_eq!(&img[3..6], &orig[3..6]);
        flip_horizontal(&mut img, 3);
        assert_eq!(img, orig);
    }

    #[test]
    fn enhance_factor_one_is_identity_and_zero_is_degenerate() {
        let img: Vec<u8> = vec![10, 200, 30, 250, 5, 128];
        let mut a = img.clone();
        adjust_brightness(&mut a, 1.0);
        adjust_contrast(&mut a, 1.0);
        adjust_saturation(&mut a, 1.0);
        assert_eq!(a, img);
        let mut b = img.clone();
        adjust_saturation(&mut b, 0.0);
        assert_eq!(
            b,
            vec![grey(10, 200, 30); 3]
                .into_iter()
                .chain(vec![grey(250, 5, 128); 3])
                .collect::<Vec<_>>()
        );
        let mut c = img;
        adjust_brightness(&mut c, 2.0);
        assert_eq!(c, vec![20, 255, 60, 255, 10, 255]);
    }
}
