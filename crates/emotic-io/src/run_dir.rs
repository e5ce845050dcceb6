//! Run folders: `runs/predict/exp`, `exp2`, ... never reusing one that exists.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Creates and returns a fresh run folder `project/name`, or `project/name2`, `name3`, ... when
/// taken (YOLOv5's `increment_path`). With `exist_ok` the plain `project/name` is reused.
///
/// The folder is claimed with a single `create_dir`, which fails if it exists, so two runs
/// started at the same moment never share a folder.
///
/// # Errors
/// When the project folder cannot be created.
pub fn create_run_dir(project: &Path, name: &str, exist_ok: bool) -> Result<PathBuf> {
    std::fs::create_dir_all(project).map_err(|e| Error::io(project, e))?;
    let base = project.join(name);
    if exist_ok {
        std::fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
        return Ok(base);
    }
    for n in 1u32.. {
        let candidate = if n == 1 {
            base.clone()
        } else {
            project.join(format!("{name}{n}"))
        };
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(candidate, e)),
        }
    }
    unreachable!("u32 run numbers exhausted")
}

/// A file name in `dir` that is not taken yet: `stem.ext`, then `stem2.ext`, `stem3.ext`, ...
/// (used so that two inputs with the same name never overwrite each other's outputs).
#[must_use]
pub fn unique_file(
    dir: &Path,
    stem: &str,
    ext: &str,
    taken: &mut std::collections::HashSet<PathBuf>,
) -> PathBuf {
    for n in 1u32.. {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}{n}.{ext}")
        };
        let path = dir.join(name);
        if !path.exists() && taken.insert(path.clone()) {
            return path;
        }
    }
    unreachable!("u32 file numbers exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_and_never_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = create_run_dir(dir.path(), "exp", false).unwrap();
        let b = create_run_dir(dir.path(), "exp", false).unwrap();
        let c = create_run_dir(dir.path(), "exp", false).unwrap();
        assert_eq!(a, dir.path().join("exp"));
        assert_eq!(b, dir.path().join("exp2"));
        assert_eq!(c, dir.path().join("exp3"));
        std::fs::write(a.join("keep.txt"), b"earlier run").unwrap();
        let again = create_run_dir(dir.path(), "exp", true).unwrap();
        assert_eq!(again, a);
        assert_eq!(std::fs::read(a.join("keep.txt")).unwrap(), b"earlier run");
    }

    #[test]
    fn unique_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut taken = std::collections::HashSet::new();
        std::fs::write(dir.path().join("bus.jpg"), b"x").unwrap();
        assert_eq!(
            unique_file(dir.path(), "bus", "jpg", &mut taken),
            dir.path().join("bus2.jpg")
        );
        assert_eq!(
            unique_file(dir.path(), "bus", "jpg", &mut taken),
            dir.path().join("bus3.jpg")
        );
        assert_eq!(
            unique_file(dir.path(), "zidane", "txt", &mut taken),
            dir.path().join("zidane.txt")
        );
    }
}
