//! Result files: YOLO-format labels, box crops and JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::{Error, Result};

/// Formats a number like Python's `'%g' % x` (6 significant digits, trailing zeros removed,
/// scientific notation below 1e-4 and from 1e6), which YOLOv5 uses for label files.
#[must_use]
pub fn format_g(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // Round to 6 significant digits first: the exponent after rounding decides the style.
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    strip_zeros(&format!("{x:.decimals$}")).to_string()
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// One YOLO label line: `class cx cy w h [conf]`, normalised by the image size.
#[must_use]
pub fn yolo_label_line(
    class_id: usize,
    bbox: [f32; 4],
    image_wh: (u32, u32),
    conf: Option<f32>,
) -> String {
    let (w, h) = (f64::from(image_wh.0), f64::from(image_wh.1));
    let [x1, y1, x2, y2] = bbox.map(f64::from);
    let mut fields = vec![
        class_id.to_string(),
        format_g((x1 + x2) / 2.0 / w),
        format_g((y1 + y2) / 2.0 / h),
        format_g((x2 - x1) / w),
        format_g((y2 - y1) / h),
    ];
    if let Some(c) = conf {
        fields.push(format_g(f64::from(c)));
    }
    fields.join(" ")
}

/// The region YOLOv5's `save_one_box` crops: the box grown by 2 % plus 10 px, truncated to
/// integers and clipped to the image. `None` when nothing is left.
#[must_use]
pub fn crop_region(bbox: [f32; 4], image_wh: (u32, u32)) -> Option<(u32, u32, u32, u32)> {
    let [x1, y1, x2, y2] = bbox.map(f64::from);
    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let (bw, bh) = ((x2 - x1) * 1.02 + 10.0, (y2 - y1) * 1.02 + 10.0);
    // `.long()` truncates toward zero; then clip to the image.
    #[allow(clippy::cast_possible_truncation)]
    let t = |v: f64, max: u32| (v.trunc() as i64).clamp(0, i64::from(max));
    let (l, r) = (t(cx - bw / 2.0, image_wh.0), t(cx + bw / 2.0, image_wh.0));
    let (top, b) = (t(cy - bh / 2.0, image_wh.1), t(cy + bh / 2.0, image_wh.1));
    if r <= l || b <= top {
        return None;
    }
    let u = |v: i64| u32::try_from(v).unwrap_or(0);
    Some((u(l), u(top), u(r - l), u(b - top)))
}

/// Crops a box like YOLOv5's `save_one_box`.
#[must_use]
pub fn crop_box(image: &RgbImage, bbox: [f32; 4]) -> Option<RgbImage> {
    let (x, y, w, h) = crop_region(bbox, image.dimensions())?;
    Some(image::imageops::crop_imm(image, x, y, w, h).to_image())
}

/// A file that grows by whole records only: each append is written and flushed, and one that
/// fails (a full disk) is cut off again, so the file always ends with a complete record. A run
/// stopped by an error or a signal leaves every earlier record readable.
#[derive(Debug)]
pub struct AppendFile {
    path: PathBuf,
    file: std::fs::File,
    /// Bytes of complete records.
    len: u64,
}

impl AppendFile {
    /// Creates the file; it must not exist yet (run folders are fresh).
    ///
    /// # Errors
    /// When the file exists or cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len: 0,
        })
    }

    /// Appends `record` whole, or not at all.
    ///
    /// # Errors
    /// When writing fails (the file is then as it was before the call, as far as the file
    /// system lets us truncate it).
    pub fn append(&mut self, record: &[u8]) -> Result<()> {
        let written = self.file.write_all(record).and_then(|()| self.file.flush());
        if let Err(e) = written {
            // Best effort: a file system that refused the write may refuse this too, and the
            // first error is the one to report.
            let _ = self.file.set_len(self.len);
            let _ = std::io::Seek::seek(&mut self.file, std::io::SeekFrom::Start(self.len));
            return Err(Error::io(&self.path, e));
        }
        self.len += record.len() as u64;
        Ok(())
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A JSON-lines file written one complete line at a time ([`AppendFile`]), so a run that is
/// stopped, or fails on a full disk, leaves only whole records behind.
#[derive(Debug)]
pub struct JsonLines {
    file: AppendFile,
}

impl JsonLines {
    /// Creates the file; it must not exist yet (run folders are fresh).
    ///
    /// # Errors
    /// When the file exists or cannot be created.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            file: AppendFile::create(path)?,
        })
    }

    /// Appends one record.
    ///
    /// # Errors
    /// When serialising or writing fails.
    pub fn write<T: serde::Serialize>(&mut self, record: &T) -> Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.file.append(&line)
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g_matches_python() {
        // Expected strings are Python's '%g' % x.
        let cases = [
            (0.5, "0.5"),
            (0.123_456_789, "0.123457"),
            (1.0, "1"),
            (100.0, "100"),
            (123_456.7, "123457"),
            (1_234_567.0, "1.23457e+06"),
            (0.000_123_4, "0.0001234"),
            (0.000_012_34, "1.234e-05"),
            (999_999.5, "1e+06"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.3"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g(x), want, "{x}");
        }
    }

    #[test]
    fn label_line_is_normalised_xywh() {
        let line = yolo_label_line(0, [100.0, 50.0, 300.0, 250.0], (400, 500), Some(0.87576));
        assert_eq!(line, "0 0.5 0.3 0.5 0.4 0.87576");
        assert_eq!(
            yolo_label_line(27, [0.0, 0.0, 400.0, 500.0], (400, 500), None),
            "27 0.5 0.5 1 1"
        );
    }

    #[test]
    fn crop_grows_and_clips_like_save_one_box() {
        // 100x200 box centred at (150, 200): grown to 112x214 -> [94, 93, 206, 307].
        assert_eq!(
            crop_region([100.0, 100.0, 200.0, 300.0], (1000, 1000)),
            Some((94, 93, 112, 214))
        );
        // At the corner: clipped at 0.
        assert_eq!(
            crop_region([0.0, 0.0, 10.0, 10.0], (50, 50)),
            Some((0, 0, 15, 15))
        );
        // Entirely outside: nothing.
        assert_eq!(crop_region([60.0, 60.0, 70.0, 70.0], (20, 20)), None);
    }

    #[test]
    fn json_lines_are_whole_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let mut out = JsonLines::create(&path).unwrap();
        out.write(&serde_json::json!({"a": 1})).unwrap();
        out.write(&serde_json::json!({"b": [1, 2]})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":[1,2]}\n"
        );
        assert!(JsonLines::create(&path).is_err());
    }
}
