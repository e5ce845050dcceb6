//! `emotic prepare`: the official release (Input A) or the reference arrays (Input B) to
//! our dataset format, one split at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emotic_imageops::{PixelRect, crop_rgb, resize_rgb};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};

use crate::annotations::{SkipReason, parse_split};
use crate::dataset::{DatasetWriter, Meta, OwnedRecord};
use crate::mat::read_mat_file;
use crate::{BODY_SIZE, CONTEXT_SIZE, Error, Result, reference};

/// A decoded image with its context, or why it cannot be used.
type Decoded = std::result::Result<(RgbImage, Vec<u8>), SkipReason>;

/// A per-file problem that made persons be skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    /// The image file.
    pub path: PathBuf,
    /// Why its persons were skipped.
    pub reason: SkipReason,
    /// Details (decoder message, box).
    pub message: String,
}

/// What preparing one split did.
#[derive(Debug, Clone)]
pub struct SplitSummary {
    /// The written `meta.json` (count and skip counts).
    pub meta: Meta,
    /// Images that could not be used, one entry per file (and per bad box).
    pub problems: Vec<FileProblem>,
}

/// Decodes an image like `cv2.imread` + BGR2RGB: EXIF orientation applied, RGB 8-bit, JPEGs
/// with libjpeg-turbo's algorithms so the pixels equal OpenCV's (see `emotic_io::image_file`).
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    Ok(emotic_io::image_file::read_rgb(path)?)
}

/// The reference's context: the whole image resized to 224x224 (INTER_LINEAR).
pub fn context_of(img: &RgbImage, path: &Path) -> Result<Vec<u8>> {
    let ctx = resize_rgb(img, CONTEXT_SIZE.width, CONTEXT_SIZE.height).map_err(|source| {
        Error::ImageOps {
            path: path.display().to_string(),
            source,
        }
    })?;
    Ok(ctx.into_raw())
}

/// The reference's body: `img[y1:y2, x1:x2]` resized to 128x128. None for an empty crop.
pub fn body_of(img: &RgbImage, bbox: [u32; 4], path: &Path) -> Result<Option<Vec<u8>>> {
    // numpy slicing clips at the image edge; the box is already clamped to image_size,
    // which may differ from the decoded size, so clip again the same way.
    let rect = PixelRect {
        x1: bbox[0].min(img.width()),
        y1: bbox[1].min(img.height()),
        x2: bbox[2].min(img.width()),
        y2: bbox[3].min(img.height()),
    };
    if rect.width() == 0 || rect.height() == 0 {
        return Ok(None);
    }
    let map = |source| Error::ImageOps {
        path: path.display().to_string(),
        source,
    };
    let crop = crop_rgb(img, rect).map_err(map)?;
    Ok(Some(
        resize_rgb(&crop, BODY_SIZE.width, BODY_SIZE.height)
            .map_err(map)?
            .into_raw(),
    ))
}

fn progress(len: usize, show: bool, split: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>5} [{bar:40}] {pos}/{len} persons ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(split.to_string());
    bar
}

fn named_counts(counts: &BTreeMap<SkipReason, usize>) -> BTreeMap<String, usize> {
    counts
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), *v))
        .collect()
}

/// Input A: `data_dir/Annotations/Annotations.mat` + `data_dir/emotic/<folder>/<file>`.
/// Writes `out_dir/<split>/` for each split.
pub fn prepare_release(
    data_dir: &Path,
    out_dir: &Path,
    splits: &[&str],
    show_progress: bool,
) -> Result<Vec<SplitSummary>> {
    let mat_path = data_dir.join("Annotations").join("Annotations.mat");
    let mat = read_mat_file(&mat_path)?;
    let mut summaries = Vec::new();
    for &split in splits {
        let ann = parse_split(&mat, split, &mat_path.display().to_string())?;
        let mut counts: BTreeMap<SkipReason, usize> = BTreeMap::new();
        for (_, r) in &ann.skipped {
            *counts.entry(*r).or_insert(0) += 1;
        }
        let mut problems = Vec::new();
        let mut writer = DatasetWriter::create(&out_dir.join(split))?;
        let bar = progress(ann.persons.len(), show_progress, split);
        // Persons of one image are consecutive: decode each image and its context once.
        let mut cached: Option<(PathBuf, Decoded)> = None;
        for (_, person) in &ann.persons {
            bar.inc(1);
            let path = data_dir
                .join("emotic")
                .join(&person.folder)
                .join(&person.filename);
            if cached.as_ref().is_none_or(|(p, _)| *p != path) {
                let loaded = if !path.is_file() {
                    problems.push(FileProblem {
                        path: path.clone(),
                        reason: SkipReason::MissingImage,
                        message: "file not found".into(),
                    });
                    Err(SkipReason::MissingImage)
                } else {
                    match load_rgb(&path).and_then(|img| context_of(&img, &path).map(|c| (img, c)))
                    {
                        Ok(v) => Ok(v),
                        Err(e) => {
                            problems.push(FileProblem {
                                path: path.clone(),
                                reason: SkipReason::UnreadableImage,
                                message: emotic_weights::error_chain(&e),
                            });
                            Err(SkipReason::UnreadableImage)
                        }
                    }
                };
                cached = Some((path.clone(), loaded));
            }
            let Some((_, loaded)) = &cached else { continue };
            let (img, context) = match loaded {
                Ok(v) => v,
                Err(reason) => {
                    *counts.entry(*reason).or_insert(0) += 1;
                    continue;
                }
            };
            let Some(body) = body_of(img, person.bbox, &path)? else {
                problems.push(FileProblem {
                    path: path.clone(),
                    reason: SkipReason::EmptyCrop,
                    message: format!("empty crop for box {:?}", person.bbox),
                });
                *counts.entry(SkipReason::EmptyCrop).or_insert(0) += 1;
                continue;
            };
            writer.push(&OwnedRecord {
                context: context.clone(),
                body,
                provenance: person.clone(),
            })?;
        }
        bar.finish_and_clear();
        let meta = writer.finish(
            split,
            named_counts(&counts),
            &format!("release {}", data_dir.display()),
        )?;
        summaries.push(SplitSummary { meta, problems });
    }
    Ok(summaries)
}

/// Input B: the reference `{split}_*_arr.npy` + `{split}.csv` in `npy_dir`.
pub fn prepare_reference(
    npy_dir: &Path,
    out_dir: &Path,
    splits: &[&str],
    show_progress: bool,
) -> Result<Vec<SplitSummary>> {
    let mut summaries = Vec::new();
    for &split in splits {
        let input = reference::open_split(npy_dir, split)?;
        let mut writer = DatasetWriter::create(&out_dir.join(split))?;
        let bar = progress(input.provenance.len(), show_progress, split);
        for (i, p) in input.provenance.iter().enumerate() {
            bar.inc(1);
            let (Some(context), Some(body)) = (input.context.get(i), input.body.get(i)) else {
                return Err(Error::invalid(
                    npy_dir,
                    format!("{split}: image {i} out of range"),
                ));
            };
            writer.push(&OwnedRecord {
                context: context.to_vec(),
                body: body.to_vec(),
                provenance: p.clone(),
            })?;
        }
        bar.finish_and_clear();
        let meta = writer.finish(
            split,
            BTreeMap::new(),
            &format!("reference arrays {}", npy_dir.display()),
        )?;
        summaries.push(SplitSummary {
            meta,
            problems: Vec::new(),
        });
    }
    Ok(summaries)
}
