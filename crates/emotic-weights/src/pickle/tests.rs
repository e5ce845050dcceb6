//! Unit tests of the interpreter on hand-assembled or Python-produced opcode streams.

use super::*;
use crate::Error;

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn protocol2_dict_list_bytes() {
    // pickle.dumps({'a': [1, 2.5, None, True], 'b': (b'xy', 's')}, protocol=2)
    let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88eX\x01\x00\x00\x00bq\x03c_codecs\nencode\nq\x04X\x02\x00\x00\x00xyq\x05X\x06\x00\x00\x00latin1q\x06\x86q\x07Rq\x08X\x01\x00\x00\x00sq\t\x86q\nu.";
    let v = from_slice(data).unwrap();
    let expect = Value::Dict(vec![
        (
            s("a"),
            Value::List(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::None,
                Value::Bool(true),
            ]),
        ),
        (
            s("b"),
            Value::Tuple(vec![Value::Bytes(b"xy".to_vec()), s("s")]),
        ),
    ]);
    assert_eq!(v, expect);
}

#[test]
fn protocol4_ordered_dict_and_protocol0_longs() {
    // pickle.dumps(collections.OrderedDict(a=1), protocol=4)
    let data = b"\x80\x04\x95)\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01a\x94K\x01s.";
    assert_eq!(
        from_slice(data).unwrap(),
        Value::Dict(vec![(s("a"), Value::Int(1))])
    );
    // pickle.dumps({'a': [1, 2**70, -3]}, protocol=0)
    let data = b"(dp0\nVa\np1\n(lp2\nI1\naL1180591620717411303424L\naI-3\nas.";
    let mut two_pow_70 = vec![0u8; 9];
    two_pow_70[8] = 0x40;
    two_pow_70.push(0);
    let list = Value::List(vec![
        Value::Int(1),
        Value::BigInt(two_pow_70),
        Value::Int(-3),
    ]);
    assert_eq!(from_slice(data).unwrap(), Value::Dict(vec![(s("a"), list)]));
}

#[test]
fn memo_shares_containers_filled_after_put() {
    // d = {}; memoize; outer = [d, d]; then fill d through the memo reference.
    // ]  } q0  h0  \x86(TUPLE2)  ... build: list containing tuple (d, d), then SETITEM on d.
    let data = b"\x80\x02]q\x01}q\x00h\x00\x86q\x02ah\x00X\x01\x00\x00\x00kK\x07s0.";
    let v = from_slice(data).unwrap();
    let d = Value::Dict(vec![(s("k"), Value::Int(7))]);
    assert_eq!(v, Value::List(vec![Value::Tuple(vec![d.clone(), d])]));
}

#[test]
fn os_system_is_refused_and_unknown_classes_stay_inert() {
    // pickle of os.system('echo pwned') via GLOBAL + REDUCE.
    let data = b"cos\nsystem\n(S'echo pwned'\ntR.";
    let err = from_slice(data).unwrap_err().to_string();
    assert!(err.contains("refusing to call os.system"), "{err}");
    assert!(err.contains("REDUCE) at offset 27"), "{err}");
    let data = b"c__builtin__\neval\n(S'1'\ntR.";
    let err = from_slice(data).unwrap_err().to_string();
    assert!(err.contains("refusing to call __builtin__.eval"), "{err}");
    // An arbitrary class becomes an inert object carrying its args and BUILD state.
    let data = b"\x80\x02cmy.mod\nThing\n)\x81}X\x01\x00\x00\x00xK\x01sb.";
    let v = from_slice(data).unwrap();
    assert_eq!(
        v,
        Value::Object {
            class: "my.mod.Thing".into(),
            args: vec![],
            state: Some(Box::new(Value::Dict(vec![(s("x"), Value::Int(1))]))),
        }
    );
}

#[test]
fn limits_give_errors() {
    // Nesting: 1000 x (EMPTY_LIST), then APPEND 999 times builds a list nested 1000 deep.
    let mut data = b"\x80\x02".to_vec();
    data.extend(std::iter::repeat_n(b']', 1000));
    data.extend(std::iter::repeat_n(b'a', 999));
    data.push(b'.');
    assert!(matches!(from_slice(&data), Err(Error::Limit(_))));
    // Billion laughs through the memo: each level is a list holding the previous one 10 times.
    let mut data = b"\x80\x02]q\x00".to_vec();
    for level in 1..=12u8 {
        data.push(b'(');
        data.extend(std::iter::repeat_n([b'h', level - 1], 10).flatten());
        data.extend([b'l', b'q', level]);
    }
    data.push(b'.');
    let err = from_slice(&data).unwrap_err();
    assert!(matches!(err, Error::Limit(_)), "{err}");
    // A string claiming 2^40 bytes fails on truncation, without allocating.
    let mut data = b"\x80\x04\x8d".to_vec();
    data.extend((1u64 << 40).to_le_bytes());
    assert!(from_slice(&data).is_err());
    // Stack overflow bound.
    let tight = Limits {
        max_stack: 10,
        ..Limits::default()
    };
    let data = [b'N'; 20];
    assert!(matches!(from_prefix(&data, &tight), Err(Error::Limit(_))));
}

#[test]
fn truncation_and_garbage_never_panic() {
    let data =
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88eu.";
    assert!(from_slice(data).is_ok());
    for cut in 0..data.len() - 1 {
        assert!(from_slice(&data[..cut]).is_err(), "cut at {cut}");
    }
    // Deterministic pseudo-random bytes (xorshift), many seeds.
    for seed in 1..2000u64 {
        let mut x = seed;
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x & 0xff) as u8
            })
            .collect();
        let _ = from_slice(&bytes);
    }
}

#[test]
fn rebuild_tensor_v2_and_parameter() {
    // torch-like: Parameter(_rebuild_tensor_v2(persid(('storage', torch.FloatStorage, '0', 'cpu', 6)), 0, (2, 3), (3, 1), False, OrderedDict()), True, OrderedDict())
    let mut data = b"\x80\x02ctorch._utils\n_rebuild_parameter\n".to_vec();
    data.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
    data.extend(b"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ");
    data.extend(b"K\x00K\x02K\x03\x86K\x03K\x01\x86\x89ccollections\nOrderedDict\n)RtR");
    data.extend(b"\x88ccollections\nOrderedDict\n)R\x87R.");
    let v = from_slice(&data).unwrap();
    let Value::Tensor(t) = v else {
        panic!("not a tensor: {v:?}")
    };
    assert_eq!(
        (t.storage_offset, t.size.clone(), t.stride.clone()),
        (0, vec![2, 3], vec![3, 1])
    );
    assert!(t.requires_grad);
    let Value::PersistentId(pid) = *t.storage else {
        panic!("storage is not a persistent id")
    };
    let Value::Tuple(items) = *pid else {
        panic!("pid is not a tuple")
    };
    assert_eq!(items[0], s("storage"));
    assert_eq!(
        items[1],
        Value::Global {
            module: "torch".into(),
            name: "FloatStorage".into()
        }
    );
    assert_eq!(items[4], Value::Int(6));
}
