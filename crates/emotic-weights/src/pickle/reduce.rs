//! What `REDUCE`/`NEWOBJ`/`INST`/`OBJ` do: data constructors are evaluated symbolically, other
//! classes become inert objects, and code-execution primitives are refused. Also turns the arena
//! into the final [`Value`] tree.

use super::machine::{Id, Machine, Node};
use super::{TensorRef, Value};
use crate::{Error, Result};

/// Modules whose callables can only mean running code or touching the system; a pickle calling
/// into them is not a weights file, so it is refused with an error rather than kept inert.
const REFUSED_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "shutil",
    "socket",
    "importlib",
    "runpy",
    "pickle",
    "_pickle",
    "marshal",
    "ctypes",
    "code",
    "codeop",
    "pty",
    "commands",
    "webbrowser",
    "signal",
    "multiprocessing",
    "threading",
    "io",
    "tempfile",
    "pathlib",
    "operator",
    "functools",
];
/// Builtins that merely construct data; any other builtin (`eval`, `exec`, `getattr`,
/// `__import__`, `open`, ...) is refused.
const DATA_BUILTINS: &[&str] = &[
    "set",
    "frozenset",
    "slice",
    "bytearray",
    "bytes",
    "complex",
    "list",
    "dict",
    "tuple",
    "int",
    "float",
    "str",
    "bool",
    "object",
    "range",
];
/// Most dimensions accepted for a tensor.
const MAX_DIMS: usize = 64;

