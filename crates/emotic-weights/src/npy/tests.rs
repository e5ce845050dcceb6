//! Unit tests of header parsing, decoding and the writers.

use super::*;

#[test]
fn roundtrip_f32_2d() {
    let mut buf = Vec::new();
    let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    write_f32_to(&mut buf, &[2, 3], &data).unwrap();
    assert_eq!(
        (buf.len() - 24) % 64,
        0,
        "data starts at a 64-byte boundary"
    );
    let arr = read_npy_bytes(&buf).unwrap();
    assert_eq!(arr.shape, vec![2, 3]);
    assert_eq!(arr.data, NpyData::F32(data));
}

#[test]
fn header_parse_variants() {
    let h =
        parse_header_dict("{'descr': '>i8', 'fortran_order': True, 'shape': (2L, 3L), }").unwrap();
    assert_eq!(
        h.dtype,
        NpyDType {
            element: NpyElement::I64,
            big_endian: true
        }
    );
    assert!(h.fortran_order);
    assert_eq!(h.shape, vec![2, 3]);
    let h =
        parse_header_dict("{\"shape\": (), \"descr\": \"|b1\", \"fortran_order\": False}").unwrap();
    assert!(h.shape.is_empty());
    assert!(
        parse_header_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}")
            .is_err()
    );
    assert!(parse_header_dict("{'descr': '<c8', 'fortran_order': False, 'shape': ()}").is_err());
    assert!(parse_header_dict("{'descr': '<f4', 'shape': ()}").is_err());
}

#[test]
fn fortran_transpose() {
    // 2x3 array [[0,1,2],[3,4,5]] stored column-major is 0,3,1,4,2,5.
    assert_eq!(
        fortran_to_c(&[2, 3], vec![0, 3, 1, 4, 2, 5]),
        vec![0, 1, 2, 3, 4, 5]
    );
    // 2x2x2: element (i,j,k) at column-major i + 2j + 4k.
    let f: Vec<usize> = (0..8).collect();
    let c = fortran_to_c(&[2, 2, 2], f);
    let expect: Vec<usize> = (0..8)
        .map(|r| {
            let (i, j, k) = (r / 4, (r / 2) % 2, r % 2);
            i + 2 * j + 4 * k
        })
        .collect();
    assert_eq!(c, expect);
}

#[test]
fn rejects_huge_header_and_overflowing_shape() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[2, 0]);
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    assert!(matches!(read_npy_bytes(&bytes), Err(Error::Limit(_))));
    let raw = |shape: &str| {
        let dict = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&u16::try_from(dict.len()).unwrap().to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend_from_slice(&[7, 7]);
        b
    };
    assert_eq!(
        read_npy_bytes(&raw("(2,)")).unwrap().data,
        NpyData::U8(vec![7, 7])
    );
    let err = read_npy_bytes(&raw("(99999999999999, 99999999999)")).unwrap_err();
    assert!(matches!(err, Error::Limit(_)), "{err}");
    let err = read_npy(&mut raw("(9999,)").as_slice()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn big_endian_and_bool_decode() {
    let header = NpyHeader {
        dtype: NpyDType::parse(">i2").unwrap(),
        shape: vec![2],
        fortran_order: false,
        data_offset: 0,
    };
    let arr = decode(&header, &[0x01, 0x02, 0xff, 0xfe]).unwrap();
    assert_eq!(arr.data, NpyData::I16(vec![0x0102, -2]));
    let header = NpyHeader {
        dtype: NpyDType::parse("|b1").unwrap(),
        ..header
    };
    assert_eq!(
        decode(&header, &[0, 1]).unwrap().data,
        NpyData::Bool(vec![false, true])
    );
}
