//! Locating and loading the ONNX Runtime shared library.
//!
//! We link ONNX Runtime at run time (`ort`'s `load-dynamic`) so that one build works with the
//! library installed by `scripts/setup.sh`, which takes it from the `onnxruntime` wheel on PyPI
//! at exactly [`ORT_VERSION`]. The program looks for it without any hand-set variable, in this
//! order:
//!
//! 1. `ORT_DYLIB_PATH` (a file), the variable `ort` itself documents;
//! 2. `$EMOTIC_HOME/onnxruntime/<version>/`;
//! 3. `$XDG_DATA_HOME/emotic-rs/onnxruntime/<version>/`, else `~/.local/share/emotic-rs/...`,
//!    which is where `scripts/setup.sh` installs it;
//! 4. the directory of the running executable, and its `lib/` subdirectory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{Error, Result};

/// The ONNX Runtime version this build is written and tested against. `scripts/setup.sh`
/// installs the same version (a test checks the two agree).
pub const ORT_VERSION: &str = "1.31.1";

/// The file name of the library inside the install folder.
fn library_file_name() -> String {
    format!("libonnxruntime.so.{ORT_VERSION}")
}

/// Every place the library is looked for, most specific first.
#[must_use]
pub fn candidate_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        paths.push(PathBuf::from(p));
    }
    for dir in install_dirs() {
        paths.push(dir.join(library_file_name()));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        paths.push(exe_dir.join(library_file_name()));
        paths.push(exe_dir.join("lib").join(library_file_name()));
        paths.push(exe_dir.join("libonnxruntime.so"));
    }
    paths
}

/// Folders where `scripts/setup.sh` may have installed the library.
fn install_dirs() -> Vec<PathBuf> {
    let sub = Path::new("onnxruntime").join(ORT_VERSION);
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("EMOTIC_HOME") {
        dirs.push(PathBuf::from(home).join(&sub));
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        dirs.push(PathBuf::from(data).join("emotic-rs").join(&sub));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(
            PathBuf::from(home)
                .join(".local/share/emotic-rs")
                .join(&sub),
        );
    }
    dirs
}

/// The loaded library: where it came from and the process-wide ONNX Runtime environment, which
/// must outlive every session.
#[derive(Debug)]
pub struct Runtime {
    /// The shared library that was loaded.
    pub library: PathBuf,
    /// The process-wide environment sessions are created in.
    pub environment: ort::environment::Environment,
}

static INIT: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

/// Loads ONNX Runtime once per process.
///
/// # Errors
/// [`Error::RuntimeMissing`] lists every path tried when none holds the library, or says why
/// loading the one found failed.
pub fn ensure_loaded() -> Result<&'static Runtime> {
    let outcome = INIT.get_or_init(|| {
        let candidates = candidate_paths();
        let Some(found) = candidates.iter().find(|p| p.is_file()) else {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            return Err(format!(
                "libonnxruntime {ORT_VERSION} not found; run `bash scripts/setup.sh` to install it \
                 (tried: {})",
                tried.join(", ")
            ));
        };
        let builder =
            ort::init_from(found).map_err(|e| format!("cannot load {}: {e}", found.display()))?;
        let environment = builder
            .with_name("emotic")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", found.display()))?;
        Ok(Runtime {
            library: found.clone(),
            environment,
        })
    });
    match outcome {
        Ok(runtime) => Ok(runtime),
        Err(message) => Err(Error::RuntimeMissing(message.clone())),
    }
}
