//! The training loop of the reference recipe (`train.py`): per epoch, shuffled training
//! batches with augmentation, Adam, then the validation loss, mAP and VAD error; StepLR per
//! epoch; checkpoints (`last`, `best` by validation mAP) after every epoch; at the end the
//! thresholds on val and a model bundle that `emotic predict` loads, plus the same model as the
//! reference's `model_*1.pth` + `val_thresholds.npy` in `reference/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use emotic_bundle::write_bundle;
use emotic_data::dataset::Dataset;
use emotic_eval::{EvalReport, Matrix, evaluate};
use emotic_spec::NUM_CATEGORIES;
use indicatif::{ProgressBar, ProgressStyle};

use crate::adam::{Adam, AdamConfig};
use crate::augment::AugmentConfig;
use crate::batch::{HostBatch, make_batch};
use crate::checkpoint::{self, EpochMetrics, SchedulerState, TrainState};
use crate::loss::{LossConfig, emotic_loss};
use crate::model::{EmoticNet, RESNET18_WIDTHS, Trainable};
use crate::rng::Rng;
use crate::{Error, Result};

/// Where the initial weights come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitWeights {
    /// Context stream checkpoint (Places365 ResNet18, a reference pickle, ...); random when
    /// absent.
    pub context: Option<PathBuf>,
    /// Body stream checkpoint (ImageNet ResNet18, ...); random when absent.
    pub body: Option<PathBuf>,
    /// Head checkpoint; random when absent.
    pub head: Option<PathBuf>,
    /// A whole model to start from instead: our bundle or a reference directory
    /// (`model_context1.pth`, `model_body1.pth`, `model_emotic1.pth`, `val_thresholds.npy`).
    pub model: Option<PathBuf>,
    /// Stage widths of randomly initialised streams (ResNet18: 64/128/256/512).
    pub widths: [usize; 4],
}

impl Default for InitWeights {
    fn default() -> Self {
        Self {
            context: None,
            body: None,
            head: None,
            model: None,
            widths: RESNET18_WIDTHS,
        }
    }
}

/// Every option of a run (recorded in the run's `config.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Prepared dataset root with `train/` and `val/`.
    pub data: PathBuf,
    /// Initial weights.
    pub init: InitWeights,
    /// Epochs (15).
    pub epochs: usize,
    /// Batch size (52).
    pub batch_size: usize,
    /// Base learning rate (0.01; the Colab variant uses 0.001).
    pub lr: f64,
    /// Adam settings (weight decay 5e-4).
    pub adam: AdamConfig,
    /// StepLR step in epochs (7).
    pub lr_step: usize,
    /// StepLR factor (0.1).
    pub lr_gamma: f64,
    /// Loss settings.
    pub loss: LossConfig,
    /// Augmentation, `None` to train on the plain images.
    pub augment: Option<AugmentConfig>,
    /// Dropout probability of the head (0.5).
    pub dropout: f64,
    /// Which parameters train.
    pub trainable: Trainable,
    /// Seed of every random draw (initialisation, shuffling, augmentation, dropout).
    pub seed: u64,
    /// Use only the first N training batches of each epoch (quick experiments, tests).
    pub max_train_batches: Option<usize>,
    /// Use only the first N validation persons.
    pub max_val: Option<usize>,
    /// `cpu` (burn's flex backend), `ndarray`, or `cuda` (`cuda` feature).
    pub device: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::new(),
            init: InitWeights::default(),
            epochs: 15,
            batch_size: 52,
            lr: 0.01,
            adam: AdamConfig::default(),
            lr_step: 7,
            lr_gamma: 0.1,
            loss: LossConfig::default(),
            augment: Some(AugmentConfig::default()),
            dropout: 0.5,
            trainable: Trainable::All,
            seed: 0,
            max_train_batches: None,
            max_val: None,
            device: "cpu".into(),
        }
    }
}

/// How the loop reports and when it stops early.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show progress bars on stderr.
    pub progress: bool,
    /// Stop (as if killed) after this many training batches in this process: for testing
    /// `--resume`. Nothing is saved for the interrupted epoch.
    pub abort_after_batches: Option<usize>,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Per-epoch metrics (all epochs, resumed ones included).
    pub history: Vec<EpochMetrics>,
    /// The model bundle (best validation mAP), loadable by `emotic predict`.
    pub bundle: PathBuf,
    /// The bundle of the last epoch's model.
    pub last_bundle: PathBuf,
    /// Thresholds written into `bundle`.
    pub thresholds: [f32; NUM_CATEGORIES],
    /// Validation report of the bundled model.
    pub report: EvalReport,
}

