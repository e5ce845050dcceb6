//! The `nn.Module` objects of the reference checkpoints, described as pickle trees.
//!
//! `torch.save(model)` pickles a module as `NEWOBJ` of its class followed by `BUILD` with the
//! instance `__dict__`. Every layer here writes exactly the `__dict__` keys, in the same order,
//! that the installed PyTorch 2.x objects have (`vars(nn.Conv2d(3, 4, 3))` and friends;
//! `tools/check_reference_export.py` compares them). The hook dicts cannot be left out:
//! `Module.__setstate__` recreates only some of them, and `Module.__call__` reads
//! `_forward_hooks` and `_backward_hooks`. All modules are saved in eval mode
//! (`training=False`), as the reference saves its trained models.

use std::collections::BTreeMap;

use emotic_weights::pickle::Py;
use emotic_weights::torch::TorchWriter;
use emotic_weights::{DType, Tensor};

use crate::{Error, Result};

/// BatchNorm defaults of `nn.BatchNorm1d/2d`, which both torchvision's ResNet and the
/// reference head use.
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// The tensors of one part under reference keys, handed out once each so that leftovers (a
/// tensor the reference layout has no place for) can be reported instead of dropped.
pub(super) struct Tensors<'a> {
    /// `context stream`, `body stream`, `fusion head`: for error messages.
    what: &'static str,
    map: BTreeMap<String, &'a Tensor>,
}

impl<'a> Tensors<'a> {
    pub(super) fn new(what: &'static str, map: BTreeMap<String, &'a Tensor>) -> Self {
        Self { what, map }
    }

    fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::Architecture(format!("{}: {msg}", self.what))
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Removes `key`, checking its rank.
    fn take(&mut self, key: &str, rank: usize) -> Result<&'a Tensor> {
        let t = self
            .map
            .remove(key)
            .ok_or_else(|| self.err(format_args!("missing tensor `{key}`")))?;
        if t.shape.len() != rank {
            return Err(self.err(format_args!(
                "`{key}` has shape {:?}, expected {rank} dimensions",
                t.shape
            )));
        }
        Ok(t)
    }

    /// Fails when a tensor was not used.
    pub(super) fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            Some(key) => Err(self.err(format_args!(
                "tensor `{key}` has no place in the reference module layout"
            ))),
            None => Ok(()),
        }
    }
}

/// Adds tensors to a [`TorchWriter`] in the dtype torch modules hold them in.
pub(super) struct Saver<'w> {
    pub(super) writer: &'w mut TorchWriter,
}

impl Saver<'_> {
    /// A float parameter; tensors read from half-precision files are widened (exactly).
    fn param(&mut self, t: &Tensor) -> Result<Py> {
        let t = as_dtype(t, DType::F32);
        Ok(self.writer.parameter(&t)?)
    }

    fn buffer(&mut self, t: &Tensor, dtype: DType) -> Result<Py> {
        let t = as_dtype(t, dtype);
        Ok(self.writer.tensor(&t)?)
    }
}

fn as_dtype(t: &Tensor, dtype: DType) -> std::borrow::Cow<'_, Tensor> {
    if t.dtype == dtype {
        std::borrow::Cow::Borrowed(t)
    } else {
        std::borrow::Cow::Owned(Tensor { dtype, ..t.clone() })
    }
}

