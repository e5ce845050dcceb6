//! `torch.save` files: the zip format (PyTorch >= 1.6) and the legacy format, holding a whole
//! `nn.Module`, a training checkpoint dict (YOLOv5 `{'model', 'ema', ...}`, Places365
//! `{'state_dict', 'epoch', 'arch'}`) or a plain state dict.
//!
//! Tensors come out contiguous and row-major whatever view (offset, strides, shared storage)
//! they were saved as; see [`crate::Checkpoint`] for how the model inside is chosen.
//!
//! [`TorchWriter`] writes the zip format back: any object built as a [`crate::pickle::Py`] tree
//! (a state dict, a whole `nn.Module`) with its tensors, loadable by `torch.load`.

mod legacy;
mod limits;
pub(crate) mod select;
pub(crate) mod storage;
mod write;
mod zipfmt;

use crate::error::format_err;
use crate::fsutil::read_file;
use crate::{Checkpoint, LazyCheckpoint, Result};
use std::io::Cursor;
use std::path::Path;

pub(crate) use legacy::is_legacy;
pub use limits::ReadLimits;
pub use write::TorchWriter;

/// Where the raw bytes of storages come from (zip entries or the legacy data section).
pub(crate) trait StorageSource {
    /// The whole storage described by `id`.
    fn storage(&mut self, id: &storage::StorageId) -> Result<storage::StorageBytes<'_>>;
    /// Whether multi-byte elements are stored big-endian.
    fn big_endian(&self) -> bool;
    /// No tensor will ask for storage `key` again: its bytes may be dropped.
    fn release(&mut self, _key: &str) {}
    /// Drops every storage read so far.
    fn release_all(&mut self) {}
}

/// True when `bytes` start like a zip archive (local file header magic).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Reads a `torch.save` file (zip or legacy) held in memory, within the default
/// [`ReadLimits`].
pub fn read_torch_bytes(bytes: &[u8]) -> Result<Checkpoint> {
    open_torch_bytes(bytes, &ReadLimits::default())?.load()
}

/// Opens a `torch.save` file held in memory: decodes its pickle, picks the model and checks
/// the declared sizes against `limits`, without reading any tensor data (see
/// [`LazyCheckpoint`]).
pub fn open_torch_bytes<'a>(bytes: &'a [u8], limits: &ReadLimits) -> Result<LazyCheckpoint<'a>> {
    open(bytes, limits)
}

/// [`open_torch_bytes`] over bytes it may own (a file read into memory) or borrow.
pub(crate) fn open<'a, B: AsRef<[u8]> + 'a>(
    bytes: B,
    limits: &ReadLimits,
) -> Result<LazyCheckpoint<'a>> {
    if is_zip(bytes.as_ref()) {
        let (mut src, root) = zipfmt::ZipCheckpoint::open(Cursor::new(bytes), limits)?;
        let selection = select::select(&root, &mut src)?;
        LazyCheckpoint::from_torch(selection, Box::new(src), limits)
    } else if is_legacy(bytes.as_ref()) {
        let (mut src, root) = legacy::LegacyCheckpoint::parse(bytes)?;
        let selection = select::select(&root, &mut src)?;
        LazyCheckpoint::from_torch(selection, Box::new(src), limits)
    } else {
        Err(format_err!(
            "not a torch.save file (neither zip nor legacy magic)"
        ))
    }
}

/// Reads a `torch.save` file; errors name the file.
pub fn read_torch_file(path: &Path) -> Result<Checkpoint> {
    let bytes = read_file(path)?;
    open(bytes, &ReadLimits::default())
        .and_then(LazyCheckpoint::load)
        .map_err(|e| e.in_file(path))
}

/// Decodes only the pickled object of a `torch.save` file, without reading tensor data: useful
/// to inspect what a checkpoint holds. Tensors appear as [`crate::pickle::Value::Tensor`].
pub fn read_torch_object(bytes: &[u8]) -> Result<crate::pickle::Value> {
    if is_zip(bytes) {
        Ok(zipfmt::ZipCheckpoint::open(Cursor::new(bytes), &ReadLimits::default())?.1)
    } else if is_legacy(bytes) {
        Ok(legacy::LegacyCheckpoint::parse(bytes)?.1)
    } else {
        Err(format_err!(
            "not a torch.save file (neither zip nor legacy magic)"
        ))
    }
}
