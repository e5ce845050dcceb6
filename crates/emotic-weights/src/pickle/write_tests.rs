//! Unit tests of the pickle writer: every opcode it emits is read back by our interpreter, and
//! the integer encodings are compared with CPython's bytes.

use super::write::MAX_DEPTH;
use super::*;
use crate::Error;

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn scalars_and_containers_read_back() {
    let ints = [
        0,
        255,
        256,
        65_535,
        65_536,
        -1,
        i64::from(i32::MIN),
        i64::from(i32::MAX) + 1,
        1 << 40,
        -(1 << 40),
        i64::MIN,
        i64::MAX,
    ];
    let tuples: Vec<Py> = (0..6)
        .map(|n| Py::Tuple((0..n).map(Py::Int).collect()))
        .collect();
    let value = Py::Dict(vec![
        (Py::str("none"), Py::None),
        (
            Py::str("bools"),
            Py::List(vec![Py::Bool(true), Py::Bool(false)]),
        ),
        (
            Py::str("ints"),
            Py::List(ints.iter().map(|&i| Py::Int(i)).collect()),
        ),
        (
            Py::str("floats"),
            Py::Tuple(vec![Py::Float(1e-5), Py::Float(-0.5)]),
        ),
        (Py::str("text é ✓"), Py::str("")),
        (Py::str("tuples"), Py::List(tuples)),
        (Py::str("set"), Py::Set(vec![Py::str("a"), Py::Int(2)])),
        (
            Py::str("ordered"),
            Py::OrderedDict(vec![(Py::str("z"), Py::Int(1)), (Py::str("a"), Py::None)]),
        ),
        (Py::str("empty"), Py::OrderedDict(vec![])),
    ]);
    let back = from_slice(&to_vec(&value).unwrap()).unwrap();
    let tuple_values: Vec<Value> = (0..6)
        .map(|n| Value::Tuple((0..n).map(Value::Int).collect()))
        .collect();
    let expect = Value::Dict(vec![
        (s("none"), Value::None),
        (
            s("bools"),
            Value::List(vec![Value::Bool(true), Value::Bool(false)]),
        ),
        (
            s("ints"),
            Value::List(ints.iter().map(|&i| Value::Int(i)).collect()),
        ),
        (
            s("floats"),
            Value::Tuple(vec![Value::Float(1e-5), Value::Float(-0.5)]),
        ),
        (s("text é ✓"), s("")),
        (s("tuples"), Value::List(tuple_values)),
        (s("set"), Value::Set(vec![s("a"), Value::Int(2)])),
        (
            s("ordered"),
            Value::Dict(vec![(s("z"), Value::Int(1)), (s("a"), Value::None)]),
        ),
        (s("empty"), Value::Dict(vec![])),
    ]);
    assert_eq!(back, expect);
}

#[test]
fn integer_and_set_bytes_match_cpython() {
    // pickle.dumps((1, 300, -1, 2**40, -2**40, 2**63-1), 2) without CPython's trailing memo
    // `BINPUT 0` of the tuple (we memoize strings and globals only):
    let expect: &[u8] = b"\x80\x02(K\x01M,\x01J\xff\xff\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01\
        \x8a\x06\x00\x00\x00\x00\x00\xff\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7ft.";
    let ints = [1, 300, -1, 1 << 40, -(1 << 40), i64::MAX];
    assert_eq!(to_vec(&Py::int_tuple(&ints)).unwrap(), expect);
    // pickle.dumps(set([1]), 2) = c__builtin__\nset\n q0 ] q1 K1 a \x85 q2 R q3 . ; we write the
    // list with MARK/APPENDS and memoize only the global.
    let expect: &[u8] = b"\x80\x02c__builtin__\nset\nq\x00](K\x01e\x85R.";
    assert_eq!(to_vec(&Py::Set(vec![Py::Int(1)])).unwrap(), expect);
}

#[test]
fn strings_and_globals_are_memoized_past_256_entries() {
    // 300 distinct strings, each written twice: the second copy is a BINGET / LONG_BINGET.
    let names: Vec<String> = (0..300).map(|i| format!("name{i}")).collect();
    let items: Vec<Py> = names
        .iter()
        .chain(&names)
        .map(|n| Py::str(n))
        .chain([
            Py::global("torch", "FloatStorage"),
            Py::global("torch", "FloatStorage"),
        ])
        .collect();
    let bytes = to_vec(&Py::List(items)).unwrap();
    // Each text is written once; the repeats are memo fetches.
    assert_eq!(bytes.windows(4).filter(|w| w == b"name").count(), 300);
    assert!(
        bytes.contains(&b'r') && bytes.contains(&b'j'),
        "LONG_BINPUT/LONG_BINGET used"
    );
    assert_eq!(
        bytes.windows(13).filter(|w| w == b"FloatStorage\n").count(),
        1
    );
    let Value::List(back) = from_slice(&bytes).unwrap() else {
        panic!("not a list")
    };
    assert_eq!(back.len(), 602);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(back[i], s(name));
        assert_eq!(back[i + 300], s(name));
    }
    assert_eq!(
        back[601],
        Value::Global {
            module: "torch".into(),
            name: "FloatStorage".into()
        }
    );
}

