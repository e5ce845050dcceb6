//! PyTorch's `torch.optim.Adam` (not AdamW): weight decay is added to the gradient
//! (`g + wd·θ`) before the moments, bias corrections as in PyTorch's single-tensor path:
//! `θ ← θ − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)`.
//!
//! The state (step count, first and second moments) is keyed by state-dict name so it can be
//! saved with a checkpoint and restored bit-for-bit. Parameters without a gradient (frozen)
//! are skipped entirely, like PyTorch skips parameters whose `.grad` is `None`.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::tensor::{Gradients, Tensor, TensorData};
use emotic_weights::Tensor as WTensor;

use crate::model::layers::{MapParams, ParamMapper, from_burn};
use crate::{Error, Result};

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    /// β1 (0.9).
    pub beta1: f64,
    /// β2 (0.999).
    pub beta2: f64,
    /// ε (1e-8, PyTorch's default; burn's own Adam defaults to 1e-5).
    pub eps: f64,
    /// L2 weight decay added to the gradient (5e-4 in the reference).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 5e-4,
        }
    }
}

/// Moments of one parameter, flat.
#[derive(Debug, Clone)]
struct Moments {
    step: u64,
    shape: Vec<usize>,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
}

/// The optimiser and its state.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Hyper-parameters.
    pub config: AdamConfig,
    state: BTreeMap<String, Moments>,
}

impl Adam {
    /// A fresh optimiser.
    #[must_use]
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            state: BTreeMap::new(),
        }
    }

    /// One step over every parameter of `model` that has a gradient in `grads`.
    pub fn step<M: MapParams>(&mut self, model: M, grads: &Gradients, lr: f64) -> M {
        let mut mapper = StepMapper {
            adam: self,
            grads,
            lr,
        };
        model.map_params("", &mut mapper)
    }

    /// The state as named tensors (`{name}.exp_avg`, `{name}.exp_avg_sq`, `{name}.step`).
    #[must_use]
    pub fn state_tensors(&self) -> BTreeMap<String, WTensor> {
        let mut out = BTreeMap::new();
        for (name, m) in &self.state {
            out.insert(
                format!("{name}.exp_avg"),
                WTensor::from_f32(m.shape.clone(), m.exp_avg.clone()),
            );
            out.insert(
                format!("{name}.exp_avg_sq"),
                WTensor::from_f32(m.shape.clone(), m.exp_avg_sq.clone()),
            );
            // Steps fit f32 exactly far beyond any run length (2^24 batches).
            out.insert(
                format!("{name}.step"),
                WTensor::from_f32(vec![], vec![m.step as f32]),
            );
        }
        out
    }

    /// Restores a state written by [`Self::state_tensors`].
    pub fn load_state(&mut self, tensors: &BTreeMap<String, WTensor>) -> Result<()> {
        let mut state = BTreeMap::new();
        for (key, t) in tensors {
            let Some(name) = key.strip_suffix(".step") else {
                continue;
            };
            let get = |suffix: &str| {
                tensors.get(&format!("{name}.{suffix}")).ok_or_else(|| {
                    Error::state(format!("optimiser state for `{name}` lacks `{suffix}`"))
                })
            };
            let (m, v) = (get("exp_avg")?, get("exp_avg_sq")?);
            if m.shape != v.shape {
                return Err(Error::state(format!(
                    "optimiser moments of `{name}` differ in shape"
                )));
            }
            let step = t.data.first().copied().unwrap_or(0.0);
            if !(step >= 0.0 && step.fract() == 0.0) {
                return Err(Error::state(format!(
                    "optimiser step of `{name}` is {step}"
                )));
            }
            state.insert(
                name.to_string(),
                Moments {
                    step: step as u64,
                    shape: m.shape.clone(),
                    exp_avg: m.data.clone(),
                    exp_avg_sq: v.data.clone(),
                },
            );
        }
        self.state = state;
        Ok(())
    }
}

struct StepMapper<'a> {
    adam: &'a mut Adam,
    grads: &'a Gradients,
    lr: f64,
}

impl ParamMapper for StepMapper<'_> {
    fn map<const D: usize>(&mut self, name: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = param.val().grad(self.grads) else {
            return param;
        };
        let (id, value, mapper) = param.consume();
        let require_grad = value.is_require_grad();
        let device = value.device();
        let shape: [usize; D] = value.dims();
        let (theta, g) = match (from_burn(value.clone()), from_burn(grad)) {
            (Ok(t), Ok(g)) => (t.data, g.data),
            // A read-back failure leaves the parameter as it was; nothing better is possible
            // inside a mapper, and the backend reports it again on the next read.
            _ => return Param::from_mapped_value(id, value, mapper),
        };
        let c = self.adam.config;
        let moments = self
            .adam
            .state
            .entry(name.to_string())
            .or_insert_with(|| Moments {
                step: 0,
                shape: shape.to_vec(),
                exp_avg: vec![0.0; theta.len()],
                exp_avg_sq: vec![0.0; theta.len()],
            });
        moments.step += 1;
        let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
        let bias1 = 1.0 - c.beta1.powi(moments.step as i32);
        let bias2 = 1.0 - c.beta2.powi(moments.step as i32);
        let step_size = (self.lr / bias1) as f32;
        let bias2_sqrt = bias2.sqrt() as f32;
        let (wd, eps) = (c.weight_decay as f32, c.eps as f32);
        let mut updated = theta;
        for (((p, &g), m), v) in updated
            .iter_mut()
            .zip(&g)
            .zip(moments.exp_avg.iter_mut())
            .zip(moments.exp_avg_sq.iter_mut())
        {
            let g = if wd != 0.0 { g + wd * *p } else { g };
            // PyTorch: exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2)
            *m += (1.0 - b1) * (g - *m);
            *v = *v * b2 + (1.0 - b2) * g * g;
            let denom = v.sqrt() / bias2_sqrt + eps;
            *p -= step_size * (*m / denom);
        }
        let inner = Tensor::<D>::from_data(TensorData::new(updated, shape), &device.inner());
        let mut tensor = Tensor::from_inner(inner);
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}
