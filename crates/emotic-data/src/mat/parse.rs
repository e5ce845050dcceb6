//! The MAT v5 byte-level parser. Every read is bounds-checked; errors carry the byte offset.

use std::cell::Cell;
use std::path::Path;

use super::inflate::Inflater;
use super::{MatFile, MatValue, MatVariable, NumericClass};
use crate::{Error, Result};

/// Limits for untrusted files. A MAT v7 file deflates each variable (miCOMPRESSED), so a few
/// hundred KB can inflate to hundreds of MB, and `uint8` data widened to `f64` takes 8 times
/// that again. Each compressed element's inflated size is read from the tag at its start and
/// checked against these limits before the rest is inflated; inflating stops as soon as it
/// produces more than the tag declared.
///
/// The defaults leave a wide margin for EMOTIC's `Annotations.mat` (about 75 MB inflated in
/// all, its largest variable `train` about 40 MB, deflated 12-14:1 like the synthetic copy
/// in the tests) and for prediction and label matrices (a few MB).
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Most bytes all miCOMPRESSED elements of one file may inflate to together. Default 1 GiB.
    pub max_decompressed_bytes: usize,
    /// Most bytes one compressed element, and all of them together, may inflate to per
    /// compressed byte beyond [`Self::ratio_allowance`]. Default 100; deflated zeros reach
    /// about 1000.
    pub max_ratio: usize,
    /// Bytes a compressed element (or all of them) may inflate to whatever the ratio. Default
    /// 16 MiB.
    pub ratio_allowance: usize,
    /// Most bytes the decoded values may take in memory: 8 per number (`f64`), 4 per char, and
    /// each cell or struct element's [`MatValue`]. Default 1 GiB.
    pub max_decoded_bytes: usize,
    /// Deepest nesting of cells/structs accepted.
    pub max_depth: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 1 << 30,
            max_ratio: 100,
            ratio_allowance: 16 << 20,
            max_decoded_bytes: 1 << 30,
            max_depth: 64,
        }
    }
}

impl ReadOptions {
    /// Most bytes `compressed` bytes may inflate to.
    #[must_use]
    pub fn inflate_allowance(&self, compressed: usize) -> usize {
        self.ratio_allowance
            .saturating_add(self.max_ratio.saturating_mul(compressed))
    }
}

// Data types (miXXX).
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

/// A struct array without fields occupies no bytes per element; cap its element count.
const MAX_FIELDLESS_STRUCT_ELEMENTS: usize = 1 << 16;

/// Reads and parses a MAT file with default limits.
pub fn read_mat_file(path: &Path) -> Result<MatFile> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_mat(&bytes, &path.display().to_string(), ReadOptions::default())
}