#[test]
fn objects_calls_and_persistent_ids_read_back_as_torch_writes_them() {
    // A Linear-like module whose `_parameters` holds one parameter on storage '0'.
    let pid = Py::PersistentId(Box::new(Py::Tuple(vec![
        Py::str("storage"),
        Py::global("torch", "FloatStorage"),
        Py::str("0"),
        Py::str("cpu"),
        Py::Int(6),
    ])));
    let tensor = Py::call(
        "torch._utils",
        "_rebuild_tensor_v2",
        vec![
            pid,
            Py::Int(0),
            Py::int_tuple(&[2, 3]),
            Py::int_tuple(&[3, 1]),
            Py::Bool(false),
            Py::OrderedDict(vec![]),
        ],
    );
    let param = Py::call(
        "torch._utils",
        "_rebuild_parameter",
        vec![tensor, Py::Bool(true), Py::OrderedDict(vec![])],
    );
    let module = Py::Object {
        module: "torch.nn.modules.linear".into(),
        name: "Linear".into(),
        args: vec![],
        state: Some(Box::new(Py::Dict(vec![
            (Py::str("training"), Py::Bool(false)),
            (
                Py::str("_parameters"),
                Py::Dict(vec![(Py::str("weight"), param)]),
            ),
            (Py::str("in_features"), Py::Int(3)),
        ]))),
    };
    let back = from_slice(&to_vec(&module).unwrap()).unwrap();
    let Value::Object { class, args, state } = back else {
        panic!("not an object: {back:?}")
    };
    assert_eq!(class, "torch.nn.modules.linear.Linear");
    assert!(args.is_empty());
    let state = state.expect("BUILD state");
    assert_eq!(state.get("training"), Some(&Value::Bool(false)));
    assert_eq!(state.get("in_features"), Some(&Value::Int(3)));
    let Some(Value::Tensor(t)) = state.get("_parameters").and_then(|p| p.get("weight")) else {
        panic!("no weight tensor in {state:?}")
    };
    assert_eq!(
        (t.size.as_slice(), t.stride.as_slice()),
        (&[2, 3][..], &[3, 1][..])
    );
    assert!(t.requires_grad);
    let Value::PersistentId(pid) = t.storage.as_ref() else {
        panic!("storage is not a persistent id")
    };
    assert_eq!(
        **pid,
        Value::Tuple(vec![
            s("storage"),
            Value::Global {
                module: "torch".into(),
                name: "FloatStorage".into()
            },
            s("0"),
            s("cpu"),
            Value::Int(6)
        ])
    );
}

#[test]
fn long_lists_and_dicts_are_batched() {
    // `None` items keep the byte count honest: no operand byte can look like APPENDS.
    let bytes = to_vec(&Py::List(vec![Py::None; 2500])).unwrap();
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'e').count(),
        3,
        "three APPENDS"
    );
    assert_eq!(
        bytes.iter().filter(|&&b| b == b'(').count(),
        3,
        "three MARKs"
    );
    let list = Py::List((0..2500).map(Py::Int).collect());
    let Value::List(back) = from_slice(&to_vec(&list).unwrap()).unwrap() else {
        panic!("not a list")
    };
    assert_eq!(back, (0..2500).map(Value::Int).collect::<Vec<_>>());
    let dict = Py::Dict((0..1500).map(|i| (Py::Int(i), Py::Int(-i))).collect());
    let Value::Dict(back) = from_slice(&to_vec(&dict).unwrap()).unwrap() else {
        panic!("not a dict")
    };
    assert_eq!(back.len(), 1500);
    assert_eq!(back[1499], (Value::Int(1499), Value::Int(-1499)));
}

#[test]
fn depth_and_bad_globals_are_errors() {
    assert_eq!(MAX_DEPTH, Limits::default().max_depth);
    let mut deep = Py::None;
    for _ in 0..MAX_DEPTH {
        deep = Py::List(vec![deep]);
    }
    assert!(from_slice(&to_vec(&deep).unwrap()).is_ok());
    let deeper = Py::List(vec![Py::List(vec![deep])]);
    assert!(matches!(to_vec(&deeper), Err(Error::Limit(_))));
    let err = to_vec(&Py::global("os\nsystem", "x")).unwrap_err();
    assert!(err.to_string().contains("newline"), "{err}");
}