/// One module: class, parameters, buffers, children and plain attributes.
pub(super) struct Module {
    module: &'static str,
    class: &'static str,
    params: Vec<(&'static str, Py)>,
    buffers: Vec<(&'static str, Py)>,
    children: Vec<(String, Py)>,
    attrs: Vec<(&'static str, Py)>,
}

impl Module {
    pub(super) fn new(module: &'static str, class: &'static str) -> Self {
        Self {
            module,
            class,
            params: Vec::new(),
            buffers: Vec::new(),
            children: Vec::new(),
            attrs: Vec::new(),
        }
    }

    pub(super) fn child(mut self, name: impl Into<String>, m: Py) -> Self {
        self.children.push((name.into(), m));
        self
    }

    pub(super) fn attr(mut self, name: &'static str, v: Py) -> Self {
        self.attrs.push((name, v));
        self
    }

    /// The pickled object: `NEWOBJ` of the class, then its `__dict__` in torch's key order.
    pub(super) fn into_py(self) -> Py {
        let hooks = || Py::OrderedDict(Vec::new());
        let named = |v: Vec<(&'static str, Py)>| v.into_iter().map(|(k, v)| (Py::str(k), v));
        let mut state = vec![
            (Py::str("training"), Py::Bool(false)),
            (
                Py::str("_parameters"),
                Py::Dict(named(self.params).collect()),
            ),
            (Py::str("_buffers"), Py::Dict(named(self.buffers).collect())),
            (Py::str("_non_persistent_buffers_set"), Py::Set(Vec::new())),
            (Py::str("_backward_pre_hooks"), hooks()),
            (Py::str("_backward_hooks"), hooks()),
            (Py::str("_is_full_backward_hook"), Py::None),
            (Py::str("_forward_hooks"), hooks()),
            (Py::str("_forward_hooks_with_kwargs"), hooks()),
            (Py::str("_forward_hooks_always_called"), hooks()),
            (Py::str("_forward_pre_hooks"), hooks()),
            (Py::str("_forward_pre_hooks_with_kwargs"), hooks()),
            (Py::str("_state_dict_hooks"), hooks()),
            (Py::str("_state_dict_pre_hooks"), hooks()),
            (Py::str("_load_state_dict_pre_hooks"), hooks()),
            (Py::str("_load_state_dict_post_hooks"), hooks()),
        ];
        let children = self.children.into_iter().map(|(k, v)| (Py::Str(k), v));
        state.push((Py::str("_modules"), Py::Dict(children.collect())));
        state.extend(named(self.attrs));
        Py::Object {
            module: self.module.to_owned(),
            name: self.class.to_owned(),
            args: Vec::new(),
            state: Some(Box::new(Py::Dict(state))),
        }
    }
}

fn pair(v: usize) -> Py {
    Py::Tuple(vec![int(v), int(v)])
}

/// A Python `int` from a size.
#[allow(clippy::cast_possible_wrap)] // layer sizes are far below 2^63
pub(super) fn int(v: usize) -> Py {
    Py::Int(v as i64)
}

/// `nn.Conv2d` under `key` (square kernel, no dilation or groups), returning it and its input
/// and output channels. The bias is `None` when the state dict has none (`bias=False`, as in ResNet).
pub(super) fn conv2d(
    s: &mut Saver<'_>,
    t: &mut Tensors<'_>,
    key: &str,
    stride: usize,
) -> Result<(Py, usize, usize)> {
    let w = t.take(&format!("{key}.weight"), 4)?;
    let [c_out, c_in, k, kw] = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
    if k != kw {
        return Err(t.err(format_args!(
            "`{key}.weight` has a non-square kernel {k}x{kw}"
        )));
    }
    let bias_key = format!("{key}.bias");
    let bias = if t.contains(&bias_key) {
        s.param(t.take(&bias_key, 1)?)?
    } else {
        Py::None
    };
    let pad = k / 2; // torchvision pads 7x7 by 3, 3x3 by 1, 1x1 by 0
    let mut m = Module::new("torch.nn.modules.conv", "Conv2d");
    m.params = vec![("weight", s.param(w)?), ("bias", bias)];
    let m = m
        .attr("in_channels", int(c_in))
        .attr("out_channels", int(c_out))
        .attr("kernel_size", pair(k))
        .attr("stride", pair(stride))
        .attr("padding", pair(pad))
        .attr("dilation", pair(1))
        .attr("transposed", Py::Bool(false))
        .attr("output_padding", pair(0))
        .attr("groups", int(1))
        .attr("padding_mode", Py::str("zeros"))
        .attr(
            "_reversed_padding_repeated_twice",
            Py::Tuple(vec![int(pad); 4]),
        );
    Ok((m.into_py(), c_in, c_out))
}

/// `nn.BatchNorm1d` or `nn.BatchNorm2d` (`class`) under `key`, with `channels` features.
pub(super) fn batch_norm(
    s: &mut Saver<'_>,
    t: &mut Tensors<'_>,
    key: &str,
    class: &'static str,
    channels: usize,
) -> Result<Py> {
    let mut vector = |name: &str| -> Result<&Tensor> {
        let v = t.take(&format!("{key}.{name}"), 1)?;
        if v.shape[0] != channels {
            return Err(t.err(format_args!(
                "`{key}.{name}` has {} values, the layer before it {channels} channels",
                v.shape[0]
            )));
        }
        Ok(v)
    };
    let (weight, bias) = (vector("weight")?, vector("bias")?);
    let (mean, var) = (vector("running_mean")?, vector("running_var")?);
    // A torch state dict always has it; it only matters for momentum=None, so 0 is harmless.
    let tracked_key = format!("{key}.num_batches_tracked");
    let tracked = if t.contains(&tracked_key) {
        t.take(&tracked_key, 0)?.clone()
    } else {
        Tensor::from_f32(Vec::new(), vec![0.0])
    };
    let mut m = Module::new("torch.nn.modules.batchnorm", class);
    m.params = vec![("weight", s.param(weight)?), ("bias", s.param(bias)?)];
    m.buffers = vec![
        ("running_mean", s.buffer(mean, DType::F32)?),
        ("running_var", s.buffer(var, DType::F32)?),
        // int64 in torch; the bundle keeps it as float32, converted back exactly (or refused).
        (
            "num_batches_tracked",
            s.buffer(&tracked, DType::I64)
                .map_err(|e| t.err(format_args!("`{tracked_key}`: {e}")))?,
        ),
    ];
    let m = m
        .attr("num_features", int(channels))
        .attr("eps", Py::Float(BN_EPS))
        .attr("momentum", Py::Float(BN_MOMENTUM))
        .attr("affine", Py::Bool(true))
        .attr("track_running_stats", Py::Bool(true));
    Ok(m.into_py())
}

/// `nn.Linear` under `key`, returning it and its (in, out) features.
pub(super) fn linear(
    s: &mut Saver<'_>,
    t: &mut Tensors<'_>,
    key: &str,
) -> Result<(Py, usize, usize)> {
    let w = t.take(&format!("{key}.weight"), 2)?;
    let b = t.take(&format!("{key}.bias"), 1)?;
    let (out, inp) = (w.shape[0], w.shape[1]);
    if b.shape[0] != out {
        return Err(t.err(format_args!(
            "`{key}.bias` has {} values for {out} outputs",
            b.shape[0]
        )));
    }
    let mut m = Module::new("torch.nn.modules.linear", "Linear");
    m.params = vec![("weight", s.param(w)?), ("bias", s.param(b)?)];
    let m = m
        .attr("in_features", int(inp))
        .attr("out_features", int(out));
    Ok((m.into_py(), inp, out))
}

/// `nn.ReLU(inplace)`.
pub(super) fn relu(inplace: bool) -> Py {
    Module::new("torch.nn.modules.activation", "ReLU")
        .attr("inplace", Py::Bool(inplace))
        .into_py()
}

/// `nn.Dropout(p)`.
pub(super) fn dropout(p: f64) -> Py {
    Module::new("torch.nn.modules.dropout", "Dropout")
        .attr("p", Py::Float(p))
        .attr("inplace", Py::Bool(false))
        .into_py()
}

/// torchvision ResNet's `nn.MaxPool2d(kernel_size=3, stride=2, padding=1)`.
pub(super) fn resnet_max_pool() -> Py {
    Module::new("torch.nn.modules.pooling", "MaxPool2d")
        .attr("kernel_size", int(3))
        .attr("stride", int(2))
        .attr("padding", int(1))
        .attr("dilation", int(1))
        .attr("return_indices", Py::Bool(false))
        .attr("ceil_mode", Py::Bool(false))
        .into_py()
}

/// torchvision ResNet's `nn.AdaptiveAvgPool2d((1, 1))`.
pub(super) fn global_avg_pool() -> Py {
    Module::new("torch.nn.modules.pooling", "AdaptiveAvgPool2d")
        .attr("output_size", pair(1))
        .into_py()
}

/// `nn.Sequential` of `children`, named `0`, `1`, ...
pub(super) fn sequential(children: Vec<Py>) -> Py {
    children
        .into_iter()
        .enumerate()
        .fold(
            Module::new("torch.nn.modules.container", "Sequential"),
            |m, (i, c)| m.child(i.to_string(), c),
        )
        .into_py()
}
