//! The decoding of literal arguments (integers, protocol-0 strings); the opcode names are in
//! [`super::opcodes`].

use super::Value;

/// Decodes a two's-complement little-endian integer (LONG1/LONG4).
pub(super) fn long_from_le(bytes: &[u8]) -> Value {
    if bytes.len() <= 8 {
        let fill = if bytes.last().is_some_and(|&b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        let mut buf = [fill; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        Value::Int(i64::from_le_bytes(buf))
    } else {
        Value::BigInt(bytes.to_vec())
    }
}

/// Converts a decimal literal too large for `i64` into little-endian two's-complement bytes.
pub(super) fn decimal_to_long(text: &str) -> Option<Value> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: Vec<u8> = Vec::new(); // little-endian base 256
    for d in digits.bytes() {
        let mut carry = u32::from(d.checked_sub(b'0').filter(|d| *d < 10)?);
        for byte in &mut magnitude {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry > 0 {
            magnitude.push(carry as u8);
        }
    }
    magnitude.push(0); // room for the sign bit
    if negative {
        // Two's complement: invert and add one.
        let mut carry = 1u16;
        for byte in &mut magnitude {
            let v = u16::from(!*byte) + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
    }
    Some(Value::BigInt(magnitude))
}

/// Decodes a protocol-0 `STRING` argument: a quoted Python 2 literal with backslash escapes.
pub(super) fn unquote_py2_string(line: &str) -> Option<String> {
    let q = line.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = line.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Decodes a protocol-0 `UNICODE` argument (`raw-unicode-escape`: only `\uXXXX`/`\UXXXXXXXX`).
pub(super) fn decode_raw_unicode_escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let width = match tail.as_bytes().get(1) {
            Some(b'u') => 4,
            Some(b'U') => 8,
            _ => 0,
        };
        let code = tail
            .get(2..2 + width)
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        match code.and_then(char::from_u32) {
            Some(c) if width > 0 => {
                out.push(c);
                rest = &tail[2 + width..];
            }
            _ => {
                out.push('\\');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
