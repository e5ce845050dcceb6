//! Writing `torch.save` zip files: a pickled object plus one raw storage per tensor.
//!
//! Hand-written because no Rust crate produces files `torch.load` reads as whole modules (the
//! safetensors and candle writers save plain tensors only). The layout is the one
//! `torch.save(obj, "name.pth")` produces:
//!
//! | entry | content |
//! |---|---|
//! | `<name>/data.pkl` | the object, protocol-2 pickle; tensors are `_rebuild_tensor_v2` calls whose storage is a persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)` |
//! | `<name>/byteorder` | `little` |
//! | `<name>/data/<key>` | raw little-endian elements of storage `key` (`0`, `1`, ... in pickle order) |
//! | `<name>/version` | `3` and a newline |
//!
//! Entries are stored uncompressed, each one's data starting on a 64-byte boundary as torch's
//! own writer does (so `torch.load(..., mmap=True)` can map storages in place). The
//! `.format_version` record of torch >= 2.4 is left out on purpose: with it torch may compute
//! storage offsets from the exact header bytes its own writer emits instead of reading the
//! zip directory, and our alignment padding is encoded differently.

use std::io::{Cursor, Write};
use std::path::Path;

use half::{bf16, f16};
use zip::write::SimpleFileOptions;

use super::storage::dtype_size;
use crate::error::format_err;
use crate::fsutil::write_atomically_with;
use crate::pickle::{Py, to_vec};
use crate::{DType, Error, Result, Tensor};

/// Byte alignment of every entry's data, as `torch.save` does.
const ALIGNMENT: u16 = 64;
/// Serialization format version written by `torch.save` since PyTorch 1.6 (`version` entry).
const FORMAT_VERSION: &[u8] = b"3\n";

/// Collects tensor storages while the caller builds the object to save, then writes the file.
///
/// ```no_run
/// # use emotic_weights::{Tensor, pickle::Py, torch::TorchWriter};
/// let mut w = TorchWriter::new();
/// let weight = w.parameter(&Tensor::from_f32(vec![2], vec![1.0, 2.0]))?;
/// let state_dict = Py::OrderedDict(vec![(Py::str("weight"), weight)]);
/// w.write_file(std::path::Path::new("sd.pth"), &state_dict, false)?;
/// # Ok::<(), emotic_weights::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct TorchWriter {
    /// Raw bytes of each storage; the index is its key.
    storages: Vec<Vec<u8>>,
}

impl TorchWriter {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `t` as a new storage in its own `dtype` and returns the plain tensor
    /// (`requires_grad=False`), as a module buffer (`running_mean`) is pickled.
    ///
    /// # Errors
    /// [`Error::Format`] when a value cannot be stored exactly in the tensor's dtype (for
    /// example 0.5 in an `int64` tensor): the file must hold exactly the values given.
    pub fn tensor(&mut self, t: &Tensor) -> Result<Py> {
        let bytes = encode(t)?;
        let key = self.storages.len().to_string();
        self.storages.push(bytes);
        let dims = |v: &[usize]| -> Result<Py> {
            let v: Vec<i64> = v
                .iter()
                .map(|&d| i64::try_from(d).map_err(|_| format_err!("dimension {d} too large")))
                .collect::<Result<_>>()?;
            Ok(Py::int_tuple(&v))
        };
        let storage = Py::PersistentId(Box::new(Py::Tuple(vec![
            Py::str("storage"),
            Py::global("torch", storage_class(t.dtype)),
            Py::Str(key),
            Py::str("cpu"),
            Py::Int(i64::try_from(t.numel()).map_err(|_| format_err!("tensor too large"))?),
        ])));
        Ok(Py::call(
            "torch._utils",
            "_rebuild_tensor_v2",
            vec![
                storage,
                Py::Int(0),
                dims(&t.shape)?,
                dims(&contiguous_strides(&t.shape))?,
                Py::Bool(false),
                Py::OrderedDict(Vec::new()), // backward hooks
            ],
        ))
    }

    /// Adds `t` as an `nn.Parameter` (`requires_grad=True`), as module weights are pickled.
    ///
    /// # Errors
    /// As [`Self::tensor`].
    pub fn parameter(&mut self, t: &Tensor) -> Result<Py> {
        let tensor = self.tensor(t)?;
        Ok(Py::call(
            "torch._utils",
            "_rebuild_parameter",
            vec![tensor, Py::Bool(true), Py::OrderedDict(Vec::new())],
        ))
    }

