//! [`GraphBuilder`]: declares inputs, constants and nodes with unique names, plus typed layer
//! helpers that mirror the PyTorch modules our models use.

use std::collections::{HashMap, HashSet};

use crate::fold::{BatchNorm, fold_batch_norm};
use crate::proto::{
    Attribute, Dim, ElemType, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
};
use crate::{Error, Result};

/// Hyper-parameters of a 2-D convolution, in PyTorch's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    /// `(stride_h, stride_w)`.
    pub stride: [usize; 2],
    /// `(pad_h, pad_w)`, applied symmetrically like PyTorch's `padding`.
    pub padding: [usize; 2],
    /// `(dilation_h, dilation_w)`.
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

impl Conv2dParams {
    /// Square stride and padding, no dilation, one group.
    #[must_use]
    pub fn new(stride: usize, padding: usize) -> Self {
        Self {
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [1; 2],
            groups: 1,
        }
    }
}

/// A convolution's parameters as stored in a state dict: weight `[out, in/groups, kh, kw]` and
/// optional bias `[out]`.
#[derive(Debug, Clone, Copy)]
pub struct ConvWeight<'a> {
    /// Weight values, row-major.
    pub weight: &'a [f32],
    /// Weight shape `[out, in/groups, kh, kw]`.
    pub shape: [usize; 4],
    /// Optional bias.
    pub bias: Option<&'a [f32]>,
}

/// Builds one ONNX graph step by step; every helper returns the name of the value it produced.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
    /// Every name in use (values and nodes share this space for simplicity).
    names: HashSet<String>,
    /// Values that exist so far: inputs, initializers and node outputs.
    values: HashSet<String>,
    counters: HashMap<String, usize>,
    metadata: Vec<(String, String)>,
}

