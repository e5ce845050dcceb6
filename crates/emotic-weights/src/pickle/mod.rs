//! A pickle interpreter that never executes anything.
//!
//! It understands the opcodes of protocols 0-5 that `torch.save` and ordinary Python data produce
//! and turns a pickle into an inert [`Value`] tree:
//!
//! * `GLOBAL`/`STACK_GLOBAL` only *name* a Python object ([`Value::Global`]); nothing is imported.
//! * `REDUCE`/`NEWOBJ` on a known data constructor (`collections.OrderedDict`,
//!   `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`, `builtins.set`,
//!   `torch.Size`, `torch.device`, `_codecs.encode`, `numpy.core.multiarray.scalar`, ...) builds
//!   the data it describes; on any other class it records an inert [`Value::Object`] (that is how
//!   whole `nn.Module` pickles come out). Callables from modules that can only mean code execution
//!   (`os`, `subprocess`, `builtins.eval`, ...) are refused outright.
//! * Persistent ids (how `torch.save` refers to tensor storages) become [`Value::PersistentId`].
//!
//! Every resource is bounded by [`Limits`]: bad input yields an [`Error`](crate::Error) naming
//! the opcode and byte offset, never a panic or an unbounded allocation.
//!
//! The other direction, [`to_vec`], writes a [`Py`] tree as a protocol-2 pickle (what
//! [`crate::torch::TorchWriter`] needs to save whole modules the way `torch.save` does).

mod literals;
mod machine;
pub(crate) mod opcodes;
mod reduce;
mod write;

use crate::Result;

pub use write::{Py, to_vec};

/// An inert Python value decoded from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`
    None,
    /// `True`/`False`
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// A larger `int`, as little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    /// A `float`.
    Float(f64),
    /// A `str`.
    String(String),
    /// `bytes` or `bytearray`.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<Value>),
    /// A `tuple` (also `torch.Size`).
    Tuple(Vec<Value>),
    /// A `dict` or `collections.OrderedDict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A `set` or `frozenset`.
    Set(Vec<Value>),
    /// A reference to a Python global (class or function) that was named but not called.
    Global {
        /// Module path, e.g. `torch`.
        module: String,
        /// Attribute name, e.g. `HalfStorage`.
        name: String,
    },
    /// What a `PERSID`/`BINPERSID` opcode refers to (for `torch.save`, a storage descriptor).
    PersistentId(Box<Value>),
    /// A tensor view on a storage (`torch._utils._rebuild_tensor_v2` and friends).
    Tensor(TensorRef),
    /// An instance of a class that is not plain data, kept inert: a `nn.Module`, a `slice`, ...
    Object {
        /// Fully qualified class name (`models.yolo.DetectionModel`).
        class: String,
        /// Constructor arguments (`NEWOBJ`/`REDUCE` arguments).
        args: Vec<Value>,
        /// The `BUILD` state (usually the instance `__dict__`).
        state: Option<Box<Value>>,
    },
    /// A reference back to a container that is still being built (a cycle), cut here.
    Recursive,
}

/// A tensor as pickled by `torch.save`: a view of `size`/`stride` at `storage_offset`
/// (in elements) into a storage identified by its persistent id.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage's persistent id (for the zip format
    /// `('storage', <Global torch.HalfStorage>, key, location, numel)`).
    pub storage: Box<Value>,
    /// Offset of the first element, in elements.
    pub storage_offset: usize,
    /// Shape.
    pub size: Vec<usize>,
    /// Strides, in elements.
    pub stride: Vec<usize>,
    /// Whether the tensor was a `Parameter`/required grad.
    pub requires_grad: bool,
}

impl Value {
    /// The string, if this is a `str`.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` that fits in 64 bits (or a `bool`).
    #[must_use]
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Looks up a string key in a `dict`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Dict(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Short name of the variant, for error messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Bool(_) => "bool",
            Self::Int(_) | Self::BigInt(_) => "int",
            Self::Float(_) => "float",
            Self::String(_) => "str",
            Self::Bytes(_) => "bytes",
            Self::List(_) => "list",
            Self::Tuple(_) => "tuple",
            Self::Dict(_) => "dict",
            Self::Set(_) => "set",
            Self::Global { .. } => "global",
            Self::PersistentId(_) => "persistent id",
            Self::Tensor(_) => "tensor",
            Self::Object { .. } => "object",
            Self::Recursive => "recursive reference",
        }
    }
}

/// Resource bounds for one pickle. The defaults comfortably fit real checkpoints (a YOLOv5 or
/// ResNet pickle has a few thousand objects) while keeping hostile input cheap to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most values on the stack plus open `MARK`s at any time.
    pub max_stack: usize,
    /// Most memo entries.
    pub max_memo: usize,
    /// Most objects created plus container elements added (bounds total work and memory).
    pub max_objects: usize,
    /// Longest `str`/`bytes` in bytes.
    pub max_string_len: usize,
    /// Deepest nesting of containers in the result.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_stack: 100_000,
            max_memo: 1_000_000,
            max_objects: 2_000_000,
            max_string_len: 256 << 20,
            max_depth: 200,
        }
    }
}

/// Decodes one pickle occupying the whole of `data` (trailing bytes after `STOP` are an error).
pub fn from_slice(data: &[u8]) -> Result<Value> {
    let (value, end) = from_prefix(data, &Limits::default())?;
    if end != data.len() {
        return Err(crate::error::format_err!(
            "pickle ends at offset {end} but {} more bytes follow",
            data.len() - end
        ));
    }
    Ok(value)
}

/// Decodes the pickle at the start of `data`, returning it and the offset just past its `STOP`
/// (legacy `torch.save` files hold several pickles back to back).
pub fn from_prefix(data: &[u8], limits: &Limits) -> Result<(Value, usize)> {
    machine::Machine::new(data, *limits).run()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;
