//! `predictions.csv`: one row per person with an emotion, every score in a column.

use std::path::PathBuf;

use emotic::emotion::{BoxOutcome, CATEGORIES, VAD_NAMES};
use emotic::pipeline::FrameResult;
use emotic_io::sinks::AppendFile;

use super::RunFolder;
use crate::{Error, Result};

/// The header.
#[must_use]
pub fn csv_header() -> Vec<String> {
    let mut h: Vec<String> = [
        "image",
        "person",
        "confidence",
        "x1",
        "y1",
        "x2",
        "y2",
        "predicted",
    ]
    .map(String::from)
    .to_vec();
    h.extend(VAD_NAMES.iter().map(|n| n.to_ascii_lowercase()));
    h.extend(CATEGORIES.iter().map(|c| (*c).to_string()));
    h
}

/// The rows of one frame: persons with an emotion, numbered from 0 in detection order.
#[must_use]
pub fn csv_rows(image: &str, frame: &FrameResult) -> Vec<Vec<String>> {
    frame
        .objects
        .iter()
        .filter_map(|o| Some((o, o.emotion.as_ref().and_then(BoxOutcome::emotion)?)))
        .enumerate()
        .map(|(person, (o, e))| {
            let d = &o.detection;
            let mut row = vec![
                image.to_string(),
                person.to_string(),
                format!("{:.5}", d.confidence),
            ];
            row.extend(d.bbox.iter().map(|v| format!("{v:.1}")));
            row.push(
                e.predicted
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            row.extend(e.vad.iter().map(|v| format!("{v:.4}")));
            row.extend(e.categories.iter().map(|v| format!("{v:.6}")));
            row
        })
        .collect()
}

/// `predictions.csv`, flushed after every frame so a stopped run leaves whole rows. (Like the
/// JSON lines it grows as the run goes, so it is appended to rather than written atomically.)
#[derive(Debug)]
pub struct CsvFile {
    path: PathBuf,
    file: AppendFile,
}

impl CsvFile {
    /// Creates `predictions.csv` with its header.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn create(folder: &mut RunFolder) -> Result<Self> {
        let path = folder.unique(&[], "predictions", "csv")?;
        let mut file = Self {
            file: AppendFile::create(&path)?,
            path,
        };
        file.write(&[csv_header()])?;
        Ok(file)
    }

    /// Appends the rows of one frame, all of them or none ([`AppendFile`]).
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&mut self, rows: &[Vec<String>]) -> Result<()> {
        // Formatted in memory first, so a full disk never leaves half a row in the file.
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer.write_record(row).map_err(|source| Error::Csv {
                path: self.path.clone(),
                source,
            })?;
        }
        let bytes = writer.into_inner().map_err(|e| Error::Write {
            path: self.path.clone(),
            source: e.into_error(),
        })?;
        Ok(self.file.append(&bytes)?)
    }
}
