//! `emotic train`: trains the EMOTIC model with the reference recipe (see `emotic_train`),
//! in `runs/train/expN/` (config.json, metrics.csv, weights/{last,best}.ckpt.safetensors,
//! model.safetensors for `emotic predict --emotion-model`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use emotic_train::adam::AdamConfig;
use emotic_train::augment::AugmentConfig;
use emotic_train::loss::{CategoryWeighting, ContinuousLoss, LossConfig};
use emotic_train::model::{RESNET18_WIDTHS, Trainable};
use emotic_train::trainer::{InitWeights, RunOptions, TrainConfig, train};

use super::Outcome;

/// Category weighting choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Weighting {
    /// 1/ln(n_c + 1.2) from the batch's positives (reference default).
    Dynamic,
    /// 1/26 each.
    Mean,
    /// The 26 published weights.
    Static,
}

/// Continuous loss choices.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ContLoss {
    /// Smooth L1, margin 1 (reference default).
    SmoothL1,
    /// Squared error beyond the margin.
    L2,
}

/// Arguments of `emotic train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Prepared dataset root (from `emotic prepare`) holding `train/` and `val/`.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Context stream initial weights: Places365 ResNet18 (`resnet18_places365.pth.tar`),
    /// a torchvision state dict or a reference `model_context1.pth`. Random when absent.
    #[arg(long)]
    pub context_weights: Option<PathBuf>,
    /// Body stream initial weights: ImageNet ResNet18 (`resnet18-f37072fd.pth`) or a
    /// reference `model_body1.pth`. Random when absent.
    #[arg(long)]
    pub body_weights: Option<PathBuf>,
    /// Fusion head initial weights (`model_emotic1.pth`). Random when absent.
    #[arg(long)]
    pub head_weights: Option<PathBuf>,
    /// Start from a whole model: our bundle (`.safetensors`) or a reference directory.
    #[arg(long, conflicts_with_all = ["context_weights", "body_weights", "head_weights"])]
    pub init_model: Option<PathBuf>,
    /// Fetch the stream weights not given above from their official URLs: Places365 ResNet18
    /// for the context stream, torchvision's ImageNet ResNet18 for the body. Files go to the
    /// cache (`$EMOTIC_CACHE_DIR/weights`, default `~/.cache/emotic-rs/weights`), are checked
    /// against the published sha256, and an interrupted download resumes where it stopped. A
    /// verified copy in PyTorch's hub cache is used in place.
    #[arg(long, conflicts_with_all = ["init_model", "resume"])]
    pub download: bool,
    /// With `--download`, fetch from this base URL instead (`<URL>/<file name>`), e.g. an
    /// internal mirror; the files must still match the official sha256.
    #[arg(long, requires = "download", value_name = "URL")]
    pub download_mirror: Option<String>,
    /// Stage widths of randomly initialised streams (ResNet18: 64,128,256,512).
    #[arg(long, value_delimiter = ',', default_values_t = RESNET18_WIDTHS)]
    pub widths: Vec<usize>,
    /// Epochs.
    #[arg(long, default_value_t = 15)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 52)]
    pub batch_size: usize,
    /// Learning rate (reference 0.01; the Colab notebook uses 0.001).
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Adam weight decay (L2, added to the gradient).
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// StepLR step (epochs).
    #[arg(long, default_value_t = 7)]
    pub lr_step: usize,
    /// StepLR factor.
    #[arg(long, default_value_t = 0.1)]
    pub lr_gamma: f64,
    /// Category loss weighting.
    #[arg(long, value_enum, default_value = "dynamic")]
    pub cat_weighting: Weighting,
    /// Continuous (VAD) loss.
    #[arg(long, value_enum, default_value = "smooth-l1")]
    pub cont_loss: ContLoss,
    /// Weight of the categorical loss.
    #[arg(long, default_value_t = 0.5)]
    pub cat_loss_weight: f64,
    /// Weight of the continuous loss.
    #[arg(long, default_value_t = 0.5)]
    pub cont_loss_weight: f64,
    /// Train without flips and colour jitter.
    #[arg(long)]
    pub no_augment: bool,
    /// Dropout probability in the head.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f64,
    /// Freeze both backbones (train the head only; BatchNorm statistics still update, as in
    /// the reference Colab notebook).
    #[arg(long, conflicts_with = "train_last_stage")]
    pub freeze_backbones: bool,
    /// Train the head and `layer4` of both streams only.
    #[arg(long)]
    pub train_last_stage: bool,
    /// Seed of every random draw; runs with the same seed are identical on CPU.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use only the first N training batches per epoch.
    #[arg(long)]
    pub max_train_batches: Option<usize>,
    /// Use only the first N validation persons.
    #[arg(long)]
    pub max_val: Option<usize>,
    /// `cpu` (burn's flex backend), `ndarray` (burn's older CPU backend), or `cuda` in builds
    /// with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Runs folder.
    #[arg(long, default_value = "runs/train")]
    pub project: PathBuf,
    /// Run name (`exp`, `exp2`, ...).
    #[arg(long, default_value = "exp")]
    pub name: String,
    /// Continue the run in this folder from its last checkpoint, with its recorded options.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Testing aid: stop as if killed after this many training batches.
    #[arg(long, hide = true)]
    pub abort_after_batches: Option<usize>,
}

