//! Small file helpers shared by the writers.

use crate::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes a file atomically: the content goes to a temporary file in the same directory, which is
/// renamed over `path` only once everything was written and flushed. A crash or an error midway
/// therefore never leaves a half-written weights file under the final name.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    write_atomically_with(path, true, write)
}

/// [`write_atomically`], refusing to replace an existing `path` unless `replace` is true. The
/// check is made before writing anything and again, race-free, by the final rename
/// (`persist_noclobber`), so an existing file is never silently replaced.
pub(crate) fn write_atomically_with(
    path: &Path,
    replace: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let exists = || {
        io_err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "file exists and replacing it was not requested",
        ))
    };
    if !replace && path.exists() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        write(&mut out).map_err(|e| e.in_file(path))?;
        out.flush().map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    if replace {
        tmp.persist(path).map_err(|e| io_err(e.error))?;
    } else {
        tmp.persist_noclobber(path)
            .map_err(|e| match e.error.kind() {
                std::io::ErrorKind::AlreadyExists => exists(),
                _ => io_err(e.error),
            })?;
    }
    Ok(())
}

/// Opens a file, mapping the error to one that names it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
