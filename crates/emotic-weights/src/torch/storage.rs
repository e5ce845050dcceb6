//! Storages (flat typed byte buffers) and tensor views onto them.

use crate::error::format_err;
use crate::pickle::{TensorRef, Value};
use crate::{DType, Error, Result, Tensor};
use half::{bf16, f16};
use std::rc::Rc;

/// Most elements one tensor may have; bounds the allocation for broadcast (stride 0) views.
const MAX_TENSOR_ELEMENTS: usize = 1 << 32;

/// Bytes per element of a storage type.
pub(crate) fn dtype_size(dtype: DType) -> usize {
    match dtype {
        DType::U8 | DType::I8 | DType::Bool => 1,
        DType::F16 | DType::BF16 | DType::I16 => 2,
        DType::F32 | DType::I32 => 4,
        DType::F64 | DType::I64 => 8,
    }
}

/// Maps a storage class name (`HalfStorage`) or a dtype name (`float16`) to a [`DType`].
pub(crate) fn dtype_from_storage_name(name: &str) -> Option<DType> {
    Some(match name {
        "HalfStorage" | "float16" | "half" => DType::F16,
        "BFloat16Storage" | "bfloat16" => DType::BF16,
        "FloatStorage" | "float32" | "float" => DType::F32,
        "DoubleStorage" | "float64" | "double" => DType::F64,
        "ByteStorage" | "uint8" => DType::U8,
        "CharStorage" | "int8" => DType::I8,
        "ShortStorage" | "int16" | "short" => DType::I16,
        "IntStorage" | "int32" | "int" => DType::I32,
        "LongStorage" | "int64" | "long" => DType::I64,
        "BoolStorage" | "bool" => DType::Bool,
        _ => return None,
    })
}

/// The raw bytes of one storage: an inflated zip entry (cached while other tensors still need
/// it), or a range of a legacy file's bytes, borrowed without a copy.
pub(crate) enum StorageBytes<'a> {
    /// Bytes read from their own zip entry.
    Shared(Rc<Vec<u8>>),
    /// Bytes inside the file itself.
    Borrowed(&'a [u8]),
}

impl std::ops::Deref for StorageBytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Shared(bytes) => bytes,
            Self::Borrowed(bytes) => bytes,
        }
    }
}

/// A storage descriptor parsed from a persistent id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageId {
    /// Key of the storage (zip entry name under `data/`, or legacy root key).
    pub key: String,
    /// Element type.
    pub dtype: DType,
    /// Number of elements the pickle claims (checked against the bytes actually present).
    pub numel: usize,
    /// Extra element offset into the root storage (legacy storage views), else 0.
    pub view_offset: usize,
}

/// Parses `('storage', <Global torch.HalfStorage>, key, location, numel[, view_metadata])`.
pub(crate) fn parse_storage_pid(pid: &Value) -> Result<StorageId> {
    let Value::PersistentId(inner) = pid else {
        return Err(format_err!(
            "tensor storage is a {} and not a persistent id",
            pid.kind()
        ));
    };
    let Value::Tuple(items) = inner.as_ref() else {
        return Err(format_err!(
            "storage persistent id is a {}, expected a tuple",
            inner.kind()
        ));
    };
    let bad = || format_err!("malformed storage persistent id {items:?}");
    if items.first().and_then(Value::as_str) != Some("storage") || items.len() < 5 {
        return Err(bad());
    }
    let dtype = match &items[1] {
        Value::Global { name, .. } => dtype_from_storage_name(name)
            .ok_or_else(|| format_err!("unsupported storage type {name}"))?,
        _ => return Err(bad()),
    };
    let key = match &items[2] {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => return Err(bad()),
    };
    let numel = items[4]
        .as_int()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(bad)?;
    // Legacy view_metadata: (view_key, offset, view_size) into the root storage `key`.
    let view_offset = match items.get(5) {
        Some(Value::Tuple(view)) => view
            .get(1)
            .and_then(Value::as_int)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(bad)?,
        _ => 0,
    };
    Ok(StorageId {
        key,
        dtype,
        numel,
        view_offset,
    })
}

/// Builds a contiguous row-major tensor from a strided view into `bytes` (a whole storage of
/// `dtype`), checking every index stays inside the storage.
pub(crate) fn materialize_view(
    view: &TensorRef,
    storage: &StorageId,
    bytes: &[u8],
    big_endian: bool,
) -> Result<Tensor> {
    let elem = dtype_size(storage.dtype);
    let available = bytes.len() / elem;
    let numel = view
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| Error::Limit(format!("tensor of shape {:?} is too large", view.size)))?;
    let start = view.storage_offset.checked_add(storage.view_offset);
    if numel > 0 {
        // Highest element index touched: offset + sum((size_i - 1) * stride_i).
        let last = start.and_then(|start| {
            view.size
                .iter()
                .zip(&view.stride)
                .try_fold(start, |acc, (&d, &s)| {
                    acc.checked_add((d - 1).checked_mul(s)?)
                })
        });
        let needed = last.and_then(|l| l.checked_add(1));
        match needed {
            Some(n) if n <= available => {}
            _ => {
                return Err(format_err!(
                    "storage {} has {available} elements but view (offset {}, size {:?}, stride \
                     {:?}) needs {}",
                    storage.key,
                    view.storage_offset,
                    view.size,
                    view.stride,
                    needed.map_or_else(|| "more than usize::MAX".to_owned(), |n| n.to_string())
                ));
            }
        }
    }
    let start = start.unwrap_or(0);
    let mut data = Vec::with_capacity(numel);
    if numel > 0 {
        let read =
            |i: usize| element_as_f32(storage.dtype, &bytes[i * elem..(i + 1) * elem], big_endian);
        if is_contiguous(&view.size, &view.stride) {
            data = convert_slice(
                storage.dtype,
                &bytes[start * elem..(start + numel) * elem],
                big_endian,
            );
        } else {
            let mut index = vec![0usize; view.size.len()];
            let mut pos = start;
            for _ in 0..numel {
                data.push(read(pos));
                for axis in (0..index.len()).rev() {
                    index[axis] += 1;
                    pos += view.stride[axis];
                    if index[axis] < view.size[axis] {
                        break;
                    }
                    pos -= view.stride[axis] * view.size[axis];
                    index[axis] = 0;
                }
            }
        }
    }
    Ok(Tensor {
        dtype: storage.dtype,
        shape: view.size.clone(),
        data,
    })
}

