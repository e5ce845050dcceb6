//! A pickle writer (protocol 2) for the few kinds of object a `torch.save` file needs.
//!
//! Written by hand because no Rust crate writes the pickles PyTorch loads: serde-pickle only
//! produces plain data (no `GLOBAL`, `REDUCE`, `NEWOBJ`, `BUILD` or persistent ids), and a whole
//! `nn.Module` is a graph of class instances rebuilt through exactly those opcodes.
//!
//! The caller describes the object as a [`Py`] tree; [`to_vec`] encodes it. Protocol 2 is what
//! `torch.save` uses by default, so every PyTorch and Python 3 version reads the result.
//!
//! Only immutable values (strings and globals) are memoized, by value: writing them once and
//! fetching them with `BINGET` afterwards keeps a module pickle small (every module repeats the
//! same dozen attribute names). Containers are never shared, because Python would then hand the
//! *same* mutable dict to every module that refers to it (a hook added to one module would
//! appear on all of them).

use std::collections::HashMap;

use super::opcodes as op;
use crate::{Error, Result};

/// Deepest nesting written: the reader's default `Limits::max_depth`, so whatever is written
/// reads back (a unit test keeps the two equal).
pub(super) const MAX_DEPTH: usize = 200;
/// Items per `APPENDS`/`SETITEMS` batch, as CPython's pickler does (keeps the stack short).
const BATCH: usize = 1000;

/// A Python value to pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    /// `None`
    None,
    /// `True`/`False`
    Bool(bool),
    /// An `int`.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `tuple`.
    Tuple(Vec<Py>),
    /// A `list`.
    List(Vec<Py>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Py, Py)>),
    /// A `collections.OrderedDict`, in insertion order.
    OrderedDict(Vec<(Py, Py)>),
    /// A `set`.
    Set(Vec<Py>),
    /// A module attribute (class or function), named but not called: `torch.FloatStorage`.
    Global {
        /// Module path (`torch._utils`).
        module: String,
        /// Attribute name (`_rebuild_tensor_v2`).
        name: String,
    },
    /// `callable(*args)`, rebuilt by the loader with `REDUCE`.
    Call {
        /// What is called (usually a [`Py::Global`]).
        callable: Box<Py>,
        /// Positional arguments.
        args: Vec<Py>,
    },
    /// An instance of a class created without running `__init__` (`cls.__new__(cls, *args)`,
    /// `NEWOBJ`), then given `state` (`BUILD`: `__setstate__(state)` or `__dict__.update`).
    /// This is how `pickle` stores an `nn.Module`.
    Object {
        /// Module of the class (`torch.nn.modules.conv`).
        module: String,
        /// Class name (`Conv2d`).
        name: String,
        /// Arguments of `__new__` (empty for modules).
        args: Vec<Py>,
        /// The state, usually the instance `__dict__`.
        state: Option<Box<Py>>,
    },
    /// A persistent id: the loader's `persistent_load` resolves it (`torch.save` storages).
    PersistentId(Box<Py>),
}

impl Py {
    /// A `str`.
    #[must_use]
    pub fn str(s: &str) -> Self {
        Self::Str(s.to_owned())
    }

    /// A global `module.name`.
    #[must_use]
    pub fn global(module: &str, name: &str) -> Self {
        Self::Global {
            module: module.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `module.name(*args)`.
    #[must_use]
    pub fn call(module: &str, name: &str, args: Vec<Py>) -> Self {
        Self::Call {
            callable: Box::new(Self::global(module, name)),
            args,
        }
    }

    /// A tuple of integers (`kernel_size`, tensor sizes and strides).
    #[must_use]
    pub fn int_tuple(values: &[i64]) -> Self {
        Self::Tuple(values.iter().map(|&v| Self::Int(v)).collect())
    }
}

/// Encodes `value` as a protocol-2 pickle ending with `STOP`.
///
/// # Errors
/// [`Error::Limit`] for nesting deeper than the reader accepts or a string over 4 GiB;
/// [`Error::Format`] for a global whose module or name contains a newline.
pub fn to_vec(value: &Py) -> Result<Vec<u8>> {
    let mut w = Writer {
        out: vec![op::PROTO, 2],
        memo: HashMap::new(),
    };
    w.value(value, 0)?;
    w.out.push(op::STOP);
    Ok(w.out)
}

/// Memo keys: only immutable values are shared (see the module documentation).
#[derive(Hash, PartialEq, Eq)]
enum MemoKey {
    Str(String),
    Global(String, String),
}

struct Writer {
    out: Vec<u8>,
    memo: HashMap<MemoKey, u32>,
}

impl Writer {
    fn value(&mut self, v: &Py, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::Limit(format!(
                "pickle nesting deeper than {MAX_DEPTH}"
            )));
        }
        let d = depth + 1;
        match v {
            Py::None => self.out.push(op::NONE),
            Py::Bool(b) => self.out.push(if *b { op::NEWTRUE } else { op::NEWFALSE }),
            Py::Int(i) => self.int(*i),
            Py::Float(f) => {
                self.out.push(op::BINFLOAT);
                self.out.extend_from_slice(&f.to_be_bytes()); // BINFLOAT is big-endian
            }
            Py::Str(s) => self.string(s)?,
            Py::Tuple(items) => self.tuple(items, d)?,
            Py::List(items) => {
                self.out.push(op::EMPTY_LIST);
                for chunk in items.chunks(BATCH) {
                    self.out.push(op::MARK);
                    for item in chunk {
                        self.value(item, d)?;
                    }
                    self.out.push(op::APPENDS);
                }
            }
            Py::Dict(pairs) => {
                self.out.push(op::EMPTY_DICT);
                self.set_items(pairs, d)?;
            }
            Py::OrderedDict(pairs) => {
                // As CPython pickles it: `OrderedDict()` by REDUCE, then the items by SETITEMS.
                self.global("collections", "OrderedDict")?;
                self.out.extend([op::EMPTY_TUPLE, op::REDUCE]);
                self.set_items(pairs, d)?;
            }
            Py::Set(items) => {
                // Protocol 2 has no set opcodes; CPython writes `set([...])` with REDUCE, naming
                // the builtin by its Python 2 module (`fix_imports`); Python 3 maps it back.
                self.global("__builtin__", "set")?;
                self.value(&Py::List(items.clone()), d)?;
                self.out.extend([op::TUPLE1, op::REDUCE]);
            }
            Py::Global { module, name } => self.global(module, name)?,
            Py::Call { callable, args } => {
                self.value(callable, d)?;
                self.tuple(args, d)?;
                self.out.push(op::REDUCE);
            }
            Py::Object {
                module,
                name,
                args,
                state,
            } => {
                self.global(module, name)?;
                self.tuple(args, d)?;
                self.out.push(op::NEWOBJ);
                if let Some(state) = state {
                    self.value(state, d)?;
                    self.out.push(op::BUILD);
                }
            }
            Py::PersistentId(id) => {
                self.value(id, d)?;
                self.out.push(op::BINPERSID);
            }
        }
        Ok(())
    }

