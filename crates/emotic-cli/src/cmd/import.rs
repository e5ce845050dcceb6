//! `emotic import`: convert the reference EMOTIC files (three `torch.save` checkpoints and
//! `val_thresholds.npy`) into one model bundle.

use std::path::PathBuf;

use anyhow::Context;
use emotic::emotion::{EmotionModel, EmotionWeights, Part, THRESHOLDS_FILE, write_bundle};

use super::Outcome;

/// Arguments of `emotic import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Folder holding `model_context1.pth`, `model_body1.pth`, `model_emotic1.pth` and
    /// `val_thresholds.npy`; the options below override single files.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Context stream checkpoint (`model_context1.pth`).
    #[arg(long)]
    pub context: Option<PathBuf>,
    /// Body stream checkpoint (`model_body1.pth`).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Fusion head checkpoint (`model_emotic1.pth`).
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Thresholds (`val_thresholds.npy`, float32, 26). Required: a bundle never lacks them.
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Bundle to write (e.g. `model.emotic.safetensors`).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
}

impl ImportArgs {
    fn file(&self, given: Option<&PathBuf>, name: &str, flag: &str) -> anyhow::Result<PathBuf> {
        match (given, &self.dir) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(dir)) => Ok(dir.join(name)),
            (None, None) => anyhow::bail!("missing --{flag} (or --dir with {name} inside)"),
        }
    }
}

/// Reads and checks the reference files, makes sure the model builds, and writes the bundle.
pub fn run(args: &ImportArgs) -> anyhow::Result<Outcome> {
    if args.output.exists() && !args.force {
        anyhow::bail!(
            "{} already exists; pass --force to replace it",
            args.output.display()
        );
    }
    let context = args.file(
        args.context.as_ref(),
        Part::Context.reference_file(),
        "context",
    )?;
    let body = args.file(args.body.as_ref(), Part::Body.reference_file(), "body")?;
    let head = args.file(args.head.as_ref(), Part::Head.reference_file(), "head")?;
    let thresholds = args.file(args.thresholds.as_ref(), THRESHOLDS_FILE, "thresholds")?;
    let weights = EmotionWeights::from_reference_files(&context, &body, &head, &thresholds)?;
    // Build the graphs and sessions once so a bundle that cannot run is never written.
    EmotionModel::from_weights(&weights, emotic::engine::SessionOptions::default())
        .context("the checkpoints do not form a runnable EMOTIC model")?;
    write_bundle(&weights, &args.output).context("cannot write the bundle")?;
    tracing::info!("wrote {}", args.output.display());
    Ok(Outcome::Success)
}
