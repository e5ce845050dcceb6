//! Image operations that must match the EMOTIC reference preprocessing byte for byte.
//!
//! The reference reads frames with `cv2.imread`, converts BGR to RGB, crops bodies with
//! `img[y1:y2, x1:x2]`, resizes with `cv2.resize(..., INTER_LINEAR)` and turns the result into a
//! tensor with torchvision's `ToTensor` + `Normalize`. [`resize_rgb`], [`crop_rgb`] and
//! [`normalize_chw`] reproduce those steps exactly (same bytes, same `f32` values).
//!
//! What they cannot control is JPEG decoding. The `image` crate's decoder differs from
//! libjpeg-turbo (used by `cv2.imread`): measured on the shared fixtures `zidane.jpg` and
//! `bus.jpg`, at most 4 levels, mean 0.14 and 0.18 levels, 10-13% of the samples differ; after the
//! 224x224 context resize at most 3 levels, which moved the scores of the random-weight test model
//! by up to 0.11. `emotic_io::image_file::read_rgb` decodes JPEGs with mozjpeg (libjpeg-turbo's
//! algorithms) instead, and with it the whole pipeline matches PyTorch on those images to 1.4e-5
//! (`crates/emotic-cli/tests/infer.rs`). Use that reader for reference parity.

mod error;
mod resize;

pub use error::{Error, Result};

pub use resize::resize_linear_u8;

use image::RgbImage;

/// Resizes an RGB image like `cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)`.
///
/// # Errors
/// [`Error::InvalidInput`] when the source is empty or a target size is zero.
pub fn resize_rgb(img: &RgbImage, width: u32, height: u32) -> Result<RgbImage> {
    let data = resize_linear_u8(
        img.as_raw(),
        img.width() as usize,
        img.height() as usize,
        3,
        width as usize,
        height as usize,
    )?;
    RgbImage::from_raw(width, height, data)
        .ok_or_else(|| Error::InvalidInput(format!("resize to {width}x{height}: buffer mismatch")))
}

/// A pixel rectangle `[x1, x2) x [y1, y2)`, the numpy slice `img[y1:y2, x1:x2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelRect {
    /// First column.
    pub x1: u32,
    /// First row.
    pub y1: u32,
    /// One past the last column.
    pub x2: u32,
    /// One past the last row.
    pub y2: u32,
}

impl PixelRect {
    /// Width in pixels (0 when degenerate).
    #[must_use]
    pub fn width(&self) -> u32 {
        self.x2.saturating_sub(self.x1)
    }

    /// Height in pixels (0 when degenerate).
    #[must_use]
    pub fn height(&self) -> u32 {
        self.y2.saturating_sub(self.y1)
    }
}

/// Copies `img[y1:y2, x1:x2]`.
///
/// # Errors
/// [`Error::InvalidInput`] when the rectangle is empty or reaches outside the image (clip it
/// first; numpy would silently shorten it, which is how the reference produced empty crops).
pub fn crop_rgb(img: &RgbImage, rect: PixelRect) -> Result<RgbImage> {
    if rect.width() == 0 || rect.height() == 0 || rect.x2 > img.width() || rect.y2 > img.height() {
        return Err(Error::InvalidInput(format!(
            "crop [{}:{}, {}:{}] of a {}x{} image is empty or outside it",
            rect.y1,
            rect.y2,
            rect.x1,
            rect.x2,
            img.width(),
            img.height()
        )));
    }
    let stride = img.width() as usize * 3;
    let (x1, x2) = (rect.x1 as usize * 3, rect.x2 as usize * 3);
    let mut out = Vec::with_capacity((x2 - x1) * rect.height() as usize);
    for row in img
        .as_raw()
        .chunks_exact(stride)
        .skip(rect.y1 as usize)
        .take(rect.height() as usize)
    {
        out.extend_from_slice(&row[x1..x2]);
    }
    RgbImage::from_raw(rect.width(), rect.height(), out)
        .ok_or_else(|| Error::InvalidInput("crop: buffer mismatch".to_string()))
}

/// Per-channel mean and standard deviation (defined with the model's values in `emotic-spec`).
pub use emotic_spec::Normalization;

/// Appends `img` as a CHW `f32` tensor, computed exactly like torchvision's
/// `Normalize(mean, std)(ToTensor()(img))`: `(v / 255 - mean) / std`, each step rounded to `f32`.
pub fn normalize_chw(img: &RgbImage, norm: &Normalization, out: &mut Vec<f32>) {
    normalize_hwc_u8(img.as_raw(), norm, out);
}

/// [`normalize_chw`] on raw interleaved RGB bytes (HWC), such as a memory-mapped dataset record.
pub fn normalize_hwc_u8(pixels: &[u8], norm: &Normalization, out: &mut Vec<f32>) {
    out.reserve(pixels.len());
    for c in 0..3 {
        let (mean, std) = (norm.mean[c], norm.std[c]);
        out.extend(
            pixels
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| (f32::from(v) / 255.0 - mean) / std),
        );
    }
}

/// 64-bit FNV-1a hash of a byte string. The fixture generators record hashes of preprocessed
/// images and tensors with the same function, so tests can compare large arrays without
/// committing them.
#[must_use]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_numpy_slice() {
        let img = RgbImage::from_fn(4, 3, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let c = crop_rgb(
            &img,
            PixelRect {
                x1: 1,
                y1: 1,
                x2: 3,
                y2: 3,
            },
        )
        .ok();
        let c = c.as_ref().map(|c| {
            (
                c.width(),
                c.height(),
                c.get_pixel(0, 0).0,
                c.get_pixel(1, 1).0,
            )
        });
        assert_eq!(c, Some((2, 2, [1, 1, 7], [2, 2, 7])));
        assert!(
            crop_rgb(
                &img,
                PixelRect {
                    x1: 2,
                    y1: 0,
                    x2: 2,
                    y2: 3
                }
            )
            .is_err()
        );
        assert!(
            crop_rgb(
                &img,
                PixelRect {
                    x1: 0,
                    y1: 0,
                    x2: 5,
                    y2: 3
                }
            )
            .is_err()
        );
    }

    #[test]
    fn normalize_is_chw_and_exact() {
        let img = RgbImage::from_raw(2, 1, vec![0, 128, 255, 10, 20, 30]).unwrap_or_default();
        let norm = Normalization {
            mean: [0.5, 0.25, 0.0],
            std: [0.5, 0.25, 1.0],
        };
        let mut out = Vec::new();
        normalize_chw(&img, &norm, &mut out);
        let expect = [
            (0.0 / 255.0 - 0.5) / 0.5,
            (10.0f32 / 255.0 - 0.5) / 0.5,
            (128.0f32 / 255.0 - 0.25) / 0.25,
            (20.0f32 / 255.0 - 0.25) / 0.25,
            255.0f32 / 255.0,
            30.0f32 / 255.0,
        ];
        assert_eq!(out, expect);
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
