//! `emotic infer`: emotions for boxes given in a list file, like the reference's
//! `main.py --mode inference`.
//!
//! The list has one person per line: `path x1 y1 x2 y2`. Quoting, since paths may hold spaces:
//! - a path starting with `"` runs to the next `"` (no escapes), followed by the four numbers;
//! - otherwise the **last four** whitespace-separated fields are the box and everything before
//!   them (inner spaces kept, outer trimmed) is the path.
//!
//! Empty lines and lines starting with `#` are ignored. Coordinates may be integers or decimals;
//! they are truncated like the reference's `int()` and clipped to the image. Relative paths are
//! resolved against the current directory (as the reference does) and, when nothing is there,
//! against the list file's folder. Consecutive lines naming the same image share one decode and
//! one context pass.
//!
//! Outputs in `--output` (default `.`):
//! - `inference_list.txt`: the reference's fields, `path Cat1 Cat2 ... V A D`, predicted
//!   categories in category order, VAD on the 1-10 scale with `%.4f`; a path holding whitespace
//!   is written in double quotes. Lines that fail are left out (see the JSON lines).
//! - `inference.jsonl`: one object per input line, with every score, the predicted categories
//!   sorted by margin, VAD, or the error / skip reason.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use emotic::emotion::{BoxOutcome, CATEGORIES, EmotionModel, PersonEmotion};
use emotic_predict::schema::InferRecord;

use super::Outcome;

/// How list lines are read, shown under `emotic infer --help`.
const LIST_FORMAT_HELP: &str = "List format: one person per line, `path x1 y1 x2 y2`.
  - The last four whitespace-separated fields are the box; everything before them is the path,
    so paths may contain spaces: `my photos/a b.jpg 10 20 110 220`.
  - A path may also be written in double quotes: `\"my photos/a b.jpg\" 10 20 110 220`.
  - Empty lines and lines starting with # are ignored; coordinates are truncated like Python int().
Outputs: inference_list.txt (path Cat1 Cat2 ... V A D, VAD on the 1-10 scale with 4 decimals,
paths with spaces quoted) and inference.jsonl (all scores, predicted categories by margin, VAD).";

/// Arguments of `emotic infer`.
#[derive(Debug, clap::Args)]
#[command(after_help = LIST_FORMAT_HELP)]
pub struct InferArgs {
    /// List file: one `path x1 y1 x2 y2` per line (quoting below).
    #[arg(long)]
    pub boxes: PathBuf,
    /// Model: a bundle from `emotic import`, or a folder with `model_context1.pth`,
    /// `model_body1.pth`, `model_emotic1.pth` and `val_thresholds.npy`.
    #[arg(long)]
    pub model: PathBuf,
    /// Folder for `inference_list.txt` and `inference.jsonl` (created if missing).
    #[arg(long, short = 'o', default_value = ".")]
    pub output: PathBuf,
}

/// One parsed line of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    /// 1-based line number in the list file.
    pub line: usize,
    /// The image path as written.
    pub path: String,
    /// `x1 y1 x2 y2`.
    pub bbox: [f32; 4],
}

/// Parses one non-empty, non-comment line (see the module documentation for the quoting).
///
/// # Errors
/// A message saying what is wrong with the line.
pub fn parse_line(text: &str) -> Result<(String, [f32; 4]), String> {
    let text = text.trim();
    let (path, rest): (String, Vec<&str>) = if let Some(stripped) = text.strip_prefix('"') {
        let end = stripped.find('"').ok_or("unterminated quote in path")?;
        (
            stripped[..end].to_string(),
            stripped[end + 1..].split_whitespace().collect(),
        )
    } else {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() < 5 {
            return Err(format!(
                "expected `path x1 y1 x2 y2`, found {} field(s)",
                fields.len()
            ));
        }
        // The path is the text before the fourth-last field, so inner spaces survive.
        let mut cut = text.len();
        for field in fields.iter().rev().take(4) {
            cut = text[..cut].rfind(field).unwrap_or(0);
        }
        (
            text[..cut].trim_end().to_string(),
            fields[fields.len() - 4..].to_vec(),
        )
    };
    if path.is_empty() {
        return Err("empty path".into());
    }
    if rest.len() != 4 {
        return Err(format!(
            "expected 4 box coordinates after the path, found {}",
            rest.len()
        ));
    }
    let mut bbox = [0.0f32; 4];
    for (slot, field) in bbox.iter_mut().zip(&rest) {
        let v: f64 = field
            .parse()
            .map_err(|_| format!("box coordinate `{field}` is not a number"))?;
        if !v.is_finite() || v.abs() > 1e9 {
            return Err(format!("box coordinate `{field}` is out of range"));
        }
        *slot = v as f32;
    }
    Ok((path, bbox))
}