    /// The shortest integer opcode, as CPython chooses it.
    fn int(&mut self, i: i64) {
        if let Ok(small) = u8::try_from(i) {
            self.out.extend([op::BININT1, small]);
        } else if let Ok(medium) = u16::try_from(i) {
            self.out.push(op::BININT2);
            self.out.extend_from_slice(&medium.to_le_bytes());
        } else if let Ok(word) = i32::try_from(i) {
            self.out.push(op::BININT);
            self.out.extend_from_slice(&word.to_le_bytes());
        } else {
            // LONG1: minimal two's-complement little-endian bytes (5 to 8 of them here).
            let bytes = i.to_le_bytes();
            let mut n = 8;
            while n > 1 {
                let (last, prev) = (bytes[n - 1], bytes[n - 2]);
                let redundant =
                    (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
                if !redundant {
                    break;
                }
                n -= 1;
            }
            self.out.push(op::LONG1);
            self.out.push(n as u8); // n <= 8
            self.out.extend_from_slice(&bytes[..n]);
        }
    }

    fn string(&mut self, s: &str) -> Result<()> {
        let key = MemoKey::Str(s.to_owned());
        if self.get(&key) {
            return Ok(());
        }
        let len = u32::try_from(s.len())
            .map_err(|_| Error::Limit(format!("string of {} bytes exceeds 4 GiB", s.len())))?;
        self.out.push(op::BINUNICODE);
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.put(key);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<()> {
        // GLOBAL takes two newline-terminated lines; a newline inside would shift them.
        if module.contains('\n') || name.contains('\n') {
            return Err(Error::Format(format!(
                "global {module:?}.{name:?} contains a newline"
            )));
        }
        let key = MemoKey::Global(module.to_owned(), name.to_owned());
        if self.get(&key) {
            return Ok(());
        }
        self.out.push(op::GLOBAL);
        for part in [module, name] {
            self.out.extend_from_slice(part.as_bytes());
            self.out.push(b'\n');
        }
        self.put(key);
        Ok(())
    }

    fn tuple(&mut self, items: &[Py], depth: usize) -> Result<()> {
        if items.is_empty() {
            self.out.push(op::EMPTY_TUPLE);
            return Ok(());
        }
        let short = items.len() <= 3;
        if !short {
            self.out.push(op::MARK);
        }
        for item in items {
            self.value(item, depth)?;
        }
        // TUPLE1, TUPLE2, TUPLE3 are consecutive opcodes.
        self.out.push(if short {
            op::TUPLE1 + (items.len() as u8 - 1)
        } else {
            op::TUPLE
        });
        Ok(())
    }

    fn set_items(&mut self, pairs: &[(Py, Py)], depth: usize) -> Result<()> {
        for chunk in pairs.chunks(BATCH) {
            self.out.push(op::MARK);
            for (k, v) in chunk {
                self.value(k, depth)?;
                self.value(v, depth)?;
            }
            self.out.push(op::SETITEMS);
        }
        Ok(())
    }

    /// Writes `BINGET` for an already memoized value; false when it is new.
    fn get(&mut self, key: &MemoKey) -> bool {
        let Some(&index) = self.memo.get(key) else {
            return false;
        };
        match u8::try_from(index) {
            Ok(i) => self.out.extend([op::BINGET, i]),
            Err(_) => {
                self.out.push(op::LONG_BINGET);
                self.out.extend_from_slice(&index.to_le_bytes());
            }
        }
        true
    }

    /// Memoizes the value just written (`BINPUT` / `LONG_BINPUT`).
    fn put(&mut self, key: MemoKey) {
        // Fewer than 2^32 memo entries: each one costs at least six bytes of output.
        let index = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
        match u8::try_from(index) {
            Ok(i) => self.out.extend([op::BINPUT, i]),
            Err(_) => {
                self.out.push(op::LONG_BINPUT);
                self.out.extend_from_slice(&index.to_le_bytes());
            }
        }
        self.memo.insert(key, index);
    }
}
