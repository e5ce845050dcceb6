//! The zip-based `torch.save` format (PyTorch >= 1.6): `<archive>/data.pkl` holds the pickle,
//! `<archive>/data/<key>` the raw bytes of each storage, `<archive>/byteorder` their byte order.
//!
//! Every entry's declared size is checked against [`ReadLimits`] when the archive is opened,
//! before anything is inflated; storages are then read only when a tensor asks for them.

use super::StorageSource;
use super::limits::ReadLimits;
use super::storage::{StorageBytes, StorageId, dtype_size};
use crate::error::format_err;
use crate::pickle::{self, Value};
use crate::{Error, Result};
use std::collections::HashMap;
use std::io::{Read, Seek};
use std::rc::Rc;

/// The largest `data.pkl` accepted; real ones are well under a megabyte.
const MAX_PICKLE_BYTES: u64 = 256 << 20;

/// An open zip checkpoint.
pub(crate) struct ZipCheckpoint<R: Read + Seek> {
    archive: zip::ZipArchive<R>,
    prefix: String,
    big_endian: bool,
    cache: HashMap<String, Rc<Vec<u8>>>,
}

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::InvalidArchive(msg) => {
            format_err!(
                "truncated or damaged zip archive ({msg}): zip central directory missing or invalid"
            )
        }
        other => Error::Zip(other),
    }
}

impl<R: Read + Seek> ZipCheckpoint<R> {
    /// Opens the archive, checks its declared sizes against `limits` and decodes `data.pkl`.
    pub(crate) fn open(reader: R, limits: &ReadLimits) -> Result<(Self, Value)> {
        let mut archive = zip::ZipArchive::new(reader).map_err(zip_error)?;
        check_declared_sizes(&archive, limits)?;
        let pkl_name = archive
            .file_names()
            .filter_map(std::result::Result::ok)
            .find(|n| n.ends_with("data.pkl") && n.matches('/').count() == 1)
            .map(std::borrow::Cow::into_owned)
            .ok_or_else(|| format_err!("zip archive has no <archive>/data.pkl entry"))?;
        let prefix = pkl_name.trim_end_matches("data.pkl").to_owned();
        let pickle_bytes = read_entry(&mut archive, &pkl_name, MAX_PICKLE_BYTES)?;
        let big_endian = match archive.by_name(&format!("{prefix}byteorder")) {
            Ok(mut f) => {
                let mut s = String::new();
                f.by_ref().take(16).read_to_string(&mut s)?;
                match s.trim() {
                    "little" => false,
                    "big" => true,
                    other => return Err(format_err!("unknown byteorder {other:?}")),
                }
            }
            Err(_) => false, // files from before byteorder was recorded are little-endian
        };
        let root = pickle::from_slice(&pickle_bytes).map_err(|e| match e {
            Error::Format(m) => format_err!("{pkl_name}: {m}"),
            other => other,
        })?;
        Ok((
            Self {
                archive,
                prefix,
                big_endian,
                cache: HashMap::new(),
            },
            root,
        ))
    }
}

/// Checks every entry's declared size, and their sum, before anything is inflated. An entry
/// that then inflates to more than it declared is stopped by [`read_entry`].
fn check_declared_sizes<R: Read + Seek>(
    archive: &zip::ZipArchive<R>,
    limits: &ReadLimits,
) -> Result<()> {
    let (mut size, mut compressed) = (0u64, 0u64);
    let mut largest = (0u64, String::new());
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(zip_error)?;
        let name = entry.name().map_err(zip_error)?;
        limits.check_entry(&name, entry.size(), entry.compressed_size())?;
        size = size.saturating_add(entry.size());
        compressed = compressed.saturating_add(entry.compressed_size());
        if entry.size() >= largest.0 {
            largest = (entry.size(), name.into_owned());
        }
    }
    limits.check_archive(size, compressed, &largest.1)
}

fn read_entry<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    max: u64,
) -> Result<Vec<u8>> {
    let entry = archive.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => format_err!("zip entry {name} is missing"),
        other => zip_error(other),
    })?;
    let size = entry.size();
    if size > max {
        return Err(Error::Limit(format!(
            "zip entry {name} has {size} bytes, more than {max}"
        )));
    }
    let mut bytes = Vec::new();
    // Reading one byte past the declared size makes the zip reader hit its end, which is where
    // it verifies the CRC; stopping exactly at `size` would skip that check.
    entry
        .take(size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format_err!("zip entry {name} is corrupt: {e}"))?;
    if bytes.len() as u64 > size {
        return Err(format_err!(
            "zip entry {name} holds more than its declared {size} bytes"
        ));
    }
    if bytes.len() as u64 != size {
        return Err(format_err!(
            "zip entry {name} is truncated: {} of {size} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

impl<R: Read + Seek> StorageSource for ZipCheckpoint<R> {
    fn storage(&mut self, id: &StorageId) -> Result<StorageBytes<'_>> {
        if let Some(bytes) = self.cache.get(&id.key) {
            return Ok(StorageBytes::Shared(Rc::clone(bytes)));
        }
        let name = format!("{}data/{}", self.prefix, id.key);
        // The claimed element count only bounds the read; the bytes present decide.
        let claimed = (id.numel as u64).saturating_mul(dtype_size(id.dtype) as u64);
        let bytes = read_entry(&mut self.archive, &name, claimed.max(1)).map_err(|e| match e {
            Error::Limit(_) => format_err!(
                "storage {} holds more bytes than its {} claimed elements",
                id.key,
                id.numel
            ),
            other => other,
        })?;
        let bytes = Rc::new(bytes);
        self.cache.insert(id.key.clone(), Rc::clone(&bytes));
        Ok(StorageBytes::Shared(bytes))
    }

    fn release(&mut self, key: &str) {
        self.cache.remove(key);
    }

    fn release_all(&mut self) {
        self.cache.clear();
    }

    fn big_endian(&self) -> bool {
        self.big_endian
    }
}