/// The device named by `name`.
pub fn device_for(name: &str) -> Result<Device> {
    match name {
        // burn's flex backend trains 1.6-2x faster than ndarray here (full size, 2 cores:
        // 1.87 vs 0.95 samples/s at batch 8) and both match PyTorch (tests/golden.rs), so
        // flex is the CPU default; ndarray (deprecated in burn 0.22) stays available.
        "cpu" | "flex" => Ok(Device::flex()),
        #[allow(deprecated)]
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(Error::Config(format!(
            "unknown device `{other}` (this build supports: cpu (= flex), ndarray{})",
            if cfg!(feature = "cuda") {
                ", cuda"
            } else {
                "; rebuild with --features cuda for cuda"
            }
        ))),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Builds the initial model from `init`.
pub fn initial_model(init: &InitWeights, rng: &mut Rng, device: &Device) -> Result<EmoticNet> {
    if let Some(model) = &init.model {
        let weights = if model.is_dir() {
            emotic_bundle::EmotionWeights::from_reference_dir(model)?
        } else {
            emotic_bundle::read_bundle(model)?
        };
        return EmoticNet::from_weights(&weights, device);
    }
    let random = |rng: &mut Rng| crate::model::ResNet::init(init.widths, [2; 4], rng, device);
    let read = |p: &PathBuf| -> Result<crate::model::ResNet> {
        crate::model::ResNet::load(&crate::model::read_tensors(p)?, device)
            .map_err(|e| e.in_file(p))
    };
    let context = match &init.context {
        Some(p) => read(p)?,
        None => random(rng),
    };
    let body = match &init.body {
        Some(p) => read(p)?,
        None => random(rng),
    };
    let features = context.feature_width() + body.feature_width();
    let head = match &init.head {
        Some(p) => {
            crate::model::EmoticHead::load(&crate::model::read_tensors(p)?, features, device)
                .map_err(|e| e.in_file(p))?
        }
        None => crate::model::EmoticHead::init(features, rng, device),
    };
    Ok(EmoticNet {
        context,
        body,
        head,
    })
}

fn dropout_mask(
    rng: &mut Rng,
    n: usize,
    hidden: usize,
    p: f64,
    device: &Device,
) -> Option<Tensor<2>> {
    if p <= 0.0 {
        return None;
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    let data: Vec<f32> = (0..n * hidden)
        .map(|_| if rng.bernoulli(p) { 0.0 } else { keep })
        .collect();
    Some(Tensor::from_data(
        TensorData::new(data, [n, hidden]),
        device,
    ))
}

fn scalar(t: Tensor<1>) -> Result<f64> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Tensor(format!("{e:?}")))?;
    Ok(v.first().copied().unwrap_or(f32::NAN) as f64)
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Tensor(format!("{e:?}")))
}

fn bar(len: usize, show: bool, message: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} {elapsed_precise}<{eta_precise} {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(message);
    pb
}

/// Validation of `model` (eval mode): loss sums, predictions and the eval report.
pub struct Validation {
    /// `(total, cat, cont)` sums.
    pub losses: (f64, f64, f64),
    /// Category scores, person-major `[N*26]`.
    pub cat_preds: Vec<f32>,
    /// VAD predictions on the 1-10 scale `[N*3]`.
    pub vad_preds: Vec<f32>,
    /// Scores (mAP, VAD error, thresholds).
    pub report: EvalReport,
}

