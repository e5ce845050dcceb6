//! Writing ONNX models from Rust.
//!
//! | module | does |
//! |---|---|
//! | [`proto`] | hand-written protobuf encoder for the ONNX messages we emit (IR 8, opset 17) |
//! | [`builder`] | [`GraphBuilder`]: inputs, constants, nodes, and PyTorch-like layer helpers |
//! | [`fold`] | BatchNorm folding into the preceding conv/linear layer, in `f64` |

pub mod builder;
mod error;
pub mod fold;
pub mod proto;

pub use builder::{Conv2dParams, ConvWeight, GraphBuilder};
pub use error::{Error, Result};
pub use fold::{BatchNorm, fold_batch_norm};
pub use proto::{AttrValue, Attribute, Dim, ElemType, IR_VERSION, ModelProto, OPSET_VERSION};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so a reader never sees a half-written model.
///
/// # Errors
/// [`Error::Io`] naming `path` when writing or renaming fails.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path has no file name",
        ))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
