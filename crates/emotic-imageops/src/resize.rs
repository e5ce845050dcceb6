//! Bilinear resizing of 8-bit images, bit-exact with OpenCV's `cv2.resize(..., INTER_LINEAR)`.
//!
//! The EMOTIC reference feeds its networks `cv2.resize` outputs, so our inputs must be the same
//! bytes, not merely a good bilinear resize. OpenCV's 8-bit path is fixed-point, and its exact
//! rounding is what we reproduce here:
//!
//! - Source coordinates use half-pixel centres: `f = (d + 0.5) * (src / dst) - 0.5`, computed in
//!   `f64` and then stored as `f32`, `s = floor(f)`, fraction `f - s` in `f32`.
//! - Weights are the fraction pair `(1 - f, f)` scaled by 2048 (11 bits) and rounded to the
//!   nearest integer, ties to even.
//! - Horizontally, a coordinate left of the first or right of the last pixel is clamped to that
//!   pixel *with weights (2048, 0)*. Vertically OpenCV keeps the unclamped fraction and only
//!   clamps the row index, so both taps can read the same row with weights like (819, 1229).
//!   The sum is the same in exact arithmetic but not after the rounding below, so we mirror it.
//! - The horizontal pass keeps exact integer sums `S = a * w0 + b * w1` (up to `255 * 2048`).
//! - The vertical pass is OpenCV's SIMD formula, which rounds differently from its scalar
//!   `(S0 * b0 + S1 * b1 + 2^21) >> 22`: each row sum is first shifted right by 4, multiplied by
//!   its 16-bit weight keeping the high half (`>> 16`, flooring), and the total is rounded with
//!   `(t + 2) >> 2`. The opencv-python 5.0.0 build measured here applies this formula to every
//!   output element, including the row tails the vector loop does not reach (verified on
//!   thousands of random sizes by `tools/gen_resize_golden.py`).
//! - Equal source and destination sizes copy the image, as `cv2.resize` does.
//!
//! An exact 2x downscale goes through OpenCV's "area" shortcut, `(a + b + c + d + 2) >> 2`,
//! which equals the formula above for the weights (1024, 1024), so it needs no special case.

use crate::{Error, Result};

/// Fixed-point scale of the interpolation weights (OpenCV's `INTER_RESIZE_COEF_SCALE`).
const COEF_SCALE: f32 = 2048.0;

/// Source index and the two fixed-point weights for one destination coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    /// First source index (already clamped into the image).
    first: usize,
    /// Second source index (clamped too; equal to `first` at the borders).
    second: usize,
    /// Weight of `first`, out of 2048.
    w0: i32,
    /// Weight of `second`, out of 2048.
    w1: i32,
}

/// Rounds to the nearest integer with ties to even, like `cvRound`/`lrintf`.
fn round_half_even(v: f32) -> i32 {
    // The weights lie in [0, 2048], far inside `i32`.
    v.round_ties_even() as i32
}

/// Computes the taps for one axis. `clamp_fraction` selects the horizontal behaviour (border
/// coordinates snap to the edge pixel with weight 1) versus the vertical one (only the index is
/// clamped).
fn taps(src_len: usize, dst_len: usize, clamp_fraction: bool) -> Vec<Tap> {
    // OpenCV: inv_scale = dst / src as a double, scale = 1 / inv_scale.
    let scale = 1.0 / (dst_len as f64 / src_len as f64);
    let last = src_len as i64 - 1;
    (0..dst_len)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            let mut frac = f - s as f32;
            if clamp_fraction {
                if s < 0 {
                    s = 0;
                    frac = 0.0;
                }
                if s >= last {
                    s = last;
                    frac = 0.0;
                }
            }
            let w0 = round_half_even((1.0 - frac) * COEF_SCALE);
            let w1 = round_half_even(frac * COEF_SCALE);
            // Clamped to [0, last]: both indices are valid and non-negative.
            let first = s.clamp(0, last) as usize;
            let second = (s + 1).clamp(0, last) as usize;
            Tap {
                first,
                second,
                w0,
                w1,
            }
        })
        .collect()
}

/// OpenCV's vertical SIMD step for one element: `S >> 4`, saturated to `i16`, times the 16-bit
/// weight keeping the high 16 bits (an arithmetic shift, so it floors).
fn mul_hi(sum: i32, weight: i32) -> i32 {
    let narrowed = (sum >> 4).clamp(i32::from(i16::MIN), i32::from(i16::MAX));
    (narrowed * weight) >> 16
}

