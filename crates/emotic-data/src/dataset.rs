//! Our dataset format, one directory per split, made for random access in training:
//!
//! | file | contents |
//! |---|---|
//! | `context.u8` | N x 224 x 224 x 3 RGB bytes, row-major, memory-mapped by [`Dataset`] |
//! | `body.u8` | N x 128 x 128 x 3 RGB bytes |
//! | `cat.f32` | N x 26 multi-hot, little-endian f32 |
//! | `vad.f32` | N x 3 VAD on 1-10, little-endian f32 |
//! | `index.jsonl` | one [`Provenance`] per record (file, box, exact labels) |
//! | `meta.json` | [`Meta`]: format name and version, counts, skip counts, source |
//!
//! [`DatasetWriter`] fills a temporary sibling directory and renames it into place when
//! finished, so a split directory is either complete or absent and a rerun replaces it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{BODY_BYTES, BODY_SIZE, CATEGORIES, CONTEXT_BYTES, CONTEXT_SIZE, Error, Result};

/// Name stored in `meta.json`.
pub const FORMAT_NAME: &str = "emotic-dataset";
/// Version stored in `meta.json`; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Where a record comes from, plus its exact labels (`vad` in f64 as in the source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Image folder relative to `emotic/`.
    pub folder: String,
    /// Image file name.
    pub filename: String,
    /// Image size fields (x clamp, y clamp).
    pub image_size: [u32; 2],
    /// Body box `[x1, y1, x2, y2]` in pixels.
    pub bbox: [u32; 4],
    /// Category names in reference order.
    pub categories: Vec<String>,
    /// VAD as stored in the source (f64).
    pub vad: [f64; 3],
    /// Gender string.
    pub gender: String,
    /// Age string.
    pub age: String,
}

/// `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Split name.
    pub split: String,
    /// Number of records.
    pub count: usize,
    /// `[224, 224, 3]`.
    pub context_shape: [usize; 3],
    /// `[128, 128, 3]`.
    pub body_shape: [usize; 3],
    /// Category names in order.
    pub categories: Vec<String>,
    /// Persons left out, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// What it was made from (input kind and path).
    pub source: String,
    /// Tool and version that wrote it.
    pub created_by: String,
}

/// One record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedRecord {
    /// 224 x 224 x 3 RGB.
    pub context: Vec<u8>,
    /// 128 x 128 x 3 RGB.
    pub body: Vec<u8>,
    /// Provenance and exact labels.
    pub provenance: Provenance,
}

/// A record read from a [`Dataset`], borrowing the memory-mapped images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record<'a> {
    /// 224 x 224 x 3 RGB bytes.
    pub context: &'a [u8],
    /// 128 x 128 x 3 RGB bytes.
    pub body: &'a [u8],
    /// Multi-hot categories.
    pub cat: [f32; 26],
    /// Valence, arousal, dominance on 1-10.
    pub vad: [f32; 3],
    /// Where it comes from.
    pub provenance: &'a Provenance,
}

/// Multi-hot vector of category names (unknown names are ignored; inputs are validated).
pub fn multi_hot(names: &[String]) -> [f32; 26] {
    let mut out = [0.0; 26];
    for n in names {
        if let Some(i) = CATEGORIES.iter().position(|c| c == n) {
            out[i] = 1.0;
        }
    }
    out
}

/// Writes one split atomically.
pub struct DatasetWriter {
    final_dir: PathBuf,
    tmp_dir: PathBuf,
    context: BufWriter<File>,
    body: BufWriter<File>,
    cat: BufWriter<File>,
    vad: BufWriter<File>,
    index: BufWriter<File>,
    count: usize,
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(
        1 << 20,
        File::create(path).map_err(|e| Error::io(path, e))?,
    ))
}

impl DatasetWriter {
    /// Starts writing `dir` (e.g. `out/train`); nothing appears there until [`Self::finish`].
    pub fn create(dir: &Path) -> Result<Self> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let tmp_dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if tmp_dir.exists() {
            std::fs::remove_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        }
        std::fs::create_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        Ok(Self {
            context: create(&tmp_dir.join("context.u8"))?,
            body: create(&tmp_dir.join("body.u8"))?,
            cat: create(&tmp_dir.join("cat.f32"))?,
            vad: create(&tmp_dir.join("vad.f32"))?,
            index: create(&tmp_dir.join("index.jsonl"))?,
            final_dir: dir.to_path_buf(),
            tmp_dir,
            count: 0,
        })
    }

    /// Records written so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a record.
    pub fn push(&mut self, r: &OwnedRecord) -> Result<()> {
        let tmp = &self.tmp_dir;
        if r.context.len() != CONTEXT_BYTES || r.body.len() != BODY_BYTES {
            return Err(Error::invalid(
                tmp,
                format!(
                    "record {}: image sizes {} / {} bytes",
                    self.count,
                    r.context.len(),
                    r.body.len()
                ),
            ));
        }
        let io = |e| Error::io(tmp, e);
        self.context.write_all(&r.context).map_err(io)?;
        self.body.write_all(&r.body).map_err(io)?;
        for v in multi_hot(&r.provenance.categories) {
            self.cat.write_all(&v.to_le_bytes()).map_err(io)?;
        }
        for v in r.provenance.vad {
            self.vad.write_all(&(v as f32).to_le_bytes()).map_err(io)?;
        }
        let line = serde_json::to_string(&r.provenance).map_err(|source| Error::Json {
            path: tmp.display().to_string(),
            source,
        })?;
        writeln!(self.index, "{line}").map_err(io)?;
        self.count += 1;
        Ok(())
    }

    /// Writes `meta.json`, flushes everything and moves the directory into place,
    /// replacing an older one.
    pub fn finish(
        self,
        split: &str,
        skipped: BTreeMap<String, usize>,
        source: &str,
    ) -> Result<Meta> {
        let tmp = self.tmp_dir.clone();
        for mut w in [self.context, self.body, self.cat, self.vad, self.index] {
            w.flush().map_err(|e| Error::io(&tmp, e))?;
            w.get_ref().sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        let meta = Meta {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            split: split.into(),
            count: self.count,
            context_shape: CONTEXT_SIZE.hwc(),
            body_shape: BODY_SIZE.hwc(),
            categories: CATEGORIES.iter().map(|s| (*s).to_string()).collect(),
            skipped,
            source: source.into(),
            created_by: format!("emotic-data {}", env!("CARGO_PKG_VERSION")),
        };
        let meta_path = tmp.join("meta.json");
        let text = serde_json::to_string_pretty(&meta).map_err(|source| Error::Json {
            path: meta_path.display().to_string(),
            source,
        })?;
        std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))?;
        let final_dir = self.final_dir;
        if final_dir.exists() {
            let old = tmp.with_extension("old");
            std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
            std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        } else {
            std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        }
        Ok(meta)
    }
}

