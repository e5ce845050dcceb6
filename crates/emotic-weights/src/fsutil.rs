//! Small file helpers shared by the writers.

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes a file atomically ([`emotic_atomic`]): a crash or an error midway never leaves a
/// half-written weights file under the final name.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    write_atomically_with(path, true, write)
}

/// [`write_atomically`], refusing to replace an existing `path` unless `replace` is true (see
/// [`emotic_atomic::write_with`]).
pub(crate) fn write_atomically_with(
    path: &Path,
    replace: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    emotic_atomic::write_with(path, replace, write).map_err(|e| match e {
        emotic_atomic::WriteError::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        emotic_atomic::WriteError::Fill(e) => e.in_file(path),
    })
}

/// Opens a file, mapping the error to one that names it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