/// Parses MAT v5 bytes; `name` is used in errors.
pub fn parse_mat(bytes: &[u8], name: &str, options: ReadOptions) -> Result<MatFile> {
    let err = |offset: usize, message: String| Error::Mat {
        path: name.to_string(),
        offset,
        message,
    };
    if bytes.len() < 128 {
        return Err(err(
            0,
            format!(
                "{} bytes is too short for a MAT v5 header (128)",
                bytes.len()
            ),
        ));
    }
    let big_endian = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => {
            return Err(err(
                126,
                "no MAT v5 endian indicator ('IM'/'MI'); MAT v4 or not a MAT file".into(),
            ));
        }
    };
    let version = if big_endian {
        u16::from_be_bytes([bytes[124], bytes[125]])
    } else {
        u16::from_le_bytes([bytes[124], bytes[125]])
    };
    if version == 0x0200 {
        return Err(err(
            124,
            "MAT v7.3 (HDF5) is not supported; re-save with save(..., '-v7')".into(),
        ));
    }
    if version != 0x0100 {
        return Err(err(
            124,
            format!("unknown MAT version {version:#06x}, expected 0x0100"),
        ));
    }
    let header_text = String::from_utf8_lossy(&bytes[..116])
        .trim_end_matches([' ', '\0'])
        .to_string();
    let decoded = Cell::new(0);
    let mut reader = Reader {
        bytes,
        pos: 128,
        base: 0,
        big_endian,
        name,
        options,
        depth: 0,
        decoded: &decoded,
    };
    let mut inflater = Inflater::new(options, big_endian);
    let mut variables = Vec::new();
    while reader.pos < bytes.len() {
        let tag_at = reader.pos;
        let (ty, len, small) = reader.tag()?;
        if ty == MI_COMPRESSED {
            let compressed = reader.take(len)?;
            let inflated = inflater.inflate(compressed).map_err(|m| err(tag_at, m))?;
            // The inflated bytes hold one ordinary element; offsets in errors are relative to
            // the start of that inflated buffer, reported with the compressed element's offset.
            let mut inner = Reader {
                bytes: &inflated,
                pos: 0,
                base: tag_at,
                ..reader.clone_limits()
            };
            let (ity, ilen, ismall) = inner.tag()?;
            if ity != MI_MATRIX {
                return Err(err(
                    tag_at,
                    format!("compressed element holds type {ity}, expected miMATRIX"),
                ));
            }
            let body = inner.take(ilen)?;
            if ismall {
                return Err(err(tag_at, "miMATRIX in small element format".into()));
            }
            if let Some(v) = inner.matrix(body, inner.pos - ilen)? {
                variables.push(v);
            }
            // Compressed elements are not padded.
        } else if ty == MI_MATRIX {
            if small {
                return Err(err(tag_at, "miMATRIX in small element format".into()));
            }
            let start = reader.pos;
            let body = reader.take(len)?;
            reader.skip_padding(len);
            if let Some(v) = reader.matrix(body, start)? {
                variables.push(v);
            }
        } else {
            return Err(err(
                tag_at,
                format!("top-level element of type {ty}, expected miMATRIX or miCOMPRESSED"),
            ));
        }
    }
    Ok(MatFile {
        header_text,
        variables,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset added to positions in errors (start of a compressed element).
    base: usize,
    big_endian: bool,
    name: &'a str,
    options: ReadOptions,
    depth: usize,
    /// Bytes the values decoded so far take, shared by every reader of one file.
    decoded: &'a Cell<usize>,
}

impl<'a> Reader<'a> {
    fn clone_limits(&self) -> Reader<'a> {
        Reader {
            bytes: &[],
            pos: 0,
            base: 0,
            big_endian: self.big_endian,
            name: self.name,
            options: self.options,
            depth: 0,
            decoded: self.decoded,
        }
    }

    /// Counts `bytes` more of decoded values against [`ReadOptions::max_decoded_bytes`] before
    /// they are allocated.
    fn charge(&self, at: usize, bytes: usize, what: &str) -> Result<()> {
        let total = self.decoded.get().saturating_add(bytes);
        if total > self.options.max_decoded_bytes {
            return Err(self.err(
                at,
                format!(
                    "{what}: decoded values would take more than the {}-byte limit ({total} bytes \
                     by here)",
                    self.options.max_decoded_bytes
                ),
            ));
        }
        self.decoded.set(total);
        Ok(())
    }

    fn err(&self, offset: usize, message: String) -> Error {
        Error::Mat {
            path: self.name.to_string(),
            offset: self.base + offset,
            message,
        }
    }

    fn u32_at(&self, at: usize) -> Result<u32> {
        let b = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| self.err(at, "truncated: tag runs past the end".into()))?;
        let arr = [b[0], b[1], b[2], b[3]];
        Ok(if self.big_endian {
            u32::from_be_bytes(arr)
        } else {
            u32::from_le_bytes(arr)
        })
    }

    /// Reads a tag at `pos`, returning (type, byte count, small format). For the small
    /// format the position is left at the 4 data bytes.
    fn tag(&mut self) -> Result<(u32, usize, bool)> {
        let first = self.u32_at(self.pos)?;
        if first >> 16 != 0 {
            // Small data element: type in the low 16 bits, size in the high 16, data inline.
            let (ty, len) = (first & 0xffff, (first >> 16) as usize);
            if len > 4 {
                return Err(self.err(
                    self.pos,
                    format!("small element claims {len} bytes (max 4)"),
                ));
            }
            if self.bytes.len() < self.pos + 8 {
                return Err(self.err(
                    self.pos,
                    "truncated: small element runs past the end".into(),
                ));
            }
            self.pos += 4;
            return Ok((ty, len, true));
        }
        let len = self.u32_at(self.pos + 4)? as usize;
        self.pos += 8;
        Ok((first, len, false))
    }

    /// Takes `len` bytes from `pos`.
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                self.err(
                    self.pos,
                    format!(
                        "truncated: element needs {len} bytes, {} left",
                        self.bytes.len() - self.pos.min(self.bytes.len())
                    ),
                )
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip_padding(&mut self, len: usize) {
        let pad = (8 - len % 8) % 8;
        self.pos = (self.pos + pad).min(self.bytes.len());
    }

    /// Reads one sub-element inside a matrix body: (type, data, offset of the data).
    fn element(&mut self) -> Result<(u32, &'a [u8], usize)> {
        let (ty, len, small) = self.tag()?;
        let at = self.pos;
        if small {
            let data = &self.bytes[at..at + len];
            self.pos = at + 4;
            return Ok((ty, data, at));
        }
        let data = self.take(len)?;
        self.skip_padding(len);
        Ok((ty, data, at))
    }

    /// Parses a miMATRIX body (`start` = offset of `body` in `self.bytes`). Returns None
    /// for an empty (0-byte) top-level matrix.
    fn matrix(&mut self, body: &'a [u8], start: usize) -> Result<Option<MatVariable>> {
        if body.is_empty() {
            return Ok(None);
        }
        let mut sub = Reader {
            bytes: body,
            pos: 0,
            base: self.base + start,
            ..self.clone_limits()
        };
        sub.depth = self.depth;
        let (name, value) = sub.array()?;
        Ok(Some(MatVariable { name, value }))
    }

    fn nested(&mut self) -> Result<MatValue> {
        let at = self.pos;
        let (ty, len, small) = self.tag()?;
        if ty != MI_MATRIX || small {
            return Err(self.err(at, format!("expected a nested miMATRIX, found type {ty}")));
        }
        let start = self.pos;
        let body = self.take(len)?;
        self.skip_padding(len);
        if body.is_empty() {
            // MATLAB writes empty cells as a bare tag: an empty double.
            return Ok(MatValue::Numeric {
                dims: vec![0, 0],
                class: NumericClass::Double,
                logical: false,
                data: Vec::new(),
            });
        }
        if self.depth + 1 > self.options.max_depth {
            return Err(self.err(
                at,
                format!("nesting deeper than {}", self.options.max_depth),
            ));
        }
        let mut sub = Reader {
            bytes: body,
            pos: 0,
            base: self.base + start,
            ..self.clone_limits()
        };
        sub.depth = self.depth + 1;
        Ok(sub.array()?.1)
    }

    /// Array flags, dimensions, name, then the class-specific parts.
    fn array(&mut self) -> Result<(String, MatValue)> {
        let (ty, flags, at) = self.element()?;
        if ty != MI_UINT32 || flags.len() < 8 {
            return Err(self.err(at, "array flags: expected 8 bytes of miUINT32".into()));
        }
        let word = self.u32_at(at)?;
        let class = word & 0xff;
        let complex = word & 0x0800 != 0;
        let logical = word & 0x0200 != 0;
        let (ty, dims_bytes, at) = self.element()?;
        if ty != MI_INT32 || !dims_bytes.len().is_multiple_of(4) || dims_bytes.len() < 8 {
            return Err(self.err(
                at,
                "dimensions: expected at least two miINT32 values".into(),
            ));
        }
        let mut dims = Vec::with_capacity(dims_bytes.len() / 4);
        for i in 0..dims_bytes.len() / 4 {
            let d = self.u32_at(at + 4 * i)? as i32;
            let d =
                usize::try_from(d).map_err(|_| self.err(at, format!("negative dimension {d}")))?;
            dims.push(d);
        }
        let count = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| self.err(at, format!("dimensions {dims:?} overflow")))?;
        let (ty, name_bytes, at) = self.element()?;
        if ty != MI_INT8 && ty != MI_UINT8 {
            return Err(self.err(at, format!("array name: expected miINT8, found type {ty}")));
        }
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let value = match class {
            1 => self.cell(dims, count)?,
            2 => self.structure(dims, count)?,
            3 => return Err(self.err(at, format!("'{name}': MATLAB objects are not supported"))),
            4 => self.char_array(dims, count)?,
            5 => return Err(self.err(at, format!("'{name}': sparse arrays are not supported"))),
            6..=15 => {
                if complex {
                    return Err(self.err(at, format!("'{name}': complex arrays are not supported")));
                }
                let class = numeric_class(class);
                let (ty, data, at) = self.element()?;
                let data = self.numbers(ty, data, at, &format!("'{name}'"))?;
                if data.len() != count {
                    return Err(self.err(
                        at,
                        format!("'{name}': {} values for dimensions {dims:?}", data.len()),
                    ));
                }
                MatValue::Numeric {
                    dims,
                    class,
                    logical,
                    data,
                }
            }
            16 | 17 => {
                return Err(self.err(
                    at,
                    format!("'{name}': function handles/opaque objects are not supported"),
                ));
            }
            _ => return Err(self.err(at, format!("'{name}': unknown array class {class}"))),
        };
        Ok((name, value))
    }

    /// Each nested element needs at least its 8-byte tag, so a count above bytes/8 is a lie;
    /// checking first keeps a forged count from reserving memory.
    fn check_count(&self, count: usize, what: &str) -> Result<()> {
        let left = self.bytes.len().saturating_sub(self.pos);
        if count > left / 8 {
            return Err(self.err(
                self.pos,
                format!("{what}: {count} elements cannot fit in {left} bytes"),
            ));
        }
        Ok(())
    }

    fn cell(&mut self, dims: Vec<usize>, count: usize) -> Result<MatValue> {
        self.check_count(count, "cell array")?;
        self.charge(
            self.pos,
            count.saturating_mul(size_of::<MatValue>()),
            "cell array",
        )?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.nested()?);
        }
        Ok(MatValue::Cell { dims, items })
    }

    fn structure(&mut self, dims: Vec<usize>, count: usize) -> Result<MatValue> {
        let (ty, len_bytes, at) = self.element()?;
        if ty != MI_INT32 || len_bytes.len() != 4 {
            return Err(self.err(at, "struct field name length: expected one miINT32".into()));
        }
        let name_len = self.u32_at(at)? as usize;
        let (ty, names, at) = self.element()?;
        if ty != MI_INT8 && ty != MI_UINT8 {
            return Err(self.err(
                at,
                format!("struct field names: expected miINT8, found type {ty}"),
            ));
        }
        let fields: Vec<String> = if names.is_empty() {
            Vec::new()
        } else {
            if name_len == 0 || !names.len().is_multiple_of(name_len) {
                return Err(self.err(
                    at,
                    format!(
                        "struct field names: {} bytes not a multiple of {name_len}",
                        names.len()
                    ),
                ));
            }
            names
                .chunks(name_len)
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).into_owned()
                })
                .collect()
        };
        let total = count
            .checked_mul(fields.len())
            .ok_or_else(|| self.err(at, "struct: element count overflows".into()))?;
        self.check_count(total, "struct array")?;
        if fields.is_empty() && count > MAX_FIELDLESS_STRUCT_ELEMENTS {
            // Such elements take no bytes in the file, so the byte check above cannot bound them.
            return Err(self.err(at, format!("struct without fields claims {count} elements")));
        }
        let element_bytes = size_of::<Vec<MatValue>>() + fields.len() * size_of::<MatValue>();
        self.charge(at, count.saturating_mul(element_bytes), "struct array")?;
        let mut elements = Vec::with_capacity(count);
        for _ in 0..count {
            let mut values = Vec::with_capacity(fields.len());
            for _ in 0..fields.len() {
                values.push(self.nested()?);
            }
            elements.push(values);
        }
        Ok(MatValue::Struct {
            dims,
            fields,
            elements,
        })
    }

    fn char_array(&mut self, dims: Vec<usize>, count: usize) -> Result<MatValue> {
        if self.pos >= self.bytes.len() && count == 0 {
            return Ok(MatValue::Char {
                dims,
                chars: Vec::new(),
            });
        }
        let (ty, data, at) = self.element()?;
        self.charge(at, count.saturating_mul(size_of::<char>()), "char array")?;
        let chars: Vec<char> = match ty {
            MI_UTF8 => String::from_utf8_lossy(data).chars().collect(),
            MI_UINT16 | MI_UTF16 => {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| {
                        if self.big_endian {
                            u16::from_be_bytes([c[0], c[1]])
                        } else {
                            u16::from_le_bytes([c[0], c[1]])
                        }
                    })
                    .collect();
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect()
            }
            MI_UINT32 | MI_UTF32 | MI_INT32 => self
                .numbers(ty, data, at, "char array")?
                .into_iter()
                .map(|v| char::from_u32(v as u32).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
            MI_UINT8 | MI_INT8 => data.iter().map(|&b| char::from(b)).collect(),
            _ => return Err(self.err(at, format!("char data of type {ty}"))),
        };
        if chars.len() != count {
            return Err(self.err(
                at,
                format!(
                    "char array: {} characters for dimensions {dims:?}",
                    chars.len()
                ),
            ));
        }
        Ok(MatValue::Char { dims, chars })
    }

    /// Numeric data of any miTYPE widened to f64; `what` names the array in errors.
    fn numbers(&self, ty: u32, data: &[u8], at: usize, what: &str) -> Result<Vec<f64>> {
        let size = match ty {
            MI_INT8 | MI_UINT8 => 1,
            MI_INT16 | MI_UINT16 => 2,
            MI_INT32 | MI_UINT32 | MI_SINGLE | MI_UTF32 => 4,
            MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
            _ => return Err(self.err(at, format!("numeric data of type {ty}"))),
        };
        if !data.len().is_multiple_of(size) {
            return Err(self.err(
                at,
                format!("{} bytes of data is not a multiple of {size}", data.len()),
            ));
        }
        // uint8 data takes 8 times its size once widened.
        self.charge(at, data.len() / size * size_of::<f64>(), what)?;
        let be = self.big_endian;
        let word = |c: &[u8]| -> [u8; 8] {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            if be {
                b[..c.len()].reverse();
            }
            b
        };
        Ok(data
            .chunks_exact(size)
            .map(|c| {
                let b = word(c);
                match ty {
                    MI_INT8 => f64::from(b[0] as i8),
                    MI_UINT8 => f64::from(b[0]),
                    MI_INT16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                    MI_UINT16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
                    MI_INT32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    MI_UINT32 | MI_UTF32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    MI_SINGLE => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    MI_INT64 => i64::from_le_bytes(b) as f64,
                    MI_UINT64 => u64::from_le_bytes(b) as f64,
                    _ => f64::from_le_bytes(b),
                }
            })
            .collect())
    }
}

fn numeric_class(class: u32) -> NumericClass {
    match class {
        6 => NumericClass::Double,
        7 => NumericClass::Single,
        8 => NumericClass::Int8,
        9 => NumericClass::Uint8,
        10 => NumericClass::Int16,
        11 => NumericClass::Uint16,
        12 => NumericClass::Int32,
        13 => NumericClass::Uint32,
        14 => NumericClass::Int64,
        _ => NumericClass::Uint64,
    }
}
