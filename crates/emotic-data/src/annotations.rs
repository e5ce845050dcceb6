//! The EMOTIC `Annotations.mat` layout, read by position exactly like the reference
//! `mat2py.py` (field names vary between releases; positions do not).
//!
//! Per image (`mat[split]` is a 1 x N struct array): field 0 filename, 1 folder,
//! 2 image_size (struct; its field 0 clamps x, field 1 clamps y), 4 person (struct array).
//! Train person: 0 body_bbox, 1 categories (one annotator), 2 continuous, 3 gender, 4 age.
//! Val/test person: 0 body_bbox, 1 per-annotator categories, 2 combined categories
//! (the union), 3 per-annotator continuous, 4 combined continuous (the average), 5 gender,
//! 6 age.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataset::Provenance;
use crate::mat::{MatFile, MatValue};
use crate::{CATEGORIES, Error, Result};

/// Why a person was left out; the reference skips the same persons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No category annotator.
    NoCategoryAnnotators,
    /// A (combined, for val/test) VAD value is NaN.
    NanVad,
    /// The image file does not exist.
    MissingImage,
    /// The image exists but cannot be decoded.
    UnreadableImage,
    /// The clamped box is empty, so the crop cannot be resized (the reference's cv2 raises).
    EmptyCrop,
}

impl SkipReason {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCategoryAnnotators => "no_category_annotators",
            Self::NanVad => "nan_vad",
            Self::MissingImage => "missing_image",
            Self::UnreadableImage => "unreadable_image",
            Self::EmptyCrop => "empty_crop",
        }
    }
}

/// A person position in the MAT file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatLocation {
    /// Image index in the split (0-based).
    pub image: usize,
    /// Person index in the image (0-based).
    pub person: usize,
}

/// The persons of one split and those skipped on annotation grounds.
#[derive(Debug, Clone, Default)]
pub struct SplitAnnotations {
    /// Persons kept so far, in file order.
    pub persons: Vec<(MatLocation, Provenance)>,
    /// Persons skipped, with why.
    pub skipped: Vec<(MatLocation, SkipReason)>,
}

impl SplitAnnotations {
    /// Skip counts by reason.
    pub fn skip_counts(&self) -> BTreeMap<SkipReason, usize> {
        let mut counts = BTreeMap::new();
        for (_, r) in &self.skipped {
            *counts.entry(*r).or_insert(0) += 1;
        }
        counts
    }
}

struct Ctx<'a> {
    path: &'a str,
    split: &'a str,
}

impl Ctx<'_> {
    fn err(&self, image: usize, person: Option<usize>, what: &str, message: String) -> Error {
        let location = match person {
            Some(p) => format!("{}[{image}].person[{p}].{what}", self.split),
            None => format!("{}[{image}].{what}", self.split),
        };
        Error::Annotations {
            path: self.path.to_string(),
            location,
            message,
        }
    }
}