/// Parses a whole list; bad lines come back as `(line, message)`.
#[must_use]
pub fn parse_list(text: &str) -> (Vec<ListEntry>, Vec<(usize, String)>) {
    let (mut entries, mut errors) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok((path, bbox)) => entries.push(ListEntry {
                line: i + 1,
                path,
                bbox,
            }),
            Err(message) => errors.push((i + 1, message)),
        }
    }
    (entries, errors)
}

/// The reference's `inference_list.txt` line: path, predicted categories in category order,
/// then V, A, D with `%.4f`.
#[must_use]
pub fn reference_line(path: &str, emotion: &PersonEmotion) -> String {
    let mut line = if path.chars().any(char::is_whitespace) {
        format!("\"{path}\"")
    } else {
        path.to_string()
    };
    let mut predicted: Vec<usize> = emotion.predicted.iter().map(|p| p.index).collect();
    predicted.sort_unstable();
    for i in predicted {
        line.push(' ');
        line.push_str(CATEGORIES[i]);
    }
    for v in emotion.vad {
        let _ = write!(line, " {v:.4}");
    }
    line
}

/// Resolves a list path: as given (relative to the current directory), else relative to the
/// list file's folder.
fn resolve(path: &str, list: &Path) -> PathBuf {
    let p = PathBuf::from(path);
    if p.is_absolute() || p.exists() {
        return p;
    }
    list.parent().map_or(p.clone(), |dir| {
        let alt = dir.join(&p);
        if alt.exists() { alt } else { p }
    })
}

