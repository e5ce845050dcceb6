//! The three layer types of the EMOTIC network, with PyTorch's parameter layouts and names
//! (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`), so loading and
//! saving state dicts is a matter of names, never of transposes.

use std::collections::BTreeMap;

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::module::{batch_norm, batch_norm_train, conv2d};
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};
use emotic_weights::Tensor as WTensor;

use crate::rng::Rng;
use crate::{Error, Result};

/// Visits every trainable tensor with its state-dict name (for the optimiser).
pub trait ParamMapper {
    /// Maps one parameter; `name` is its full state-dict key.
    fn map<const D: usize>(&mut self, name: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>>;
}

/// A module whose trainable tensors can be mapped by name.
pub trait MapParams: Sized {
    /// Maps every trainable tensor, names prefixed with `prefix` (which ends in `.` or is empty).
    fn map_params<M: ParamMapper>(self, prefix: &str, mapper: &mut M) -> Self;
}

/// Builds a burn tensor from a checkpoint tensor, checking its shape.
pub(crate) fn to_burn<const D: usize>(
    t: &WTensor,
    shape: [usize; D],
    name: &str,
    device: &Device,
) -> Result<Tensor<D>> {
    if t.shape != shape {
        return Err(Error::state(format!(
            "`{name}` has shape {:?}, expected {shape:?}",
            t.shape
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(t.data.clone(), shape),
        device,
    ))
}

/// Reads a burn tensor back as a checkpoint tensor.
pub(crate) fn from_burn<const D: usize>(t: Tensor<D>) -> Result<WTensor> {
    let shape = t.dims().to_vec();
    let data = t
        .inner()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Tensor(format!("{e:?}")))?;
    Ok(WTensor::from_f32(shape, data))
}

/// Looks up `key` in a state dict.
pub(crate) fn get<'a>(sd: &'a BTreeMap<String, WTensor>, key: &str) -> Result<&'a WTensor> {
    sd.get(key)
        .ok_or_else(|| Error::state(format!("missing tensor `{key}`")))
}

/// A trainable tensor from a checkpoint tensor.
fn param<const D: usize>(
    sd: &BTreeMap<String, WTensor>,
    key: &str,
    shape: [usize; D],
    device: &Device,
) -> Result<Param<Tensor<D>>> {
    Ok(Param::from_tensor(to_burn(
        get(sd, key)?,
        shape,
        key,
        device,
    )?))
}

/// Convolution (no bias, square kernel) as im2col: the `k*k` shifted (and strided) views of
/// the padded input, stacked in the weight's `[c, kh, kw]` order, times the `[out, c*k*k]`
/// weight matrix. Same result as `conv2d`; its backward uses only slices, reshapes and matmuls.
pub fn conv2d_im2col(x: Tensor<4>, weight: Tensor<4>, stride: usize, padding: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let out_h = (h + 2 * padding - k) / stride + 1;
    let out_w = (w + 2 * padding - k) / stride + 1;
    // Extra zeros at the end so every shifted window of `stride * out` rows exists; the
    // strided pick below never reads them.
    let extra_h = (k - 1 + stride * out_h).saturating_sub(h + 2 * padding);
    let extra_w = (k - 1 + stride * out_w).saturating_sub(w + 2 * padding);
    let xp = if padding + extra_h + extra_w > 0 {
        x.pad(
            [(padding, padding + extra_h), (padding, padding + extra_w)],
            PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let mut views = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let v = xp
                .clone()
                .slice([0..n, 0..c, i..i + stride * out_h, j..j + stride * out_w]);
            let v = if stride == 1 {
                v
            } else {
                // Keep every `stride`-th row and column with contiguous slices only.
                v.reshape([n, c, out_h, stride, out_w * stride])
                    .slice([0..n, 0..c, 0..out_h, 0..1, 0..out_w * stride])
                    .reshape([n, c, out_h, out_w, stride])
                    .slice([0..n, 0..c, 0..out_h, 0..out_w, 0..1])
                    .reshape([n, c, out_h, out_w])
            };
            views.push(v);
        }
    }
    let cols: Tensor<5> = Tensor::stack(views, 2);
    let cols = cols.reshape([n, c * k * k, out_h * out_w]);
    weight
        .reshape([1, o, c * k * k])
        .matmul(cols)
        .reshape([n, o, out_h, out_w])
}

