//! The evaluation report: JSON, a readable table, and SVG precision-recall plots.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::metrics::PrCurve;
use crate::{Error, Result, VAD_NAMES};

/// Scores of one category.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryScore {
    /// Category name.
    pub name: String,
    /// Number of positive labels.
    pub positives: usize,
    /// scikit-learn `average_precision_score`, stored as float32 like the reference.
    pub average_precision: f32,
    /// The same AP before rounding to float32.
    pub average_precision_f64: f64,
    /// First threshold (ascending) where precision == recall, else 0.0 (reference `test.py`).
    pub threshold: f32,
    /// VOC-style interpolated AP as in the EMOTIC authors' MATLAB `eval.m` (a fraction here;
    /// the MATLAB code prints percent), ties grouped instead of jittered.
    pub voc_interpolated_ap: f64,
    /// The precision-recall curve (not serialized; used for plots).
    #[serde(skip)]
    pub curve: PrCurve,
}

/// Mean absolute VAD errors on the 1-10 scale.
#[derive(Debug, Clone, Serialize)]
pub struct VadScore {
    /// Per dimension: Valence, Arousal, Dominance.
    pub mean_absolute_error: [f32; 3],
    /// Mean over the three dimensions.
    pub mean: f32,
}

/// Everything `emotic eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Number of persons scored.
    pub persons: usize,
    /// Mean of the 26 float32 APs (numpy `ap.mean()`): the reference's "Mean AP".
    pub mean_ap: f32,
    /// Mean of the VOC-style interpolated APs (authors' MATLAB method), a fraction.
    pub mean_voc_interpolated_ap: f64,
    /// Per category, in the reference order.
    pub categories: Vec<CategoryScore>,
    /// VAD errors when continuous predictions were given.
    pub vad: Option<VadScore>,
}

impl EvalReport {
    /// The per-category thresholds in category order (the reference's `thresholds.npy`).
    pub fn thresholds(&self) -> Vec<f32> {
        self.categories.iter().map(|c| c.threshold).collect()
    }

    /// Pretty JSON with a note on the semantics.
    pub fn to_json(&self) -> Result<String> {
        let mut value = serde_json::to_value(self)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert(
                "semantics".into(),
                serde_json::Value::String(
                    "average_precision: scikit-learn 1.9.1 average_precision_score (ties grouped; \
                     0.0 without positives); threshold: first ascending precision_recall_curve \
                     threshold with precision == recall, else 0; voc_interpolated_ap: authors' \
                     MATLAB VOC-style AP as a fraction, ties grouped"
                        .into(),
                ),
            );
        }
        Ok(serde_json::to_string_pretty(&value)?)
    }

    /// A readable table like the reference's printout, plus the extra columns.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "persons: {}", self.persons);
        let _ = writeln!(
            s,
            "{:<16} {:>9} {:>9} {:>10} {:>9}",
            "Category", "AP", "VOC AP*", "threshold", "positives"
        );
        for c in &self.categories {
            let _ = writeln!(
                s,
                "{:<16} {:>9.5} {:>9.5} {:>10.5} {:>9}",
                c.name, c.average_precision, c.voc_interpolated_ap, c.threshold, c.positives
            );
        }
        let _ = writeln!(
            s,
            "{:<16} {:>9.5} {:>9.5}",
            "Mean AP", self.mean_ap, self.mean_voc_interpolated_ap
        );
        if let Some(vad) = &self.vad {
            for (name, e) in VAD_NAMES.iter().zip(vad.mean_absolute_error) {
                let _ = writeln!(s, "{:<16} {:>9.5}", format!("{name} MAE"), e);
            }
            let _ = writeln!(s, "{:<16} {:>9.5}", "Mean VAD Error", vad.mean);
        }
        let _ = writeln!(
            s,
            "* VOC AP: VOC-style interpolated AP of the EMOTIC authors' MATLAB eval (as a fraction, \
             ties grouped); AP: scikit-learn average_precision_score as in the PyTorch reference."
        );
        s
    }

    /// Writes one SVG precision-recall plot per category into `dir`
    /// (`NN_<name>.svg`, `/` in names replaced by `_`). Returns the files written.
    pub fn write_pr_plots(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut written = Vec::new();
        for (i, c) in self.categories.iter().enumerate() {
            let path = dir.join(format!("{i:02}_{}.svg", c.name.replace('/', "_")));
            emotic_atomic::write(&path, pr_curve_svg(c).as_bytes()).map_err(|source| {
                Error::Io {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// A self-contained SVG of one category's precision-recall step curve.
pub fn pr_curve_svg(c: &CategoryScore) -> String {
    const W: f64 = 400.0;
    const H: f64 = 400.0;
    const M: f64 = 50.0;
    let x = |r: f64| M + r * (W - 2.0 * M);
    let y = |p: f64| H - M - p * (H - 2.0 * M);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <rect x=\"{M}\" y=\"{M}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>",
        W - 2.0 * M,
        H - 2.0 * M
    );
    for t in 0..=4 {
        let v = f64::from(t) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{v:.2}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.2}</text>",
            x(v),
            H - M + 15.0,
            M - 5.0,
            y(v) + 4.0
        );
    }
    // Step curve from high thresholds (low recall) to low: horizontal then vertical moves,
    // the shape `average_precision_score` integrates.
    let (p, r) = (&c.curve.precision, &c.curve.recall);
    let mut points = String::new();
    for k in (0..p.len().saturating_sub(1)).rev() {
        // Between recall r[k+1] and r[k] the precision is p[k].
        let _ = write!(
            points,
            "{:.2},{:.2} {:.2},{:.2} ",
            x(r[k + 1]),
            y(p[k]),
            x(r[k]),
            y(p[k])
        );
    }
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\
         <text x=\"{:.1}\" y=\"30\" font-size=\"14\" text-anchor=\"middle\">{} (AP {:.4})</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">recall</text>\
         <text x=\"15\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" \
         transform=\"rotate(-90 15 {:.1})\">precision</text></svg>",
        points.trim_end(),
        W / 2.0,
        xml_escape(&c.name),
        c.average_precision,
        W / 2.0,
        H - 15.0,
        H / 2.0,
        H / 2.0
    );
    s.push('\n');
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
