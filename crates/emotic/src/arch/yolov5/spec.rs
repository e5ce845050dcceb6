//! The YOLOv5 model dict (`model.yaml`, stored in the checkpoint) and the arithmetic YOLOv5's
//! `parse_model` applies to it: depth/width multiples, channel rounding, repeat counts.

use serde_json::Value;

use crate::{Error, Result};

/// One `[from, number, module, args]` row of `backbone` or `head`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayerSpec {
    /// Input layers: `-1` is the previous layer, other values are absolute indices.
    pub from: Vec<i64>,
    /// Repeat count as written in the yaml (before the depth multiple).
    pub number: usize,
    /// Module name, e.g. `Conv`, `C3`, `nn.Upsample`.
    pub module: String,
    /// Constructor arguments as written (strings like `'nc'`, `'None'` stay strings).
    pub args: Vec<Value>,
}

/// The parts of the model dict that define the architecture.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelSpec {
    pub nc: usize,
    pub depth_multiple: f64,
    pub width_multiple: f64,
    /// Anchors per level in pixels, as `[w0, h0, w1, h1, ...]`.
    pub anchors: Vec<Vec<f64>>,
    pub layers: Vec<LayerSpec>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Architecture(format!("YOLOv5 model dict: {}", msg.into()))
}

fn number(v: &Value, what: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| bad(format!("`{what}` is not a number: {v}")))
}

impl ModelSpec {
    /// Reads the model dict (`Checkpoint.meta["yaml"]`).
    pub(crate) fn from_json(yaml: &Value) -> Result<Self> {
        let obj = yaml.as_object().ok_or_else(|| bad("not a dict"))?;
        let field = |k: &str| obj.get(k).ok_or_else(|| bad(format!("missing `{k}`")));
        let nc = number(field("nc")?, "nc")?;
        if !(nc >= 1.0 && nc.fract() == 0.0 && nc <= 100_000.0) {
            return Err(bad(format!("`nc` = {nc} is not a class count")));
        }
        let depth_multiple = number(field("depth_multiple")?, "depth_multiple")?;
        let width_multiple = number(field("width_multiple")?, "width_multiple")?;
        if !(depth_multiple > 0.0
            && width_multiple > 0.0
            && depth_multiple <= 16.0
            && width_multiple <= 16.0)
        {
            return Err(bad("depth/width multiples must be in (0, 16]"));
        }
        if let Some(act) = obj.get("activation")
            && !act.is_null()
            && act
                .as_str()
                .is_none_or(|s| s.replace(' ', "") != "nn.SiLU()")
        {
            return Err(bad(format!(
                "only the default SiLU activation is supported, found {act}"
            )));
        }
        let anchors = match field("anchors")? {
            Value::Array(levels) => levels
                .iter()
                .map(|l| {
                    l.as_array()
                        .ok_or_else(|| bad("anchors must be a list of lists"))?
                        .iter()
                        .map(|v| number(v, "anchors"))
                        .collect::<Result<Vec<f64>>>()
                })
                .collect::<Result<Vec<_>>>()?,
            other => {
                return Err(bad(format!(
                    "`anchors` must be explicit pixel anchors, found {other}"
                )));
            }
        };
        let mut layers = Vec::new();
        for section in ["backbone", "head"] {
            let rows = field(section)?
                .as_array()
                .ok_or_else(|| bad(format!("`{section}` is not a list")))?;
            for row in rows {
                layers.push(parse_row(row)?);
            }
        }
        Ok(Self {
            nc: nc as usize,
            depth_multiple,
            width_multiple,
            anchors,
            layers,
        })
    }

    /// YOLOv5's repeat count: `max(round(n * gd), 1)` for `n > 1` (Python's round-half-even).
    pub(crate) fn repeats(&self, n: usize) -> usize {
        if n > 1 {
            (round_half_even(n as f64 * self.depth_multiple) as usize).max(1)
        } else {
            n
        }
    }

    /// YOLOv5's output channels: `make_divisible(c * gw, 8) = ceil(c * gw / 8) * 8`.
    pub(crate) fn channels(&self, c: f64) -> usize {
        ((c * self.width_multiple / 8.0).ceil() as usize) * 8
    }
}

fn parse_row(row: &Value) -> Result<LayerSpec> {
    let cells = row.as_array().filter(|c| c.len() == 4).ok_or_else(|| {
        bad(format!(
            "layer row {row} is not [from, number, module, args]"
        ))
    })?;
    let from = match &cells[0] {
        Value::Array(list) => list
            .iter()
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| bad(format!("bad `from` in {row}")))
            })
            .collect::<Result<_>>()?,
        v => vec![
            v.as_i64()
                .ok_or_else(|| bad(format!("bad `from` in {row}")))?,
        ],
    };
    let number = cells[1]
        .as_u64()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| bad(format!("bad repeat count in {row}")))? as usize;
    let module = cells[2]
        .as_str()
        .ok_or_else(|| bad(format!("bad module name in {row}")))?
        .to_owned();
    let args = cells[3]
        .as_array()
        .cloned()
        .ok_or_else(|| bad(format!("bad args in {row}")))?;
    Ok(LayerSpec {
        from,
        number,
        module,
        args,
    })
}

/// Python 3's `round()` for non-negative values: ties go to the even neighbour.
pub(crate) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - 1.0
    } else {
        r
    }
}

/// Argument `i` as an integer, `default` when absent or `None`.
pub(crate) fn int_arg(args: &[Value], i: usize, default: i64, layer: usize) -> Result<i64> {
    match args.get(i) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) if s == "None" => Ok(default),
        Some(v) => v.as_i64().ok_or_else(|| {
            bad(format!(
                "layer {layer}: argument {i} should be an integer, found {v}"
            ))
        }),
    }
}

/// Argument `i` as a bool, `default` when absent.
pub(crate) fn bool_arg(args: &[Value], i: usize, default: bool, layer: usize) -> Result<bool> {
    match args.get(i) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(bad(format!(
            "layer {layer}: argument {i} should be a bool, found {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python() {
        // Python: round(0.5) == 0, round(1.5) == 2, round(2.5) == 2, round(2.97) == 3.
        assert_eq!(round_half_even(0.5), 0.0);
        assert_eq!(round_half_even(1.5), 2.0);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(9.0 * 0.33), 3.0);
    }

    #[test]
    fn yolov5n_multiples() {
        let spec = ModelSpec {
            nc: 80,
            depth_multiple: 0.33,
            width_multiple: 0.25,
            anchors: vec![],
            layers: vec![],
        };
        // yolov5n: C3 x9 -> 3, x6 -> 2, x3 -> 1; Conv(64) -> 16, C3(1024) -> 256.
        assert_eq!(
            [
                spec.repeats(9),
                spec.repeats(6),
                spec.repeats(3),
                spec.repeats(1)
            ],
            [3, 2, 1, 1]
        );
        assert_eq!(spec.channels(64.0), 16);
        assert_eq!(spec.channels(1024.0), 256);
        // Widths that are not a multiple of 8 after scaling round up: 0.3 * 100 = 30 -> 32.
        let odd = ModelSpec {
            width_multiple: 0.3,
            ..spec
        };
        assert_eq!(odd.channels(100.0), 32);
    }
}
