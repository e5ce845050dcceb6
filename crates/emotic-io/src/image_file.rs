//! Reading and writing image files.
//!
//! JPEG pixels: the references decode with `cv2.imread`, i.e. libjpeg-turbo. The `image` crate's
//! decoder differs from it by up to 4 levels per sample on the shared fixtures, which moved a
//! YOLOv5 confidence by 0.005. JPEGs are therefore decoded with mozjpeg (a libjpeg-turbo fork,
//! same IDCT and upsampling), which gives exactly OpenCV's pixels; other formats use the `image`
//! crate.
//!
//! EXIF orientation: YOLOv5's `detect.py` reads images with `cv2.imread`, which applies the EXIF
//! orientation tag (OpenCV >= 3.1 does so unless `IMREAD_IGNORE_ORIENTATION` is passed). We do
//! the same, so boxes refer to the image as a viewer shows it.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::{Error, Result};

/// File extensions read as still images (YOLOv5's list minus the formats the `image` crate cannot
/// decode: `dng`, `pfm`). `mpo` is a JPEG with extra frames; the first is read.
pub const IMAGE_EXTENSIONS: &[&str] = &["bmp", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp"];

/// Largest image side accepted; bigger files are refused before decoding.
pub const MAX_SIDE: u32 = 32_768;
/// Most memory one decoded image may take.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;

/// Whether a path has one of [`IMAGE_EXTENSIONS`].
#[must_use]
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Why bytes could not be decoded as an image ([`decode_rgb`]). Front ends that answer a
/// request tell these apart (an HTTP service gives each its own status).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a format we read.
    #[error("not a supported image (JPEG, PNG, BMP, WebP or TIFF)")]
    Unsupported,
    /// The header declares more pixels than allowed; nothing was decoded.
    #[error("{width}x{height} is more than the {limit} pixels allowed")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit it broke.
        limit: u64,
    },
    /// A supported format, but truncated, corrupt, or refused by the decoder's limits.
    #[error("{0}")]
    Corrupt(String),
}

/// Reads an image as 8-bit RGB with its EXIF orientation applied.
///
/// # Errors
/// When the file cannot be opened, is not an image we can decode, is truncated or corrupt, or
/// exceeds [`MAX_SIDE`] / [`MAX_DECODED_BYTES`].
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_rgb(&bytes, u64::MAX).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Decodes an image held in memory exactly as [`read_rgb`] decodes a file, refusing from the
/// header alone, before any pixel is decoded, images with more than `max_pixels` pixels (and
/// always those beyond [`MAX_SIDE`] / [`MAX_DECODED_BYTES`]).
///
/// # Errors
/// See [`DecodeError`].
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> std::result::Result<RgbImage, DecodeError> {
    let corrupt = |e: image::ImageError| DecodeError::Corrupt(e.to_string());
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(DecodeError::Unsupported);
    };
    let is_jpeg = format == image::ImageFormat::Jpeg;
    // Read the header alone first, so an oversized image is told apart from a corrupt one by
    // its declared size; the limits below then guard the decoding itself.
    let (width, height) = ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(corrupt)?;
    let limit = max_pixels.min(u64::from(MAX_SIDE) * u64::from(MAX_SIDE));
    if u64::from(width) * u64::from(height) > limit || width > MAX_SIDE || height > MAX_SIDE {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit,
        });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut image = if is_jpeg {
        DynamicImage::ImageRgb8(decode_jpeg(bytes).map_err(DecodeError::Corrupt)?)
    } else {
        DynamicImage::from_decoder(decoder).map_err(corrupt)?
    };
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(DecodeError::Corrupt("image has no pixels".into()));
    }
    Ok(image.into_rgb8())
}

