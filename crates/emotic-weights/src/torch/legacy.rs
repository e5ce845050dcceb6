//! The legacy `torch.save` format (before PyTorch 1.6, or `_use_new_zipfile_serialization=False`):
//! five pickles back to back (magic number, protocol version, sys_info, the object, the list of
//! storage keys), then each storage as an 8-byte little-endian element count and its raw bytes.
//!
//! Storages are not copied out of the file: each is a byte range, converted only when a tensor
//! asks for it.

use super::StorageSource;
use super::storage::{StorageBytes, StorageId, dtype_size, parse_storage_pid};
use crate::error::format_err;
use crate::pickle::{self, Limits, Value, opcodes};
use crate::{DType, Error, Result};
use std::collections::HashMap;
use std::ops::Range;

/// `torch.serialization.MAGIC_NUMBER`, as the little-endian bytes of its `LONG1` pickle.
pub(crate) const MAGIC_LE: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

/// True when `bytes` start with the pickled legacy magic number (`PROTO 2, LONG1 10 <magic>`).
pub(crate) fn is_legacy(bytes: &[u8]) -> bool {
    bytes.len() >= 14
        && bytes[0] == opcodes::PROTO
        && bytes[2] == opcodes::LONG1
        && bytes[3] == 10
        && bytes[4..14] == MAGIC_LE
}

/// A legacy checkpoint: the file's bytes and where each storage lies in them.
pub(crate) struct LegacyCheckpoint<B> {
    bytes: B,
    storages: HashMap<String, Range<usize>>,
    big_endian: bool,
}

impl<B: AsRef<[u8]>> LegacyCheckpoint<B> {
    /// Parses the pickles and locates every storage.
    pub(crate) fn parse(file: B) -> Result<(Self, Value)> {
        let bytes = file.as_ref();
        let limits = Limits::default();
        let mut pos = 0usize;
        let mut next = |what: &str| -> Result<Value> {
            let (v, used) = pickle::from_prefix(&bytes[pos..], &limits).map_err(|e| match e {
                Error::Format(m) => format_err!("legacy {what} pickle at byte {pos}: {m}"),
                other => other,
            })?;
            pos += used;
            Ok(v)
        };
        let magic = next("magic number")?;
        if !matches!(&magic, Value::BigInt(b) if b.strip_suffix(&[0]).unwrap_or(b) == MAGIC_LE) {
            return Err(format_err!("legacy torch file has a wrong magic number"));
        }
        let version = next("protocol version")?;
        if version.as_int() != Some(PROTOCOL_VERSION) {
            return Err(format_err!(
                "unsupported legacy protocol version {version:?}"
            ));
        }
        let sys_info = next("sys_info")?;
        let big_endian = matches!(sys_info.get("little_endian"), Some(Value::Bool(false)));
        let root = next("object")?;
        let keys = next("storage keys")?;
        let Value::List(keys) = keys else {
            return Err(format_err!("legacy storage key list is a {}", keys.kind()));
        };
        let mut dtypes = HashMap::new();
        collect_storage_dtypes(&root, &mut dtypes, 0)?;
        let mut storages = HashMap::new();
        for key in keys {
            let key = match key {
                Value::String(s) => s,
                Value::Int(i) => i.to_string(),
                other => return Err(format_err!("legacy storage key is a {}", other.kind())),
            };
            let dtype = *dtypes.get(&key).ok_or_else(|| {
                format_err!("legacy storage {key} is not referenced by any tensor")
            })?;
            let count_bytes: [u8; 8] = bytes
                .get(pos..pos + 8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    format_err!("truncated: storage {key} size missing at byte {pos}")
                })?;
            pos += 8;
            let count = u64::from_le_bytes(count_bytes);
            let len = usize::try_from(count)
                .ok()
                .and_then(|c| c.checked_mul(dtype_size(dtype)))
                .filter(|&len| len <= bytes.len() - pos)
                .ok_or_else(|| {
                    format_err!(
                        "truncated: storage {key} claims {count} elements but only {} bytes remain",
                        bytes.len() - pos
                    )
                })?;
            storages.insert(key, pos..pos + len);
            pos += len;
        }
        Ok((
            Self {
                bytes: file,
                storages,
                big_endian,
            },
            root,
        ))
    }
}

/// Finds every storage persistent id in the object to learn each storage's element type.
fn collect_storage_dtypes(v: &Value, out: &mut HashMap<String, DType>, depth: usize) -> Result<()> {
    if depth > 1000 {
        return Err(Error::Limit("object nesting too deep".into()));
    }
    let mut go = |c: &Value| collect_storage_dtypes(c, out, depth + 1);
    match v {
        Value::PersistentId(pid) => {
            // Only storage ids carry data; others (legacy `('module', cls, ...)`) do not.
            let is_storage = matches!(pid.as_ref(), Value::Tuple(t)
                if t.first().and_then(Value::as_str) == Some("storage"));
            if !is_storage {
                return Ok(());
            }
            let id = parse_storage_pid(v)?;
            out.insert(id.key, id.dtype);
        }
        Value::Tensor(t) => go(&t.storage)?,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            items.iter().try_for_each(go)?;
        }
        Value::Dict(pairs) => pairs.iter().try_for_each(|(k, v)| {
            go(k)?;
            go(v)
        })?,
        Value::Object { args, state, .. } => {
            args.iter().try_for_each(&mut go)?;
            if let Some(s) = state {
                go(s)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl<B: AsRef<[u8]>> StorageSource for LegacyCheckpoint<B> {
    fn storage(&mut self, id: &StorageId) -> Result<StorageBytes<'_>> {
        let range = self
            .storages
            .get(&id.key)
            .cloned()
            .ok_or_else(|| format_err!("storage {} is missing from the file", id.key))?;
        Ok(StorageBytes::Borrowed(&self.bytes.as_ref()[range]))
    }

    fn big_endian(&self) -> bool {
        self.big_endian
    }
}
