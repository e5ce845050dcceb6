//! `emotic prepare`: an EMOTIC release (Input A) or the reference's preprocessed arrays
//! (Input B) to our dataset format, optionally exported back to the reference layout.
//!
//! Flag names follow the reference `mat2py.py` where it has one (`--data_dir`, `--label`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use emotic_data::dataset::Dataset;
use emotic_data::prepare::{SplitSummary, prepare_reference, prepare_release};
use emotic_data::{SPLITS, reference};

use super::Outcome;

/// Problems listed on stderr before the rest are summarised (all are in the JSON report).
const PROBLEMS_SHOWN: usize = 20;

/// Arguments of `emotic prepare`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["data_dir", "npy_dir"])))]
pub struct PrepareArgs {
    /// Input A: the EMOTIC release folder with `Annotations/Annotations.mat` and
    /// `emotic/{ade20k,emodb_small,framesdb,mscoco}`.
    #[arg(long, alias = "data_dir")]
    pub data_dir: Option<PathBuf>,
    /// Input B: a folder with the reference `{split}_context_arr.npy`, `_body_arr.npy`,
    /// `_cat_arr.npy`, `_cont_arr.npy` and `{split}.csv`.
    #[arg(long, alias = "npy_dir")]
    pub npy_dir: Option<PathBuf>,
    /// Output folder, one subfolder per split [default: <data-dir>/emotic_prepared or
    /// <npy-dir>/prepared].
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Which splits to prepare.
    #[arg(long, default_value = "all", value_parser = ["all", "train", "val", "test"])]
    pub label: String,
    /// Also export the prepared splits to the reference `.npy` + `.csv` layout in this folder.
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// Prepares the requested splits, writes `prepare_report.json` next to them, and exports if asked.
pub fn run(args: &PrepareArgs) -> anyhow::Result<Outcome> {
    let splits: Vec<&str> = if args.label == "all" {
        SPLITS.to_vec()
    } else {
        vec![args.label.as_str()]
    };
    let progress = !args.no_progress;
    let (summaries, output) = match (&args.data_dir, &args.npy_dir) {
        (Some(data_dir), _) => {
            let output = args
                .output
                .clone()
                .unwrap_or_else(|| data_dir.join("emotic_prepared"));
            let s = prepare_release(data_dir, &output, &splits, progress)
                .with_context(|| format!("preparing the release in {}", data_dir.display()))?;
            (s, output)
        }
        (None, Some(npy_dir)) => {
            let output = args
                .output
                .clone()
                .unwrap_or_else(|| npy_dir.join("prepared"));
            let s = prepare_reference(npy_dir, &output, &splits, progress).with_context(|| {
                format!("importing the reference arrays in {}", npy_dir.display())
            })?;
            (s, output)
        }
        (None, None) => anyhow::bail!("give --data-dir (release) or --npy-dir (reference arrays)"),
    };
    let problems = report(&summaries, &output)?;
    if let Some(export_dir) = &args.export {
        for split in &splits {
            let ds = Dataset::open(&output.join(split))?;
            let paths = reference::export_split(&ds, export_dir, split)
                .with_context(|| format!("exporting {split} to {}", export_dir.display()))?;
            tracing::info!("exported {split}: {} and 4 .npy files", paths.csv.display());
        }
    }
    Ok(if problems == 0 {
        Outcome::Success
    } else {
        Outcome::SomeInputsFailed
    })
}

/// Logs counts and per-file problems; writes them all to `prepare_report.json`.
fn report(summaries: &[SplitSummary], output: &Path) -> anyhow::Result<usize> {
    let mut json = serde_json::Map::new();
    let mut total_problems = 0;
    for s in summaries {
        let m = &s.meta;
        let skipped: Vec<String> = m.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        tracing::info!(
            "{}: {} persons written to {}, skipped: {}",
            m.split,
            m.count,
            output.join(&m.split).display(),
            if skipped.is_empty() {
                "none".to_string()
            } else {
                skipped.join(", ")
            }
        );
        for p in s.problems.iter().take(PROBLEMS_SHOWN) {
            tracing::warn!(
                "{}: {} ({})",
                p.path.display(),
                p.reason.as_str(),
                p.message
            );
        }
        if s.problems.len() > PROBLEMS_SHOWN {
            tracing::warn!(
                "... and {} more problems in {}; see prepare_report.json",
                s.problems.len() - PROBLEMS_SHOWN,
                m.split
            );
        }
        total_problems += s.problems.len();
        let problems: Vec<serde_json::Value> = s
            .problems
            .iter()
            .map(|p| {
                serde_json::json!({"path": p.path, "reason": p.reason.as_str(), "message": p.message})
            })
            .collect();
        json.insert(
            m.split.clone(),
            serde_json::json!({"count": m.count, "skipped": m.skipped, "problems": problems}),
        );
    }
    let path = output.join("prepare_report.json");
    emotic_atomic::write(&path, serde_json::to_string_pretty(&json)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(total_problems)
}
