//! Python literals as the reference CSV stores them: `str(list)` of numbers or strings.
//!
//! [`parse_list`] reads `[640, 480]`, `[86.0, 58.5]`, `['Engagement', "Doubt/Confusion"]`,
//! `[]`, `nan`/`inf`, and numpy 2 scalar reprs like `np.float64(5.0)`.
//! [`float_repr`] and [`str_repr`] write what Python's `repr` writes.

/// One element of a Python list literal.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    /// An int or float.
    Number(f64),
    /// A string.
    Str(String),
}

/// Parses a flat Python list literal. Errors say what was expected where.
pub fn parse_list(text: &str) -> Result<Vec<PyValue>, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
    };
    p.expect('[')?;
    let mut out = Vec::new();
    p.skip_ws();
    if p.peek() == Some(']') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            out.push(p.value()?);
            p.skip_ws();
            match p.next() {
                Some(',') => {
                    p.skip_ws();
                    if p.peek() == Some(']') {
                        p.pos += 1;
                        break;
                    }
                }
                Some(']') => break,
                other => return Err(format!("expected ',' or ']' at {}, found {other:?}", p.pos)),
            }
        }
    }
    p.skip_ws();
    if p.pos != chars.len() {
        return Err(format!("trailing text after the list at {}", p.pos));
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

    fn value(&mut self) -> Result<PyValue, String> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                self.string(q).map(PyValue::Str)
            }
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
            .is_some_and(|c| !matches!(c, ',' | ']' | '(' | ')') && !c.is_whitespace())
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
