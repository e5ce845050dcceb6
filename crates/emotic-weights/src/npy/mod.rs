//! NumPy `.npy` files (format versions 1, 2 and 3): typed reading, header-only reading for callers
//! that memory-map large arrays themselves, and atomic writers for `f32`, `f64` and `u8`.
//!
//! Fortran-ordered arrays are transposed to C (row-major) order when read, so [`NpyArray::data`]
//! is always row-major.

use crate::error::format_err;
use crate::fsutil::read_file;
use crate::pylit::{self, PyValue};
use crate::{DType, Error, Result, Tensor};
use half::f16;
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Headers larger than this are refused: real headers are a few hundred bytes, and the limit keeps
/// a corrupt length field from causing a huge allocation.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// Most dimensions accepted in a shape.
const MAX_DIMS: usize = 64;

/// Element type of an `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NpyElement {
    /// `f2`
    F16,
    /// `f4`
    F32,
    /// `f8`
    F64,
    /// `u1`
    U8,
    /// `i1`
    I8,
    /// `i2`
    I16,
    /// `i4`
    I32,
    /// `i8`
    I64,
    /// `b1`
    Bool,
}

impl NpyElement {
    /// Bytes per element.
    #[must_use]
    pub fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 | Self::Bool => 1,
            Self::F16 | Self::I16 => 2,
            Self::F32 | Self::I32 => 4,
            Self::F64 | Self::I64 => 8,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::F16 => "f2",
            Self::F32 => "f4",
            Self::F64 => "f8",
            Self::U8 => "u1",
            Self::I8 => "i1",
            Self::I16 => "i2",
            Self::I32 => "i4",
            Self::I64 => "i8",
            Self::Bool => "b1",
        }
    }
}

/// Element type plus byte order, as given by the header's `descr` (`'<f4'`, `'>i8'`, `'|u1'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NpyDType {
    /// The element type.
    pub element: NpyElement,
    /// True for `>` (big-endian) multi-byte elements.
    pub big_endian: bool,
}

impl NpyDType {
    /// Parses a `descr` string such as `<f4`.
    pub fn parse(descr: &str) -> Result<Self> {
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<' | b'>' | b'|' | b'=') => descr.split_at(1),
            _ => ("=", descr),
        };
        let element = match code {
            "f2" | "e" => NpyElement::F16,
            "f4" | "f" => NpyElement::F32,
            "f8" | "d" => NpyElement::F64,
            "u1" | "B" => NpyElement::U8,
            "i1" | "b" => NpyElement::I8,
            "i2" | "h" => NpyElement::I16,
            "i4" | "i" => NpyElement::I32,
            "i8" | "q" => NpyElement::I64,
            "b1" | "?" => NpyElement::Bool,
            _ => return Err(format_err!("unsupported .npy dtype {descr:?}")),
        };
        // '=' means native order; every platform we build for is little-endian.
        Ok(Self {
            element,
            big_endian: order == ">",
        })
    }

    /// The `descr` string numpy writes for this type.
    #[must_use]
    pub fn descr(self) -> String {
        let order = if self.element.size() == 1 {
            '|'
        } else if self.big_endian {
            '>'
        } else {
            '<'
        };
        format!("{order}{}", self.element.code())
    }
}

/// The parsed header of an `.npy` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type and byte order.
    pub dtype: NpyDType,
    /// Dimensions, outermost first (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// True when the data is stored column-major.
    pub fortran_order: bool,
    /// Byte offset of the first data byte from the start of the file.
    pub data_offset: u64,
}

impl NpyHeader {
    /// Number of elements, or an error when it overflows `usize`.
    pub fn numel(&self) -> Result<usize> {
        checked_numel(&self.shape)
    }

    /// Number of data bytes, or an error when it overflows `usize`.
    pub fn data_len(&self) -> Result<usize> {
        self.numel()?
            .checked_mul(self.dtype.element.size())
            .ok_or_else(|| Error::Limit(format!("array of shape {:?} overflows", self.shape)))
    }
}

fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Limit(format!("array of shape {shape:?} has too many elements")))
}

/// Values of an array, in row-major order, in their stored type.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `f2`
    F16(Vec<f16>),
    /// `f4`
    F32(Vec<f32>),
    /// `f8`
    F64(Vec<f64>),
    /// `u1`
    U8(Vec<u8>),
    /// `i1`
    I8(Vec<i8>),
    /// `i2`
    I16(Vec<i16>),
    /// `i4`
    I32(Vec<i32>),
    /// `i8`
    I64(Vec<i64>),
    /// `b1`
    Bool(Vec<bool>),
}

/// Runs `$body` with `$v` bound to the inner vector of any [`NpyData`] variant.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            NpyData::F16($v) => $body,
            NpyData::F32($v) => $body,
            NpyData::F64($v) => $body,
            NpyData::U8($v) => $body,
            NpyData::I8($v) => $body,
            NpyData::I16($v) => $body,
            NpyData::I32($v) => $body,
            NpyData::I64($v) => $body,
            NpyData::Bool($v) => $body,
        }
    };
}

impl NpyData {
    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// True when there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    #[must_use]
    pub fn element(&self) -> NpyElement {
        match self {
            Self::F16(_) => NpyElement::F16,
            Self::F32(_) => NpyElement::F32,
            Self::F64(_) => NpyElement::F64,
            Self::U8(_) => NpyElement::U8,
            Self::I8(_) => NpyElement::I8,
            Self::I16(_) => NpyElement::I16,
            Self::I32(_) => NpyElement::I32,
            Self::I64(_) => NpyElement::I64,
            Self::Bool(_) => NpyElement::Bool,
        }
    }

    /// All values as `f64` (exact for every type except `i64` beyond 2^53).
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Self::F16(v) => v.iter().map(|x| f64::from(x.to_f32())).collect(),
            Self::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::F64(v) => v.clone(),
            Self::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Self::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        }
    }

    /// All values as `f32` (exact for `f2`/`f4`/8- and 16-bit integers/bool; rounded otherwise).
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match self {
            Self::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Self::F32(v) => v.clone(),
            Self::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Self::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Self::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Self::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Self::I32(v) => v.iter().map(|&x| x as f32).collect(),
            Self::I64(v) => v.iter().map(|&x| x as f32).collect(),
            Self::Bool(v) => v.iter().map(|&x| f32::from(u8::from(x))).collect(),
        }
    }
}

/// A whole array read from an `.npy` file, always in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: NpyData,
}

impl NpyArray {
    /// All values as `f32`; see [`NpyData::to_f32_vec`].
    #[must_use]
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.data.to_f32_vec()
    }

    /// All values as `f64`; see [`NpyData::to_f64_vec`].
    #[must_use]
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data.to_f64_vec()
    }

    /// Converts to a [`Tensor`] (values widened/narrowed to `f32`, `dtype` kept).
    #[must_use]
    pub fn to_tensor(&self) -> Tensor {
        let dtype = match self.data.element() {
            NpyElement::F16 => DType::F16,
            NpyElement::F32 => DType::F32,
            NpyElement::F64 => DType::F64,
            NpyElement::U8 => DType::U8,
            NpyElement::I8 => DType::I8,
            NpyElement::I16 => DType::I16,
            NpyElement::I32 => DType::I32,
            NpyElement::I64 => DType::I64,
            NpyElement::Bool => DType::Bool,
        };
        Tensor {
            dtype,
            shape: self.shape.clone(),
            data: self.to_f32_vec(),
        }
    }
}

