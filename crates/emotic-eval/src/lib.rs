//! Scores for the EMOTIC benchmark, with the reference implementation's exact semantics.
//!
//! | item | what |
//! |---|---|
//! | [`metrics`] | scikit-learn `precision_recall_curve` / `average_precision_score`, the precision == recall threshold, VOC-style AP, numpy-exact means |
//! | [`evaluate`] | all 26 categories and the 3 VAD dimensions at once, giving an [`EvalReport`] |
//! | [`report`] | the JSON report, a readable table and SVG precision-recall plots |
//! | [`jsonl`] | our JSON lines prediction/label format |
//!
//! Inputs are category-major like the reference's `.mat` files: category `c` of person `i`
//! is `data[c * n + i]`.

pub mod jsonl;
pub mod metrics;
pub mod report;

pub use report::{CategoryScore, EvalReport, VadScore};

// The category and VAD names are the model's; they are defined once, in `emotic-spec`.
pub use emotic_spec::{CATEGORIES, VAD_NAMES};

/// What can go wrong while scoring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two inputs that must match in length do not.
    #[error("{what} differ in length: {left} vs {right}")]
    LengthMismatch {
        /// Which inputs.
        what: &'static str,
        /// First length.
        left: usize,
        /// Second length.
        right: usize,
    },
    /// A category (or VAD dimension) has no samples.
    #[error("category/dimension {category} has no samples")]
    Empty {
        /// Category or dimension index.
        category: usize,
    },
    /// A label that is neither 0 nor 1.
    #[error("category {category}: label {value} at person {index} is not 0 or 1")]
    NonBinaryLabel {
        /// Category index.
        category: usize,
        /// Person index.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// A NaN score (scikit-learn rejects these too).
    #[error("category {category}: score at person {index} is NaN")]
    NanScore {
        /// Category index.
        category: usize,
        /// Person index.
        index: usize,
    },
    /// An array does not have the expected shape.
    #[error("{what}: expected {expected}, got shape {shape:?}")]
    Shape {
        /// Which array.
        what: String,
        /// Expected shape, in words.
        expected: String,
        /// Shape found.
        shape: Vec<usize>,
    },
    /// A JSON lines input could not be parsed.
    #[error("{path}:{line}: {message}")]
    JsonLines {
        /// File.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Serializing the report failed.
    #[error("cannot write the JSON report")]
    Json(#[from] serde_json::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A matrix stored category-major (`rows` categories or dimensions, `cols` persons), the
/// layout of the reference's `(26, N)` / `(3, N)` `.mat` files.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (categories or VAD dimensions).
    pub rows: usize,
    /// Number of columns (persons).
    pub cols: usize,
    /// Row-major values, `rows * cols` of them.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Wraps row-major data, checking the length.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::Shape {
                what: "matrix".into(),
                expected: format!("{rows}x{cols} values"),
                shape: vec![data.len()],
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// Builds a category-major matrix from person-major data (`persons x rows`, the layout
    /// of the reference's `.npy` arrays and our dataset).
    pub fn from_person_major(persons: usize, rows: usize, data: &[f64]) -> Result<Self> {
        if persons.checked_mul(rows) != Some(data.len()) {
            return Err(Error::Shape {
                what: "person-major array".into(),
                expected: format!("{persons}x{rows} values"),
                shape: vec![data.len()],
            });
        }
        let mut out = vec![0.0; data.len()];
        for p in 0..persons {
            for r in 0..rows {
                out[r * persons + p] = data[p * rows + r];
            }
        }
        Ok(Self {
            rows,
            cols: persons,
            data: out,
        })
    }

    /// One row (all persons of one category).
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// Scores categories (and, when given, VAD) the way the reference `test.py` does.
///
/// `cat_preds`/`cat_labels` must be 26 x N; `cont_preds`/`cont_labels` 3 x N on the 1-10
/// scale. Per-category precision-recall curves are kept in the report for plotting.
pub fn evaluate(
    cat_preds: &Matrix,
    cat_labels: &Matrix,
    cont: Option<(&Matrix, &Matrix)>,
) -> Result<EvalReport> {
    check_shape("category predictions", cat_preds, CATEGORIES.len())?;
    check_shape("category labels", cat_labels, CATEGORIES.len())?;
    if cat_preds.cols != cat_labels.cols {
        return Err(Error::LengthMismatch {
            what: "category predictions and labels (persons)",
            left: cat_preds.cols,
            right: cat_labels.cols,
        });
    }
    let mut categories = Vec::with_capacity(CATEGORIES.len());
    for (c, name) in CATEGORIES.iter().enumerate() {
        let (labels, scores) = (cat_labels.row(c), cat_preds.row(c));
        let curve = metrics::precision_recall_curve(c, labels, scores)?;
        let ap = metrics::average_precision_from_curve(&curve);
        categories.push(CategoryScore {
            name: (*name).to_string(),
            positives: labels.iter().filter(|&&l| l == 1.0).count(),
            average_precision: ap as f32,
            average_precision_f64: ap,
            threshold: metrics::equal_precision_recall_threshold(&curve),
            voc_interpolated_ap: metrics::voc_interpolated_ap(c, labels, scores)?,
            curve,
        });
    }
    let aps: Vec<f32> = categories.iter().map(|c| c.average_precision).collect();
    let vocs: Vec<f64> = categories.iter().map(|c| c.voc_interpolated_ap).collect();
    let vad = match cont {
        None => None,
        Some((preds, labels)) => {
            check_shape("VAD predictions", preds, VAD_NAMES.len())?;
            check_shape("VAD labels", labels, VAD_NAMES.len())?;
            if preds.cols != labels.cols {
                return Err(Error::LengthMismatch {
                    what: "VAD predictions and labels (persons)",
                    left: preds.cols,
                    right: labels.cols,
                });
            }
            let mut mae = [0.0_f32; 3];
            for (d, slot) in mae.iter_mut().enumerate() {
                *slot = metrics::mean_absolute_error(d, preds.row(d), labels.row(d))?;
            }
            Some(VadScore {
                mean_absolute_error: mae,
                mean: metrics::numpy_mean_f32(&mae),
            })
        }
    };
    Ok(EvalReport {
        persons: cat_preds.cols,
        mean_ap: metrics::numpy_mean_f32(&aps),
        mean_voc_interpolated_ap: metrics::numpy_mean_f64(&vocs),
        categories,
        vad,
    })
}

fn check_shape(what: &str, m: &Matrix, rows: usize) -> Result<()> {
    if m.rows != rows || m.cols == 0 {
        return Err(Error::Shape {
            what: what.to_string(),
            expected: format!("({rows}, N) with N > 0"),
            shape: vec![m.rows, m.cols],
        });
    }
    Ok(())
}
