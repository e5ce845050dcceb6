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
    emotic_atomic::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}
