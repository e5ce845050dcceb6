//! One ONNX model on ONNX Runtime, with `f32` tensors in and out.

use std::path::Path;

use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorRef, ValueType};

use super::runtime;
use crate::{Error, Result};

/// How a session is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads used inside one operator; `None` lets ONNX Runtime use every physical core.
    pub intra_threads: Option<usize>,
}

impl SessionOptions {
    /// ONNX Runtime's own choice of threads.
    pub const DEFAULT: Self = Self {
        intra_threads: None,
    };
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Name and declared shape of a model input or output; `None` marks a dynamic dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The graph's name for it.
    pub name: String,
    /// Declared dimensions; `None` where the graph leaves it symbolic.
    pub shape: Vec<Option<usize>>,
}

/// One output tensor of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The graph's output name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// A loaded model, ready to run. Loading is the expensive part: keep one per process.
#[derive(Debug)]
pub struct Session {
    inner: ort::session::Session,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
}

impl Session {
    /// Builds a session from ONNX model bytes (for example a graph built by [`crate::arch`]).
    ///
    /// # Errors
    /// When ONNX Runtime is missing or rejects the model.
    pub fn from_bytes(model: &[u8], options: SessionOptions) -> Result<Self> {
        let mut builder = builder(options)?;
        let inner = builder.commit_from_memory(model)?;
        Ok(Self::wrap(inner))
    }

    /// Builds a session from an `.onnx` file.
    ///
    /// # Errors
    /// When the file cannot be read, or ONNX Runtime is missing or rejects the model.
    pub fn from_file(path: &Path, options: SessionOptions) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, options).map_err(|e| match e {
            Error::Ort(err) => Error::Model {
                path: path.to_path_buf(),
                message: err.to_string(),
            },
            other => other,
        })
    }

    fn wrap(inner: ort::session::Session) -> Self {
        let describe = |outlet: &ort::value::Outlet| TensorInfo {
            name: outlet.name().to_string(),
            shape: match outlet.dtype() {
                ValueType::Tensor { shape, .. } => {
                    shape.iter().map(|&d| usize::try_from(d).ok()).collect()
                }
                _ => Vec::new(),
            },
        };
        let inputs = inner.inputs().iter().map(describe).collect();
        let outputs = inner.outputs().iter().map(describe).collect();
        Self {
            inner,
            inputs,
            outputs,
        }
    }

    /// The model's inputs, in graph order.
    #[must_use]
    pub fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    /// The model's outputs, in graph order.
    #[must_use]
    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    /// A custom metadata entry of the model (`metadata_props` in ONNX terms), such as the
    /// `names` and `stride` that Ultralytics exports carry.
    #[must_use]
    pub fn metadata(&self, key: &str) -> Option<String> {
        self.inner.metadata().ok()?.custom(key)
    }

    /// Runs the model. Each input is `(name, shape, values)`; every graph output is returned,
    /// in graph order.
    ///
    /// # Errors
    /// When a shape does not match its values or ONNX Runtime fails.
    pub fn run(&mut self, inputs: &[(&str, &[usize], &[f32])]) -> Result<Vec<Output>> {
        let mut values = Vec::with_capacity(inputs.len());
        for &(name, shape, data) in inputs {
            let expected: usize = shape.iter().product();
            if expected != data.len() {
                return Err(Error::InvalidInput(format!(
                    "input {name}: shape {shape:?} needs {expected} values, got {}",
                    data.len()
                )));
            }
            let tensor = TensorRef::from_array_view((shape.to_vec(), data))?;
            values.push((name.to_string(), tensor));
        }
        let names: Vec<String> = self.outputs.iter().map(|o| o.name.clone()).collect();
        let results = self.inner.run(values)?;
        names
            .into_iter()
            .map(|name| {
                let (shape, data) = results[name.as_str()].try_extract_tensor::<f32>()?;
                let shape = shape
                    .iter()
                    .map(|&d| usize::try_from(d).unwrap_or(0))
                    .collect();
                Ok(Output {
                    name,
                    shape,
                    data: data.to_vec(),
                })
            })
            .collect()
    }
}

fn builder(options: SessionOptions) -> Result<ort::session::builder::SessionBuilder> {
    let runtime = runtime::ensure_loaded()?;
    // Spinning worker threads busy-wait for the next operator. A pipeline alternates between
    // several sessions (detector, context, body, head), so idle pools would spin against the
    // pool doing the work; measured on 2 cores, turning spinning off made the EMOTIC stages
    // faster (see the closing notes of the emotion issue).
    let mut builder = ort::session::Session::builder(&runtime.environment)?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(ort::Error::from)?
        .with_intra_op_spinning(false)
        .map_err(ort::Error::from)?
        .with_inter_op_spinning(false)
        .map_err(ort::Error::from)?;
    if let Some(threads) = options.intra_threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(ort::Error::from)?;
    }
    Ok(builder)
}
