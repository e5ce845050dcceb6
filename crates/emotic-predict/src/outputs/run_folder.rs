//! The run folder and the names taken in it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use emotic_io::run_dir;
use emotic_io::sinks::JsonLines;

use crate::{Error, Result};

/// A fresh `project/name` folder (`exp`, `exp2`, ...), and every file name given out in it, so
/// that two inputs with the same stem never write over each other.
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    taken: HashSet<PathBuf>,
}

impl RunFolder {
    /// Claims a new run folder (`project/name`, or `project/name2`, ... when taken; with
    /// `exist_ok` the plain name is reused, its files still never overwritten).
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn create(project: &Path, name: &str, exist_ok: bool) -> Result<Self> {
        Ok(Self {
            dir: run_dir::create_run_dir(project, name, exist_ok)?,
            taken: HashSet::new(),
        })
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path `sub/stem.ext` in the folder (`stem2.ext`, ... when taken), creating `sub`.
    ///
    /// # Errors
    /// When `sub` cannot be created.
    pub fn unique(&mut self, sub: &[&str], stem: &str, ext: &str) -> Result<PathBuf> {
        let mut dir = self.dir.clone();
        for part in sub {
            dir.push(part);
        }
        if !sub.is_empty() {
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(run_dir::unique_file(&dir, stem, ext, &mut self.taken))
    }

    /// A new JSON-lines file `stem.jsonl` in the folder.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn json_lines(&mut self, stem: &str) -> Result<JsonLines> {
        let path = self.unique(&[], stem, "jsonl")?;
        Ok(JsonLines::create(&path)?)
    }

    /// `path` relative to the folder, for references between its files.
    #[must_use]
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
