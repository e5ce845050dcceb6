//! The opcode loop of the pickle interpreter.
//!
//! Containers live in an arena and the stack and memo hold arena indices, so that (as in Python)
//! a dict memoized while still empty and filled later is seen filled through every reference.
//! The arena is turned into an owned [`Value`] tree only at `STOP`.

use super::literals::{
    decimal_to_long, decode_raw_unicode_escape, long_from_le, unquote_py2_string,
};
use super::opcodes as op;
use super::{Limits, Value};
use crate::error::format_err;
use crate::{Error, Result};
use std::collections::HashMap;

/// Index of a node in the arena.
pub(super) type Id = usize;

/// A Python object under construction.
pub(super) enum Node {
    /// An immutable scalar, string or global.
    Leaf(Value),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    PersId(Id),
    Tensor {
        storage: Id,
        offset: usize,
        size: Vec<usize>,
        stride: Vec<usize>,
        grad: bool,
    },
    Object {
        class: String,
        args: Vec<Id>,
        state: Option<Id>,
    },
}

pub(super) struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset and value of the opcode being executed, for error messages.
    op_start: usize,
    op: u8,
    limits: Limits,
    pub(super) nodes: Vec<Node>,
    /// Objects created plus container elements added so far, checked against `max_objects`.
    work: usize,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

impl<'a> Machine<'a> {
    pub(super) fn new(data: &'a [u8], limits: Limits) -> Self {
        Self {
            data,
            pos: 0,
            op_start: 0,
            op: 0,
            limits,
            nodes: Vec::new(),
            work: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
        }
    }

    /// An error about the current opcode.
    pub(super) fn err(&self, msg: impl std::fmt::Display) -> Error {
        format_err!(
            "pickle opcode 0x{:02x} ({}) at offset {}: {msg}",
            self.op,
            op::name(self.op),
            self.op_start
        )
    }

    fn limit(&self, msg: impl std::fmt::Display) -> Error {
        Error::Limit(format!(
            "pickle opcode 0x{:02x} ({}) at offset {}: {msg}",
            self.op,
            op::name(self.op),
            self.op_start
        ))
    }

    /// Counts `n` units of work against `max_objects`.
    pub(super) fn charge(&mut self, n: usize) -> Result<()> {
        self.work = self.work.saturating_add(n);
        if self.work > self.limits.max_objects {
            return Err(self.limit(format!("more than {} objects", self.limits.max_objects)));
        }
        Ok(())
    }

    pub(super) fn alloc(&mut self, node: Node) -> Result<Id> {
        let size = match &node {
            Node::List(v) | Node::Tuple(v) | Node::Set(v) => v.len(),
            Node::Dict(v) => v.len(),
            _ => 0,
        };
        self.charge(1 + size)?;
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    pub(super) fn leaf(&mut self, v: Value) -> Result<Id> {
        self.alloc(Node::Leaf(v))
    }

    fn push(&mut self, id: Id) -> Result<()> {
        if self.stack.len() + self.marks.len() >= self.limits.max_stack {
            return Err(self.limit(format!("stack deeper than {}", self.limits.max_stack)));
        }
        self.stack.push(id);
        Ok(())
    }

    fn push_new(&mut self, node: Node) -> Result<()> {
        let id = self.alloc(node)?;
        self.push(id)
    }

    fn pop(&mut self) -> Result<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> Result<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack is empty"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.err("stack is empty"))
    }

