//! Decodes what the encoder wrote with an independent minimal protobuf reader and checks the
//! ONNX field numbers (from `onnx.proto`) and values; also checks BatchNorm folding numerically
//! against the unfolded computation.

use emotic_onnx::{
    Attribute, BatchNorm, Conv2dParams, ConvWeight, Dim, ElemType, GraphBuilder, fold_batch_norm,
};

#[derive(Debug, Clone)]
enum Field {
    Varint(u64),
    Fixed32(u32),
    Bytes(Vec<u8>),
}

fn read_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// All (field number, value) pairs of one message, in order.
fn decode(buf: &[u8]) -> Vec<(u64, Field)> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let key = read_varint(buf, &mut pos);
        let field = key >> 3;
        match key & 7 {
            0 => out.push((field, Field::Varint(read_varint(buf, &mut pos)))),
            5 => {
                let v = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap());
                pos += 4;
                out.push((field, Field::Fixed32(v)));
            }
            2 => {
                let len = read_varint(buf, &mut pos) as usize;
                out.push((field, Field::Bytes(buf[pos..pos + len].to_vec())));
                pos += len;
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

fn all(msg: &[(u64, Field)], field: u64) -> Vec<Field> {
    msg.iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, v)| v.clone())
        .collect()
}

fn bytes(f: &Field) -> &[u8] {
    match f {
        Field::Bytes(b) => b,
        other => panic!("expected bytes, got {other:?}"),
    }
}

fn string(f: &Field) -> String {
    String::from_utf8(bytes(f).to_vec()).unwrap()
}

fn varint(f: &Field) -> u64 {
    match f {
        Field::Varint(v) => *v,
        other => panic!("expected varint, got {other:?}"),
    }
}

fn packed(f: &Field) -> Vec<u64> {
    let b = bytes(f);
    let mut pos = 0;
    let mut v = Vec::new();
    while pos < b.len() {
        v.push(read_varint(b, &mut pos));
    }
    v
}

#[test]
fn model_graph_nodes_and_tensors_use_onnx_field_numbers() {
    let mut g = GraphBuilder::new("tiny");
    let x = g
        .input(
            "x",
            ElemType::Float,
            vec![Dim::Symbolic("N".into()), Dim::Fixed(2)],
        )
        .unwrap();
    let y = g
        .linear(
            &x,
            "fc",
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            [3, 2],
            Some(&[0.5, -0.5, 1.5]),
        )
        .unwrap();
    let r = g.relu(&y).unwrap();
    g.output(
        &r,
        "y",
        ElemType::Float,
        vec![Dim::Symbolic("N".into()), Dim::Fixed(3)],
    )
    .unwrap();
    g.metadata("names", "[\"a\"]");
    let bytes_out = g.finish("test").encode();

    let model = decode(&bytes_out);
    assert_eq!(varint(&all(&model, 1)[0]), 8, "ir_version");
    assert_eq!(string(&all(&model, 2)[0]), "test", "producer_name");
    let opset = decode(bytes(&all(&model, 8)[0]));
    assert_eq!(string(&all(&opset, 1)[0]), "");
    assert_eq!(varint(&all(&opset, 2)[0]), 17);
    let meta = decode(bytes(&all(&model, 14)[0]));
    assert_eq!(string(&all(&meta, 1)[0]), "names");

    let graph = decode(bytes(&all(&model, 7)[0]));
    assert_eq!(string(&all(&graph, 2)[0]), "tiny");
    let nodes: Vec<_> = all(&graph, 1).iter().map(|n| decode(bytes(n))).collect();
    let ops: Vec<String> = nodes.iter().map(|n| string(&all(n, 4)[0])).collect();
    assert_eq!(ops, ["Gemm", "Relu", "Identity"]);
    // Gemm(x, fc.weight, fc.bias) with transB = 1 (AttributeProto: name 1, i 3, type 20 = INT).
    let gemm_inputs: Vec<String> = all(&nodes[0], 1).iter().map(string).collect();
    assert_eq!(gemm_inputs, ["x", "fc.weight", "fc.bias"]);
    let attr = decode(bytes(&all(&nodes[0], 5)[0]));
    assert_eq!(string(&all(&attr, 1)[0]), "transB");
    assert_eq!(varint(&all(&attr, 3)[0]), 1);
    assert_eq!(varint(&all(&attr, 20)[0]), 2);
    // The Identity renames the Relu output to the declared graph output.
    assert_eq!(string(&all(&nodes[2], 2)[0]), "y");

    // Initializers: dims 1 (packed), data_type 2, name 8, raw_data 9 (little-endian f32).
    let inits: Vec<_> = all(&graph, 5).iter().map(|t| decode(bytes(t))).collect();
    assert_eq!(inits.len(), 2);
    assert_eq!(string(&all(&inits[0], 8)[0]), "fc.weight");
    assert_eq!(packed(&all(&inits[0], 1)[0]), [3, 2]);
    assert_eq!(varint(&all(&inits[0], 2)[0]), 1);
    let raw = bytes(&all(&inits[1], 9)[0]).to_vec();
    let vals: Vec<f32> = raw
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(vals, [0.5, -0.5, 1.5]);

    // Input x: ValueInfo{name 1, type 2: TypeProto{tensor_type 1: {elem_type 1, shape 2: {dim 1}}}}.
    let input = decode(bytes(&all(&graph, 11)[0]));
    assert_eq!(string(&all(&input, 1)[0]), "x");
    let tensor_type = decode(bytes(&all(&decode(bytes(&all(&input, 2)[0])), 1)[0]));
    assert_eq!(varint(&all(&tensor_type, 1)[0]), 1);
    let dims: Vec<_> = all(&decode(bytes(&all(&tensor_type, 2)[0])), 1)
        .iter()
        .map(|d| decode(bytes(d)))
        .collect();
    assert_eq!(string(&all(&dims[0], 2)[0]), "N");
    assert_eq!(varint(&all(&dims[1], 1)[0]), 2);
    assert_eq!(all(&graph, 12).len(), 1, "one output");
}

