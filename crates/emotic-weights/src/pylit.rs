//! Python literals, read and written the way Python does: the one parser for the flat lists
//! of the reference CSV (`str(list)`) and the `names` dict of Ultralytics models.
//!
//! [`parse_list`] reads `[640, 480]`, `[86.0, 58.5]`, `['Engagement', "Doubt/Confusion"]`,
//! `[]`, `nan`/`inf`, and numpy 2 scalar reprs like `np.float64(5.0)`; [`parse_dict`] reads
//! `{0: 'person', 1: "traffic, light"}` and, with tuples and `True`/`False`, the header dict of
//! `.npy` files. [`float_repr`] and [`str_repr`] write what Python's
//! `repr` writes, and the `*_repr` helpers build lists and dicts from them.

/// One element of a Python list literal, or a key or value of a dict literal.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// An int or float.
    Number(f64),
    /// A string.
    Str(String),
    /// A tuple of values, like the `shape` of a `.npy` header: `(3, 4)`, `(3,)`, `()`.
    Tuple(Vec<PyValue>),
}

/// Parses a flat Python list literal. Errors say what was expected where.
pub fn parse_list(text: &str) -> Result<Vec<PyValue>, String> {
    parse_whole(text, "list", |p| p.items(('[', ']'), Parser::value))
}

/// Parses a flat Python dict literal (keys and values numbers or strings), in its order.
/// Errors say what was expected where.
pub fn parse_dict(text: &str) -> Result<Vec<(PyValue, PyValue)>, String> {
    parse_whole(text, "dict", |p| {
        p.items(('{', '}'), |p| {
            let key = p.value()?;
            p.skip_ws();
            p.expect(':')?;
            p.skip_ws();
            Ok((key, p.value()?))
        })
    })
}

/// Runs `parse` over all of `text` (surrounding whitespace allowed, nothing else).
fn parse_whole<T>(
    text: &str,
    what: &str,
    parse: impl FnOnce(&mut Parser<'_>) -> Result<T, String>,
) -> Result<T, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
    };
    let out = parse(&mut p)?;
    p.skip_ws();
    if p.pos != chars.len() {
        return Err(format!("trailing text after the {what} at {}", p.pos));
    }
    Ok(out)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(x) if x == c => Ok(()),
            other => Err(format!("expected '{c}' at {}, found {other:?}", self.pos)),
        }
    }

    /// `open item, item, ... close`, a trailing comma allowed.
    fn items<T>(
        &mut self,
        (open, close): (char, char),
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.expect(open)?;
        let mut out = Vec::new();
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            self.skip_ws();
            out.push(item(self)?);
            self.skip_ws();
            match self.next() {
                Some(',') => {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some(c) if c == close => return Ok(out),
                other => {
                    return Err(format!(
                        "expected ',' or '{close}' at {}, found {other:?}",
                        self.pos
                    ));
                }
            }
        }
    }

    fn value(&mut self) -> Result<PyValue, String> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                self.string(q).map(PyValue::Str)
            }
            Some('(') => self.items(('(', ')'), Parser::value).map(PyValue::Tuple),
            Some(_) => self.number().map(PyValue::Number),
            None => Err("unexpected end of list".into()),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        let mut s = String::new();
        loop {
            match self.next() {
                None => return Err("unterminated string".into()),
                Some(c) if c == quote => return Ok(s),
                Some('\\') => match self.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('x') => s.push(self.hex(2)?),
                    Some('u') => s.push(self.hex(4)?),
                    Some('U') => s.push(self.hex(8)?),
                    Some(c) => s.push(c),
                    None => return Err("unterminated escape".into()),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn hex(&mut self, n: usize) -> Result<char, String> {
        let digits: String = (0..n).filter_map(|_| self.next()).collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad escape \\{digits}"))
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !matches!(c, ',' | ']' | '}' | ':' | '(' | ')') && !c.is_whitespace())
        {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        if self.peek() == Some('(') && word.starts_with("np.") {
            // numpy 2 scalar repr: np.float64(5.0)
            self.pos += 1;
            self.skip_ws();
            let v = self.number()?;
            self.skip_ws();
            self.expect(')')?;
            return Ok(v);
        }
        match word.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "True" => Ok(1.0),
            "False" => Ok(0.0),
            // Python 2 longs (`3L`), as old `.npy` headers write shapes.
            w if w.len() > 1
                && w.ends_with('L')
                && w[..w.len() - 1].bytes().all(|b| b.is_ascii_digit()) =>
            {
                w[..w.len() - 1]
                    .parse::<f64>()
                    .map_err(|_| format!("'{w}' is not a number"))
            }
            w => w
                .parse::<f64>()
                .map_err(|_| format!("'{w}' is not a number")),
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values, exponent
/// form below 1e-4 and from 1e16 (`1e-05`, `1.5e+16`).
pub fn float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let fixed = format!("{v}");
    if fixed.contains('.') {
        fixed
    } else {
        format!("{fixed}.0")
    }
}

/// Python's `repr(str)` for the strings EMOTIC has (quotes chosen like Python does).
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str(list)` of strings.
pub fn str_list_repr(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| str_repr(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `str(list)` of ints.
pub fn int_list_repr(items: &[u32]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `str(list)` of floats.
pub fn float_list_repr(items: &[f64]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|&v| float_repr(v))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `repr(dict)` of class names keyed by their id, as Ultralytics stores `names` in model
/// metadata: `{0: 'person', 1: 'bicycle'}`.
pub fn names_dict_repr(names: &[String]) -> String {
    format!(
        "{{{}}}",
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}: {}", str_repr(n)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Class names from a `names` dict literal, ordered by id; `None` unless every key is a
/// non-negative integer and every value a string.
pub fn parse_names_dict(text: &str) -> Option<Vec<String>> {
    let mut entries = parse_dict(text)
        .ok()?
        .into_iter()
        .map(|(key, value)| match (key, value) {
            (PyValue::Number(id), PyValue::Str(name)) if id >= 0.0 && id.fract() == 0.0 => {
                Some((id as u64, name))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    entries.sort_by_key(|(id, _)| *id);
    Some(entries.into_iter().map(|(_, name)| name).collect())
}
