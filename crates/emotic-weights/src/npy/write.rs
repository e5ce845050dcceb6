//! Writers: C-order little-endian arrays with a numpy-compatible, 64-byte aligned header.

use super::{MAGIC, NpyDType, NpyElement, checked_numel};
use crate::error::format_err;
use crate::fsutil::write_atomically;
use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

fn shape_literal(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

fn write_header(out: &mut dyn Write, element: NpyElement, shape: &[usize]) -> Result<()> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        NpyDType {
            element,
            big_endian: false
        }
        .descr(),
        shape_literal(shape)
    );
    // Pad with spaces so that data starts on a 64-byte boundary, newline-terminated, like numpy.
    let unpadded_v1 = 10 + dict.len() + 1;
    let (prefix, total) = if unpadded_v1.div_ceil(64) * 64 - 10 <= usize::from(u16::MAX) {
        (10, unpadded_v1.div_ceil(64) * 64)
    } else {
        (12, (12 + dict.len() + 1).div_ceil(64) * 64)
    };
    let header_len = total - prefix;
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(MAGIC);
    if prefix == 10 {
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&u16::try_from(header_len).unwrap_or(u16::MAX).to_le_bytes());
    } else {
        let len = u32::try_from(header_len)
            .map_err(|_| Error::Limit("shape too long for an .npy header".into()))?;
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&len.to_le_bytes());
    }
    bytes.extend_from_slice(dict.as_bytes());
    bytes.resize(total - 1, b' ');
    bytes.push(b'\n');
    out.write_all(&bytes)?;
    Ok(())
}

fn check_len(shape: &[usize], len: usize) -> Result<()> {
    let numel = checked_numel(shape)?;
    if numel != len {
        return Err(format_err!(
            "shape {shape:?} needs {numel} values, got {len}"
        ));
    }
    Ok(())
}

macro_rules! writers {
    ($($to:ident, $file:ident, $t:ty, $element:ident;)*) => {$(
        #[doc = concat!("Writes a C-order little-endian `", stringify!($t), "` array to `out`.")]
        pub fn $to(out: &mut dyn Write, shape: &[usize], data: &[$t]) -> Result<()> {
            check_len(shape, data.len())?;
            write_header(out, NpyElement::$element, shape)?;
            let mut buf = Vec::with_capacity(data.len().min(1 << 16) * size_of::<$t>());
            for chunk in data.chunks(1 << 16) {
                buf.clear();
                for v in chunk {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                out.write_all(&buf)?;
            }
            Ok(())
        }

        #[doc = concat!("Writes a `", stringify!($t), "` array to `path` atomically (temporary file \
            in the same directory, then rename).")]
        pub fn $file(path: &Path, shape: &[usize], data: &[$t]) -> Result<()> {
            write_atomically(path, |out| $to(out, shape, data))
        }
    )*};
}
writers! {
    write_f32_to, write_f32, f32, F32;
    write_f64_to, write_f64, f64, F64;
    write_u8_to, write_u8, u8, U8;
}
