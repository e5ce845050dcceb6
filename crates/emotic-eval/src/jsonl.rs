//! Our JSON lines format for predictions and labels: one person per line,
//! `{"cat": [26 numbers], "vad": [3 numbers]}` (`"cont"` is accepted for `"vad"`; `vad` may be
//! absent in every line). Blank lines are ignored.

use std::path::Path;

use crate::{CATEGORIES, Error, Matrix, Result, VAD_NAMES};

/// Categories (26 x N) and, when every line has them, VAD values (3 x N).
#[derive(Debug, Clone)]
pub struct JsonLines {
    /// Category scores or labels, category-major.
    pub cat: Matrix,
    /// VAD values, dimension-major, if present.
    pub vad: Option<Matrix>,
}

/// Reads a JSON lines file.
pub fn read_jsonl(path: &Path) -> Result<JsonLines> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_jsonl(&path.display().to_string(), &text)
}

/// Parses JSON lines text; `name` is used in errors.
pub fn parse_jsonl(name: &str, text: &str) -> Result<JsonLines> {
    let err = |line: usize, message: String| Error::JsonLines {
        path: name.to_string(),
        line,
        message,
    };
    let mut cat = Vec::new();
    let mut vad = Vec::new();
    let mut vad_lines = 0usize;
    let mut persons = 0usize;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(i + 1, e.to_string()))?;
        let numbers = |key: &str, len: usize| -> Result<Option<Vec<f64>>> {
            let Some(v) = value.get(key) else {
                return Ok(None);
            };
            let arr = v
                .as_array()
                .ok_or_else(|| err(i + 1, format!("\"{key}\" is not an array")))?;
            if arr.len() != len {
                return Err(err(
                    i + 1,
                    format!("\"{key}\" has {} values, expected {len}", arr.len()),
                ));
            }
            arr.iter()
                .map(|x| {
                    x.as_f64()
                        .ok_or_else(|| err(i + 1, format!("\"{key}\" holds a non-number")))
                })
                .collect::<Result<Vec<f64>>>()
                .map(Some)
        };
        let c = numbers("cat", CATEGORIES.len())?
            .ok_or_else(|| err(i + 1, "missing \"cat\"".to_string()))?;
        cat.extend(c);
        let v = match numbers("vad", VAD_NAMES.len())? {
            Some(v) => Some(v),
            None => numbers("cont", VAD_NAMES.len())?,
        };
        if let Some(v) = v {
            vad.extend(v);
            vad_lines += 1;
        }
        persons += 1;
    }
    if persons == 0 {
        return Err(err(0, "no records".to_string()));
    }
    if vad_lines != 0 && vad_lines != persons {
        return Err(err(
            0,
            format!("only {vad_lines} of {persons} lines have \"vad\""),
        ));
    }
    Ok(JsonLines {
        cat: Matrix::from_person_major(persons, CATEGORIES.len(), &cat)?,
        vad: if vad_lines == persons {
            Some(Matrix::from_person_major(persons, VAD_NAMES.len(), &vad)?)
        } else {
            None
        },
    })
}