/// Runs the model on every line and writes both outputs.
pub fn run(args: &InferArgs) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(&args.boxes)
        .with_context(|| format!("cannot read the box list {}", args.boxes.display()))?;
    let (entries, parse_errors) = parse_list(&text);
    let mut model =
        EmotionModel::from_path(&args.model).context("cannot load the emotion model")?;
    let thresholds = *model.thresholds();

    // Results by input line; lines of one image are processed together.
    let mut results: HashMap<usize, InferRecord> = HashMap::new();
    let mut txt_lines: HashMap<usize, String> = HashMap::new();
    for (line, message) in &parse_errors {
        tracing::error!("{}:{line}: {message}", args.boxes.display());
        results.insert(*line, InferRecord::failed(*line, None, message.clone()));
    }
    let mut failures = parse_errors.len();
    let mut start = 0;
    while start < entries.len() {
        let end = start
            + entries[start..]
                .iter()
                .take_while(|e| e.path == entries[start].path)
                .count();
        let group = &entries[start..end];
        start = end;
        let image_path = resolve(&group[0].path, &args.boxes);
        let outcomes = emotic_io::image_file::read_rgb(&image_path)
            .map_err(anyhow::Error::from)
            .and_then(|frame| {
                let boxes: Vec<[f32; 4]> = group.iter().map(|e| e.bbox).collect();
                model.predict(&frame, &boxes).map_err(anyhow::Error::from)
            });
        match outcomes {
            Ok(outcomes) => {
                for (entry, outcome) in group.iter().zip(&outcomes) {
                    match outcome {
                        BoxOutcome::Scored { emotion, .. } => {
                            txt_lines.insert(entry.line, reference_line(&entry.path, emotion));
                        }
                        BoxOutcome::Skipped(reason) => {
                            failures += 1;
                            tracing::warn!(
                                "{}:{}: skipped: {reason}",
                                args.boxes.display(),
                                entry.line
                            );
                        }
                    }
                    results.insert(
                        entry.line,
                        InferRecord::outcome(
                            entry.line,
                            entry.path.clone(),
                            entry.bbox,
                            outcome,
                            &thresholds,
                        ),
                    );
                }
            }
            Err(err) => {
                for entry in group {
                    failures += 1;
                    let message = format!("{err:#}");
                    tracing::error!("{}:{}: {message}", args.boxes.display(), entry.line);
                    results.insert(
                        entry.line,
                        InferRecord::failed(
                            entry.line,
                            Some((entry.path.clone(), entry.bbox)),
                            message,
                        ),
                    );
                }
            }
        }
    }

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut lines: Vec<usize> = results.keys().copied().collect();
    lines.sort_unstable();
    let mut txt = String::new();
    let mut jsonl = String::new();
    for line in &lines {
        if let Some(t) = txt_lines.get(line) {
            txt.push_str(t);
            txt.push('\n');
        }
        jsonl.push_str(&serde_json::to_string(&results[line])?);
        jsonl.push('\n');
    }
    let txt_path = args.output.join("inference_list.txt");
    let jsonl_path = args.output.join("inference.jsonl");
    emotic_io::image_file::write_atomic(&txt_path, txt.as_bytes())?;
    emotic_io::image_file::write_atomic(&jsonl_path, jsonl.as_bytes())?;
    tracing::info!(
        "{} of {} lines scored; wrote {} and {}",
        txt_lines.len(),
        lines.len(),
        txt_path.display(),
        jsonl_path.display()
    );
    Ok(if failures == 0 {
        Outcome::Success
    } else {
        Outcome::SomeInputsFailed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_fields_are_the_box() {
        assert_eq!(
            parse_line("img/a b.jpg 1 2 3 4"),
            Ok(("img/a b.jpg".into(), [1.0, 2.0, 3.0, 4.0]))
        );
        assert_eq!(
            parse_line("  x.jpg\t10 20.5 30 40 "),
            Ok(("x.jpg".into(), [10.0, 20.5, 30.0, 40.0]))
        );
        // Repeated text inside the path does not confuse the split.
        assert_eq!(
            parse_line("1 2/3 4.jpg 1 2 3 4"),
            Ok(("1 2/3 4.jpg".into(), [1.0, 2.0, 3.0, 4.0]))
        );
    }

    #[test]
    fn quoted_paths() {
        assert_eq!(
            parse_line("\"my dir/p  1.jpg\" 5 6 7 8"),
            Ok(("my dir/p  1.jpg".into(), [5.0, 6.0, 7.0, 8.0]))
        );
        assert!(parse_line("\"unterminated 1 2 3 4").is_err());
        assert!(parse_line("\"a.jpg\" 1 2 3").is_err());
    }

    #[test]
    fn bad_lines_are_reported_with_numbers() {
        let (ok, bad) = parse_list("# comment\n\na.jpg 1 2 3 4\nb.jpg 1 2 x 4\nc.jpg 1 2\n");
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].line, 3);
        assert_eq!(bad.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![4, 5]);
        assert!(bad[0].1.contains("`x`"));
    }

    #[test]
    fn reference_line_format() {
        let mut scores = [0.0f32; 26];
        scores[16] = 2.0; // Happiness, larger margin
        scores[0] = 0.6; // Affection
        let e = PersonEmotion::from_raw(scores, [0.61234, 0.5, 0.123456], &[0.5; 26]);
        assert_eq!(
            reference_line("a.jpg", &e),
            "a.jpg Affection Happiness 6.1234 5.0000 1.2346"
        );
        assert!(reference_line("my a.jpg", &e).starts_with("\"my a.jpg\" Affection"));
    }
}
