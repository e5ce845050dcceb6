//! Inflating miCOMPRESSED elements within [`ReadOptions`]'s limits.
//!
//! A compressed element holds one ordinary element, whose tag gives its size. The first bytes
//! are inflated to read that tag (and the variable's name, for errors); the declared size is
//! then checked against the limits before the rest is inflated, and inflating stops as soon as
//! the output passes it. So a 250 KB file claiming 260 MB is refused having inflated a few
//! hundred bytes, and one that lies in its tag is stopped where the lie starts.

use std::io::Read;

use super::parse::ReadOptions;

/// Bytes inflated first: the element's tag, array flags, dimensions and (short) name.
const PEEK_BYTES: usize = 256;
/// Compressed elements may hold up to 7 bytes of padding after the element.
const MAX_PADDING: usize = 7;

/// Inflates the compressed elements of one file, keeping the running totals.
pub(super) struct Inflater {
    options: ReadOptions,
    big_endian: bool,
    /// Compressed bytes of the elements inflated so far.
    compressed: usize,
    /// What they inflated to.
    inflated: usize,
}

impl Inflater {
    pub(super) fn new(options: ReadOptions, big_endian: bool) -> Self {
        Self {
            options,
            big_endian,
            compressed: 0,
            inflated: 0,
        }
    }

    /// Inflates one compressed element; the error says why it is refused.
    pub(super) fn inflate(&mut self, compressed: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let corrupt = |e: std::io::Error| format!("corrupt compressed element: {e}");
        let mut decoder = flate2::read::ZlibDecoder::new(compressed);
        let mut out = Vec::new();
        (&mut decoder)
            .take(PEEK_BYTES as u64)
            .read_to_end(&mut out)
            .map_err(corrupt)?;
        let (Some(first), Some(second)) = (self.u32_at(&out, 0), self.u32_at(&out, 4)) else {
            return Err(format!(
                "compressed element inflates to {} bytes, too few for an element tag",
                out.len()
            ));
        };
        // A small element (size in the tag's high 16 bits) is its 8-byte tag.
        let declared = if first >> 16 != 0 {
            8
        } else {
            8 + second as usize
        };
        let what = match variable_name(&out, self.big_endian) {
            Some(name) => format!("compressed variable '{name}'"),
            None => "compressed element".to_owned(),
        };
        self.check(&what, declared, compressed.len())?;
        let limit = declared + MAX_PADDING;
        decoder
            .take((limit + 1).saturating_sub(out.len()) as u64)
            .read_to_end(&mut out)
            .map_err(corrupt)?;
        if out.len() > limit {
            return Err(format!(
                "{what} inflates to more than the {declared} bytes its tag declares"
            ));
        }
        self.compressed += compressed.len();
        self.inflated += out.len();
        Ok(out)
    }

    /// Fails unless `declared` more bytes from `compressed` fit the limits.
    fn check(
        &self,
        what: &str,
        declared: usize,
        compressed: usize,
    ) -> std::result::Result<(), String> {
        let o = &self.options;
        if declared > o.inflate_allowance(compressed) {
            return Err(format!(
                "{what} declares {declared} bytes from {compressed} compressed ({}:1), more than \
                 the {}:1 accepted beyond {} bytes",
                declared / compressed.max(1),
                o.max_ratio,
                o.ratio_allowance
            ));
        }
        let total = self.inflated.saturating_add(declared);
        if total > o.max_decompressed_bytes {
            return Err(format!(
                "{what} declares {declared} bytes, past the {}-byte limit for the whole file \
                 ({total} bytes with the elements before it)",
                o.max_decompressed_bytes
            ));
        }
        let all_compressed = self.compressed.saturating_add(compressed);
        if total > o.inflate_allowance(all_compressed) {
            return Err(format!(
                "{what} declares {declared} bytes; with the elements before it that is {total} \
                 bytes from {all_compressed} compressed, more than the {}:1 accepted beyond {} \
                 bytes",
                o.max_ratio, o.ratio_allowance
            ));
        }
        Ok(())
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u32> {
        u32_at(bytes, at, self.big_endian)
    }
}

fn u32_at(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// The array name of a miMATRIX whose first bytes are `head`, if they reach it: the matrix
/// tag, then the array flags, dimensions and name sub-elements.
fn variable_name(head: &[u8], big_endian: bool) -> Option<String> {
    let mut pos = 8; // the miMATRIX tag
    for _ in 0..2 {
        // Array flags, then dimensions: full (8-byte) tags, data padded to 8 bytes.
        let len = u32_at(head, pos + 4, big_endian)? as usize;
        pos += 8 + len.checked_add(7)? / 8 * 8;
    }
    let first = u32_at(head, pos, big_endian)?;
    let ty = if first >> 16 != 0 {
        first & 0xffff
    } else {
        first
    };
    if ty != 1 && ty != 2 {
        return None; // not miINT8/miUINT8: not where a name should be
    }
    let name = if first >> 16 != 0 {
        // Small element: size in the high 16 bits, data inline.
        head.get(pos + 4..pos + 4 + ((first >> 16) as usize).min(4))?
    } else {
        let len = u32_at(head, pos + 4, big_endian)? as usize;
        head.get(pos + 8..pos + 8 + len)?
    };
    let name = String::from_utf8_lossy(name).into_owned();
    (!name.is_empty()).then_some(name)
}