    /// The whole file for `root` (which must use only tensors made by this writer), with
    /// entries under `archive/` (torch uses the file's stem).
    ///
    /// # Errors
    /// When the pickle cannot be encoded or the zip cannot be assembled.
    pub fn to_bytes(&self, root: &Py, archive: &str) -> Result<Vec<u8>> {
        if archive.is_empty() || archive.contains(['/', '\\']) {
            return Err(format_err!("bad archive name {archive:?}"));
        }
        let pickle = to_vec(root)?;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut add = |name: &str, data: &[u8]| -> Result<()> {
            let options = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .with_alignment(ALIGNMENT)
                // A fixed date keeps exports byte-for-byte reproducible.
                .last_modified_time(zip::DateTime::default())
                .large_file(data.len() as u64 >= u64::from(u32::MAX));
            zip.start_file(format!("{archive}/{name}"), options)?;
            zip.write_all(data)?;
            Ok(())
        };
        add("data.pkl", &pickle)?;
        add("byteorder", b"little")?;
        for (key, bytes) in self.storages.iter().enumerate() {
            add(&format!("data/{key}"), bytes)?;
        }
        add("version", FORMAT_VERSION)?;
        Ok(zip.finish()?.into_inner())
    }

    /// Writes the file atomically (temporary file, then rename). An existing `path` is an error
    /// unless `replace` is true.
    ///
    /// # Errors
    /// As [`Self::to_bytes`], plus I/O errors naming the file.
    pub fn write_file(&self, path: &Path, root: &Py, replace: bool) -> Result<()> {
        let archive = archive_name(path);
        let bytes = self.to_bytes(root, &archive).map_err(|e| e.in_file(path))?;
        write_atomically_with(path, replace, |out| Ok(out.write_all(&bytes)?))
    }
}

/// `torch.save` names the archive folder after the file's stem; other names fall back to
/// `archive`, which torch uses for in-memory buffers.
fn archive_name(path: &Path) -> String {
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem)
            if !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
        {
            stem.to_owned()
        }
        _ => "archive".to_owned(),
    }
}

/// Row-major strides of `shape`, in elements.
fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1].max(1);
    }
    strides
}

/// The legacy storage class torch pickles for `dtype` (still what `torch.save` writes).
fn storage_class(dtype: DType) -> &'static str {
    match dtype {
        DType::F16 => "HalfStorage",
        DType::BF16 => "BFloat16Storage",
        DType::F32 => "FloatStorage",
        DType::F64 => "DoubleStorage",
        DType::U8 => "ByteStorage",
        DType::I8 => "CharStorage",
        DType::I16 => "ShortStorage",
        DType::I32 => "IntStorage",
        DType::I64 => "LongStorage",
        DType::Bool => "BoolStorage",
    }
}

/// The value of `v` as an integer in `min..=max`, if it is exactly one.
#[allow(clippy::cast_possible_truncation)]
fn exact_int(v: f32, min: i64, max: i64) -> Option<i64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let x = f64::from(v);
    // NaN and infinities have a NaN fraction; the range check keeps the cast from saturating.
    if x.fract() != 0.0 || !(-TWO_POW_63..TWO_POW_63).contains(&x) {
        return None;
    }
    let i = x as i64;
    (min..=max).contains(&i).then_some(i)
}

/// The little-endian bytes of `t.data` stored as `t.dtype`, refusing values that would change.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn encode(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(t.numel() * dtype_size(t.dtype));
    for (i, &v) in t.data.iter().enumerate() {
        let inexact = || {
            Error::Format(format!(
                "element {i} ({v}) cannot be stored exactly as {:?}",
                t.dtype
            ))
        };
        let int = |min: i64, max: i64| exact_int(v, min, max).ok_or_else(inexact);
        match t.dtype {
            DType::F32 => out.extend_from_slice(&v.to_le_bytes()),
            DType::F64 => out.extend_from_slice(&f64::from(v).to_le_bytes()),
            DType::F16 => {
                let h = f16::from_f32(v);
                if h.to_f32() != v && !v.is_nan() {
                    return Err(inexact());
                }
                out.extend_from_slice(&h.to_le_bytes());
            }
            DType::BF16 => {
                let h = bf16::from_f32(v);
                if h.to_f32() != v && !v.is_nan() {
                    return Err(inexact());
                }
                out.extend_from_slice(&h.to_le_bytes());
            }
            DType::I64 => out.extend_from_slice(&int(i64::MIN, i64::MAX)?.to_le_bytes()),
            DType::I32 => out
                .extend_from_slice(&(int(i32::MIN.into(), i32::MAX.into())? as i32).to_le_bytes()),
            DType::I16 => out
                .extend_from_slice(&(int(i16::MIN.into(), i16::MAX.into())? as i16).to_le_bytes()),
            DType::I8 => out.push(int(i8::MIN.into(), i8::MAX.into())? as i8 as u8),
            DType::U8 => out.push(int(0, 255)? as u8),
            DType::Bool => out.push(int(0, 1)? as u8),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
