//! Batches from a prepared dataset: optional augmentation, then `ToTensor` + `Normalize` with
//! the EMOTIC statistics into CHW `f32`, targets as the reference's (`cat`, `VAD / 10`).

use burn::tensor::{Device, Tensor, TensorData};
use emotic_data::dataset::Dataset;
use emotic_imageops::normalize_hwc_u8;
use emotic_spec::{
    BODY_NORM, BODY_SIZE, CONTEXT_NORM, CONTEXT_SIZE, NUM_CATEGORIES, NUM_VAD, VAD_SCALE,
};

use crate::augment::{AugmentConfig, augment};
use crate::rng::Rng;
use crate::{Error, Result};

/// One batch on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// Persons.
    pub len: usize,
    /// `[N, 3, 224, 224]` normalised context.
    pub context: Vec<f32>,
    /// `[N, 3, 128, 128]` normalised body.
    pub body: Vec<f32>,
    /// `[N, 26]` multi-hot.
    pub cat: Vec<f32>,
    /// `[N, 3]` VAD / 10 (float32, as the reference's dataset returns it).
    pub cont: Vec<f32>,
    /// `[N, 3]` VAD on 1-10 (for evaluation).
    pub vad: Vec<f32>,
}

/// The batch as tensors on a device.
#[derive(Debug, Clone)]
pub struct DeviceBatch {
    /// Context images.
    pub context: Tensor<4>,
    /// Body images.
    pub body: Tensor<4>,
    /// Category targets.
    pub cat: Tensor<2>,
    /// VAD / 10 targets.
    pub cont: Tensor<2>,
}

/// Builds the batch of `indices`; with `augment_with`, each image gets its own flip and jitter.
pub fn make_batch(
    dataset: &Dataset,
    indices: &[usize],
    augment_with: Option<(&AugmentConfig, &mut Rng)>,
) -> Result<HostBatch> {
    let n = indices.len();
    let [ch, cw, _] = CONTEXT_SIZE.hwc();
    let [bh, bw, _] = BODY_SIZE.hwc();
    let mut batch = HostBatch {
        len: n,
        context: Vec::with_capacity(n * 3 * cw * ch),
        body: Vec::with_capacity(n * 3 * bw * bh),
        cat: Vec::with_capacity(n * NUM_CATEGORIES),
        cont: Vec::with_capacity(n * NUM_VAD),
        vad: Vec::with_capacity(n * NUM_VAD),
    };
    let mut aug = augment_with;
    for &i in indices {
        let record = dataset.get(i).ok_or_else(|| {
            Error::Config(format!(
                "{}: record {i} out of range ({} records)",
                dataset.dir().display(),
                dataset.len()
            ))
        })?;
        let mut context = record.context.to_vec();
        let mut body = record.body.to_vec();
        if let Some((config, rng)) = aug.as_mut() {
            augment(&mut context, cw, config, rng);
            augment(&mut body, bw, config, rng);
        }
        normalize_hwc_u8(&context, &CONTEXT_NORM, &mut batch.context);
        normalize_hwc_u8(&body, &BODY_NORM, &mut batch.body);
        batch.cat.extend_from_slice(&record.cat);
        batch.cont.extend(record.vad.iter().map(|v| v / VAD_SCALE));
        batch.vad.extend_from_slice(&record.vad);
    }
    Ok(batch)
}

impl HostBatch {
    /// Uploads to `device`.
    #[must_use]
    pub fn to_device(&self, device: &Device) -> DeviceBatch {
        let n = self.len;
        let [ch, cw, _] = CONTEXT_SIZE.hwc();
        let [bh, bw, _] = BODY_SIZE.hwc();
        DeviceBatch {
            context: Tensor::from_data(
                TensorData::new(self.context.clone(), [n, 3, ch, cw]),
                device,
            ),
            body: Tensor::from_data(TensorData::new(self.body.clone(), [n, 3, bh, bw]), device),
            cat: Tensor::from_data(
                TensorData::new(self.cat.clone(), [n, NUM_CATEGORIES]),
                device,
            ),
            cont: Tensor::from_data(TensorData::new(self.cont.clone(), [n, NUM_VAD]), device),
        }
    }
}
