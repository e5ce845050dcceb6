//! `.safetensors` files: an 8-byte little-endian header length, a JSON header mapping each tensor
//! name to `{dtype, shape, data_offsets}` (plus optional `__metadata__` strings), then the data.
//!
//! Hand-parsed rather than using the `safetensors` crate: the format is a page of code, the
//! crate is not in the vendored registry, and hand-parsing lets every error name the tensor and
//! widen values to `f32` while reading.

use crate::error::format_err;
use crate::fsutil::{read_file, write_atomically};
use crate::torch::storage::{convert_slice, dtype_size};
use crate::{Checkpoint, DType, Error, Result, Tensor};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Largest JSON header accepted (the reference implementation uses the same 100 MB bound).
const MAX_HEADER: u64 = 100_000_000;

/// True when `bytes` start like a safetensors file (a plausible length, then `{`).
pub(crate) fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.len() >= 9
        && bytes[8] == b'{'
        && u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()) <= bytes.len() as u64 - 8
}

fn parse_dtype(s: &str) -> Option<DType> {
    Some(match s {
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F32" => DType::F32,
        "F64" => DType::F64,
        "I64" => DType::I64,
        "I32" => DType::I32,
        "I16" => DType::I16,
        "I8" => DType::I8,
        "U8" => DType::U8,
        "BOOL" => DType::Bool,
        _ => return None,
    })
}

/// Reads a safetensors file held in memory; `__metadata__` goes to [`Checkpoint::meta`].
pub fn read_safetensors_bytes(bytes: &[u8]) -> Result<Checkpoint> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format_err!("truncated safetensors file: no header length"))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER || header_len > bytes.len() as u64 - 8 {
        return Err(format_err!(
            "safetensors header length {header_len} exceeds the file ({} bytes) or {MAX_HEADER}",
            bytes.len()
        ));
    }
    let header_end = 8 + header_len as usize;
    let header: serde_json::Map<String, Json> = serde_json::from_slice(&bytes[8..header_end])?;
    let data = &bytes[header_end..];
    let mut ckpt = Checkpoint::default();
    for (name, entry) in &header {
        if name == "__metadata__" {
            if let Json::Object(meta) = entry {
                ckpt.meta
                    .extend(meta.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            continue;
        }
        let tensor = read_entry(entry, data).map_err(|e| match e {
            Error::Format(m) => format_err!("tensor {name}: {m}"),
            other => other,
        })?;
        ckpt.tensors.insert(name.clone(), tensor);
    }
    Ok(ckpt)
}

fn read_entry(entry: &Json, data: &[u8]) -> Result<Tensor> {
    let dtype_name = entry["dtype"]
        .as_str()
        .ok_or_else(|| format_err!("dtype missing"))?;
    let dtype =
        parse_dtype(dtype_name).ok_or_else(|| format_err!("unsupported dtype {dtype_name}"))?;
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .ok_or_else(|| format_err!("shape missing"))?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| format_err!("shape is not a list of sizes"))?;
    let offsets: Vec<usize> = entry["data_offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_u64().and_then(|o| usize::try_from(o).ok()))
        .collect();
    let &[begin, end] = offsets.as_slice() else {
        return Err(format_err!("data_offsets is not [begin, end]"));
    };
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::Limit(format!("shape {shape:?} overflows")))?;
    let elem = dtype_size(dtype);
    if begin > end || end > data.len() || Some(end - begin) != numel.checked_mul(elem) {
        return Err(format_err!(
            "data_offsets [{begin}, {end}] do not hold {numel} {dtype_name} values inside the {} \
             data bytes",
            data.len()
        ));
    }
    Ok(Tensor {
        dtype,
        shape,
        data: convert_slice(dtype, &data[begin..end], false),
    })
}

/// Reads a `.safetensors` file; errors name the file.
pub fn read_safetensors_file(path: &Path) -> Result<Checkpoint> {
    let bytes = read_file(path)?;
    read_safetensors_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Writes `tensors` as `F32` safetensors with string `metadata` to any writer.
pub fn write_safetensors_to(
    out: &mut dyn Write,
    tensors: &BTreeMap<String, Tensor>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let meta = metadata
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        header.insert("__metadata__".to_owned(), Json::Object(meta));
    }
    let mut offset = 0usize;
    for (name, t) in tensors {
        if t.shape.iter().product::<usize>() != t.data.len() {
            return Err(format_err!(
                "tensor {name}: shape {:?} does not match {} values",
                t.shape,
                t.data.len()
            ));
        }
        let end = offset + t.data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut text = serde_json::to_vec(&Json::Object(header))?;
    // Pad so that the data starts 8-byte aligned, as the reference writer does.
    text.resize(text.len().next_multiple_of(8), b' ');
    out.write_all(&(text.len() as u64).to_le_bytes())?;
    out.write_all(&text)?;
    for t in tensors.values() {
        let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.write_all(&bytes)?;
    }
    Ok(())
}

/// Writes `tensors` as `F32` safetensors to `path` atomically (temporary file, then rename).
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_atomically(path, |out| write_safetensors_to(out, tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_bounds() {
        let mut tensors = BTreeMap::new();
        tensors.insert(
            "a".to_owned(),
            Tensor::from_f32(vec![2, 2], vec![1.0, -2.0, 0.5, 3.25]),
        );
        tensors.insert("b".to_owned(), Tensor::from_f32(vec![], vec![7.0]));
        let meta = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let mut buf = Vec::new();
        write_safetensors_to(&mut buf, &tensors, &meta).unwrap();
        let header_len = u64::from_le_bytes(buf[..8].try_into().unwrap());
        assert_eq!(header_len % 8, 0);
        let back = read_safetensors_bytes(&buf).unwrap();
        assert_eq!(back.tensors, tensors);
        assert_eq!(back.meta["k"], "v");
        for cut in [0, 5, 9, 20, buf.len() - 1] {
            assert!(read_safetensors_bytes(&buf[..cut]).is_err(), "cut {cut}");
        }
    }
}