/// Runs the model over the validation split in eval mode.
pub fn validate(
    model: &EmoticNet,
    dataset: &Dataset,
    config: &TrainConfig,
    device: &Device,
    progress: bool,
) -> Result<Validation> {
    let eval_model = model.valid();
    let plain = device.clone().inner();
    let n = config
        .max_val
        .map_or(dataset.len(), |m| m.min(dataset.len()));
    if n == 0 {
        return Err(Error::Config(format!(
            "{}: the validation split is empty",
            dataset.dir().display()
        )));
    }
    let indices: Vec<usize> = (0..n).collect();
    let (mut total, mut cat_sum, mut cont_sum) = (0.0, 0.0, 0.0);
    let (mut cat_preds, mut vad_preds) = (Vec::with_capacity(n * 26), Vec::with_capacity(n * 3));
    let (mut cat_labels, mut vad_labels) = (Vec::with_capacity(n * 26), Vec::with_capacity(n * 3));
    let pb = bar(n, progress, "val".into());
    for chunk in indices.chunks(config.batch_size.max(1)) {
        let host: HostBatch = make_batch(dataset, chunk, None)?;
        let batch = host.to_device(&plain);
        let (pc, pv) = eval_model.forward(batch.context, batch.body, None);
        let terms = emotic_loss(
            &config.loss,
            pc.clone(),
            pv.clone(),
            &host.cat,
            batch.cat,
            batch.cont,
        );
        total += scalar(terms.total)?;
        cat_sum += scalar(terms.categorical)?;
        cont_sum += scalar(terms.continuous)?;
        cat_preds.extend(to_vec(pc)?);
        vad_preds.extend(to_vec(pv)?.into_iter().map(|v| v * 10.0));
        cat_labels.extend_from_slice(&host.cat);
        vad_labels.extend_from_slice(&host.vad);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let report = evaluate(
        &Matrix::from_person_major(n, NUM_CATEGORIES, &f64s(&cat_preds))?,
        &Matrix::from_person_major(n, NUM_CATEGORIES, &f64s(&cat_labels))?,
        Some((
            &Matrix::from_person_major(n, 3, &f64s(&vad_preds))?,
            &Matrix::from_person_major(n, 3, &f64s(&vad_labels))?,
        )),
    )?;
    Ok(Validation {
        losses: (total, cat_sum, cont_sum),
        cat_preds,
        vad_preds,
        report,
    })
}

/// Paths inside a run folder.
#[derive(Debug, Clone)]
pub struct RunPaths {
    /// The folder.
    pub dir: PathBuf,
}

impl RunPaths {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }
    /// `weights/last.ckpt.safetensors`.
    pub fn last(&self) -> PathBuf {
        self.dir.join("weights").join("last.ckpt.safetensors")
    }
    /// `weights/best.ckpt.safetensors`.
    pub fn best(&self) -> PathBuf {
        self.dir.join("weights").join("best.ckpt.safetensors")
    }
    /// `model.safetensors` (bundle of the best model).
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
    /// `model_last.safetensors`.
    pub fn last_bundle(&self) -> PathBuf {
        self.dir.join("model_last.safetensors")
    }
}

