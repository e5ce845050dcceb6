//! YOLO-format label files, as YOLOv5's `--save-txt` writes them.

use emotic::pipeline::FrameResult;
use emotic_io::image_file;
use emotic_io::sinks::yolo_label_line;

use super::RunFolder;
use crate::Result;

/// The label file's text: `class cx cy w h [conf]` per detection, normalised by the image
/// size.
#[must_use]
pub fn label_text(frame: &FrameResult, image_wh: (u32, u32), with_conf: bool) -> String {
    frame
        .objects
        .iter()
        .map(|o| {
            let d = &o.detection;
            let conf = with_conf.then_some(d.confidence);
            yolo_label_line(d.class_id, d.bbox, image_wh, conf) + "\n"
        })
        .collect()
}

/// Writes `labels/<stem>.txt` (atomically).
///
/// # Errors
/// When the file cannot be written.
pub fn write_labels(
    folder: &mut RunFolder,
    stem: &str,
    frame: &FrameResult,
    image_wh: (u32, u32),
    with_conf: bool,
) -> Result<()> {
    let path = folder.unique(&["labels"], stem, "txt")?;
    image_file::write_atomic(&path, label_text(frame, image_wh, with_conf).as_bytes())?;
    Ok(())
}
