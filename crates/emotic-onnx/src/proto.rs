//! A protobuf encoder for the few ONNX messages this project writes.
//!
//! Why hand-written: we only ever *write* eight message types (ModelProto, GraphProto,
//! NodeProto, AttributeProto, TensorProto, ValueInfoProto/TypeProto/TensorShapeProto,
//! OperatorSetIdProto), and the wire format for them is a few dozen lines. Generating
//! bindings with `prost-build` would need `protoc` and a vendored `onnx.proto` at build time
//! for a crate that never parses anything. Field numbers below are those of `onnx.proto`
//! (proto2 syntax; repeated scalars are written packed, which every parser accepts).

/// ONNX IR version written into every model (ONNX 1.12+, understood by ORT >= 1.12).
pub const IR_VERSION: i64 = 8;
/// Default-domain operator set the graphs are written against.
pub const OPSET_VERSION: i64 = 17;

/// Element types used by our graphs (`TensorProto.DataType` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    /// 32-bit float (`FLOAT = 1`).
    Float,
    /// 64-bit signed integer (`INT64 = 7`), used for shapes and indices.
    Int64,
}

impl ElemType {
    /// The `TensorProto.DataType` enum value.
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            Self::Float => 1,
            Self::Int64 => 7,
        }
    }
}

/// One dimension of a declared graph input/output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A named size chosen at run time (`dim_param`).
    Symbolic(String),
}

/// A constant tensor stored in the model (`TensorProto` with `raw_data`, little-endian).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorProto {
    /// Value name.
    pub name: String,
    /// Element type of `raw_data`.
    pub elem_type: ElemType,
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Little-endian element bytes.
    pub raw_data: Vec<u8>,
}

impl TensorProto {
    /// An `f32` tensor.
    #[must_use]
    pub fn from_f32(name: &str, dims: &[usize], data: &[f32]) -> Self {
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            name: name.to_owned(),
            elem_type: ElemType::Float,
            dims: dims.to_vec(),
            raw_data,
        }
    }

    /// An `i64` tensor.
    #[must_use]
    pub fn from_i64(name: &str, dims: &[usize], data: &[i64]) -> Self {
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            name: name.to_owned(),
            elem_type: ElemType::Int64,
            dims: dims.to_vec(),
            raw_data,
        }
    }
}

/// The value of a node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `FLOAT`.
    Float(f32),
    /// `INT`.
    Int(i64),
    /// `STRING`.
    String(String),
    /// `TENSOR`.
    Tensor(TensorProto),
    /// `FLOATS`.
    Floats(Vec<f32>),
    /// `INTS`.
    Ints(Vec<i64>),
}

/// A named node attribute (`AttributeProto`).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Attribute name, e.g. `kernel_shape`.
    pub name: String,
    /// Its value.
    pub value: AttrValue,
}

impl Attribute {
    /// An `INT` attribute.
    #[must_use]
    pub fn int(name: &str, v: i64) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::Int(v),
        }
    }
    /// An `INTS` attribute.
    #[must_use]
    pub fn ints(name: &str, v: &[i64]) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::Ints(v.to_vec()),
        }
    }
    /// A `FLOAT` attribute.
    #[must_use]
    pub fn float(name: &str, v: f32) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::Float(v),
        }
    }
    /// A `FLOATS` attribute.
    #[must_use]
    pub fn floats(name: &str, v: &[f32]) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::Floats(v.to_vec()),
        }
    }
    /// A `STRING` attribute.
    #[must_use]
    pub fn string(name: &str, v: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::String(v.to_owned()),
        }
    }
    /// A `TENSOR` attribute.
    #[must_use]
    pub fn tensor(name: &str, t: TensorProto) -> Self {
        Self {
            name: name.to_owned(),
            value: AttrValue::Tensor(t),
        }
    }
}

/// One operator application (`NodeProto`, default domain).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeProto {
    /// Node name (unique within the graph).
    pub name: String,
    /// Operator, e.g. `Conv`.
    pub op_type: String,
    /// Input value names; an empty string marks an omitted optional input.
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
}

/// A declared graph input or output (`ValueInfoProto` with a tensor `TypeProto`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfoProto {
    /// Value name.
    pub name: String,
    /// Element type.
    pub elem_type: ElemType,
    /// Shape, fixed or symbolic per dimension.
    pub dims: Vec<Dim>,
}

/// A graph (`GraphProto`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphProto {
    /// Graph name.
    pub name: String,
    /// Nodes in topological order.
    pub nodes: Vec<NodeProto>,
    /// Constant tensors.
    pub initializers: Vec<TensorProto>,
    /// Declared inputs.
    pub inputs: Vec<ValueInfoProto>,
    /// Declared outputs.
    pub outputs: Vec<ValueInfoProto>,
}