/// Whether `device` is burn-ndarray with autodiff.
fn is_ndarray_autodiff(device: &Device) -> bool {
    #[allow(deprecated)] // the check is for the deprecated backend
    let ndarray = Device::ndarray();
    device.is_autodiff() && device.clone().inner() == ndarray
}

/// `nn.Conv2d` without bias (ResNet convolutions never have one).
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[out, in, k, k]`.
    pub weight: Param<Tensor<4>>,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding (both axes).
    pub padding: usize,
}

impl Conv2d {
    /// Kaiming-normal initialisation (`mode="fan_out"`, ReLU gain), as torchvision's ResNet.
    pub fn init(
        shape: [usize; 4],
        stride: usize,
        padding: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let fan_out = shape[0] * shape[2] * shape[3];
        let std = (2.0 / fan_out as f64).sqrt();
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| (rng.normal() * std) as f32).collect();
        Self {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), device)),
            stride,
            padding,
        }
    }

    /// Loads `{prefix}weight`, which must have `shape`.
    pub fn load(
        sd: &BTreeMap<String, WTensor>,
        prefix: &str,
        shape: [usize; 4],
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            weight: param(sd, &format!("{prefix}weight"), shape, device)?,
            stride,
            padding,
        })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape().dims::<4>()[0]
    }

    /// Applies the convolution.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (s, p) = (self.stride, self.padding);
        if is_ndarray_autodiff(&x.device()) {
            // burn-ndarray computes conv2d's input gradient with a slow transposed convolution
            // (3 s instead of 0.03 s for one 64-channel 56x56 layer); written as shifted
            // slices + one matmul, every backward step is a copy or a GEMM. The flex backend's
            // own backward is faster than this (1.87 vs 1.52 samples/s, full size, batch 8).
            return conv2d_im2col(x, self.weight.val(), s, p);
        }
        conv2d(
            x,
            self.weight.val(),
            None,
            ConvOptions::new([s, s], [p, p], [1, 1], 1),
        )
    }

    /// Writes `{prefix}weight`.
    pub fn save(&self, prefix: &str, out: &mut BTreeMap<String, WTensor>) -> Result<()> {
        out.insert(format!("{prefix}weight"), from_burn(self.weight.val())?);
        Ok(())
    }
}

impl MapParams for Conv2d {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, mapper: &mut M) -> Self {
        self.weight = mapper.map(&format!("{prefix}weight"), self.weight);
        self
    }
}

/// PyTorch's BatchNorm (1d and 2d): in training it normalises with the batch statistics and
/// updates the running ones with `momentum` 0.1 and the **unbiased** batch variance (burn's
/// own BatchNorm uses the biased one, which drifts from PyTorch over an epoch).
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale (gamma).
    pub weight: Param<Tensor<1>>,
    /// Shift (beta).
    pub bias: Param<Tensor<1>>,
    /// Running mean.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance.
    pub running_var: RunningState<Tensor<1>>,
    /// Number of training batches seen (kept for the state dict).
    pub num_batches_tracked: RunningState<Tensor<1>>,
    /// Whether this layer uses batch statistics on an autodiff device (`Module::valid` and
    /// `Module::freeze` turn it off).
    pub training: Param<Flag>,
    /// Added to the variance.
    pub eps: f64,
    /// Weight of the new batch statistics in the running ones.
    pub momentum: f64,
}

/// `nn.BatchNorm*d` defaults.
pub const BN_EPS: f64 = 1e-5;
/// `nn.BatchNorm*d` default momentum.
pub const BN_MOMENTUM: f64 = 0.1;

impl BatchNorm {
    /// Fresh layer: weight 1, bias 0, running mean 0, running var 1.
    pub fn init(channels: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([channels], device)),
            bias: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            num_batches_tracked: RunningState::new(Tensor::zeros([1], device)),
            training: Param::from_bool(true),
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
        }
    }

    /// Loads `{prefix}{weight,bias,running_mean,running_var}` (+ `num_batches_tracked` when
    /// present) for `channels` channels.
    pub fn load(
        sd: &BTreeMap<String, WTensor>,
        prefix: &str,
        channels: usize,
        device: &Device,
    ) -> Result<Self> {
        let state = |name: &str| -> Result<RunningState<Tensor<1>>> {
            let key = format!("{prefix}{name}");
            Ok(RunningState::new(to_burn(
                get(sd, &key)?,
                [channels],
                &key,
                device,
            )?))
        };
        let tracked = sd
            .get(&format!("{prefix}num_batches_tracked"))
            .and_then(|t| t.data.first().copied())
            .unwrap_or(0.0);
        Ok(Self {
            weight: param(sd, &format!("{prefix}weight"), [channels], device)?,
            bias: param(sd, &format!("{prefix}bias"), [channels], device)?,
            running_mean: state("running_mean")?,
            running_var: state("running_var")?,
            num_batches_tracked: RunningState::new(Tensor::from_data(
                TensorData::new(vec![tracked], [1]),
                device,
            )),
            training: Param::from_bool(true),
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
        })
    }

    /// Normalises `[N, C, ...]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let device = x.device();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            return batch_norm(
                x,
                self.weight.val(),
                self.bias.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.eps,
            );
        }
        let dims = x.dims();
        let per_channel: usize = dims.iter().product::<usize>() / dims[1].max(1);
        let result = batch_norm_train(x, self.weight.val(), self.bias.val(), self.eps);
        // PyTorch stores the unbiased variance n/(n-1) in the running statistics.
        let unbias = if per_channel > 1 {
            per_channel as f64 / (per_channel as f64 - 1.0)
        } else {
            1.0
        };
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(&device);
        let var = self.running_var.value_sync().to_device(&device);
        let count = self.num_batches_tracked.value_sync().to_device(&device);
        self.running_mean.update(
            mean.mul_scalar(1.0 - m)
                .add(result.mean.detach().mul_scalar(m))
                .detach(),
        );
        self.running_var.update(
            var.mul_scalar(1.0 - m)
                .add(result.variance.detach().mul_scalar(unbias * m))
                .detach(),
        );
        self.num_batches_tracked
            .update(count.add_scalar(1.0).detach());
        result.output
    }

    /// Writes the five state-dict entries.
    pub fn save(&self, prefix: &str, out: &mut BTreeMap<String, WTensor>) -> Result<()> {
        out.insert(format!("{prefix}weight"), from_burn(self.weight.val())?);
        out.insert(format!("{prefix}bias"), from_burn(self.bias.val())?);
        out.insert(
            format!("{prefix}running_mean"),
            from_burn(self.running_mean.value_sync())?,
        );
        out.insert(
            format!("{prefix}running_var"),
            from_burn(self.running_var.value_sync())?,
        );
        let tracked = from_burn(self.num_batches_tracked.value_sync())?;
        out.insert(
            format!("{prefix}num_batches_tracked"),
            WTensor::from_f32(vec![], tracked.data),
        );
        Ok(())
    }
}

