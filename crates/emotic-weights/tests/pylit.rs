//! Python literal parsing and `repr` formatting (values checked against CPython's `repr`).

use emotic_data::pylit::{PyValue, float_repr, parse_list, str_repr};

#[test]
fn float_repr_matches_python() {
    // python3 -c "print([repr(x) for x in (5.0, 5.333333333333333, 0.1, 1e-05, 0.0001, 1e16, 1.5e16, 123456789012345.6, -2.0)])"
    let cases = [
        (5.0, "5.0"),
        (16.0 / 3.0, "5.333333333333333"),
        (0.1, "0.1"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (1e16, "1e+16"),
        (1.5e16, "1.5e+16"),
        (123456789012345.6, "123456789012345.6"),
        (-2.0, "-2.0"),
        (f64::NAN, "nan"),
    ];
    for (v, want) in cases {
        assert_eq!(float_repr(v), want);
    }
}

#[test]
fn parses_what_python_writes() {
    assert_eq!(parse_list("[]").unwrap(), vec![]);
    assert_eq!(
        parse_list("[640.0, 480, -1e-05, nan]").unwrap()[..3],
        [
            PyValue::Number(640.0),
            PyValue::Number(480.0),
            PyValue::Number(-1e-5)
        ]
    );
    assert_eq!(
        parse_list("['Doubt/Confusion', \"it's\", 'a\\'b']").unwrap(),
        vec![
            PyValue::Str("Doubt/Confusion".into()),
            PyValue::Str("it's".into()),
            PyValue::Str("a'b".into())
        ]
    );
    assert_eq!(
        parse_list("[np.float64(5.5), np.int64(3)]").unwrap(),
        vec![PyValue::Number(5.5), PyValue::Number(3.0)]
    );
    assert!(parse_list("[1, 2").is_err());
    assert!(parse_list("['a").is_err());
    assert!(parse_list("[1] x").is_err());
    assert!(parse_list("[abc]").is_err());
    assert_eq!(str_repr("it's"), "\"it's\"");
    assert_eq!(str_repr("Peace"), "'Peace'");
}
