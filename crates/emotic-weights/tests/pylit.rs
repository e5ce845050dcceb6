//! Python literal parsing and `repr` formatting (values checked against CPython's `repr`).

use emotic_weights::pylit::{PyValue, float_repr, parse_list, str_repr};

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

#[test]
fn parses_dicts_like_ultralytics_names() {
    use emotic_weights::pylit::{names_dict_repr, parse_dict, parse_names_dict};
    assert_eq!(
        parse_dict("{0: 'person', 1: \"traffic, light\",}").unwrap(),
        vec![
            (PyValue::Number(0.0), PyValue::Str("person".into())),
            (PyValue::Number(1.0), PyValue::Str("traffic, light".into())),
        ]
    );
    assert_eq!(parse_dict(" {} ").unwrap(), vec![]);
    assert!(parse_dict("{0 'a'}").is_err());
    assert!(parse_dict("{0: 'a'").is_err());
    assert!(parse_dict("[0, 1]").is_err());
    // Ids order the names, whatever the dict's order; anything else is no names dict.
    assert_eq!(
        parse_names_dict("{1: 'b', 0: 'a'}"),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(parse_names_dict("{'a': 'b'}"), None);
    assert_eq!(parse_names_dict("{0.5: 'b'}"), None);
    // What we write reads back, quotes included (python3 -c "print({0: \"it's\", 1: 'x'})").
    let names = vec!["it's".to_owned(), "x".to_owned()];
    assert_eq!(names_dict_repr(&names), "{0: \"it's\", 1: 'x'}");
    assert_eq!(parse_names_dict(&names_dict_repr(&names)), Some(names));
}