/// Decodes a JPEG to RGB with libjpeg-turbo's algorithms (see the module docs).
///
/// libjpeg fills a truncated scan with grey and only warns (as `cv2.imread` does); we refuse such
/// files instead, recognising them by the missing end-of-image marker after the last scan.
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    if !matches!((last_scan, end), (Some(s), Some(e)) if e > s) {
        return Err(
            "truncated or corrupt JPEG: no end-of-image marker after the image data".into(),
        );
    }
    // libjpeg reports fatal errors through a callback that unwinds (mozjpeg-sys `unwinding`);
    // catching it here turns a corrupt file into an error instead of a crash.
    let decoded = std::panic::catch_unwind(|| -> std::io::Result<RgbImage> {
        let mut jpeg = mozjpeg::Decompress::new_mem(bytes)?.rgb()?;
        let (w, h) = (jpeg.width(), jpeg.height());
        let too_big = w > MAX_SIDE as usize
            || h > MAX_SIDE as usize
            || (w as u64) * (h as u64) * 3 > MAX_DECODED_BYTES;
        if too_big {
            return Err(std::io::Error::other(format!(
                "{w}x{h} is larger than allowed"
            )));
        }
        let pixels: Vec<[u8; 3]> = jpeg.read_scanlines()?;
        jpeg.finish()?;
        let raw = pixels.into_iter().flatten().collect();
        let (w, h) = (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0));
        RgbImage::from_raw(w, h, raw).ok_or_else(|| std::io::Error::other("decoded size mismatch"))
    });
    match decoded {
        Ok(Ok(image)) => Ok(image),
        Ok(Err(e)) => Err(format!("corrupt JPEG: {e}")),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "decoder error".into());
            Err(format!("corrupt JPEG: {why}"))
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder is renamed over the
/// target only once complete, so a crash never leaves a half-written file under the final name.
///
/// # Errors
/// When the folder is not writable.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    emotic_atomic::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Encodes an RGB image in the format its extension names (JPEG quality 95) and writes it
/// atomically.
///
/// # Errors
/// When encoding or writing fails.
pub fn write_rgb(path: &Path, image: &RgbImage) -> Result<()> {
    let format = image::ImageFormat::from_path(path).unwrap_or(image::ImageFormat::Jpeg);
    let mut bytes = Vec::new();
    let mut cursor = std::io::Cursor::new(&mut bytes);
    if format == image::ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, 95);
        image.write_with_encoder(encoder)
    } else {
        image.write_to(&mut cursor, format)
    }
    .map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: format!("cannot encode: {e}"),
    })?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_case_insensitive() {
        assert!(has_image_extension(Path::new("a/B.JPG")));
        assert!(has_image_extension(Path::new("x.webp")));
        assert!(!has_image_extension(Path::new("notes.txt")));
        assert!(!has_image_extension(Path::new("noext")));
    }

    #[test]
    fn corrupt_truncated_and_non_images_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("fake.jpg");
        std::fs::write(&text, b"hello, I am not a picture").unwrap();
        let err = read_rgb(&text).unwrap_err().to_string();
        assert!(err.contains("fake.jpg"), "{err}");

        let good = dir.path().join("good.png");
        write_rgb(&good, &RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]))).unwrap();
        assert_eq!(read_rgb(&good).unwrap().dimensions(), (40, 30));
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.png");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = read_rgb(&cut).unwrap_err().to_string();
        assert!(err.contains("cut.png"), "{err}");
        assert!(read_rgb(&dir.path().join("missing.jpg")).is_err());
    }

    #[test]
    fn truncated_jpegs_are_refused() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 7]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&img)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.jpg");
        std::fs::write(&whole, &jpeg).unwrap();
        assert_eq!(read_rgb(&whole).unwrap().dimensions(), (64, 48));
        for cut in [jpeg.len() - 2, jpeg.len() / 2, 200, 20] {
            let path = dir.path().join(format!("cut{cut}.jpg"));
            std::fs::write(&path, &jpeg[..cut]).unwrap();
            let err = read_rgb(&path).unwrap_err().to_string();
            assert!(err.contains(&format!("cut{cut}.jpg")), "{err}");
        }
    }

    #[test]
    fn exif_orientation_is_applied() {
        // A 4x2 JPEG tagged "rotate 90 CW" (orientation 6) must come back 2x4.
        let img = RgbImage::from_pixel(4, 2, image::Rgb([200, 10, 10]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&img)
            .unwrap();
        let tagged = insert_exif_orientation(&jpeg, 6);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotated.jpg");
        std::fs::write(&path, tagged).unwrap();
        assert_eq!(read_rgb(&path).unwrap().dimensions(), (2, 4));
    }

    #[test]
    fn huge_images_are_refused_before_decoding() {
        // A valid BMP header claiming 40000 x 40000 pixels and no data.
        let mut bmp = Vec::new();
        bmp.extend_from_slice(b"BM");
        bmp.extend_from_slice(&(54u32).to_le_bytes());
        bmp.extend_from_slice(&[0; 4]);
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&40_000i32.to_le_bytes());
        bmp.extend_from_slice(&40_000i32.to_le_bytes());
        bmp.extend_from_slice(&1u16.to_le_bytes());
        bmp.extend_from_slice(&24u16.to_le_bytes());
        bmp.extend_from_slice(&[0; 24]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.bmp");
        std::fs::write(&path, bmp).unwrap();
        assert!(read_rgb(&path).is_err());
    }

    #[test]
    fn decode_errors_say_which_kind_of_failure() {
        assert!(matches!(
            decode_rgb(b"hello, I am not a picture", u64::MAX),
            Err(DecodeError::Unsupported)
        ));
        let img = RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(decode_rgb(&png, 1200).unwrap().dimensions(), (40, 30));
        assert!(matches!(
            decode_rgb(&png, 1199),
            Err(DecodeError::TooLarge {
                width: 40,
                height: 30,
                limit: 1199
            })
        ));
        assert!(matches!(
            decode_rgb(&png[..png.len() / 2], u64::MAX),
            Err(DecodeError::Corrupt(_))
        ));
    }

    /// Inserts an APP1 EXIF segment with one orientation entry after the SOI marker.
    fn insert_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II*\0");
        tiff.extend_from_slice(&8u32.to_le_bytes());
        tiff.extend_from_slice(&1u16.to_le_bytes()); // one IFD entry
        tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let len = u16::try_from(payload.len() + 2).unwrap();
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }
}
