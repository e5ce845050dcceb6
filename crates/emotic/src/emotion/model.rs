//! The EMOTIC model on ONNX Runtime: three sessions built once, run once per frame.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{
    BODY_NORM, BODY_SIZE, CONTEXT_NORM, CONTEXT_SIZE, ImageSize, NUM_CATEGORIES, PersonEmotion,
    SkipReason, box_to_rect,
};
use super::{EmotionWeights, Part};
use crate::arch::{fusion, resnet};
use crate::engine::{Session, SessionOptions};
use crate::imageops::{PixelRect, crop_rgb, normalize_chw, resize_rgb};
use crate::{Error, Result};

/// Most persons sent through the body stream in one run (larger crowds are split).
pub const MAX_BODY_BATCH: usize = 64;

/// The outcome for one input box of [`EmotionModel::predict`].
#[derive(Debug, Clone, PartialEq)]
pub enum BoxOutcome {
    /// The person was scored.
    Scored {
        /// The integer crop that was used (`img[y1:y2, x1:x2]`).
        rect: PixelRect,
        /// The model's output.
        emotion: PersonEmotion,
    },
    /// The box was not scored, and why.
    Skipped(SkipReason),
}

impl BoxOutcome {
    /// The emotion, when the box was scored.
    #[must_use]
    pub fn emotion(&self) -> Option<&PersonEmotion> {
        match self {
            Self::Scored { emotion, .. } => Some(emotion),
            Self::Skipped(_) => None,
        }
    }
}

/// Raw outputs of the three stages, for callers that time or inspect them.
#[derive(Debug, Clone, PartialEq)]
pub struct StageOutputs {
    /// Context features `[features]` (one frame).
    pub context: Vec<f32>,
    /// Body features `[persons, features]`.
    pub body: Vec<f32>,
    /// Per-person results.
    pub persons: Vec<PersonEmotion>,
}

/// The EMOTIC model, loaded once: context stream, body stream and fusion head sessions plus the
/// thresholds. Keep one per process and reuse it for every frame.
#[derive(Debug)]
pub struct EmotionModel {
    context: Session,
    body: Session,
    head: Session,
    thresholds: [f32; NUM_CATEGORIES],
    /// Feature width of each stream (512 for ResNet18).
    features: usize,
}

/// Where each part came from, to name it in errors.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub(crate) context: Option<PathBuf>,
    pub(crate) body: Option<PathBuf>,
    pub(crate) head: Option<PathBuf>,
}

impl Sources {
    fn of(&self, part: Part) -> Option<&PathBuf> {
        match part {
            Part::Context => self.context.as_ref(),
            Part::Body => self.body.as_ref(),
            Part::Head => self.head.as_ref(),
        }
    }

    fn all(path: &Path) -> Self {
        let p = Some(path.to_path_buf());
        Self {
            context: p.clone(),
            body: p.clone(),
            head: p,
        }
    }
}

impl EmotionModel {
    /// Loads the reference files (`model_context1.pth`, `model_body1.pth`, `model_emotic1.pth`,
    /// `val_thresholds.npy`) and builds the sessions.
    ///
    /// # Errors
    /// [`Error::Model`] naming the file for a missing, unreadable or wrong-kind file, wrong
    /// thresholds, or tensors whose shapes do not fit together; ONNX Runtime errors.
    pub fn from_reference_files(
        context: &Path,
        body: &Path,
        head: &Path,
        thresholds: &Path,
    ) -> Result<Self> {
        let weights = EmotionWeights::from_reference_files(context, body, head, thresholds)?;
        let sources = Sources {
            context: Some(context.to_path_buf()),
            body: Some(body.to_path_buf()),
            head: Some(head.to_path_buf()),
        };
        Self::build(&weights, &sources, SessionOptions::default())
    }

    /// Loads a model bundle written by [`super::write_bundle`].
    ///
    /// # Errors
    /// As [`super::read_bundle`], plus architecture and ONNX Runtime errors.
    pub fn from_bundle(path: &Path) -> Result<Self> {
        let weights = super::read_bundle(path)?;
        Self::build(&weights, &Sources::all(path), SessionOptions::default())
    }