/// Reads one split (`train`, `val` or `test`) of a parsed `Annotations.mat`.
pub fn parse_split(mat: &MatFile, split: &str, path: &str) -> Result<SplitAnnotations> {
    let ctx = Ctx { path, split };
    let images = mat.get(split).ok_or_else(|| Error::Annotations {
        path: path.to_string(),
        location: split.to_string(),
        message: format!(
            "no variable '{split}' (found: {})",
            mat.variables
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    let (_, elements) = images.as_struct().ok_or_else(|| {
        ctx.err(
            0,
            None,
            "",
            format!("expected a struct array, found {}", images.describe()),
        )
    })?;
    let train = split == "train";
    let mut out = SplitAnnotations::default();
    for (i, ex) in elements.iter().enumerate() {
        let field = |k: usize, what: &str| {
            ex.get(k).ok_or_else(|| {
                ctx.err(
                    i,
                    None,
                    what,
                    format!("image struct has only {} fields", ex.len()),
                )
            })
        };
        let filename = string(field(0, "filename")?)
            .ok_or_else(|| ctx.err(i, None, "filename", "not a string".into()))?;
        let folder = string(field(1, "folder")?)
            .ok_or_else(|| ctx.err(i, None, "folder", "not a string".into()))?;
        let image_size =
            image_size(field(2, "image_size")?).map_err(|m| ctx.err(i, None, "image_size", m))?;
        let persons = field(4, "person")?;
        let (_, person_elements) = persons.as_struct().ok_or_else(|| {
            ctx.err(
                i,
                None,
                "person",
                format!("expected a struct array, found {}", persons.describe()),
            )
        })?;
        for (p, person) in person_elements.iter().enumerate() {
            let loc = MatLocation {
                image: i,
                person: p,
            };
            let pf = |k: usize, what: &str| {
                person.get(k).ok_or_else(|| {
                    ctx.err(
                        i,
                        Some(p),
                        what,
                        format!("person struct has only {} fields", person.len()),
                    )
                })
            };
            let raw_box =
                numbers(pf(0, "body_bbox")?, 4).map_err(|m| ctx.err(i, Some(p), "body_bbox", m))?;
            let bbox = clamp_bbox(&raw_box, image_size);
            let (annotators, categories, vad, gender, age) = if train {
                let cats = category_names(pf(1, "annotations_categories")?)
                    .map_err(|m| ctx.err(i, Some(p), "annotations_categories", m))?;
                let annotators = usize::from(!pf(1, "annotations_categories")?.is_empty());
                let vad = vad_values(pf(2, "annotations_continuous")?)
                    .map_err(|m| ctx.err(i, Some(p), "annotations_continuous", m))?;
                (annotators, cats, vad, pf(3, "gender")?, pf(4, "age")?)
            } else {
                let annotators = pf(1, "annotations_categories")?.len();
                let cats = string_list(pf(2, "combined_categories")?)
                    .map_err(|m| ctx.err(i, Some(p), "combined_categories", m))?;
                let vad = vad_values(pf(4, "combined_continuous")?)
                    .map_err(|m| ctx.err(i, Some(p), "combined_continuous", m))?;
                (annotators, cats, vad, pf(5, "gender")?, pf(6, "age")?)
            };
            if annotators == 0 {
                out.skipped.push((loc, SkipReason::NoCategoryAnnotators));
                continue;
            }
            if vad.iter().any(|v| v.is_nan()) {
                out.skipped.push((loc, SkipReason::NanVad));
                continue;
            }
            if let Some(bad) = categories
                .iter()
                .find(|c| !CATEGORIES.contains(&c.as_str()))
            {
                return Err(ctx.err(
                    i,
                    Some(p),
                    "categories",
                    format!("unknown category '{bad}'"),
                ));
            }
            out.persons.push((
                loc,
                Provenance {
                    folder: folder.clone(),
                    filename: filename.clone(),
                    image_size,
                    bbox,
                    categories,
                    vad,
                    gender: string(gender).unwrap_or_default(),
                    age: string(age).unwrap_or_default(),
                },
            ));
        }
    }
    Ok(out)
}

/// `[x1, y1, x2, y2]` clamped to `[0, size[0]]` (x) and `[0, size[1]]` (y), then truncated
/// toward zero like Python's `int()`.
pub fn clamp_bbox(raw: &[f64], size: [u32; 2]) -> [u32; 4] {
    let clamp = |v: f64, max: u32| {
        // NaN compares false both ways in the reference's min/max; treat it as 0.
        let v = if v.is_nan() { 0.0 } else { v };
        v.max(0.0).min(f64::from(max)).trunc() as u32
    };
    [
        clamp(raw[0], size[0]),
        clamp(raw[1], size[1]),
        clamp(raw[2], size[0]),
        clamp(raw[3], size[1]),
    ]
}

/// Text of a char array; an empty numeric array (MATLAB's `''` written as `[]`) is "".
fn string(v: &MatValue) -> Option<String> {
    match v {
        MatValue::Numeric { data, .. } if data.is_empty() => Some(String::new()),
        _ => v.as_string(),
    }
}

/// Exactly `n` numbers, unwrapping 1x1 cells.
fn numbers(v: &MatValue, n: usize) -> std::result::Result<Vec<f64>, String> {
    match v {
        MatValue::Numeric { data, .. } if data.len() == n => Ok(data.clone()),
        MatValue::Cell { items, .. } if items.len() == 1 => numbers(&items[0], n),
        _ => Err(format!("expected {n} numbers, found {}", v.describe())),
    }
}

fn scalar(v: &MatValue) -> std::result::Result<f64, String> {
    numbers(v, 1).map(|d| d[0])
}

fn image_size(v: &MatValue) -> std::result::Result<[u32; 2], String> {
    let (fields, elements) = v
        .as_struct()
        .ok_or_else(|| format!("expected a struct, found {}", v.describe()))?;
    let first = elements.first().filter(|e| e.len() >= 2).ok_or_else(|| {
        format!(
            "expected a 1x1 struct with 2 fields, found {} with fields {fields:?}",
            v.describe()
        )
    })?;
    let mut out = [0u32; 2];
    for (slot, value) in out.iter_mut().zip(first) {
        let x = scalar(value)?;
        if !(0.0..=f64::from(u32::MAX)).contains(&x) || x.fract() != 0.0 {
            return Err(format!("image size {x} is not a non-negative integer"));
        }
        *slot = x as u32;
    }
    Ok(out)
}

/// A cell array of strings (or one string, or an empty array) as a list.
fn string_list(v: &MatValue) -> std::result::Result<Vec<String>, String> {
    match v {
        MatValue::Cell { items, .. } => items
            .iter()
            .map(|c| {
                match c {
                    MatValue::Cell { items, .. } if items.len() == 1 => string(&items[0]),
                    _ => string(c),
                }
                .ok_or_else(|| format!("category entry is {}, not a string", c.describe()))
            })
            .collect(),
        MatValue::Char { .. } => Ok(vec![string(v).unwrap_or_default()]),
        MatValue::Numeric { data, .. } if data.is_empty() => Ok(Vec::new()),
        _ => Err(format!(
            "expected a cell array of strings, found {}",
            v.describe()
        )),
    }
}

/// Train categories: a struct whose first field is the cell of names (or the cell itself).
fn category_names(v: &MatValue) -> std::result::Result<Vec<String>, String> {
    match v {
        MatValue::Struct { elements, .. } => match elements.first().and_then(|e| e.first()) {
            Some(inner) => string_list(inner),
            None => Ok(Vec::new()),
        },
        _ => string_list(v),
    }
}

/// A struct with valence, arousal, dominance (by position) or three numbers.
fn vad_values(v: &MatValue) -> std::result::Result<[f64; 3], String> {
    let values: Vec<f64> = match v {
        MatValue::Struct { elements, .. } => {
            let first = elements.first().filter(|e| e.len() >= 3).ok_or_else(|| {
                format!(
                    "expected a 1x1 struct with 3 fields, found {}",
                    v.describe()
                )
            })?;
            first
                .iter()
                .take(3)
                .map(scalar)
                .collect::<std::result::Result<_, _>>()?
        }
        _ => numbers(v, 3)?,
    };
    Ok([values[0], values[1], values[2]])
}
