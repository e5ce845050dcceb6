//! The reference preprocessed layout (`mat2py.py` output): `{split}_context_arr.npy`
//! (N,224,224,3 u8), `{split}_body_arr.npy` (N,128,128,3 u8), `{split}_cat_arr.npy` (N,26),
//! `{split}_cont_arr.npy` (N,3) and `{split}.csv` with Python-literal lists.

use std::fs::File;
use std::path::{Path, PathBuf};

use emotic_weights::npy::{self, NpyElement};

use crate::dataset::{Dataset, Provenance, multi_hot};
use crate::{BODY_SIZE, CATEGORIES, CONTEXT_SIZE, Error, ImageSize, Result};
use emotic_weights::pylit::{PyValue, float_list_repr, int_list_repr, parse_list, str_list_repr};

/// The CSV header, exactly.
pub const CSV_HEADER: [&str; 9] = [
    "Index",
    "Folder",
    "Filename",
    "Image Size",
    "BBox",
    "Categorical_Labels",
    "Continuous_Labels",
    "Gender",
    "Age",
];

/// Paths of one split's files in a reference directory.
#[derive(Debug, Clone)]
pub struct ReferencePaths {
    /// `{split}_context_arr.npy`
    pub context: PathBuf,
    /// `{split}_body_arr.npy`
    pub body: PathBuf,
    /// `{split}_cat_arr.npy`
    pub cat: PathBuf,
    /// `{split}_cont_arr.npy`
    pub cont: PathBuf,
    /// `{split}.csv`
    pub csv: PathBuf,
}

impl ReferencePaths {
    /// The files of `split` in `dir`.
    pub fn new(dir: &Path, split: &str) -> Self {
        Self {
            context: dir.join(format!("{split}_context_arr.npy")),
            body: dir.join(format!("{split}_body_arr.npy")),
            cat: dir.join(format!("{split}_cat_arr.npy")),
            cont: dir.join(format!("{split}_cont_arr.npy")),
            csv: dir.join(format!("{split}.csv")),
        }
    }
}

/// Splits CSV text into records of fields (RFC 4180 quoting, as Python's `csv` writes).
pub fn parse_csv(text: &str, path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let mut rows = Vec::new();
    let mut field = String::new();
    let mut fields = Vec::new();
    let (mut line, mut row_line) = (1usize, 1usize);
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() => in_quotes = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                fields.push(std::mem::take(&mut field));
                if !(fields.len() == 1 && fields[0].is_empty()) {
                    rows.push((row_line, std::mem::take(&mut fields)));
                }
                fields.clear();
                line += 1;
                row_line = line;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err(Error::Csv {
            path: path.display().to_string(),
            line: row_line,
            message: "unterminated quoted field".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        rows.push((row_line, fields));
    }
    Ok(rows)
}

/// Reads and validates `{split}.csv` into provenance entries (VAD from the CSV).
pub fn read_csv(path: &Path) -> Result<Vec<Provenance>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let rows = parse_csv(&text, path)?;
    let csv_err = |line: usize, message: String| Error::Csv {
        path: path.display().to_string(),
        line,
        message,
    };
    let Some((_, header)) = rows.first() else {
        return Err(csv_err(1, "empty file".into()));
    };
    let header: Vec<&str> = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}'))
        .collect();
    if header != CSV_HEADER {
        return Err(csv_err(
            1,
            format!("header {header:?}, expected {CSV_HEADER:?}"),
        ));
    }
    let mut out = Vec::with_capacity(rows.len() - 1);
    for (line, f) in &rows[1..] {
        let line = *line;
        if f.len() != CSV_HEADER.len() {
            return Err(csv_err(
                line,
                format!("{} fields, expected {}", f.len(), CSV_HEADER.len()),
            ));
        }
        let list = |col: usize| {
            parse_list(&f[col]).map_err(|m| csv_err(line, format!("{}: {m}", CSV_HEADER[col])))
        };
        let numbers = |col: usize, n: usize| -> Result<Vec<f64>> {
            let values = list(col)?;
            if values.len() != n {
                return Err(csv_err(
                    line,
                    format!("{}: {} values, expected {n}", CSV_HEADER[col], values.len()),
                ));
            }
            values
                .into_iter()
                .map(|v| match v {
                    PyValue::Number(x) => Ok(x),
                    PyValue::Str(s) => Err(csv_err(
                        line,
                        format!("{}: '{s}' is not a number", CSV_HEADER[col]),
                    )),
                    PyValue::Tuple(_) => Err(csv_err(
                        line,
                        format!("{}: a tuple is not a number", CSV_HEADER[col]),
                    )),
                })
                .collect()
        };
        let ints = |col: usize, n: usize| -> Result<Vec<u32>> {
            numbers(col, n)?
                .into_iter()
                .map(|x| {
                    if x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
                        Ok(x as u32)
                    } else {
                        Err(csv_err(
                            line,
                            format!("{}: {x} is not a non-negative integer", CSV_HEADER[col]),
                        ))
                    }
                })
                .collect()
        };
        let size = ints(3, 2)?;
        let bbox = ints(4, 4)?;
        let categories: Vec<String> = list(5)?
            .into_iter()
            .map(|v| match v {
                PyValue::Str(s) if CATEGORIES.contains(&s.as_str()) => Ok(s),
                other => Err(csv_err(
                    line,
                    format!("Categorical_Labels: {other:?} is not an EMOTIC category"),
                )),
            })
            .collect::<Result<_>>()?;
        let vad = numbers(6, 3)?;
        out.push(Provenance {
            folder: f[1].clone(),
            filename: f[2].clone(),
            image_size: [size[0], size[1]],
            bbox: [bbox[0], bbox[1], bbox[2], bbox[3]],
            categories,
            vad: [vad[0], vad[1], vad[2]],
            gender: f[7].clone(),
            age: f[8].clone(),
        });
    }
    Ok(out)
}

