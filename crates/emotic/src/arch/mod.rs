//! Model architectures as ONNX graphs, built from PyTorch state dicts.
//!
//! | module | builds |
//! |---|---|
//! | [`yolov5`] | the YOLOv5 detector (v5.0 and v6+ layouts) with the Detect decode inside the graph |
//! | [`resnet`] | a torchvision ResNet18 feature extractor (no `fc`), either key layout |
//! | [`fusion`] | the EMOTIC fusion head (`fc1`+`bn1` folded, ReLU, `fc_cat`, `fc_cont`) |
//!
//! Every builder checks each tensor it uses against the shape the architecture implies and
//! reports the key, the expected and the found shape when they differ.

pub mod fusion;
pub mod resnet;
pub mod yolov5;

use std::collections::BTreeMap;

use emotic_onnx::{BatchNorm, ConvWeight};
use emotic_weights::Tensor;

use crate::{Error, Result};

/// Name given to ONNX models this crate writes (`producer_name`).
pub const PRODUCER: &str = "emotic-rs";

/// Read-only access to a state dict with errors that name the key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    tensors: &'a BTreeMap<String, Tensor>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(tensors: &'a BTreeMap<String, Tensor>) -> Self {
        Self { tensors }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// The tensor under `key`, or an error naming the missing key.
    pub(crate) fn get(&self, key: &str) -> Result<&'a Tensor> {
        self.tensors
            .get(key)
            .ok_or_else(|| Error::Architecture(format!("missing weight `{key}`")))
    }

    /// The tensor under `key`, checked to have exactly `expected` shape.
    pub(crate) fn shaped(&self, key: &str, expected: &[usize]) -> Result<&'a Tensor> {
        let t = self.get(key)?;
        if t.shape != expected {
            return Err(Error::Architecture(format!(
                "weight `{key}`: expected shape {expected:?}, found {:?}",
                t.shape
            )));
        }
        Ok(t)
    }

    /// The tensor under `key`, checked to have `rank` dimensions.
    pub(crate) fn ranked(&self, key: &str, rank: usize) -> Result<&'a Tensor> {
        let t = self.get(key)?;
        if t.shape.len() != rank {
            return Err(Error::Architecture(format!(
                "weight `{key}`: expected {rank} dimensions, found shape {:?}",
                t.shape
            )));
        }
        Ok(t)
    }

    /// A conv weight `[out, in/groups, k, k]` checked against `expected`.
    pub(crate) fn conv(
        &self,
        key: &str,
        expected: [usize; 4],
        bias: Option<&str>,
    ) -> Result<ConvWeight<'a>> {
        let w = self.shaped(key, &expected)?;
        let bias = match bias {
            Some(b) => Some(self.shaped(b, &expected[..1])?.data.as_slice()),
            None => None,
        };
        Ok(ConvWeight {
            weight: &w.data,
            shape: expected,
            bias,
        })
    }

    /// The four BatchNorm tensors under `prefix` (`prefix.weight`, `.bias`, `.running_mean`,
    /// `.running_var`), each checked to have `channels` values.
    pub(crate) fn batch_norm(
        &self,
        prefix: &str,
        channels: usize,
        eps: f64,
    ) -> Result<BatchNorm<'a>> {
        let get = |name: &str| -> Result<&'a [f32]> {
            Ok(self
                .shaped(&format!("{prefix}.{name}"), &[channels])?
                .data
                .as_slice())
        };
        Ok(BatchNorm {
            weight: get("weight")?,
            bias: get("bias")?,
            running_mean: get("running_mean")?,
            running_var: get("running_var")?,
            eps,
        })
    }
}
