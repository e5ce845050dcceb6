//! A plain host tensor: shape, original storage type, and values widened to `f32`.

/// The element type a tensor had on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE half precision (`torch.float16`).
    F16,
    /// bfloat16 (`torch.bfloat16`).
    BF16,
    /// `torch.float32`.
    F32,
    /// `torch.float64`.
    F64,
    /// `torch.uint8`.
    U8,
    /// `torch.int8`.
    I8,
    /// `torch.int16`.
    I16,
    /// `torch.int32`.
    I32,
    /// `torch.int64`.
    I64,
    /// `torch.bool`.
    Bool,
}

/// A dense, row-major tensor. Every consumer in this project computes in `f32`, so the values are
/// widened (or, for `f64`/`i64`, narrowed) to `f32` once, when the file is read; `dtype` records
/// what was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Storage type in the file.
    pub dtype: DType,
    /// Dimensions, outermost first. Empty for a scalar.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major order.
    pub data: Vec<f32>,
}

impl Tensor {
    /// Builds an `f32` tensor, checking that `data` fills `shape`.
    ///
    /// # Panics
    /// Panics when the element count does not match the shape; that is a programming error.
    #[must_use]
    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor shape/data mismatch"
        );
        Self {
            dtype: DType::F32,
            shape,
            data,
        }
    }

    /// Number of elements.
    #[must_use]
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// What is known of a tensor before its data is read: its stored type and its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Storage type in the file.
    pub dtype: DType,
    /// Dimensions, outermost first. Empty for a scalar.
    pub shape: Vec<usize>,
}