/// Reads the magic, version and header dictionary, leaving `reader` at the first data byte.
///
/// The caller can then memory-map `data_offset..data_offset + header.data_len()` itself.
pub fn read_header(reader: &mut impl Read) -> Result<NpyHeader> {
    let mut preamble = [0u8; 8];
    reader
        .read_exact(&mut preamble)
        .map_err(|e| truncated_or(e, "preamble"))?;
    if &preamble[..6] != MAGIC {
        return Err(format_err!("not an .npy file (bad magic)"));
    }
    let major = preamble[6];
    let (header_len, prefix_len) = match major {
        1 => {
            let mut len = [0u8; 2];
            reader
                .read_exact(&mut len)
                .map_err(|e| truncated_or(e, "header length"))?;
            (usize::from(u16::from_le_bytes(len)), 10)
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            reader
                .read_exact(&mut len)
                .map_err(|e| truncated_or(e, "header length"))?;
            let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
            (len, 12)
        }
        v => {
            return Err(format_err!(
                "unsupported .npy format version {v}.{}",
                preamble[7]
            ));
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(Error::Limit(format!(
            ".npy header of {header_len} bytes exceeds {MAX_HEADER_LEN}"
        )));
    }
    let mut text = vec![0u8; header_len];
    reader
        .read_exact(&mut text)
        .map_err(|e| truncated_or(e, "header"))?;
    // Version 3 allows UTF-8; versions 1/2 are latin-1, whose ASCII subset is all we accept.
    let text =
        std::str::from_utf8(&text).map_err(|_| format_err!(".npy header is not valid text"))?;
    let mut header = parse_header_dict(text)?;
    header.data_offset = (prefix_len + header_len) as u64;
    Ok(header)
}

fn truncated_or(e: std::io::Error, what: &str) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        format_err!("truncated .npy file: {what} incomplete")
    } else {
        Error::Stream(e)
    }
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` with the one Python
/// literal parser ([`crate::pylit`]).
fn parse_header_dict(text: &str) -> Result<NpyHeader> {
    let bad = |why: &str| {
        format_err!(
            ".npy header is not a valid dictionary ({why}): {:?}",
            text.trim_end()
        )
    };
    let entries = pylit::parse_dict(text).map_err(|e| bad(&e))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in entries {
        let PyValue::Str(key) = key else {
            return Err(bad("a key is not a string"));
        };
        match (key.as_str(), value) {
            ("descr", PyValue::Str(d)) => descr = Some(NpyDType::parse(&d)?),
            ("descr", _) => {
                return Err(format_err!(
                    ".npy structured dtypes are not supported: {}",
                    text.trim_end()
                ));
            }
            ("fortran_order", PyValue::Number(v)) if v == 0.0 || v == 1.0 => {
                fortran = Some(v == 1.0);
            }
            ("shape", PyValue::Tuple(dims)) => {
                if dims.len() > MAX_DIMS {
                    return Err(Error::Limit(format!(".npy shape has over {MAX_DIMS} dims")));
                }
                shape = Some(
                    dims.iter()
                        .map(|d| dimension(d).ok_or_else(|| bad("a dimension is not a size")))
                        .collect::<Result<Vec<usize>>>()?,
                );
            }
            ("fortran_order" | "shape", _) => return Err(bad(&format!("bad {key}"))),
            _ => return Err(format_err!(".npy header has unknown key {key:?}")),
        }
    }
    match (descr, fortran, shape) {
        (Some(dtype), Some(fortran_order), Some(shape)) => Ok(NpyHeader {
            dtype,
            shape,
            fortran_order,
            data_offset: 0,
        }),
        _ => Err(format_err!(
            ".npy header misses descr, fortran_order or shape: {text:?}"
        )),
    }
}

/// A tuple element that is a whole, non-negative number that fits a `usize` exactly.
fn dimension(value: &PyValue) -> Option<usize> {
    // 2^53: above it an f64 no longer holds every integer, so a parsed size could be off.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match *value {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        PyValue::Number(v) if v >= 0.0 && v.fract() == 0.0 && v <= EXACT => Some(v as usize),
        _ => None,
    }
}

/// Reads a whole array from any reader. Data is read incrementally so a header claiming more
/// data than the stream holds fails with "truncated" instead of allocating the claimed size.
pub fn read_npy(reader: &mut impl Read) -> Result<NpyArray> {
    let header = read_header(reader)?;
    let len = header.data_len()?;
    let mut bytes = Vec::new();
    reader.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(format_err!(
            "truncated .npy file: shape {:?} needs {len} data bytes, found {}",
            header.shape,
            bytes.len()
        ));
    }
    decode(&header, &bytes)
}

/// Reads a whole array from bytes already in memory.
pub fn read_npy_bytes(bytes: &[u8]) -> Result<NpyArray> {
    let mut cursor = bytes;
    let header = read_header(&mut cursor)?;
    let len = header.data_len()?;
    let Some(data) = cursor.get(..len) else {
        return Err(format_err!(
            "truncated .npy file: shape {:?} needs {len} data bytes, found {}",
            header.shape,
            cursor.len()
        ));
    };
    decode(&header, data)
}

/// Reads a whole `.npy` file; errors name the file.
pub fn read_npy_file(path: &Path) -> Result<NpyArray> {
    let bytes = read_file(path)?;
    read_npy_bytes(&bytes).map_err(|e| e.in_file(path))
}

fn decode(header: &NpyHeader, bytes: &[u8]) -> Result<NpyArray> {
    let big = header.dtype.big_endian;
    macro_rules! numbers {
        ($t:ty, $n:literal, $conv:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    let v: $t = if big {
                        <$t>::from_be_bytes(b)
                    } else {
                        <$t>::from_le_bytes(b)
                    };
                    $conv(v)
                })
                .collect()
        };
    }
    use std::convert::identity as id;
    let data = match header.dtype.element {
        NpyElement::F16 => NpyData::F16(numbers!(u16, 2, f16::from_bits)),
        NpyElement::F32 => NpyData::F32(numbers!(f32, 4, id)),
        NpyElement::F64 => NpyData::F64(numbers!(f64, 8, id)),
        NpyElement::U8 => NpyData::U8(bytes.to_vec()),
        NpyElement::I8 => NpyData::I8(bytes.iter().map(|&b| i8::from_ne_bytes([b])).collect()),
        NpyElement::I16 => NpyData::I16(numbers!(i16, 2, id)),
        NpyElement::I32 => NpyData::I32(numbers!(i32, 4, id)),
        NpyElement::I64 => NpyData::I64(numbers!(i64, 8, id)),
        NpyElement::Bool => NpyData::Bool(bytes.iter().map(|&b| b != 0).collect()),
    };
    let data = if header.fortran_order && header.shape.len() > 1 {
        each_variant!(data, v => fortran_to_c(&header.shape, v).into())
    } else {
        data
    };
    Ok(NpyArray {
        shape: header.shape.clone(),
        data,
    })
}

macro_rules! impl_from_vec {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<Vec<$t>> for NpyData {
            fn from(v: Vec<$t>) -> Self { Self::$variant(v) }
        }
    )*};
}
impl_from_vec!(f16 => F16, f32 => F32, f64 => F64, u8 => U8, i8 => I8, i16 => I16, i32 => I32,
    i64 => I64, bool => Bool);

/// Reorders column-major values into row-major order.
///
/// Walks the output in row-major order, keeping a running index into the column-major input:
/// column-major strides are 1, d0, d0*d1, ...
fn fortran_to_c<T: Copy>(shape: &[usize], values: Vec<T>) -> Vec<T> {
    let n = values.len();
    if n == 0 {
        return values;
    }
    let mut f_strides = vec![1usize; shape.len()];
    for i in 1..shape.len() {
        f_strides[i] = f_strides[i - 1] * shape[i - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut src = 0usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(values[src]);
        // Increment the row-major multi-index (last axis fastest).
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            src += f_strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            src -= f_strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
    out
}

mod write;
pub use write::{write_f32, write_f32_to, write_f64, write_f64_to, write_u8, write_u8_to};

#[cfg(test)]
mod tests;