impl MapParams for BatchNorm {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, mapper: &mut M) -> Self {
        self.weight = mapper.map(&format!("{prefix}weight"), self.weight);
        self.bias = mapper.map(&format!("{prefix}bias"), self.bias);
        self
    }
}

/// `nn.Linear` with PyTorch's `[out, in]` weight.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl Linear {
    /// PyTorch's default initialisation: weight and bias uniform in ±1/sqrt(in).
    pub fn init(inputs: usize, outputs: usize, rng: &mut Rng, device: &Device) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.uniform(-bound, bound) as f32).collect() };
        let w = draw(outputs * inputs);
        let b = draw(outputs);
        Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [outputs, inputs]),
                device,
            )),
            bias: Param::from_tensor(Tensor::from_data(TensorData::new(b, [outputs]), device)),
        }
    }

    /// Loads `{prefix}weight` `[outputs, inputs]` and `{prefix}bias`.
    pub fn load(
        sd: &BTreeMap<String, WTensor>,
        prefix: &str,
        inputs: usize,
        outputs: usize,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            weight: param(sd, &format!("{prefix}weight"), [outputs, inputs], device)?,
            bias: param(sd, &format!("{prefix}bias"), [outputs], device)?,
        })
    }

    /// `x W^T + b` for `[N, in]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val().transpose())
            .add(self.bias.val().unsqueeze_dim(0))
    }

    /// Writes `{prefix}weight` and `{prefix}bias`.
    pub fn save(&self, prefix: &str, out: &mut BTreeMap<String, WTensor>) -> Result<()> {
        out.insert(format!("{prefix}weight"), from_burn(self.weight.val())?);
        out.insert(format!("{prefix}bias"), from_burn(self.bias.val())?);
        Ok(())
    }
}

impl MapParams for Linear {
    fn map_params<M: ParamMapper>(mut self, prefix: &str, mapper: &mut M) -> Self {
        self.weight = mapper.map(&format!("{prefix}weight"), self.weight);
        self.bias = mapper.map(&format!("{prefix}bias"), self.bias);
        self
    }
}