#[test]
fn float_and_list_attributes_are_typed() {
    let mut g = GraphBuilder::new("attrs");
    let x = g.input("x", ElemType::Float, vec![Dim::Fixed(1)]).unwrap();
    let y = g
        .node(
            "LeakyRelu",
            &[&x],
            vec![
                Attribute::float("alpha", 0.25),
                Attribute::ints("dummy", &[-1, 300]),
            ],
        )
        .unwrap();
    g.output(&y, "y", ElemType::Float, vec![Dim::Fixed(1)])
        .unwrap();
    let model = decode(&g.finish("t").encode());
    let graph = decode(bytes(&all(&model, 7)[0]));
    let node = decode(bytes(&all(&graph, 1)[0]));
    let attrs: Vec<_> = all(&node, 5).iter().map(|a| decode(bytes(a))).collect();
    match &all(&attrs[0], 2)[0] {
        Field::Fixed32(bits) => assert_eq!(f32::from_bits(*bits), 0.25),
        other => panic!("float attribute not fixed32: {other:?}"),
    }
    assert_eq!(varint(&all(&attrs[0], 20)[0]), 1, "FLOAT");
    assert_eq!(
        packed(&all(&attrs[1], 8)[0]),
        [u64::MAX, 300],
        "-1 is a 10-byte varint"
    );
    assert_eq!(varint(&all(&attrs[1], 20)[0]), 7, "INTS");
}

#[test]
fn builder_rejects_undefined_inputs_and_duplicate_names() {
    let mut g = GraphBuilder::new("bad");
    assert!(g.relu("missing").is_err());
    g.input("x", ElemType::Float, vec![]).unwrap();
    assert!(g.input("x", ElemType::Float, vec![]).is_err());
    assert!(
        g.initializer("w", &[2, 2], &[1.0; 3]).is_err(),
        "3 values cannot fill [2, 2]"
    );
    let a = g.initializer("w", &[1], &[1.0]).unwrap();
    let b = g.initializer("w", &[1], &[1.0]).unwrap();
    assert_ne!(a, b, "names are made unique");
}

/// Naive NCHW convolution (stride 1, no padding) for the folding check.
fn conv(
    x: &[f64],
    c_in: usize,
    h: usize,
    w: &[f64],
    c_out: usize,
    k: usize,
    bias: &[f64],
) -> Vec<f64> {
    let ho = h - k + 1;
    let mut y = vec![0.0; c_out * ho * ho];
    for o in 0..c_out {
        for i in 0..ho {
            for j in 0..ho {
                let mut s = bias[o];
                for c in 0..c_in {
                    for a in 0..k {
                        for b in 0..k {
                            s += x[c * h * h + (i + a) * h + j + b]
                                * w[((o * c_in + c) * k + a) * k + b];
                        }
                    }
                }
                y[(o * ho + i) * ho + j] = s;
            }
        }
    }
    y
}

