//! `emotic eval`: AP, mAP, VAD error and thresholds from prediction and label files, with the
//! reference `test.py` semantics (see `emotic_eval::metrics`).
//!
//! Accepted inputs: the reference result files (`{split}_cat_preds.mat` etc., (26,N)/(3,N)
//! written by `scipy.io.savemat`), `.npy` ((N,26) or (26,N)), our JSON lines
//! (`{"cat": [...26], "vad": [...3]}` per person), and, for labels, a prepared split folder.
//! With `--model` and `--data`, the model runs on a prepared split first (raw category scores
//! and VAD x 10, as the reference `test.py` collects them) and its predictions are saved as
//! `{split}_preds.jsonl` next to the report.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use emotic_data::dataset::Dataset;
use emotic_data::mat::{MatValue, read_mat_file};
use emotic_eval::{CATEGORIES, Matrix, VAD_NAMES, evaluate, jsonl};

use super::Outcome;

/// Arguments of `emotic eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A reference results folder holding `{split}_cat_preds.mat`, `{split}_cat_labels.mat`
    /// and, if present, `{split}_cont_preds.mat` / `{split}_cont_labels.mat`.
    #[arg(long, conflicts_with_all = ["preds", "labels", "model"])]
    pub results_dir: Option<PathBuf>,
    /// An EMOTIC model (bundle from `emotic import`, or a folder with the reference
    /// `model_*1.pth` files and `val_thresholds.npy`) to run on `--data`.
    #[arg(long, requires = "data", conflicts_with_all = ["preds", "labels"])]
    pub model: Option<PathBuf>,
    /// A prepared split folder (`emotic prepare` output) to run `--model` on; its labels are used.
    #[arg(long, requires = "model")]
    pub data: Option<PathBuf>,
    /// Category predictions: `.mat`, `.npy` or `.jsonl` (JSON lines may carry `vad` too).
    #[arg(long, requires = "labels")]
    pub preds: Option<PathBuf>,
    /// Category labels: `.mat`, `.npy`, `.jsonl`, or a prepared split folder (labels and VAD).
    #[arg(long, requires = "preds")]
    pub labels: Option<PathBuf>,
    /// VAD predictions (3,N)/(N,3) `.mat`/`.npy`, when `--preds` holds only categories.
    #[arg(long)]
    pub cont_preds: Option<PathBuf>,
    /// VAD labels, when `--labels` holds only categories.
    #[arg(long)]
    pub cont_labels: Option<PathBuf>,
    /// Split name, used to find files in `--results-dir` and to name the outputs.
    #[arg(long, default_value = "val")]
    pub split: String,
    /// Where `{split}_thresholds.npy`, `{split}_eval.json`, `{split}_eval.txt` and the
    /// precision-recall plots go.
    #[arg(long, short = 'o', default_value = "results")]
    pub output: PathBuf,
    /// Skip the per-category precision-recall SVG plots.
    #[arg(long)]
    pub no_plots: bool,
}

/// Categories and optional VAD, category-major.
struct Loaded {
    cat: Matrix,
    vad: Option<Matrix>,
}

/// Scores the inputs and writes thresholds, JSON report, table and plots.
pub fn run(args: &EvalArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let (preds, labels) = match (&args.results_dir, &args.preds, &args.labels) {
        _ if args.model.is_some() => {
            let (Some(model), Some(data)) = (&args.model, &args.data) else {
                bail!("--model needs --data (a prepared split folder)");
            };
            infer(model, data, &args.output, &args.split)?
        }
        (Some(dir), _, _) => {
            let file = |kind: &str| dir.join(format!("{}_{kind}.mat", args.split));
            let optional = |kind: &str| Some(file(kind)).filter(|p| p.is_file());
            (
                load(&file("cat_preds"), optional("cont_preds").as_deref())?,
                load(&file("cat_labels"), optional("cont_labels").as_deref())?,
            )
        }
        (None, Some(p), Some(l)) => (
            load(p, args.cont_preds.as_deref())?,
            load(l, args.cont_labels.as_deref())?,
        ),
        _ => bail!("give --results-dir, or both --preds and --labels"),
    };
    let loaded = started.elapsed();
    let cont = match (&preds.vad, &labels.vad) {
        (Some(p), Some(l)) => Some((p, l)),
        (None, None) => None,
        (Some(_), None) => bail!("VAD predictions were given but no VAD labels"),
        (None, Some(_)) => {
            tracing::warn!("no VAD predictions: reporting categories only");
            None
        }
    };
    let scoring = Instant::now();
    let report = evaluate(&preds.cat, &labels.cat, cont).context("scoring")?;
    let scored = scoring.elapsed();
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let out = |name: &str| args.output.join(format!("{}_{name}", args.split));
    emotic_weights::npy::write_f32(
        &out("thresholds.npy"),
        &[CATEGORIES.len()],
        &report.thresholds(),
    )?;
    emotic_atomic::write(&out("eval.json"), report.to_json()?.as_bytes())
        .with_context(|| format!("cannot write {}", out("eval.json").display()))?;
    let table = report.table();
    emotic_atomic::write(&out("eval.txt"), table.as_bytes())
        .with_context(|| format!("cannot write {}", out("eval.txt").display()))?;
    if !args.no_plots {
        report.write_pr_plots(&out("pr_curves"))?;
    }
    std::io::stdout().lock().write_all(table.as_bytes())?;
    tracing::info!(
        "{} persons: loaded in {:.1} ms, scored in {:.1} ms, total {:.1} ms; wrote {}",
        report.persons,
        loaded.as_secs_f64() * 1e3,
        scored.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3,
        out("eval.json").display()
    );
    Ok(Outcome::Success)
}

