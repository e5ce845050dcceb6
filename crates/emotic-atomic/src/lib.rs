//! Atomic file writes, shared by every writer in the workspace (weights, ONNX models, run
//! outputs, training logs, dataset exports).
//!
//! The content goes to a temporary file in the target's folder (so the final rename never
//! crosses file systems), is flushed to disk, and only then takes the target's name. A crash or
//! an error midway leaves the previous file (or none) and no temporary behind. The temporary is
//! created like any file (permissions from the umask), so results are as readable as files
//! written directly.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why [`write_with`] failed: the file system, or the caller's fill function.
#[derive(Debug)]
pub enum WriteError<E> {
    /// Creating, writing, syncing or renaming failed (`AlreadyExists` when the target exists
    /// and replacing it was not requested).
    Io(io::Error),
    /// The fill function failed.
    Fill(E),
}

// Transparent, like thiserror's `#[error(transparent)]`: the wrapped error is the message, and
// its cause (not itself) is the source, so a printed chain says each thing once. Written by hand
// to keep this crate free of dependencies.
impl<E: std::fmt::Display> std::fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Fill(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error> std::error::Error for WriteError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => e.source(),
            Self::Fill(e) => e.source(),
        }
    }
}

/// For fill functions that fail with I/O errors themselves (an encoder writing to the file):
/// either way it is an I/O error.
impl From<WriteError<io::Error>> for io::Error {
    fn from(e: WriteError<io::Error>) -> Self {
        match e {
            WriteError::Io(e) | WriteError::Fill(e) => e,
        }
    }
}

/// Writes `bytes` to `path` atomically, replacing an existing file.
///
/// # Errors
/// When the folder is not writable or the disk is full.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, true, |out| out.write_all(bytes)).map_err(io::Error::from)
}

/// Writes `path` atomically with the bytes `fill` writes (buffered). Unless `replace` is true,
/// an existing `path` is an error, checked before anything is written and again, race-free,
/// when the file takes its name.
///
/// # Errors
/// [`WriteError::Fill`] with `fill`'s error, else [`WriteError::Io`].
pub fn write_with<E>(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), WriteError<E>> {
    if !replace && path.exists() {
        return Err(WriteError::Io(exists()));
    }
    let (tmp, file) = create_temp(path).map_err(WriteError::Io)?;
    let result = fill_and_sync(file, fill).and_then(|()| {
        if replace {
            std::fs::rename(&tmp, path).map_err(WriteError::Io)
        } else {
            // A hard link fails if `path` appeared meanwhile, where a rename would replace it.
            std::fs::hard_link(&tmp, path)
                .map_err(|e| match e.kind() {
                    io::ErrorKind::AlreadyExists => exists(),
                    _ => e,
                })
                .and_then(|()| std::fs::remove_file(&tmp))
                .map_err(WriteError::Io)
        }
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn exists() -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        "file exists and replacing it was not requested",
    )
}

fn fill_and_sync<E>(
    file: File,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), WriteError<E>> {
    let mut out = BufWriter::new(file);
    fill(&mut out).map_err(WriteError::Fill)?;
    let file = out
        .into_inner()
        .map_err(|e| WriteError::Io(e.into_error()))?;
    file.sync_all().map_err(WriteError::Io)
}

/// A new, uniquely named hidden file next to `path`.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.partial", std::process::id()));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_leaving_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(entries(dir.path()), vec!["a.txt"]);
    }

    #[test]
    fn refuses_to_replace_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_with::<io::Error>(&p, false, |o| o.write_all(b"first")).unwrap();
        let err = write_with::<io::Error>(&p, false, |o| o.write_all(b"second")).unwrap_err();
        assert!(matches!(err, WriteError::Io(e) if e.kind() == io::ErrorKind::AlreadyExists));
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(entries(dir.path()), vec!["a.bin"]);
    }

    #[test]
    fn a_failing_fill_keeps_the_old_file_and_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write(&p, b"old").unwrap();
        let err = write_with(&p, true, |o| {
            o.write_all(b"half")?;
            Err::<(), io::Error>(io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(matches!(err, WriteError::Fill(_)));
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(dir.path()), vec!["a.bin"]);
    }

    #[test]
    fn a_write_error_is_transparent() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_with(&dir.path().join("a.bin"), true, |_| {
            Err::<(), io::Error>(io::Error::other("boom"))
        })
        .unwrap_err();
        // The wrapped error is the message; it is not repeated as a cause.
        assert_eq!(err.to_string(), "boom");
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn a_missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(&dir.path().join("no/such/a.txt"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