/// A memory-mapped u8 `.npy` image array of shape (N, height, width, 3).
pub struct NpyImages {
    map: Option<memmap2::Mmap>,
    offset: usize,
    /// Number of images.
    pub count: usize,
    /// Bytes per image.
    pub image_bytes: usize,
}

impl NpyImages {
    /// Opens and checks `path`: dtype uint8, C order, shape (N, height, width, 3).
    pub fn open(path: &Path, size: ImageSize) -> Result<Self> {
        let [height, width, _] = size.hwc();
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let header =
            npy::read_header(&mut file).map_err(|e| Error::invalid(path, e.to_string()))?;
        let shape = &header.shape;
        if header.dtype.element != NpyElement::U8
            || header.fortran_order
            || shape.len() != 4
            || shape[1..] != size.hwc()
        {
            return Err(Error::invalid(
                path,
                format!(
                    "expected a C-order uint8 array of shape (N, {height}, {width}, 3), found {:?} {:?}{}",
                    header.dtype.element,
                    shape,
                    if header.fortran_order {
                        " (Fortran order)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let data_len = header
            .data_len()
            .map_err(|e| Error::invalid(path, e.to_string()))?;
        let offset = usize::try_from(header.data_offset)
            .map_err(|_| Error::invalid(path, "header too large"))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if (offset as u64).saturating_add(data_len as u64) > file_len {
            return Err(Error::invalid(
                path,
                format!(
                    "truncated: header promises {data_len} data bytes, file has {}",
                    file_len.saturating_sub(offset as u64)
                ),
            ));
        }
        let map = if data_len == 0 {
            None
        } else {
            // SAFETY: read-only mapping of an input file we only read; see `dataset::map`.
            #[allow(unsafe_code)]
            let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
            Some(m)
        };
        Ok(Self {
            map,
            offset,
            count: shape[0],
            image_bytes: size.rgb_bytes(),
        })
    }

    /// Image `i`'s bytes.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.count {
            return None;
        }
        let start = self.offset + i * self.image_bytes;
        self.map
            .as_ref()
            .and_then(|m| m.get(start..start + self.image_bytes))
    }
}

/// The whole Input B of one split, validated for consistency.
pub struct ReferenceSplit {
    /// Context images.
    pub context: NpyImages,
    /// Body images.
    pub body: NpyImages,
    /// One entry per person, VAD and categories taken from the arrays.
    pub provenance: Vec<Provenance>,
}

/// Opens `{split}_*.npy` + `{split}.csv` and checks they agree (counts, categories vs
/// `cat_arr`, VAD vs `cont_arr`).
pub fn open_split(dir: &Path, split: &str) -> Result<ReferenceSplit> {
    let paths = ReferencePaths::new(dir, split);
    let context = NpyImages::open(&paths.context, CONTEXT_SIZE)?;
    let body = NpyImages::open(&paths.body, BODY_SIZE)?;
    let mut provenance = read_csv(&paths.csv)?;
    let cat = npy::read_npy_file(&paths.cat)?;
    let cont = npy::read_npy_file(&paths.cont)?;
    let n = provenance.len();
    for (path, count) in [(&paths.context, context.count), (&paths.body, body.count)] {
        if count != n {
            return Err(Error::invalid(
                path,
                format!("{count} images, {} has {n} rows", paths.csv.display()),
            ));
        }
    }
    if cat.shape != [n, 26] {
        return Err(Error::invalid(
            &paths.cat,
            format!("shape {:?}, expected ({n}, 26)", cat.shape),
        ));
    }
    if cont.shape != [n, 3] {
        return Err(Error::invalid(
            &paths.cont,
            format!("shape {:?}, expected ({n}, 3)", cont.shape),
        ));
    }
    let cat = cat.to_f64_vec();
    let cont = cont.to_f64_vec();
    for (i, p) in provenance.iter_mut().enumerate() {
        let row = &cat[i * 26..(i + 1) * 26];
        if let Some(v) = row.iter().find(|&&v| v != 0.0 && v != 1.0) {
            return Err(Error::invalid(
                &paths.cat,
                format!("row {i}: value {v} is not 0 or 1"),
            ));
        }
        let from_csv = multi_hot(&p.categories);
        if row.iter().zip(from_csv).any(|(&a, b)| a != f64::from(b)) {
            return Err(Error::invalid(
                &paths.cat,
                format!(
                    "row {i} disagrees with the CSV categories {:?}",
                    p.categories
                ),
            ));
        }
        let vad = [cont[i * 3], cont[i * 3 + 1], cont[i * 3 + 2]];
        if vad.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                &paths.cont,
                format!("row {i}: non-finite VAD {vad:?}"),
            ));
        }
        if vad != p.vad {
            return Err(Error::invalid(
                &paths.cont,
                format!("row {i}: VAD {vad:?} disagrees with the CSV {:?}", p.vad),
            ));
        }
        p.vad = vad;
    }
    Ok(ReferenceSplit {
        context,
        body,
        provenance,
    })
}

