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
mod select;
pub(crate) mod storage;
mod write;
mod zipfmt;

use crate::error::format_err;
use crate::fsutil::read_file;
use crate::{Checkpoint, Result};
use std::path::Path;
use std::rc::Rc;

pub(crate) use legacy::is_legacy;
pub use write::TorchWriter;

/// Where the raw bytes of storages come from (zip entries or the legacy data section).
pub(crate) trait StorageSource {
    /// The whole storage described by `id`.
    fn storage(&mut self, id: &storage::StorageId) -> Result<Rc<Vec<u8>>>;
    /// Whether multi-byte elements are stored big-endian.
    fn big_endian(&self) -> bool;
}

/// True when `bytes` start like a zip archive (local file header magic).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Reads a `torch.save` file (zip or legacy) held in memory.
pub fn read_torch_bytes(bytes: &[u8]) -> Result<Checkpoint> {
    if is_zip(bytes) {
        let (mut src, root) = zipfmt::ZipCheckpoint::open(std::io::Cursor::new(bytes))?;
        select::select(&root, &mut src)
    } else if is_legacy(bytes) {
        let (mut src, root) = legacy::LegacyCheckpoint::parse(bytes)?;
        select::select(&root, &mut src)
    } else {
        Err(format_err!(
            "not a torch.save file (neither zip nor legacy magic)"
        ))
    }
}

/// Reads a `torch.save` file; errors name the file.
pub fn read_torch_file(path: &Path) -> Result<Checkpoint> {
    let bytes = read_file(path)?;
    read_torch_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// [`read_torch_object`] of a file, or `None` when its first bytes are not those of a
/// `torch.save` file (zip or legacy). Of a zip-format file only the directory and the pickle are
/// read, not the tensor data, so telling what a large checkpoint holds stays cheap. Errors name
/// the file.
pub fn read_torch_object_file(path: &Path) -> Result<Option<crate::pickle::Value>> {
    use std::io::Read;
    let io = |source| crate::Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(14);
    (&mut file).take(14).read_to_end(&mut head).map_err(io)?;
    if is_zip(&head) {
        let reader = std::io::BufReader::new(file);
        let (_, root) = zipfmt::ZipCheckpoint::open(reader).map_err(|e| e.in_file(path))?;
        Ok(Some(root))
    } else if is_legacy(&head) {
        // The legacy format interleaves pickles and storages; reading it whole is simplest.
        let bytes = read_file(path)?;
        let (_, root) = legacy::LegacyCheckpoint::parse(&bytes).map_err(|e| e.in_file(path))?;
        Ok(Some(root))
    } else {
        Ok(None)
    }
}

/// Decodes only the pickled object of a `torch.save` file, without reading tensor data: useful
/// to inspect what a checkpoint holds. Tensors appear as [`crate::pickle::Value::Tensor`].
pub fn read_torch_object(bytes: &[u8]) -> Result<crate::pickle::Value> {
    if is_zip(bytes) {
        Ok(zipfmt::ZipCheckpoint::open(std::io::Cursor::new(bytes))?.1)
    } else if is_legacy(bytes) {
        Ok(legacy::LegacyCheckpoint::parse(bytes)?.1)
    } else {
        Err(format_err!(
            "not a torch.save file (neither zip nor legacy magic)"
        ))
    }
}