    /// Pops everything above the innermost `MARK`, and the mark itself.
    fn pop_mark(&mut self) -> Result<Vec<Id>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        Ok(self.stack.split_off(mark))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format_err!(
                    "pickle truncated: opcode {} at offset {} needs {n} bytes, {} left",
                    op::name(self.op),
                    self.op_start,
                    self.data.len() - self.pos
                )
            })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32_len(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn u64_len(&mut self) -> Result<usize> {
        Ok(usize::try_from(u64::from_le_bytes(self.array()?)).unwrap_or(usize::MAX))
    }

    /// Reads `n` payload bytes of a string/bytes opcode, enforcing `max_string_len` before
    /// touching the data so a forged length cannot cause a large allocation.
    fn payload(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.limits.max_string_len {
            return Err(self.limit(format!(
                "string of {n} bytes exceeds {}",
                self.limits.max_string_len
            )));
        }
        self.take(n)
    }

    /// Reads a `\n`-terminated line (text protocol 0 arguments).
    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.data[self.pos..];
        let len = rest
            .iter()
            .take(self.limits.max_string_len)
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("unterminated line argument"))?;
        let line = self.take(len + 1)?;
        std::str::from_utf8(&line[..len]).map_err(|_| self.err("line argument is not UTF-8"))
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(super) fn node(&self, id: Id) -> &Node {
        &self.nodes[id]
    }

    /// The string held by `id`, if it is one.
    pub(super) fn str_of(&self, id: Id) -> Option<&str> {
        match &self.nodes[id] {
            Node::Leaf(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn memo_put(&mut self, key: u64) -> Result<()> {
        let id = self.top()?;
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&key) {
            return Err(self.limit(format!("memo larger than {}", self.limits.max_memo)));
        }
        self.memo.insert(key, id);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<()> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| self.err(format!("memo key {key} unset")))?;
        self.push(id)
    }

    /// Runs until `STOP`; returns the result and the offset just past `STOP`.
    pub(super) fn run(mut self) -> Result<(Value, usize)> {
        loop {
            self.op_start = self.pos;
            self.op = 0;
            self.op = self.u8()?;
            if self.op == op::STOP {
                let id = self.pop()?;
                let value = super::reduce::materialize(&self, id)?;
                return Ok((value, self.pos));
            }
            self.step()?;
        }
    }

    #[allow(clippy::too_many_lines)] // one arm per opcode reads best as a single match
    fn step(&mut self) -> Result<()> {
        match self.op {
            op::PROTO => {
                let version = self.u8()?;
                if version > 5 {
                    return Err(self.err(format!("unsupported protocol {version}")));
                }
            }
            op::FRAME => {
                self.take(8)?; // FRAME length: framing is irrelevant when the whole input is here
            }
            op::MARK => {
                if self.stack.len() + self.marks.len() >= self.limits.max_stack {
                    return Err(self.limit("too many MARKs"));
                }
                self.marks.push(self.stack.len());
            }
            op::POP => {
                self.pop()?;
            }
            op::POP_MARK => {
                self.pop_mark()?;
            }
            op::DUP => {
                let id = self.top()?;
                self.push(id)?;
            }
            op::NONE => self.push_new(Node::Leaf(Value::None))?,
            op::NEWTRUE => self.push_new(Node::Leaf(Value::Bool(true)))?,
            op::NEWFALSE => self.push_new(Node::Leaf(Value::Bool(false)))?,
            op::BININT => {
                let v = i32::from_le_bytes(self.array()?);
                self.push_new(Node::Leaf(Value::Int(i64::from(v))))?;
            }
            op::BININT1 => {
                let v = self.u8()?;
                self.push_new(Node::Leaf(Value::Int(i64::from(v))))?;
            }
            op::BININT2 => {
                let v = u16::from_le_bytes(self.array()?);
                self.push_new(Node::Leaf(Value::Int(i64::from(v))))?;
            }
            op::LONG1 | op::LONG4 => {
                let n = if self.op == op::LONG1 {
                    usize::from(self.u8()?)
                } else {
                    self.u32_len()?
                };
                let bytes = self.payload(n)?;
                self.push_new(Node::Leaf(long_from_le(bytes)))?;
            }
            op::INT => {
                let line = self.line()?;
                let v = match line {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    _ => Value::Int(line.trim().parse().map_err(|_| self.err("bad INT"))?),
                };
                self.push_new(Node::Leaf(v))?;
            }
            op::LONG => {
                let line = self.line()?;
                let digits = line.trim().trim_end_matches('L');
                if digits.len() > self.limits.max_string_len {
                    return Err(self.limit("LONG literal too long"));
                }
                let v = match digits.parse() {
                    Ok(v) => Value::Int(v),
                    Err(_) => decimal_to_long(digits).ok_or_else(|| self.err("bad LONG"))?,
                };
                self.push_new(Node::Leaf(v))?;
            }
            op::FLOAT => {
                let line = self.line()?;
                let v = line.trim().parse().map_err(|_| self.err("bad FLOAT"))?;
                self.push_new(Node::Leaf(Value::Float(v)))?;
            }
            op::BINFLOAT => {
                let v = f64::from_be_bytes(self.array()?);
                self.push_new(Node::Leaf(Value::Float(v)))?;
            }
            op::STRING => {
                let line = self.line()?;
                let s = unquote_py2_string(line).ok_or_else(|| self.err("bad STRING literal"))?;
                self.push_new(Node::Leaf(Value::String(s)))?;
            }
            op::UNICODE => {
                let line = self.line()?;
                let s = decode_raw_unicode_escape(line);
                self.push_new(Node::Leaf(Value::String(s)))?;
            }
            op::BINSTRING | op::SHORT_BINSTRING => {
                // Python 2 `str`: decoded as latin-1 like torch.load(encoding='latin1').
                let n = if self.op == op::SHORT_BINSTRING {
                    usize::from(self.u8()?)
                } else {
                    self.u32_len()?
                };
                let bytes = self.payload(n)?;
                let s = bytes.iter().map(|&b| char::from(b)).collect();
                self.push_new(Node::Leaf(Value::String(s)))?;
            }
            op::BINUNICODE | op::SHORT_BINUNICODE | op::BINUNICODE8 => {
                let n = match self.op {
                    op::SHORT_BINUNICODE => usize::from(self.u8()?),
                    op::BINUNICODE => self.u32_len()?,
                    _ => self.u64_len()?,
                };
                let bytes = self.payload(n)?;
                let s = String::from_utf8_lossy(bytes).into_owned();
                self.push_new(Node::Leaf(Value::String(s)))?;
            }
            op::BINBYTES | op::SHORT_BINBYTES | op::BINBYTES8 | op::BYTEARRAY8 => {
                let n = match self.op {
                    op::SHORT_BINBYTES => usize::from(self.u8()?),
                    op::BINBYTES => self.u32_len()?,
                    _ => self.u64_len()?,
                };
                let bytes = self.payload(n)?.to_vec();
                self.push_new(Node::Leaf(Value::Bytes(bytes)))?;
            }
            op::EMPTY_LIST => self.push_new(Node::List(Vec::new()))?,
            op::EMPTY_DICT => self.push_new(Node::Dict(Vec::new()))?,
            op::EMPTY_TUPLE => self.push_new(Node::Tuple(Vec::new()))?,
            op::EMPTY_SET => self.push_new(Node::Set(Vec::new()))?,
            op::LIST => {
                let items = self.pop_mark()?;
                self.push_new(Node::List(items))?;
            }
            op::TUPLE => {
                let items = self.pop_mark()?;
                self.push_new(Node::Tuple(items))?;
            }
            op::FROZENSET => {
                let items = self.pop_mark()?;
                self.push_new(Node::Set(items))?;
            }
            op::TUPLE1..=op::TUPLE3 => {
                let n = usize::from(self.op - op::TUPLE1) + 1;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                self.push_new(Node::Tuple(items))?;
            }
            op::DICT => {
                let items = self.pop_mark()?;
                let pairs = self.pairs(&items)?;
                self.push_new(Node::Dict(pairs))?;
            }
            op::APPEND => {
                let item = self.pop()?;
                let target = self.top()?;
                self.extend_list(target, vec![item])?;
            }
            op::APPENDS => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                self.extend_list(target, items)?;
            }
            op::ADDITEMS => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                self.charge(items.len())?;
                match &mut self.nodes[target] {
                    Node::Set(set) => set.extend(items),
                    _ => return Err(self.err("ADDITEMS target is not a set")),
                }
            }
            op::SETITEM => {
                let value = self.pop()?;
                let key = self.pop()?;
                let target = self.top()?;
                self.extend_dict(target, vec![(key, value)])?;
            }
            op::SETITEMS => {
                let items = self.pop_mark()?;
                let pairs = self.pairs(&items)?;
                let target = self.top()?;
                self.extend_dict(target, pairs)?;
            }
            op::PUT => {
                let key = self
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| self.err("bad PUT key"))?;
                self.memo_put(key)?;
            }
            op::BINPUT => {
                let key = self.u8()?;
                self.memo_put(u64::from(key))?;
            }
            op::LONG_BINPUT => {
                let key = u32::from_le_bytes(self.array()?);
                self.memo_put(u64::from(key))?;
            }
            op::MEMOIZE => {
                let key = self.memo.len() as u64;
                self.memo_put(key)?;
            }
            op::GET => {
                let key = self
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| self.err("bad GET key"))?;
                self.memo_get(key)?;
            }
            op::BINGET => {
                let key = self.u8()?;
                self.memo_get(u64::from(key))?;
            }
            op::LONG_BINGET => {
                let key = u32::from_le_bytes(self.array()?);
                self.memo_get(u64::from(key))?;
            }
            op::GLOBAL => {
                let module = self.line()?.to_owned();
                let name = self.line()?.to_owned();
                self.push_new(Node::Leaf(Value::Global { module, name }))?;
            }
            op::STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (self.str_of(module), self.str_of(name)) else {
                    return Err(self.err("STACK_GLOBAL operands are not strings"));
                };
                let (module, name) = (module.to_owned(), name.to_owned());
                self.push_new(Node::Leaf(Value::Global { module, name }))?;
            }
            op::PERSID => {
                let pid = self.line()?.to_owned();
                let pid = self.leaf(Value::String(pid))?;
                self.push_new(Node::PersId(pid))?;
            }
            op::BINPERSID => {
                let pid = self.pop()?;
                self.push_new(Node::PersId(pid))?;
            }
            op::REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let args = self.tuple_items(args)?;
                let id = self.call(callable, args)?;
                self.push(id)?;
            }
            op::NEWOBJ => {
                let args = self.pop()?;
                let class = self.pop()?;
                let args = self.tuple_items(args)?;
                let id = self.call(class, args)?;
                self.push(id)?;
            }
            op::NEWOBJ_EX => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let class = self.pop()?;
                let args = self.tuple_items(args)?;
                let id = self.call(class, args)?;
                self.push(id)?;
            }
            op::INST => {
                let module = self.line()?.to_owned();
                let name = self.line()?.to_owned();
                let args = self.pop_mark()?;
                let class = self.leaf(Value::Global { module, name })?;
                let id = self.call(class, args)?;
                self.push(id)?;
            }
            op::OBJ => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return Err(self.err("OBJ without a class"));
                }
                let class = items.remove(0);
                let id = self.call(class, items)?;
                self.push(id)?;
            }
            op::BUILD => {
                let state = self.pop()?;
                let target = self.top()?;
                self.build(target, state)?;
            }
            byte => {
                return Err(self.err(format!(
                    "opcode 0x{byte:02x} ({}) not allowed (extension registry, out-of-band \
                     buffers and unknown opcodes are not supported)",
                    op::name(byte)
                )));
            }
        }
        Ok(())
    }

    fn pairs(&self, items: &[Id]) -> Result<Vec<(Id, Id)>> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of items for a dict"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend_list(&mut self, target: Id, items: Vec<Id>) -> Result<()> {
        self.charge(items.len())?;
        match &mut self.nodes[target] {
            Node::List(list) => list.extend(items),
            // A list subclass instance (rare): keep the items as its constructor arguments.
            Node::Object { args, .. } => args.extend(items),
            _ => return Err(self.err("append target is not a list")),
        }
        Ok(())
    }

    fn extend_dict(&mut self, target: Id, pairs: Vec<(Id, Id)>) -> Result<()> {
        self.charge(pairs.len())?;
        match &mut self.nodes[target] {
            Node::Dict(dict) => dict.extend(pairs),
            _ => return Err(self.err("SETITEM(S) target is not a dict")),
        }
        Ok(())
    }

    /// The elements of a tuple node (the argument of `REDUCE`/`NEWOBJ`).
    pub(super) fn tuple_items(&self, id: Id) -> Result<Vec<Id>> {
        match &self.nodes[id] {
            Node::Tuple(items) => Ok(items.clone()),
            _ => Err(self.err("arguments are not a tuple")),
        }
    }

    /// `BUILD`: sets an object's state (its `__dict__` for a module).
    fn build(&mut self, target: Id, state: Id) -> Result<()> {
        match &mut self.nodes[target] {
            Node::Object { state: slot, .. } => {
                *slot = Some(state);
                Ok(())
            }
            // Tensors/parameters and dicts carry no state we need (hooks, `_metadata`).
            Node::Tensor { .. } | Node::Dict(_) => Ok(()),
            _ => Err(self.err("BUILD on a value that is not an object")),
        }
    }
}