/// Writes `{split}.csv` in the reference layout (Index = row number), atomically.
pub fn write_csv(path: &Path, provenance: &[Provenance]) -> Result<()> {
    let mut text = CSV_HEADER.join(",");
    text.push('\n');
    for (i, p) in provenance.iter().enumerate() {
        let fields = [
            i.to_string(),
            p.folder.clone(),
            p.filename.clone(),
            int_list_repr(&p.image_size),
            int_list_repr(&p.bbox),
            str_list_repr(&p.categories),
            float_list_repr(&p.vad),
            p.gender.clone(),
            p.age.clone(),
        ];
        let quoted: Vec<String> = fields
            .iter()
            .map(|f| {
                if f.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        text.push_str(&quoted.join(","));
        text.push('\n');
    }
    emotic_atomic::write(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Exports a prepared split back to the reference layout in `dir`.
pub fn export_split(dataset: &Dataset, dir: &Path, split: &str) -> Result<ReferencePaths> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let paths = ReferencePaths::new(dir, split);
    let n = dataset.len();
    let images = |size: ImageSize| {
        let [h, w, c] = size.hwc();
        [n, h, w, c]
    };
    npy::write_u8(
        &paths.context,
        &images(CONTEXT_SIZE),
        dataset.context_bytes(),
    )?;
    npy::write_u8(&paths.body, &images(BODY_SIZE), dataset.body_bytes())?;
    // float64 like the reference's np.array of Python floats.
    let cat: Vec<f64> = dataset
        .provenance()
        .iter()
        .flat_map(|p| multi_hot(&p.categories).map(f64::from))
        .collect();
    let cont: Vec<f64> = dataset.provenance().iter().flat_map(|p| p.vad).collect();
    npy::write_f64(&paths.cat, &[n, 26], &cat)?;
    npy::write_f64(&paths.cont, &[n, 3], &cont)?;
    write_csv(&paths.csv, dataset.provenance())?;
    Ok(paths)
}