/// A prepared split, images memory-mapped.
pub struct Dataset {
    dir: PathBuf,
    meta: Meta,
    context: Mapped,
    body: Mapped,
    cat: Vec<f32>,
    vad: Vec<f32>,
    provenance: Vec<Provenance>,
}

enum Mapped {
    Empty,
    Map(memmap2::Mmap),
}

impl Mapped {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Empty => &[],
            Self::Map(m) => m,
        }
    }
}

fn map(path: &Path, expected: usize) -> Result<Mapped> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len != expected as u64 {
        return Err(Error::invalid(
            path,
            format!("{len} bytes, meta.json implies {expected}"),
        ));
    }
    if expected == 0 {
        return Ok(Mapped::Empty);
    }
    // SAFETY: the file is opened read-only and the dataset files are written once (atomic
    // rename) and never modified in place; the usual mmap caveat (another process truncating
    // the file) is documented for users of prepared datasets.
    #[allow(unsafe_code)]
    let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(Mapped::Map(m))
}

fn read_f32s(path: &Path, expected: usize) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() != expected * 4 {
        return Err(Error::invalid(
            path,
            format!("{} bytes, expected {}", bytes.len(), expected * 4),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Dataset {
    /// Opens a split directory written by [`DatasetWriter`].
    pub fn open(dir: &Path) -> Result<Self> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: Meta = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: meta_path.display().to_string(),
            source,
        })?;
        if meta.format != FORMAT_NAME || meta.version != FORMAT_VERSION {
            return Err(Error::invalid(
                &meta_path,
                format!(
                    "format {} v{}, this build reads {FORMAT_NAME} v{FORMAT_VERSION}",
                    meta.format, meta.version
                ),
            ));
        }
        let n = meta.count;
        let too_big = || Error::invalid(&meta_path, format!("count {n} is implausible"));
        let context = map(
            &dir.join("context.u8"),
            n.checked_mul(CONTEXT_BYTES).ok_or_else(too_big)?,
        )?;
        let body = map(
            &dir.join("body.u8"),
            n.checked_mul(BODY_BYTES).ok_or_else(too_big)?,
        )?;
        let cat = read_f32s(&dir.join("cat.f32"), n * 26)?;
        let vad = read_f32s(&dir.join("vad.f32"), n * 3)?;
        let index_path = dir.join("index.jsonl");
        let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
        let provenance = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|source| Error::Json {
                    path: index_path.display().to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<Provenance>>>()?;
        if provenance.len() != n {
            return Err(Error::invalid(
                &index_path,
                format!("{} lines, meta.json says {n}", provenance.len()),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
            context,
            body,
            cat,
            vad,
            provenance,
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.meta.count
    }

    /// True when the split has no records.
    pub fn is_empty(&self) -> bool {
        self.meta.count == 0
    }

    /// `meta.json`.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Record `i`, or None past the end.
    pub fn get(&self, i: usize) -> Option<Record<'_>> {
        let provenance = self.provenance.get(i)?;
        let mut cat = [0.0; 26];
        cat.copy_from_slice(&self.cat[i * 26..(i + 1) * 26]);
        let mut vad = [0.0; 3];
        vad.copy_from_slice(&self.vad[i * 3..(i + 1) * 3]);
        Some(Record {
            context: &self.context.bytes()[i * CONTEXT_BYTES..(i + 1) * CONTEXT_BYTES],
            body: &self.body.bytes()[i * BODY_BYTES..(i + 1) * BODY_BYTES],
            cat,
            vad,
            provenance,
        })
    }

    /// All context bytes (N x 224 x 224 x 3), e.g. for export.
    pub fn context_bytes(&self) -> &[u8] {
        self.context.bytes()
    }

    /// All body bytes (N x 128 x 128 x 3).
    pub fn body_bytes(&self) -> &[u8] {
        self.body.bytes()
    }

    /// All multi-hot categories, person-major (N x 26).
    pub fn cat(&self) -> &[f32] {
        &self.cat
    }

    /// All VAD values, person-major (N x 3).
    pub fn vad(&self) -> &[f32] {
        &self.vad
    }

    /// All provenance entries.
    pub fn provenance(&self) -> &[Provenance] {
        &self.provenance
    }
}