impl Machine<'_> {
    /// Applies `callable` (which must be a global) to `args`, without executing anything.
    pub(super) fn call(&mut self, callable: Id, args: Vec<Id>) -> Result<Id> {
        let callable = self.resolve_class(callable);
        let Node::Leaf(Value::Global { module, name }) = self.node(callable) else {
            return Err(self.err("the called object is not a global class or function"));
        };
        let (module, name) = (module.clone(), name.clone());
        let root = module.split('.').next().unwrap_or_default();
        let is_builtins = module == "builtins" || module == "__builtin__";
        if REFUSED_MODULES.contains(&root) || (is_builtins && !DATA_BUILTINS.contains(&&*name)) {
            return Err(self.err(format!(
                "refusing to call {module}.{name}: a weights file has no reason to, and this \
                 loader never executes code"
            )));
        }
        let arg = |i: usize| args.get(i).copied();
        match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") => {
                let pairs = match arg(0) {
                    Some(items) => self.pairs_of(items)?,
                    None => Vec::new(),
                };
                self.alloc(Node::Dict(pairs))
            }
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
                self.rebuild_tensor(&args)
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
            | ("torch.nn.parameter", "Parameter") => {
                let data = arg(0).ok_or_else(|| self.err("Parameter without data"))?;
                let grad = arg(1).and_then(|g| self.int_of(g)).is_none_or(|g| g != 0);
                if let Node::Tensor { grad: slot, .. } = &mut self.nodes[data] {
                    *slot = grad;
                }
                Ok(data)
            }
            ("torch._tensor", "_rebuild_from_type_v2") => {
                // (func, new_type, func_args, state): the tensor is `func(*func_args)`.
                let (Some(func), Some(func_args)) = (arg(0), arg(2)) else {
                    return Err(self.err("_rebuild_from_type_v2 needs func and args"));
                };
                let func_args = self.tuple_items(func_args)?;
                self.call(func, func_args)
            }
            ("copyreg", "_reconstructor" | "__newobj__" | "__newobj_ex__") => {
                let class_id = arg(0).ok_or_else(|| self.err("copyreg call without a class"))?;
                let class = self.global_name(class_id)?;
                let rest = if name == "_reconstructor" {
                    // (cls, base, base_state): base_state is None for plain objects.
                    arg(2)
                        .filter(|&s| !matches!(self.node(s), Node::Leaf(Value::None)))
                        .into_iter()
                        .collect()
                } else {
                    args[1..].to_vec()
                };
                self.alloc(Node::Object {
                    class,
                    args: rest,
                    state: None,
                })
            }
            ("builtins" | "__builtin__", "set" | "frozenset") => {
                let items = match arg(0) {
                    Some(a) => self.sequence_items(a)?,
                    None => Vec::new(),
                };
                self.alloc(Node::Set(items))
            }
            ("torch", "Size") => {
                let items = match arg(0) {
                    Some(a) => self.sequence_items(a)?,
                    None => Vec::new(),
                };
                self.alloc(Node::Tuple(items))
            }
            ("torch", "device") => {
                let kind = arg(0)
                    .and_then(|a| self.str_of(a))
                    .unwrap_or("cpu")
                    .to_owned();
                let device = match arg(1).and_then(|i| self.int_of(i)) {
                    Some(index) => format!("{kind}:{index}"),
                    None => kind,
                };
                self.leaf(Value::String(device))
            }
            ("_codecs", "encode") => {
                // Protocol-2 pickles of `bytes` from Python 3: `_codecs.encode(text, 'latin1')`.
                let text = arg(0).and_then(|a| self.str_of(a)).unwrap_or_default();
                let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c).ok()).collect();
                let bytes = bytes.ok_or_else(|| self.err("_codecs.encode of non-latin-1 text"))?;
                self.leaf(Value::Bytes(bytes))
            }
            ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => {
                let scalar = self.numpy_scalar(arg(0), arg(1));
                match scalar {
                    Some(v) => self.leaf(v),
                    None => self.inert(&module, &name, args),
                }
            }
            _ => self.inert(&module, &name, args),
        }
    }

    /// Legacy `torch.save` pickles refer to module classes through a persistent id
    /// `('module', <class>, source_file, source)`; that id stands for the class itself.
    fn resolve_class(&self, id: Id) -> Id {
        if let Node::PersId(pid) = self.node(id)
            && let Node::Tuple(items) = self.node(*pid)
            && items.len() >= 2
            && self.str_of(items[0]) == Some("module")
        {
            return items[1];
        }
        id
    }

    fn inert(&mut self, module: &str, name: &str, args: Vec<Id>) -> Result<Id> {
        self.alloc(Node::Object {
            class: format!("{module}.{name}"),
            args,
            state: None,
        })
    }

    fn global_name(&self, id: Id) -> Result<String> {
        match self.node(self.resolve_class(id)) {
            Node::Leaf(Value::Global { module, name }) => Ok(format!("{module}.{name}")),
            _ => Err(self.err("expected a class")),
        }
    }

    pub(super) fn int_of(&self, id: Id) -> Option<i64> {
        match self.node(id) {
            Node::Leaf(v) => v.as_int(),
            _ => None,
        }
    }

    fn sequence_items(&self, id: Id) -> Result<Vec<Id>> {
        match self.node(id) {
            Node::List(v) | Node::Tuple(v) | Node::Set(v) => Ok(v.clone()),
            _ => Err(self.err("expected a list or tuple")),
        }
    }

    /// `OrderedDict([(k, v), ...])` arguments.
    fn pairs_of(&self, id: Id) -> Result<Vec<(Id, Id)>> {
        if let Node::Dict(pairs) = self.node(id) {
            return Ok(pairs.clone());
        }
        self.sequence_items(id)?
            .into_iter()
            .map(|p| match self.node(p) {
                Node::Tuple(kv) | Node::List(kv) if kv.len() == 2 => Ok((kv[0], kv[1])),
                _ => Err(self.err("OrderedDict item is not a (key, value) pair")),
            })
            .collect()
    }

    fn dims(&self, id: Id, what: &str) -> Result<Vec<usize>> {
        let items = self.sequence_items(id)?;
        if items.len() > MAX_DIMS {
            return Err(self.err(format!("tensor {what} has more than {MAX_DIMS} dims")));
        }
        items
            .into_iter()
            .map(|d| {
                self.int_of(d)
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| self.err(format!("tensor {what} is not a tuple of sizes")))
            })
            .collect()
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks, ...)`.
    fn rebuild_tensor(&mut self, args: &[Id]) -> Result<Id> {
        let [storage, offset, size, stride, rest @ ..] = args else {
            return Err(self.err("_rebuild_tensor needs storage, offset, size and stride"));
        };
        let offset = self
            .int_of(*offset)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| self.err("tensor storage offset is not a non-negative int"))?;
        let size = self.dims(*size, "size")?;
        let stride = self.dims(*stride, "stride")?;
        if size.len() != stride.len() {
            return Err(self.err("tensor size and stride differ in length"));
        }
        let grad = rest
            .first()
            .and_then(|&g| self.int_of(g))
            .is_some_and(|g| g != 0);
        self.alloc(Node::Tensor {
            storage: *storage,
            offset,
            size,
            stride,
            grad,
        })
    }

    /// `numpy.core.multiarray.scalar(dtype, raw_bytes)` for the common numeric dtypes.
    fn numpy_scalar(&self, dtype: Option<Id>, data: Option<Id>) -> Option<Value> {
        let Node::Object { args, state, .. } = self.node(dtype?) else {
            return None;
        };
        let code = self.str_of(*args.first()?)?;
        let Node::Leaf(Value::Bytes(bytes)) = self.node(data?) else {
            return None;
        };
        let big_endian = state
            .and_then(|s| match self.node(s) {
                Node::Tuple(t) => t.get(1).and_then(|&o| self.str_of(o)),
                _ => None,
            })
            .is_some_and(|o| o == ">");
        fn arr<const N: usize>(b: &[u8], big: bool) -> Option<[u8; N]> {
            let mut a: [u8; N] = b.try_into().ok()?;
            if big {
                a.reverse();
            }
            Some(a)
        }
        Some(match code {
            "f8" => Value::Float(f64::from_le_bytes(arr(bytes, big_endian)?)),
            "f4" => Value::Float(f64::from(f32::from_le_bytes(arr(bytes, big_endian)?))),
            "i8" => Value::Int(i64::from_le_bytes(arr(bytes, big_endian)?)),
            "i4" => Value::Int(i64::from(i32::from_le_bytes(arr(bytes, big_endian)?))),
            "b1" => Value::Bool(*bytes.first()? != 0),
            _ => return None,
        })
    }
}

/// Builds the owned [`Value`] tree rooted at `root`. Shared nodes are copied; the total copied is
/// bounded by `max_objects` and the depth by `max_depth`, so memo-based "billion laughs" input
/// fails cleanly. A container reached again while still being copied becomes
/// [`Value::Recursive`].
pub(super) fn materialize(m: &Machine<'_>, root: Id) -> Result<Value> {
    let mut visiting = vec![false; m.nodes.len()];
    let mut budget = m.limits().max_objects;
    copy(m, root, 0, &mut visiting, &mut budget)
}

fn copy(
    m: &Machine<'_>,
    id: Id,
    depth: usize,
    visiting: &mut [bool],
    budget: &mut usize,
) -> Result<Value> {
    let limits = m.limits();
    if depth > limits.max_depth {
        return Err(Error::Limit(format!(
            "pickle nesting deeper than {}",
            limits.max_depth
        )));
    }
    *budget = budget.checked_sub(1).ok_or_else(|| {
        Error::Limit(format!(
            "pickle expands to more than {} objects",
            limits.max_objects
        ))
    })?;
    if visiting[id] {
        return Ok(Value::Recursive);
    }
    visiting[id] = true;
    let mut go = |child: Id| copy(m, child, depth + 1, visiting, budget);
    let value = match m.node(id) {
        Node::Leaf(v) => v.clone(),
        Node::List(items) => Value::List(items.iter().map(|&c| go(c)).collect::<Result<_>>()?),
        Node::Tuple(items) => Value::Tuple(items.iter().map(|&c| go(c)).collect::<Result<_>>()?),
        Node::Set(items) => Value::Set(items.iter().map(|&c| go(c)).collect::<Result<_>>()?),
        Node::Dict(pairs) => Value::Dict(
            pairs
                .iter()
                .map(|&(k, v)| Ok((go(k)?, go(v)?)))
                .collect::<Result<_>>()?,
        ),
        Node::PersId(pid) => Value::PersistentId(Box::new(go(*pid)?)),
        Node::Tensor {
            storage,
            offset,
            size,
            stride,
            grad,
        } => Value::Tensor(TensorRef {
            storage: Box::new(go(*storage)?),
            storage_offset: *offset,
            size: size.clone(),
            stride: stride.clone(),
            requires_grad: *grad,
        }),
        Node::Object { class, args, state } => Value::Object {
            class: class.clone(),
            args: args.iter().map(|&c| go(c)).collect::<Result<_>>()?,
            state: match state {
                Some(s) => Some(Box::new(go(*s)?)),
                None => None,
            },
        },
    };
    visiting[id] = false;
    Ok(value)
}