/// Runs the model on every record of a prepared split; returns (predictions, labels) and
/// writes the predictions as JSON lines.
fn infer(
    model_path: &Path,
    data: &Path,
    output: &Path,
    split: &str,
) -> anyhow::Result<(Loaded, Loaded)> {
    let mut model = emotic::emotion::EmotionModel::from_path(model_path)
        .context("cannot load the emotion model")?;
    let labels = load(data, None)?;
    let ds = Dataset::open(data).with_context(|| format!("opening {}", data.display()))?;
    let image = |bytes: &[u8], size: emotic_data::ImageSize| {
        image::RgbImage::from_raw(size.width, size.height, bytes.to_vec())
            .with_context(|| format!("{}: image of the wrong size", data.display()))
    };
    let (mut cat, mut vad) = (
        Vec::with_capacity(ds.len() * 26),
        Vec::with_capacity(ds.len() * 3),
    );
    let mut lines = String::new();
    let bar = indicatif::ProgressBar::new(ds.len() as u64);
    for i in 0..ds.len() {
        let r = ds.get(i).context("record index")?;
        let context = image(r.context, emotic_data::CONTEXT_SIZE)?;
        let body = image(r.body, emotic_data::BODY_SIZE)?;
        let out = model.predict_preprocessed(&context, std::slice::from_ref(&body))?;
        let person = out
            .persons
            .first()
            .context("the model returned no person")?;
        cat.extend(person.categories.iter().map(|&v| f64::from(v)));
        vad.extend(person.vad.iter().map(|&v| f64::from(v)));
        lines.push_str(
            &serde_json::json!({"cat": person.categories, "vad": person.vad}).to_string(),
        );
        lines.push('\n');
        bar.inc(1);
    }
    bar.finish_and_clear();
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let preds_path = output.join(format!("{split}_preds.jsonl"));
    emotic_atomic::write(&preds_path, lines.as_bytes())
        .with_context(|| format!("cannot write {}", preds_path.display()))?;
    let preds = Loaded {
        cat: Matrix::from_person_major(ds.len(), CATEGORIES.len(), &cat)?,
        vad: Some(Matrix::from_person_major(ds.len(), VAD_NAMES.len(), &vad)?),
    };
    Ok((preds, labels))
}

/// Loads categories (and VAD from the same file where the format carries both, or from `cont`).
fn load(path: &Path, cont: Option<&Path>) -> anyhow::Result<Loaded> {
    let mut loaded = if path.is_dir() {
        let ds = Dataset::open(path).with_context(|| format!("opening {}", path.display()))?;
        let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        Loaded {
            cat: Matrix::from_person_major(ds.len(), CATEGORIES.len(), &f64s(ds.cat()))?,
            vad: Some(Matrix::from_person_major(
                ds.len(),
                VAD_NAMES.len(),
                &f64s(ds.vad()),
            )?),
        }
    } else if has_ext(path, "jsonl") {
        let j = jsonl::read_jsonl(path)?;
        Loaded {
            cat: j.cat,
            vad: j.vad,
        }
    } else {
        Loaded {
            cat: load_matrix(path, CATEGORIES.len())?,
            vad: None,
        }
    };
    if let Some(c) = cont {
        loaded.vad = Some(load_matrix(c, VAD_NAMES.len())?);
    }
    Ok(loaded)
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// A 2-D array from `.mat` (first numeric variable, preferring the reference key names) or
/// `.npy`, returned with `rows` rows (transposed from (N, rows) when needed).
fn load_matrix(path: &Path, rows: usize) -> anyhow::Result<Matrix> {
    let (shape, row_major): (Vec<usize>, Vec<f64>) = if has_ext(path, "mat") {
        let mat = read_mat_file(path)?;
        let preferred = ["cat_preds", "cat_labels", "cont_preds", "cont_labels"];
        let var = mat
            .variables
            .iter()
            .filter(|v| matches!(v.value, MatValue::Numeric { .. }))
            .max_by_key(|v| preferred.contains(&v.name.as_str()))
            .with_context(|| format!("{}: no numeric variable", path.display()))?;
        let MatValue::Numeric { dims, data, .. } = &var.value else {
            unreachable!()
        };
        if dims.len() != 2 {
            bail!(
                "{}: '{}' has dimensions {dims:?}, expected 2-D",
                path.display(),
                var.name
            );
        }
        // MATLAB stores column-major.
        let (r, c) = (dims[0], dims[1]);
        let mut rm = vec![0.0; data.len()];
        for i in 0..r {
            for j in 0..c {
                rm[i * c + j] = data[j * r + i];
            }
        }
        (dims.clone(), rm)
    } else if has_ext(path, "npy") {
        let arr = emotic_weights::npy::read_npy_file(path)?;
        if arr.shape.len() != 2 {
            bail!("{}: shape {:?}, expected 2-D", path.display(), arr.shape);
        }
        (arr.shape.clone(), arr.to_f64_vec())
    } else {
        bail!(
            "{}: unknown format (expected .mat, .npy, .jsonl or a prepared split folder)",
            path.display()
        );
    };
    let (r, c) = (shape[0], shape[1]);
    // The reference .mat files are (rows, N); .npy arrays are (N, rows). That layout wins
    // when both fit (N == rows).
    let category_major = if has_ext(path, "mat") {
        r == rows
    } else {
        r == rows && c != rows
    };
    if category_major {
        Ok(Matrix::new(r, c, row_major)?)
    } else if c == rows {
        Ok(Matrix::from_person_major(r, rows, &row_major)?)
    } else {
        bail!(
            "{}: shape {shape:?}, expected ({rows}, N) or (N, {rows})",
            path.display()
        )
    }
}