/// Writes the metrics CSV (whole file, atomically).
fn write_metrics(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut text = String::from(
        "epoch,lr,train_loss,train_cat_loss,train_cont_loss,val_loss,val_cat_loss,val_cont_loss,val_map,val_vad_error,samples_per_second\n",
    );
    for m in history {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{:.3}\n",
            m.epoch,
            m.lr,
            m.train_loss,
            m.train_cat,
            m.train_cont,
            m.val_loss,
            m.val_cat,
            m.val_cont,
            m.val_map,
            m.val_vad_error,
            m.samples_per_second
        ));
    }
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically ([`emotic_atomic::write`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    emotic_atomic::write(path, bytes).map_err(io_err(path))
}

/// Trains in `run_dir` (fresh, or resumed from its `weights/last.ckpt.safetensors` when
/// `resume` is set, in which case `config` must equal the recorded one).
pub fn train(
    config: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    options: &RunOptions,
) -> Result<TrainOutcome> {
    if config.batch_size < 2 {
        return Err(Error::Config(
            "batch size must be at least 2 (BatchNorm needs two samples)".into(),
        ));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(Error::Config(format!(
            "dropout must be in [0, 1), got {}",
            config.dropout
        )));
    }
    let paths = RunPaths {
        dir: run_dir.to_path_buf(),
    };
    std::fs::create_dir_all(paths.dir.join("weights")).map_err(io_err(&paths.dir))?;
    let config_json =
        serde_json::to_string_pretty(config).map_err(|e| Error::Config(e.to_string()))?;
    let device = device_for(&config.device)?.autodiff();
    let train_set = Dataset::open(&config.data.join("train"))?;
    let val_set = Dataset::open(&config.data.join("val"))?;
    if train_set.len() < 2 {
        return Err(Error::Config(format!(
            "{}: fewer than 2 training records",
            train_set.dir().display()
        )));
    }

    let (mut model, mut adam, mut state) = if resume {
        let (model, adam, state) = checkpoint::load(&paths.last(), &device)?;
        if state.config_json != config_json {
            return Err(Error::Checkpoint {
                path: paths.last(),
                message: "the run was started with different options; resume with the recorded config.json".into(),
            });
        }
        (model, adam, state)
    } else {
        write_atomic(&paths.config(), config_json.as_bytes())?;
        let mut init_rng = Rng::derive(config.seed, 1);
        let model = initial_model(&config.init, &mut init_rng, &device)?;
        let state = TrainState {
            epoch: 0,
            rng: Rng::derive(config.seed, 2),
            scheduler: SchedulerState {
                last_epoch: 0,
                step_size: config.lr_step,
                gamma: config.lr_gamma,
                base_lr: config.lr,
            },
            best: None,
            history: Vec::new(),
            config_json: config_json.clone(),
        };
        (model, Adam::new(config.adam), state)
    };
    model = model.with_trainable(config.trainable);

    let mut batches_this_process = 0usize;
    while state.epoch < config.epochs {
        let epoch = state.epoch + 1;
        let lr = state.scheduler.lr();
        let mut rng = state.rng.clone();
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        rng.shuffle(&mut order);
        let mut chunks: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        // A final batch of one would make BatchNorm1d fail in PyTorch; skip it.
        if chunks.last().is_some_and(|c| c.len() < 2) {
            chunks.pop();
        }
        if let Some(max) = config.max_train_batches {
            chunks.truncate(max);
        }
        let samples: usize = chunks.iter().map(|c| c.len()).sum();
        let pb = bar(
            samples,
            options.progress,
            format!("epoch {epoch}/{}", config.epochs),
        );
        let (mut total, mut cat_sum, mut cont_sum) = (0.0, 0.0, 0.0);
        let started = Instant::now();
        for chunk in chunks {
            if options.abort_after_batches == Some(batches_this_process) {
                return Err(Error::Config("interrupted (abort_after_batches)".into()));
            }
            let host = make_batch(
                &train_set,
                chunk,
                config.augment.as_ref().map(|a| (a, &mut rng)),
            )?;
            let mask = dropout_mask(
                &mut rng,
                host.len,
                model.head.hidden(),
                config.dropout,
                &device,
            );
            let batch = host.to_device(&device);
            let (pc, pv) = model.forward(batch.context, batch.body, mask);
            let terms = emotic_loss(&config.loss, pc, pv, &host.cat, batch.cat, batch.cont);
            let grads = terms.total.backward();
            model = adam.step(model, &grads, lr);
            total += scalar(terms.total)?;
            cat_sum += scalar(terms.categorical)?;
            cont_sum += scalar(terms.continuous)?;
            batches_this_process += 1;
            pb.inc(host.len as u64);
            pb.set_message(format!("epoch {epoch}/{} loss {:.4}", config.epochs, total));
        }
        pb.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        let val = validate(&model, &val_set, config, &device, options.progress)?;
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: total,
            train_cat: cat_sum,
            train_cont: cont_sum,
            val_loss: val.losses.0,
            val_cat: val.losses.1,
            val_cont: val.losses.2,
            val_map: f64::from(val.report.mean_ap),
            val_vad_error: val
                .report
                .vad
                .as_ref()
                .map_or(f64::NAN, |v| f64::from(v.mean)),
            samples_per_second: samples as f64 / seconds.max(1e-9),
        };
        if options.progress {
            eprintln!(
                "epoch {epoch}/{}: lr {lr:.0e} train loss {:.4} (cat {:.4}, cont {:.4}) | val loss {:.4} mAP {:.5} VAD error {:.4} | {:.2} samples/s",
                config.epochs,
                metrics.train_loss,
                metrics.train_cat,
                metrics.train_cont,
                metrics.val_loss,
                metrics.val_map,
                metrics.val_vad_error,
                metrics.samples_per_second
            );
        }
        let improved = state.best.is_none_or(|(b, _)| metrics.val_map > b);
        state.history.push(metrics);
        state.epoch = epoch;
        state.rng = rng;
        state.scheduler.last_epoch = epoch;
        if improved {
            state.best = Some((state.history[epoch - 1].val_map, epoch));
            checkpoint::save(&paths.best(), &model, &adam, &state)?;
        }
        checkpoint::save(&paths.last(), &model, &adam, &state)?;
        write_metrics(&paths.metrics(), &state.history)?;
        crate::curves::write_curves(&paths.dir.join("curves.png"), &state.history)?;
    }

    // Thresholds on val with the eval semantics, for the last and the best model.
    let plain_thresholds = |report: &EvalReport| -> [f32; NUM_CATEGORIES] {
        let mut t = [0.0; NUM_CATEGORIES];
        for (slot, v) in t.iter_mut().zip(report.thresholds()) {
            *slot = v;
        }
        t
    };
    let last_val = validate(&model, &val_set, config, &device, options.progress)?;
    let last_weights = model
        .valid()
        .to_weights(plain_thresholds(&last_val.report))?;
    write_bundle(&last_weights, &paths.last_bundle())?;
    let (best_model, _, _) = if paths.best().is_file() {
        checkpoint::load(&paths.best(), &device)?
    } else {
        checkpoint::load(&paths.last(), &device)?
    };
    let best_val = validate(&best_model, &val_set, config, &device, options.progress)?;
    let thresholds = plain_thresholds(&best_val.report);
    let best_weights = best_model.valid().to_weights(thresholds)?;
    write_bundle(&best_weights, &paths.bundle())?;
    // The same model as the reference's whole-module .pth files and thresholds, for its own
    // scripts; replaced like the bundle when a finished run is resumed.
    emotic_bundle::write_reference_dir(&best_weights, &paths.dir.join("reference"), true)?;
    Ok(TrainOutcome {
        history: state.history,
        bundle: paths.bundle(),
        last_bundle: paths.last_bundle(),
        thresholds,
        report: best_val.report,
    })
}