    /// Loads either a bundle file or a directory holding the four reference files.
    ///
    /// # Errors
    /// As [`Self::from_bundle`] / [`Self::from_reference_files`].
    pub fn from_path(path: &Path) -> Result<Self> {
        if path.is_dir() {
            Self::from_reference_files(
                &path.join(Part::Context.reference_file()),
                &path.join(Part::Body.reference_file()),
                &path.join(Part::Head.reference_file()),
                &path.join(super::THRESHOLDS_FILE),
            )
        } else {
            Self::from_bundle(path)
        }
    }

    /// Builds the sessions from weights already in memory.
    ///
    /// # Errors
    /// Architecture errors (missing key, wrong shape, streams that do not fit the head) and
    /// ONNX Runtime errors.
    pub fn from_weights(weights: &EmotionWeights, options: SessionOptions) -> Result<Self> {
        Self::build(weights, &Sources::default(), options)
    }

    pub(crate) fn build(
        weights: &EmotionWeights,
        sources: &Sources,
        options: SessionOptions,
    ) -> Result<Self> {
        let graphs = build_graphs(weights, sources)?;
        let context = Session::from_bytes(&graphs[0], options)?;
        let body = Session::from_bytes(&graphs[1], options)?;
        let head = Session::from_bytes(&graphs[2], options)?;
        let width = |s: &Session| {
            s.outputs()
                .first()
                .and_then(|o| o.shape.get(1).copied().flatten())
        };
        let head_in = head
            .inputs()
            .first()
            .and_then(|i| i.shape.get(1).copied().flatten());
        let (ctx_w, body_w) = (width(&context), width(&body));
        // Blame the head file (its fc1 fixes the expected width) and name the stream's file too.
        let mismatch = |part: Part, w: Option<usize>| {
            let stream = sources
                .of(part)
                .map_or_else(String::new, |p| format!(" ({})", p.display()));
            let message = format!(
                "mismatched tensor shapes: the {} stream{stream} emits {w:?} features but the \
                 fusion head's fc1 expects {head_in:?} per stream (fc1 input = context + body)",
                part.prefix()
            );
            match sources.of(Part::Head) {
                Some(p) => Error::Model {
                    path: p.clone(),
                    message,
                },
                None => Error::Architecture(message),
            }
        };
        if ctx_w != head_in {
            return Err(mismatch(Part::Context, ctx_w));
        }
        if body_w != head_in {
            return Err(mismatch(Part::Body, body_w));
        }
        let features =
            head_in.ok_or_else(|| Error::Architecture("fusion head input width unknown".into()))?;
        let n_cat = head
            .outputs()
            .first()
            .and_then(|o| o.shape.get(1).copied().flatten());
        if n_cat != Some(NUM_CATEGORIES) {
            let message =
                format!("the fusion head emits {n_cat:?} categories, expected {NUM_CATEGORIES}");
            return Err(match sources.of(Part::Head) {
                Some(p) => Error::Model {
                    path: p.clone(),
                    message,
                },
                None => Error::Architecture(message),
            });
        }
        Ok(Self {
            context,
            body,
            head,
            thresholds: weights.thresholds,
            features,
        })
    }

    /// The per-category thresholds in use.
    #[must_use]
    pub fn thresholds(&self) -> &[f32; NUM_CATEGORIES] {
        &self.thresholds
    }

    /// Feature width of each stream (512 for the reference ResNet18).
    #[must_use]
    pub fn feature_width(&self) -> usize {
        self.features
    }