/// Resizes an interleaved 8-bit image (`height` rows of `width * channels` bytes) to
/// `dst_width` x `dst_height`, producing exactly the bytes of
/// `cv2.resize(src, (dst_width, dst_height), interpolation=cv2.INTER_LINEAR)`.
///
/// # Errors
/// [`Error::InvalidInput`] when a size is zero, `channels` is zero, or `src` does not hold
/// `width * height * channels` bytes.
pub fn resize_linear_u8(
    src: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    dst_width: usize,
    dst_height: usize,
) -> Result<Vec<u8>> {
    if width == 0 || height == 0 || channels == 0 || dst_width == 0 || dst_height == 0 {
        return Err(Error::InvalidInput(format!(
            "resize from {width}x{height}x{channels} to {dst_width}x{dst_height}: every size \
             must be at least 1"
        )));
    }
    let expected = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .ok_or_else(|| Error::InvalidInput(format!("image {width}x{height} is too large")))?;
    if src.len() != expected {
        return Err(Error::InvalidInput(format!(
            "image {width}x{height}x{channels} needs {expected} bytes, got {}",
            src.len()
        )));
    }
    if width == dst_width && height == dst_height {
        return Ok(src.to_vec());
    }

    let x_taps = taps(width, dst_width, true);
    let y_taps = taps(height, dst_height, false);
    let row_len = dst_width * channels;

    // Horizontal pass for one source row, into exact integer sums.
    let horizontal = |y: usize, out: &mut [i32]| {
        let row = &src[y * width * channels..(y + 1) * width * channels];
        for (dx, tap) in x_taps.iter().enumerate() {
            let a = &row[tap.first * channels..(tap.first + 1) * channels];
            let b = &row[tap.second * channels..(tap.second + 1) * channels];
            for c in 0..channels {
                out[dx * channels + c] = i32::from(a[c]) * tap.w0 + i32::from(b[c]) * tap.w1;
            }
        }
    };

    // Horizontal sums of every source row the vertical pass reads, each computed once.
    let mut slot_of_row = vec![usize::MAX; height];
    let mut sums: Vec<i32> = Vec::new();
    for tap in &y_taps {
        for y in [tap.first, tap.second] {
            if slot_of_row[y] == usize::MAX {
                slot_of_row[y] = sums.len() / row_len;
                let start = sums.len();
                sums.resize(start + row_len, 0);
                horizontal(y, &mut sums[start..]);
            }
        }
    }

    let mut dst = vec![0u8; row_len * dst_height];
    for (out, tap) in dst.chunks_exact_mut(row_len).zip(&y_taps) {
        let s0 = &sums[slot_of_row[tap.first] * row_len..][..row_len];
        let s1 = &sums[slot_of_row[tap.second] * row_len..][..row_len];
        for ((o, &a), &b) in out.iter_mut().zip(s0).zip(s1) {
            let t = mul_hi(a, tap.w0) + mul_hi(b, tap.w1);
            // OpenCV's 16-bit add saturates; these sums stay far below i16::MAX.
            *o = ((t + 2) >> 2).clamp(0, 255) as u8;
        }
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn border_taps_follow_opencv() {
        // 5 -> 7 columns: the first and last outputs sit outside the source centres and are
        // clamped to the edge pixel with full weight.
        let x = taps(5, 7, true);
        assert_eq!((x[0].first, x[0].w0, x[0].w1), (0, 2048, 0));
        assert_eq!((x[6].first, x[6].w0, x[6].w1), (4, 2048, 0));
        // Interior: (1.5 * 5/7 - 0.5) = 0.571428..., weights round(0.428571 * 2048) = 878, 1170.
        assert_eq!(
            (x[1].first, x[1].second, x[1].w0, x[1].w1),
            (0, 1, 878, 1170)
        );
        // Vertically the fraction is kept: row 0 of 5 from 1 source row reads row 0 twice.
        let y = taps(1, 5, false);
        assert_eq!(
            (y[0].first, y[0].second, y[0].w0, y[0].w1),
            (0, 0, 819, 1229)
        );
    }

    #[test]
    fn rejects_wrong_buffer_size() {
        assert!(resize_linear_u8(&[0; 5], 2, 1, 3, 4, 4).is_err());
        assert!(resize_linear_u8(&[0; 6], 2, 1, 3, 0, 4).is_err());
    }

    #[test]
    fn same_size_is_a_copy() {
        let src: Vec<u8> = (0..24).collect();
        assert_eq!(resize_linear_u8(&src, 4, 2, 3, 4, 2).ok(), Some(src));
    }
}
