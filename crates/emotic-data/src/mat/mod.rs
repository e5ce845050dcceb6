//! A MATLAB MAT-file version 5 (and 7, i.e. compressed v5) reader.
//!
//! Why our own: `matfile` reads numeric arrays only (no structs or cells, which
//! `Annotations.mat` is made of), `matio-rs` binds the C library `matio`, and `matrw` does
//! cover structs and cells but documents nothing about malformed input. EMOTIC annotations
//! come from the internet, so this reader guarantees what we need and fuzz: it never panics,
//! every count is checked against the bytes left before anything is allocated for it,
//! nesting depth is capped, and what compressed elements inflate to and values decode to is
//! capped and checked before it is allocated ([`ReadOptions`]).
//!
//! Covered: the 128-byte header (both byte orders), data element tags including the small
//! element format, miINT8..miUINT64, miSINGLE, miDOUBLE, miUTF8/16/32, miMATRIX with numeric
//! (real; complex is rejected), logical, char, cell and struct arrays (nested), and
//! miCOMPRESSED elements (zlib, via flate2). Sparse, object and function-handle arrays and
//! MAT v7.3 (HDF5) files are rejected with a clear error.

mod inflate;
mod parse;

pub use parse::{ReadOptions, parse_mat, read_mat_file};

/// The MATLAB class of a numeric array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericClass {
    /// `double`
    Double,
    /// `single`
    Single,
    /// `int8`
    Int8,
    /// `uint8`
    Uint8,
    /// `int16`
    Int16,
    /// `uint16`
    Uint16,
    /// `int32`
    Int32,
    /// `uint32`
    Uint32,
    /// `int64`
    Int64,
    /// `uint64`
    Uint64,
}

/// One MATLAB value. Arrays are stored column-major, as in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum MatValue {
    /// A real numeric or logical array. Values are widened to f64 (64-bit integers beyond
    /// 2^53 lose precision; EMOTIC has none).
    Numeric {
        /// Dimensions (at least two, MATLAB style).
        dims: Vec<usize>,
        /// The array's class.
        class: NumericClass,
        /// True for `logical` arrays.
        logical: bool,
        /// Column-major values.
        data: Vec<f64>,
    },
    /// A char array.
    Char {
        /// Dimensions.
        dims: Vec<usize>,
        /// Column-major characters.
        chars: Vec<char>,
    },
    /// A cell array.
    Cell {
        /// Dimensions.
        dims: Vec<usize>,
        /// Column-major cells.
        items: Vec<MatValue>,
    },
    /// A struct array.
    Struct {
        /// Dimensions.
        dims: Vec<usize>,
        /// Field names in file order.
        fields: Vec<String>,
        /// Column-major elements; each holds one value per field, in `fields` order.
        elements: Vec<Vec<MatValue>>,
    },
}

impl MatValue {
    /// The array's dimensions.
    pub fn dims(&self) -> &[usize] {
        match self {
            Self::Numeric { dims, .. }
            | Self::Char { dims, .. }
            | Self::Cell { dims, .. }
            | Self::Struct { dims, .. } => dims,
        }
    }

    /// Number of elements (product of dimensions).
    pub fn len(&self) -> usize {
        match self {
            Self::Numeric { data, .. } => data.len(),
            Self::Char { chars, .. } => chars.len(),
            Self::Cell { items, .. } => items.len(),
            Self::Struct { elements, .. } => elements.len(),
        }
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short description for error messages (`"1x3 struct"`, `"2x2 double"`).
    pub fn describe(&self) -> String {
        let dims = self
            .dims()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("x");
        let kind = match self {
            Self::Numeric { logical: true, .. } => "logical".to_string(),
            Self::Numeric { class, .. } => format!("{class:?}").to_lowercase(),
            Self::Char { .. } => "char".to_string(),
            Self::Cell { .. } => "cell".to_string(),
            Self::Struct { .. } => "struct".to_string(),
        };
        format!("{dims} {kind}")
    }

    /// Numeric values, if this is a numeric or logical array.
    pub fn as_numbers(&self) -> Option<&[f64]> {
        match self {
            Self::Numeric { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The text of a char array: a row vector as is; several rows joined with `\n`.
    pub fn as_string(&self) -> Option<String> {
        let Self::Char { dims, chars } = self else {
            return None;
        };
        let rows = dims.first().copied().unwrap_or(0);
        if rows <= 1 || chars.is_empty() {
            return Some(chars.iter().collect());
        }
        let cols = chars.len() / rows;
        let lines: Vec<String> = (0..rows)
            .map(|r| (0..cols).map(|c| chars[c * rows + r]).collect())
            .collect();
        Some(lines.join("\n"))
    }

    /// Cells of a cell array.
    pub fn as_cells(&self) -> Option<&[MatValue]> {
        match self {
            Self::Cell { items, .. } => Some(items),
            _ => None,
        }
    }

    /// Field names and elements of a struct array.
    pub fn as_struct(&self) -> Option<(&[String], &[Vec<MatValue>])> {
        match self {
            Self::Struct {
                fields, elements, ..
            } => Some((fields, elements)),
            _ => None,
        }
    }

    /// Field `name` of struct element `index`.
    pub fn field(&self, index: usize, name: &str) -> Option<&MatValue> {
        let (fields, elements) = self.as_struct()?;
        let f = fields.iter().position(|n| n == name)?;
        elements.get(index)?.get(f)
    }
}

/// A named top-level variable.
#[derive(Debug, Clone, PartialEq)]
pub struct MatVariable {
    /// Variable name.
    pub name: String,
    /// Its value.
    pub value: MatValue,
}

/// A parsed MAT file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatFile {
    /// The descriptive text of the header (`MATLAB 5.0 MAT-file, ...`), trimmed.
    pub header_text: String,
    /// Top-level variables in file order.
    pub variables: Vec<MatVariable>,
}

impl MatFile {
    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&MatValue> {
        self.variables
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.value)
    }
}