/// True when `stride` is the row-major stride of `size` (size-1 dims may have any stride).
fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

/// Converts a run of contiguous elements; one `match` per slice rather than per element keeps
/// the inner loops simple enough to vectorise.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
pub(crate) fn convert_slice(dtype: DType, bytes: &[u8], big_endian: bool) -> Vec<f32> {
    macro_rules! each {
        ($n:literal, $conv:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    if big_endian {
                        a.reverse();
                    }
                    $conv(a)
                })
                .collect()
        };
    }
    match dtype {
        DType::F16 => each!(2, |a| f16::from_le_bytes(a).to_f32()),
        DType::BF16 => each!(2, |a| bf16::from_le_bytes(a).to_f32()),
        DType::F32 => each!(4, f32::from_le_bytes),
        DType::F64 => each!(8, |a| f64::from_le_bytes(a) as f32),
        DType::U8 => bytes.iter().map(|&b| f32::from(b)).collect(),
        DType::I8 => bytes.iter().map(|&b| f32::from(b.cast_signed())).collect(),
        DType::Bool => bytes.iter().map(|&b| f32::from(u8::from(b != 0))).collect(),
        DType::I16 => each!(2, |a| f32::from(i16::from_le_bytes(a))),
        DType::I32 => each!(4, |a| i32::from_le_bytes(a) as f32),
        DType::I64 => each!(8, |a| i64::from_le_bytes(a) as f32),
    }
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
pub(crate) fn element_as_f32(dtype: DType, b: &[u8], big_endian: bool) -> f32 {
    macro_rules! num {
        ($t:ty, $n:literal) => {{
            let mut a = [0u8; $n];
            a.copy_from_slice(b);
            if big_endian {
                <$t>::from_be_bytes(a)
            } else {
                <$t>::from_le_bytes(a)
            }
        }};
    }
    match dtype {
        DType::F16 => f16::from_bits(num!(u16, 2)).to_f32(),
        DType::BF16 => bf16::from_bits(num!(u16, 2)).to_f32(),
        DType::F32 => num!(f32, 4),
        DType::F64 => num!(f64, 8) as f32,
        DType::U8 => f32::from(b[0]),
        DType::I8 => f32::from(b[0].cast_signed()),
        DType::Bool => f32::from(u8::from(b[0] != 0)),
        DType::I16 => f32::from(num!(i16, 2)),
        DType::I32 => num!(i32, 4) as f32,
        DType::I64 => num!(i64, 8) as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(offset: usize, size: &[usize], stride: &[usize]) -> TensorRef {
        TensorRef {
            storage: Box::new(Value::None),
            storage_offset: offset,
            size: size.to_vec(),
            stride: stride.to_vec(),
            requires_grad: false,
        }
    }

    fn f32_storage(n: usize) -> (StorageId, Vec<u8>) {
        let bytes = (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect();
        (
            StorageId {
                key: "0".into(),
                dtype: DType::F32,
                numel: n,
                view_offset: 0,
            },
            bytes,
        )
    }

    #[test]
    fn transposed_and_sliced_views() {
        let (sid, bytes) = f32_storage(12);
        // 3x4 matrix transposed: size (4,3) stride (1,4).
        let t = materialize_view(&view(0, &[4, 3], &[1, 4]), &sid, &bytes, false).unwrap();
        assert_eq!(
            t.data,
            vec![0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
        );
        // Column 1 of the 3x4 matrix: offset 1, size (3,), stride (4,).
        let t = materialize_view(&view(1, &[3], &[4]), &sid, &bytes, false).unwrap();
        assert_eq!(t.data, vec![1., 5., 9.]);
        // Contiguous tail: offset 10, size (2,).
        let t = materialize_view(&view(10, &[2], &[1]), &sid, &bytes, false).unwrap();
        assert_eq!(t.data, vec![10., 11.]);
        let err = materialize_view(&view(1, &[3, 4], &[4, 1]), &sid, &bytes, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("storage 0 has 12 elements but view"),
            "{err}"
        );
        let huge = view(0, &[usize::MAX / 2, 4], &[usize::MAX / 4, 1]);
        assert!(materialize_view(&huge, &sid, &bytes, false).is_err());
    }

    #[test]
    fn half_and_bfloat_widen_exactly() {
        let sid = StorageId {
            key: "h".into(),
            dtype: DType::F16,
            numel: 2,
            view_offset: 0,
        };
        let bytes: Vec<u8> = [f16::from_f32(0.333), f16::MAX]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        let t = materialize_view(&view(0, &[2], &[1]), &sid, &bytes, false).unwrap();
        assert_eq!(t.data, vec![f16::from_f32(0.333).to_f32(), 65504.0]);
        let sid = StorageId {
            dtype: DType::BF16,
            ..sid
        };
        let bytes: Vec<u8> = [0x3f80u16, 0xc000]
            .iter()
            .flat_map(|h| h.to_be_bytes())
            .collect();
        let t = materialize_view(&view(0, &[2], &[1]), &sid, &bytes, true).unwrap();
        assert_eq!(t.data, vec![1.0, -2.0]);
    }
}