/// A model (`ModelProto`) at [`IR_VERSION`] importing the default domain at [`OPSET_VERSION`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelProto {
    /// Who wrote the model.
    pub producer_name: String,
    /// The graph.
    pub graph: GraphProto,
    /// Free-form key/value metadata (`metadata_props`), e.g. class names.
    pub metadata: Vec<(String, String)>,
}

impl ModelProto {
    /// Serialises the model to protobuf bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.int64(1, IR_VERSION);
        w.string(2, &self.producer_name);
        w.message(7, |w| encode_graph(w, &self.graph));
        w.message(8, |w| {
            w.string(1, "");
            w.int64(2, OPSET_VERSION);
        });
        for (key, value) in &self.metadata {
            w.message(14, |w| {
                w.string(1, key);
                w.string(2, value);
            });
        }
        w.buf
    }
}

fn encode_graph(w: &mut Writer, g: &GraphProto) {
    for node in &g.nodes {
        w.message(1, |w| encode_node(w, node));
    }
    w.string(2, &g.name);
    for t in &g.initializers {
        w.message(5, |w| encode_tensor(w, t));
    }
    for vi in &g.inputs {
        w.message(11, |w| encode_value_info(w, vi));
    }
    for vi in &g.outputs {
        w.message(12, |w| encode_value_info(w, vi));
    }
}

fn encode_node(w: &mut Writer, n: &NodeProto) {
    for i in &n.inputs {
        w.string(1, i);
    }
    for o in &n.outputs {
        w.string(2, o);
    }
    w.string(3, &n.name);
    w.string(4, &n.op_type);
    for a in &n.attributes {
        w.message(5, |w| encode_attribute(w, a));
    }
}

fn encode_attribute(w: &mut Writer, a: &Attribute) {
    // AttributeProto.AttributeType: FLOAT=1 INT=2 STRING=3 TENSOR=4 FLOATS=6 INTS=7.
    w.string(1, &a.name);
    match &a.value {
        AttrValue::Float(f) => {
            w.float(2, *f);
            w.int64(20, 1);
        }
        AttrValue::Int(i) => {
            w.int64(3, *i);
            w.int64(20, 2);
        }
        AttrValue::String(s) => {
            w.bytes(4, s.as_bytes());
            w.int64(20, 3);
        }
        AttrValue::Tensor(t) => {
            w.message(5, |w| encode_tensor(w, t));
            w.int64(20, 4);
        }
        AttrValue::Floats(v) => {
            let packed: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            w.bytes(7, &packed);
            w.int64(20, 6);
        }
        AttrValue::Ints(v) => {
            w.packed_int64(8, v);
            w.int64(20, 7);
        }
    }
}

fn encode_tensor(w: &mut Writer, t: &TensorProto) {
    let dims: Vec<i64> = t.dims.iter().map(|&d| d as i64).collect();
    w.packed_int64(1, &dims);
    w.int64(2, i64::from(t.elem_type.code()));
    w.string(8, &t.name);
    w.bytes(9, &t.raw_data);
}

fn encode_value_info(w: &mut Writer, vi: &ValueInfoProto) {
    w.string(1, &vi.name);
    // TypeProto { tensor_type = 1: Tensor { elem_type = 1, shape = 2: { dim = 1 } } }
    w.message(2, |w| {
        w.message(1, |w| {
            w.int64(1, i64::from(vi.elem_type.code()));
            w.message(2, |w| {
                for d in &vi.dims {
                    w.message(1, |w| match d {
                        Dim::Fixed(v) => w.int64(1, *v as i64),
                        Dim::Symbolic(s) => w.string(2, s),
                    });
                }
            });
        });
    });
}

/// Protobuf wire-format writer (varint = 0, fixed32 = 5, length-delimited = 2).
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from((field << 3) | wire_type));
    }

    /// int32/int64/enum fields: negative values are sign-extended to 10 bytes, as protobuf does.
    fn int64(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }

    fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    fn packed_int64(&mut self, field: u32, v: &[i64]) {
        let mut inner = Writer::default();
        for &x in v {
            inner.varint(x as u64);
        }
        self.bytes(field, &inner.buf);
    }

    fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        body(&mut inner);
        self.bytes(field, &inner.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_follow_the_protobuf_spec() {
        let mut w = Writer::default();
        w.varint(1);
        w.varint(300);
        w.int64(1, -1);
        // 300 = 0b10_0101100 -> 0xAC 0x02; -1 as int64 is ten bytes ending in 0x01.
        let mut expected = vec![0x01, 0xAC, 0x02, 0x08];
        expected.extend_from_slice(&[0xFF; 9]);
        expected.push(0x01);
        assert_eq!(w.buf, expected);
    }
}