    /// Scores every box in `frame` (an RGB image as decoded). Each box gets an outcome, in input
    /// order; degenerate boxes are skipped with a reason. The context stream runs once, the body
    /// stream and the head once each for all persons together.
    ///
    /// # Errors
    /// Only for failures of the model itself (ONNX Runtime), never for a bad box.
    pub fn predict(&mut self, frame: &RgbImage, boxes: &[[f32; 4]]) -> Result<Vec<BoxOutcome>> {
        let rects: Vec<std::result::Result<PixelRect, SkipReason>> = boxes
            .iter()
            .map(|b| box_to_rect(*b, frame.width(), frame.height()))
            .collect();
        let mut bodies = Vec::new();
        for rect in rects.iter().flatten() {
            let crop = crop_rgb(frame, *rect)?;
            bodies.push(resize_rgb(&crop, BODY_SIZE.width, BODY_SIZE.height)?);
        }
        let persons = if bodies.is_empty() {
            Vec::new()
        } else {
            let context = resize_rgb(frame, CONTEXT_SIZE.width, CONTEXT_SIZE.height)?;
            self.predict_preprocessed(&context, &bodies)?.persons
        };
        if persons.len() != bodies.len() {
            return Err(Error::Architecture(format!(
                "the model returned {} results for {} persons",
                persons.len(),
                bodies.len()
            )));
        }
        let mut persons = persons.into_iter();
        let mut outcomes = Vec::with_capacity(rects.len());
        for r in rects {
            outcomes.push(match (r, &mut persons) {
                (Ok(rect), it) => match it.next() {
                    Some(emotion) => BoxOutcome::Scored { rect, emotion },
                    None => return Err(Error::Architecture("missing person result".into())),
                },
                (Err(reason), _) => BoxOutcome::Skipped(reason),
            });
        }
        Ok(outcomes)
    }

    /// Runs the model on inputs already resized the reference way: the 224x224 context image and
    /// one 128x128 body image per person (RGB, `cv2.resize` output).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for wrong image sizes; ONNX Runtime errors.
    pub fn predict_preprocessed(
        &mut self,
        context: &RgbImage,
        bodies: &[RgbImage],
    ) -> Result<StageOutputs> {
        let ctx = self.context_features(context)?;
        let body = self.body_features(bodies)?;
        let persons = self.fuse(&ctx, &body)?;
        Ok(StageOutputs {
            context: ctx,
            body,
            persons,
        })
    }

    /// Context stream on one resized 224x224 frame: `[features]`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a wrong size; ONNX Runtime errors.
    pub fn context_features(&mut self, context: &RgbImage) -> Result<Vec<f32>> {
        check_size(context, CONTEXT_SIZE, "context")?;
        let mut input = Vec::new();
        normalize_chw(context, &CONTEXT_NORM, &mut input);
        let [h, w, _] = CONTEXT_SIZE.hwc();
        let shape = [1, 3, h, w];
        let out = self.context.run(&[(resnet::INPUT_NAME, &shape, &input)])?;
        take_features(out, 1, self.features)
    }

    /// Body stream on a batch of resized 128x128 crops: `[persons, features]`. Crowds larger
    /// than [`MAX_BODY_BATCH`] run in several batches of that size, which bounds the input
    /// tensor's memory (64 crops: 12.6 MB) without changing the results.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a wrong size; ONNX Runtime errors.
    pub fn body_features(&mut self, bodies: &[RgbImage]) -> Result<Vec<f32>> {
        let mut features = Vec::with_capacity(bodies.len() * self.features);
        for chunk in bodies.chunks(MAX_BODY_BATCH) {
            let mut input = Vec::new();
            for b in chunk {
                check_size(b, BODY_SIZE, "body")?;
                normalize_chw(b, &BODY_NORM, &mut input);
            }
            let [h, w, _] = BODY_SIZE.hwc();
            let shape = [chunk.len(), 3, h, w];
            let out = self.body.run(&[(resnet::INPUT_NAME, &shape, &input)])?;
            features.extend(take_features(out, chunk.len(), self.features)?);
        }
        Ok(features)
    }