impl TrainArgs {
    /// The context and body weights: as given, else downloaded with `--download`.
    fn initial_stream_weights(&self) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
        let mut context = self.context_weights.clone();
        let mut body = self.body_weights.clone();
        if !self.download {
            return Ok((context, body));
        }
        if let Some(data) = &self.data
            && !data.is_dir()
        {
            // Fail before spending minutes on a download the run cannot use.
            bail!("{}: no such dataset folder", data.display());
        }
        let mut fetcher = emotic_fetch::Fetcher::with_default_cache()?;
        fetcher.mirror.clone_from(&self.download_mirror);
        fetcher.progress = !self.quiet;
        for (slot, artifact, what) in [
            (&mut context, emotic_fetch::PLACES365_RESNET18, "context"),
            (&mut body, emotic_fetch::IMAGENET_RESNET18, "body"),
        ] {
            if slot.is_none() {
                let path = fetcher.fetch(&artifact).with_context(|| {
                    format!(
                        "cannot get the {what} stream's initial weights ({})",
                        artifact.file_name
                    )
                })?;
                eprintln!("{what} stream starts from {}", path.display());
                *slot = Some(path);
            }
        }
        Ok((context, body))
    }

    fn config(&self) -> anyhow::Result<TrainConfig> {
        let Some(data) = self.data.clone() else {
            bail!("--data is required for a new run");
        };
        let widths: [usize; 4] = self
            .widths
            .clone()
            .try_into()
            .map_err(|_| anyhow::anyhow!("--widths takes 4 numbers"))?;
        let (context, body) = self.initial_stream_weights()?;
        Ok(TrainConfig {
            data,
            init: InitWeights {
                context,
                body,
                head: self.head_weights.clone(),
                model: self.init_model.clone(),
                widths,
            },
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            adam: AdamConfig {
                weight_decay: self.weight_decay,
                ..AdamConfig::default()
            },
            lr_step: self.lr_step,
            lr_gamma: self.lr_gamma,
            loss: LossConfig {
                weighting: match self.cat_weighting {
                    Weighting::Dynamic => CategoryWeighting::Dynamic,
                    Weighting::Mean => CategoryWeighting::Mean,
                    Weighting::Static => CategoryWeighting::Static,
                },
                continuous: match self.cont_loss {
                    ContLoss::SmoothL1 => ContinuousLoss::SmoothL1,
                    ContLoss::L2 => ContinuousLoss::L2,
                },
                cat_weight: self.cat_loss_weight,
                cont_weight: self.cont_loss_weight,
            },
            augment: (!self.no_augment).then(AugmentConfig::default),
            dropout: self.dropout,
            trainable: if self.freeze_backbones {
                Trainable::Head
            } else if self.train_last_stage {
                Trainable::LastStage
            } else {
                Trainable::All
            },
            seed: self.seed,
            max_train_batches: self.max_train_batches,
            max_val: self.max_val,
            device: self.device.clone(),
        })
    }
}

/// Runs (or resumes) a training run.
pub fn run(args: &TrainArgs) -> anyhow::Result<Outcome> {
    let options = RunOptions {
        progress: !args.quiet,
        abort_after_batches: args.abort_after_batches,
    };
    let (config, dir, resume) = match &args.resume {
        Some(dir) => {
            let path = dir.join("config.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("{}: cannot read the run's options", path.display()))?;
            let config: TrainConfig = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a training config", path.display()))?;
            (config, dir.clone(), true)
        }
        None => {
            let config = args.config()?;
            let dir = emotic_io::run_dir::create_run_dir(&args.project, &args.name, false)
                .with_context(|| {
                    format!("cannot create a run folder in {}", args.project.display())
                })?;
            (config, dir, false)
        }
    };
    eprintln!("training in {}", dir.display());
    let outcome = train(&config, &dir, resume, &options)
        .with_context(|| format!("training in {} failed", dir.display()))?;
    if let Some(last) = outcome.history.last() {
        eprintln!(
            "done: {} epochs, last val mAP {:.5}, VAD error {:.4}; bundle (best val mAP {:.5}) at {}",
            last.epoch,
            last.val_map,
            last.val_vad_error,
            outcome.report.mean_ap,
            outcome.bundle.display()
        );
    }
    Ok(Outcome::Success)
}