#[test]
fn folded_conv_bn_equals_conv_then_batch_norm() {
    let (c_in, c_out, h, k) = (2, 3, 5, 3);
    // Deterministic non-trivial values.
    let x: Vec<f64> = (0..c_in * h * h)
        .map(|i| ((i * 37 % 17) as f64 - 8.0) / 7.0)
        .collect();
    let w: Vec<f32> = (0..c_out * c_in * k * k)
        .map(|i| ((i * 13 % 11) as f32 - 5.0) / 9.0)
        .collect();
    let bias = [0.3f32, -0.2, 0.1];
    let gamma = [1.5f32, 0.5, -0.8];
    let beta = [0.1f32, -0.4, 0.25];
    let mean = [0.2f32, -1.0, 0.5];
    let var = [0.9f32, 2.5, 0.04];
    let eps = 1e-3;
    let bn = BatchNorm {
        weight: &gamma,
        bias: &beta,
        running_mean: &mean,
        running_var: &var,
        eps,
    };
    let (wf, bf) = fold_batch_norm(&w, c_out, Some(&bias), &bn).unwrap();

    let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    let b64: Vec<f64> = bias.iter().map(|&v| f64::from(v)).collect();
    let plain = conv(&x, c_in, h, &w64, c_out, k, &b64);
    let ho = h - k + 1;
    let reference: Vec<f64> = plain
        .iter()
        .enumerate()
        .map(|(idx, &v)| {
            let o = idx / (ho * ho);
            (v - f64::from(mean[o])) / (f64::from(var[o]) + eps).sqrt() * f64::from(gamma[o])
                + f64::from(beta[o])
        })
        .collect();
    let wf64: Vec<f64> = wf.iter().map(|&v| f64::from(v)).collect();
    let bf64: Vec<f64> = bf.iter().map(|&v| f64::from(v)).collect();
    let folded = conv(&x, c_in, h, &wf64, c_out, k, &bf64);
    let max_diff = reference
        .iter()
        .zip(&folded)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    // Only the f32 rounding of the folded weights remains: ~1e-7 relative per product.
    assert!(max_diff < 1e-5, "max diff {max_diff}");
    // Channel 2 has a negative gamma and small variance: a real scale change, not a no-op.
    assert!(
        (wf[2 * c_in * k * k] / w[2 * c_in * k * k] + 0.8 / (0.04f32 + 1e-3).sqrt()).abs() < 1e-4
    );
}

#[test]
fn folding_rejects_mismatched_batch_norm() {
    let bn = BatchNorm {
        weight: &[1.0, 1.0],
        bias: &[0.0, 0.0],
        running_mean: &[0.0],
        running_var: &[1.0, 1.0],
        eps: 1e-5,
    };
    assert!(fold_batch_norm(&[1.0; 4], 2, None, &bn).is_err());
    let bn = BatchNorm {
        weight: &[1.0; 3],
        bias: &[0.0; 3],
        running_mean: &[0.0; 3],
        running_var: &[1.0; 3],
        eps: 1e-5,
    };
    assert!(fold_batch_norm(&[1.0; 4], 2, None, &bn).is_err());
}

#[test]
fn conv_helper_writes_pytorch_padding_as_onnx_pads() {
    let mut g = GraphBuilder::new("conv");
    let x = g
        .input(
            "x",
            ElemType::Float,
            vec![Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)],
        )
        .unwrap();
    let p = Conv2dParams {
        stride: [2, 2],
        padding: [1, 2],
        dilation: [1, 1],
        groups: 1,
    };
    g.conv2d(
        &x,
        "c",
        ConvWeight {
            weight: &[1.0; 9],
            shape: [1, 1, 3, 3],
            bias: None,
        },
        &p,
    )
    .unwrap();
    let model = decode(&g.finish("t").encode());
    let graph = decode(bytes(&all(&model, 7)[0]));
    let node = decode(bytes(&all(&graph, 1)[0]));
    let attrs: Vec<_> = all(&node, 5).iter().map(|a| decode(bytes(a))).collect();
    let pads = attrs
        .iter()
        .find(|a| string(&all(a, 1)[0]) == "pads")
        .unwrap();
    assert_eq!(
        packed(&all(pads, 8)[0]),
        [1, 2, 1, 2],
        "ONNX pads are [h_begin, w_begin, h_end, w_end]"
    );
}

#[test]
fn write_atomic_replaces_the_file_and_reports_the_path() {
    let dir = std::env::temp_dir().join(format!("emotic-onnx-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    std::fs::write(&path, b"old contents").unwrap();
    emotic_onnx::write_atomic(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "temporary file removed"
    );
    let bad = dir.join("no/such/dir/m.onnx");
    let msg = emotic_onnx::write_atomic(&bad, b"x")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("no/such/dir/m.onnx"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}