    /// Fusion head for all persons of a frame: the frame's context features (repeated per
    /// person) and each person's body features.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the feature lengths do not fit; ONNX Runtime errors.
    pub fn fuse(&mut self, context: &[f32], body: &[f32]) -> Result<Vec<PersonEmotion>> {
        let f = self.features;
        if context.len() != f || !body.len().is_multiple_of(f) {
            return Err(Error::InvalidInput(format!(
                "fusion head needs {f} context features and a multiple of {f} body features, \
                 got {} and {}",
                context.len(),
                body.len()
            )));
        }
        let n = body.len() / f;
        if n == 0 {
            return Ok(Vec::new());
        }
        let ctx: Vec<f32> = context.iter().copied().cycle().take(n * f).collect();
        let shape = [n, f];
        let out = self.head.run(&[
            (fusion::CONTEXT_INPUT, &shape, &ctx),
            (fusion::BODY_INPUT, &shape, body),
        ])?;
        let find = |name: &str| {
            out.iter()
                .find(|o| o.name == name)
                .ok_or_else(|| Error::Architecture(format!("fusion head has no output `{name}`")))
        };
        let (cat, cont) = (find(fusion::CAT_OUTPUT)?, find(fusion::CONT_OUTPUT)?);
        if cat.data.len() != n * NUM_CATEGORIES || cont.data.len() != n * 3 {
            return Err(Error::Architecture(format!(
                "fusion head outputs have shapes {:?} and {:?}, expected [{n}, 26] and [{n}, 3]",
                cat.shape, cont.shape
            )));
        }
        Ok((0..n)
            .map(|i| {
                let mut scores = [0.0; NUM_CATEGORIES];
                scores.copy_from_slice(&cat.data[i * NUM_CATEGORIES..(i + 1) * NUM_CATEGORIES]);
                let vad = [cont.data[i * 3], cont.data[i * 3 + 1], cont.data[i * 3 + 2]];
                PersonEmotion::from_raw(scores, vad, &self.thresholds)
            })
            .collect())
    }
}

/// Builds the three ONNX graphs (context, body, head), naming the source file on errors.
pub(crate) fn build_graphs(weights: &EmotionWeights, sources: &Sources) -> Result<[Vec<u8>; 3]> {
    let [ch, cw, _] = CONTEXT_SIZE.hwc();
    let [bh, bw, _] = BODY_SIZE.hwc();
    let context = resnet::build_resnet18_features(&weights.context, (ch, cw))
        .map_err(|e| in_file(sources.of(Part::Context), "context stream", e))?;
    let body = resnet::build_resnet18_features(&weights.body, (bh, bw))
        .map_err(|e| in_file(sources.of(Part::Body), "body stream", e))?;
    let head = fusion::build_fusion_head(&weights.head)
        .map_err(|e| in_file(sources.of(Part::Head), "fusion head", e))?;
    Ok([context, body, head])
}

fn check_size(img: &RgbImage, size: ImageSize, what: &str) -> Result<()> {
    let (w, h) = (size.width, size.height);
    if img.dimensions() != (w, h) {
        return Err(Error::InvalidInput(format!(
            "{what} input must be {w}x{h}, got {}x{}",
            img.width(),
            img.height()
        )));
    }
    Ok(())
}

fn take_features(out: Vec<crate::engine::Output>, n: usize, f: usize) -> Result<Vec<f32>> {
    let first = out
        .into_iter()
        .next()
        .ok_or_else(|| Error::Architecture("stream has no output".into()))?;
    if first.data.len() != n * f {
        return Err(Error::Architecture(format!(
            "stream output has shape {:?}, expected [{n}, {f}]",
            first.shape
        )));
    }
    Ok(first.data)
}

/// Rewrites an architecture error (missing key, wrong shape) so it names the file it came from.
fn in_file(path: Option<&PathBuf>, what: &str, err: Error) -> Error {
    match (path, err) {
        (Some(p), Error::Architecture(msg)) => Error::Model {
            path: p.clone(),
            message: format!("{what}: {msg}"),
        },
        (None, Error::Architecture(msg)) => Error::Architecture(format!("{what}: {msg}")),
        (_, other) => other,
    }
}