fn i64s(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

fn check_len(what: &str, shape: &[usize], len: usize) -> Result<()> {
    if shape.iter().product::<usize>() == len {
        Ok(())
    } else {
        Err(Error::Shape {
            what: what.into(),
            expected: shape.to_vec(),
            actual: vec![len],
        })
    }
}

impl GraphBuilder {
    /// An empty graph called `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            graph: GraphProto {
                name: name.to_owned(),
                ..GraphProto::default()
            },
            ..Self::default()
        }
    }

    /// Returns `base` if unused, otherwise `base_1`, `base_2`, ... and reserves it.
    pub fn unique_name(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "v" } else { base };
        let mut candidate = base.to_owned();
        while self.names.contains(&candidate) {
            let n = self.counters.entry(base.to_owned()).or_insert(0);
            *n += 1;
            candidate = format!("{base}_{n}");
        }
        self.names.insert(candidate.clone());
        candidate
    }

    fn reserve_exact(&mut self, name: &str) -> Result<()> {
        if name.is_empty() || !self.names.insert(name.to_owned()) {
            return Err(Error::Graph(format!(
                "value name {name:?} is empty or already used"
            )));
        }
        Ok(())
    }

    /// Declares a graph input with exactly this name.
    ///
    /// # Errors
    /// [`Error::Graph`] when the name is taken.
    pub fn input(&mut self, name: &str, elem_type: ElemType, dims: Vec<Dim>) -> Result<String> {
        self.reserve_exact(name)?;
        self.values.insert(name.to_owned());
        self.graph.inputs.push(ValueInfoProto {
            name: name.to_owned(),
            elem_type,
            dims,
        });
        Ok(name.to_owned())
    }

    /// Declares `value` as a graph output called `name` (adding an `Identity` when they differ).
    ///
    /// # Errors
    /// [`Error::Graph`] when `value` does not exist or `name` is taken.
    pub fn output(
        &mut self,
        value: &str,
        name: &str,
        elem_type: ElemType,
        dims: Vec<Dim>,
    ) -> Result<()> {
        self.check_inputs(&[value])?;
        if value != name {
            self.reserve_exact(name)?;
            let node_name = self.unique_name(&format!("{name}_identity"));
            self.graph.nodes.push(NodeProto {
                name: node_name,
                op_type: "Identity".into(),
                inputs: vec![value.to_owned()],
                outputs: vec![name.to_owned()],
                attributes: Vec::new(),
            });
            self.values.insert(name.to_owned());
        }
        self.graph.outputs.push(ValueInfoProto {
            name: name.to_owned(),
            elem_type,
            dims,
        });
        Ok(())
    }

    /// Adds an `f32` constant; `name` is made unique. Returns its value name.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data` does not fill `shape`.
    pub fn initializer(&mut self, name: &str, shape: &[usize], data: &[f32]) -> Result<String> {
        check_len(name, shape, data.len())?;
        let name = self.unique_name(name);
        self.values.insert(name.clone());
        self.graph
            .initializers
            .push(TensorProto::from_f32(&name, shape, data));
        Ok(name)
    }

    /// Adds an `i64` constant (shapes, axes, indices); `name` is made unique.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data` does not fill `shape`.
    pub fn initializer_i64(&mut self, name: &str, shape: &[usize], data: &[i64]) -> Result<String> {
        check_len(name, shape, data.len())?;
        let name = self.unique_name(name);
        self.values.insert(name.clone());
        self.graph
            .initializers
            .push(TensorProto::from_i64(&name, shape, data));
        Ok(name)
    }

    /// A 1-D `i64` constant.
    ///
    /// # Errors
    /// Never in practice; see [`GraphBuilder::initializer_i64`].
    pub fn const_i64(&mut self, name: &str, data: &[i64]) -> Result<String> {
        self.initializer_i64(name, &[data.len()], data)
    }

    /// An `f32` scalar constant (shape `[]`).
    ///
    /// # Errors
    /// Never in practice; see [`GraphBuilder::initializer`].
    pub fn scalar_f32(&mut self, name: &str, value: f32) -> Result<String> {
        self.initializer(name, &[], &[value])
    }

    fn check_inputs(&self, inputs: &[&str]) -> Result<()> {
        for i in inputs {
            if !i.is_empty() && !self.values.contains(*i) {
                return Err(Error::Graph(format!(
                    "input {i:?} is used before it is defined"
                )));
            }
        }
        Ok(())
    }

    /// Appends a node with `n_outputs` fresh outputs named after `op`.
    ///
    /// # Errors
    /// [`Error::Graph`] when an input is not defined yet.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        n_outputs: usize,
        attributes: Vec<Attribute>,
    ) -> Result<Vec<String>> {
        self.check_inputs(inputs)?;
        let name = self.unique_name(op);
        let outputs: Vec<String> = (0..n_outputs)
            .map(|i| self.unique_name(&format!("{name}_out{i}")))
            .collect();
        for o in &outputs {
            self.values.insert(o.clone());
        }
        self.graph.nodes.push(NodeProto {
            name,
            op_type: op.to_owned(),
            inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
            outputs: outputs.clone(),
            attributes,
        });
        Ok(outputs)
    }

    /// Appends a single-output node and returns its output.
    ///
    /// # Errors
    /// [`Error::Graph`] when an input is not defined yet.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<Attribute>,
    ) -> Result<String> {
        let mut out = self.node_n(op, inputs, 1, attributes)?;
        Ok(out.remove(0))
    }

    /// Adds a `metadata_props` entry to the model.
    pub fn metadata(&mut self, key: &str, value: &str) {
        self.metadata.push((key.to_owned(), value.to_owned()));
    }

    /// The finished model.
    #[must_use]
    pub fn finish(self, producer_name: &str) -> ModelProto {
        ModelProto {
            producer_name: producer_name.to_owned(),
            graph: self.graph,
            metadata: self.metadata,
        }
    }

    // ----- layer helpers -----

    /// `nn.Conv2d`: weight `[out, in/groups, kh, kw]`, optional bias `[out]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for inconsistent weight/bias sizes; [`Error::Graph`] for unknown `x`.
    pub fn conv2d(
        &mut self,
        x: &str,
        name: &str,
        conv: ConvWeight<'_>,
        params: &Conv2dParams,
    ) -> Result<String> {
        let ConvWeight {
            weight,
            shape: weight_shape,
            bias,
        } = conv;
        check_len(&format!("{name}.weight"), &weight_shape, weight.len())?;
        let w = self.initializer(&format!("{name}.weight"), &weight_shape, weight)?;
        let b = match bias {
            Some(b) => {
                check_len(&format!("{name}.bias"), &weight_shape[..1], b.len())?;
                Some(self.initializer(&format!("{name}.bias"), &weight_shape[..1], b)?)
            }
            None => None,
        };
        let [ph, pw] = params.padding;
        let attrs = vec![
            Attribute::ints("kernel_shape", &i64s(&weight_shape[2..])),
            Attribute::ints("strides", &i64s(&params.stride)),
            Attribute::ints("pads", &i64s(&[ph, pw, ph, pw])),
            Attribute::ints("dilations", &i64s(&params.dilation)),
            Attribute::int("group", params.groups as i64),
        ];
        match &b {
            Some(b) => self.node("Conv", &[x, &w, b], attrs),
            None => self.node("Conv", &[x, &w], attrs),
        }
    }

    /// `nn.Conv2d` followed by an eval-mode `nn.BatchNorm2d`, folded into one `Conv`.
    ///
    /// # Errors
    /// As [`GraphBuilder::conv2d`], plus BatchNorm width mismatches.
    pub fn conv_bn_folded(
        &mut self,
        x: &str,
        name: &str,
        conv: ConvWeight<'_>,
        bn: &BatchNorm<'_>,
        params: &Conv2dParams,
    ) -> Result<String> {
        let ConvWeight {
            weight,
            shape: weight_shape,
            bias: conv_bias,
        } = conv;
        check_len(&format!("{name}.weight"), &weight_shape, weight.len())?;
        let (w, b) = fold_batch_norm(weight, weight_shape[0], conv_bias, bn)?;
        let folded = ConvWeight {
            weight: &w,
            shape: weight_shape,
            bias: Some(&b),
        };
        self.conv2d(x, name, folded, params)
    }

    /// `nn.Linear` as `Gemm(x, W, b, transB=1)`: weight `[out, in]`, input `[N, in]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for inconsistent sizes.
    pub fn linear(
        &mut self,
        x: &str,
        name: &str,
        weight: &[f32],
        weight_shape: [usize; 2],
        bias: Option<&[f32]>,
    ) -> Result<String> {
        check_len(&format!("{name}.weight"), &weight_shape, weight.len())?;
        let w = self.initializer(&format!("{name}.weight"), &weight_shape, weight)?;
        let attrs = vec![Attribute::int("transB", 1)];
        match bias {
            Some(b) => {
                check_len(&format!("{name}.bias"), &weight_shape[..1], b.len())?;
                let b = self.initializer(&format!("{name}.bias"), &weight_shape[..1], b)?;
                self.node("Gemm", &[x, &w, &b], attrs)
            }
            None => self.node("Gemm", &[x, &w], attrs),
        }
    }

    /// `nn.Linear` followed by an eval-mode `nn.BatchNorm1d`, folded into one `Gemm`.
    ///
    /// # Errors
    /// As [`GraphBuilder::linear`], plus BatchNorm width mismatches.
    pub fn linear_bn_folded(
        &mut self,
        x: &str,
        name: &str,
        weight: &[f32],
        weight_shape: [usize; 2],
        bias: Option<&[f32]>,
        bn: &BatchNorm<'_>,
    ) -> Result<String> {
        check_len(&format!("{name}.weight"), &weight_shape, weight.len())?;
        let (w, b) = fold_batch_norm(weight, weight_shape[0], bias, bn)?;
        self.linear(x, name, &w, weight_shape, Some(&b))
    }

    /// `ReLU`.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn relu(&mut self, x: &str) -> Result<String> {
        self.node("Relu", &[x], vec![])
    }

    /// `Sigmoid`.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn sigmoid(&mut self, x: &str) -> Result<String> {
        self.node("Sigmoid", &[x], vec![])
    }

    /// SiLU as `x * sigmoid(x)` (opset 17 has no SiLU operator).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn silu(&mut self, x: &str) -> Result<String> {
        let s = self.sigmoid(x)?;
        self.mul(x, &s)
    }

    /// `nn.MaxPool2d(kernel, stride, padding)` (square, floor mode).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn max_pool(
        &mut self,
        x: &str,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<String> {
        let k = kernel as i64;
        let s = stride as i64;
        let p = padding as i64;
        self.node(
            "MaxPool",
            &[x],
            vec![
                Attribute::ints("kernel_shape", &[k, k]),
                Attribute::ints("strides", &[s, s]),
                Attribute::ints("pads", &[p, p, p, p]),
            ],
        )
    }

    /// `GlobalAveragePool` (`nn.AdaptiveAvgPool2d(1)`).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn global_average_pool(&mut self, x: &str) -> Result<String> {
        self.node("GlobalAveragePool", &[x], vec![])
    }

    /// `Flatten(axis)`: `[d0..d_axis-1, rest]`.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn flatten(&mut self, x: &str, axis: i64) -> Result<String> {
        self.node("Flatten", &[x], vec![Attribute::int("axis", axis)])
    }

    /// `Concat` along `axis`.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn concat(&mut self, xs: &[&str], axis: i64) -> Result<String> {
        self.node("Concat", xs, vec![Attribute::int("axis", axis)])
    }

    /// `nn.Upsample(scale_factor=scale, mode='nearest')` on NCHW: each output pixel copies
    /// input pixel `floor(out / scale)`, which is ONNX `Resize` with `asymmetric` coordinates
    /// and `floor` rounding.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn resize_nearest(&mut self, x: &str, scale: f32) -> Result<String> {
        let scales = self.initializer("resize_scales", &[4], &[1.0, 1.0, scale, scale])?;
        self.node(
            "Resize",
            &[x, "", &scales],
            vec![
                Attribute::string("mode", "nearest"),
                Attribute::string("coordinate_transformation_mode", "asymmetric"),
                Attribute::string("nearest_mode", "floor"),
            ],
        )
    }

    /// Element-wise `Add` (broadcasting).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn add(&mut self, a: &str, b: &str) -> Result<String> {
        self.node("Add", &[a, b], vec![])
    }

    /// Element-wise `Mul` (broadcasting).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn mul(&mut self, a: &str, b: &str) -> Result<String> {
        self.node("Mul", &[a, b], vec![])
    }

    /// `Reshape` to a constant shape (`0` copies the input dim, `-1` is inferred).
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> Result<String> {
        let s = self.const_i64("reshape_shape", shape)?;
        self.node("Reshape", &[x, &s], vec![])
    }

    /// `Transpose` with permutation `perm`.
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input.
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> Result<String> {
        self.node("Transpose", &[x], vec![Attribute::ints("perm", perm)])
    }

    /// `Slice` with constant `starts`, `ends`, `axes` and `steps` (use `i64::MAX` for "to the end").
    ///
    /// # Errors
    /// [`Error::Graph`] for an unknown input or arguments of different lengths.
    pub fn slice(
        &mut self,
        x: &str,
        starts: &[i64],
        ends: &[i64],
        axes: &[i64],
        steps: &[i64],
    ) -> Result<String> {
        let n = starts.len();
        if ends.len() != n || axes.len() != n || steps.len() != n {
            return Err(Error::Graph(
                "Slice starts/ends/axes/steps differ in length".into(),
            ));
        }
        let s = self.const_i64("slice_starts", starts)?;
        let e = self.const_i64("slice_ends", ends)?;
        let a = self.const_i64("slice_axes", axes)?;
        let st = self.const_i64("slice_steps", steps)?;
        self.node("Slice", &[x, &s, &e, &a, &st], vec![])
    }
}
