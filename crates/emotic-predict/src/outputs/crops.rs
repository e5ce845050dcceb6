//! Box crops, as YOLOv5's `--save-crop` writes them.

use emotic::pipeline::FrameResult;
use emotic_io::image_file;
use emotic_io::sinks::crop_box;
use image::RgbImage;

use super::RunFolder;
use crate::Result;
use crate::schema::class_name;

/// Writes `crops/<class>/<stem>.jpg` for every detection (boxes grown like `save_one_box`;
/// one that is empty once clipped is left out).
///
/// # Errors
/// When a file cannot be written.
pub fn write_crops(
    folder: &mut RunFolder,
    stem: &str,
    image: &RgbImage,
    frame: &FrameResult,
    names: &[String],
) -> Result<()> {
    for o in &frame.objects {
        let d = &o.detection;
        let Some(crop) = crop_box(image, d.bbox) else {
            continue;
        };
        let path = folder.unique(&["crops", class_name(names, d.class_id)], stem, "jpg")?;
        image_file::write_rgb(&path, &crop)?;
    }
    Ok(())
}
