//! YOLOv5 as an ONNX graph, built from a checkpoint's state dict and its model dict.
//!
//! The architecture is read from `meta["yaml"]` the way YOLOv5's `parse_model` reads it
//! (depth/width multiples, `make_divisible(c * gw, 8)`, repeat counts), so every size
//! (n/s/m/l/x and custom multiples) works; each weight is checked against the shape that
//! implies. Supported modules: `Conv`, `Focus`, `C3`, `Bottleneck`, `SPP`, `SPPF`,
//! `nn.Upsample`, `Concat`, `Detect`, which covers the v5.0 (Focus + SPP) and v6+
//! (6x6 stem + SPPF) layouts. `BottleneckCSP` is rejected: its activation changed between
//! releases (LeakyReLU(0.1) up to v5.0, SiLU later) and the state dict does not say which.
//!
//! BatchNorm eps: YOLOv5's `initialize_weights` sets `eps = 1e-3` (momentum 0.03) on every
//! BatchNorm2d; the module objects in `yolov5n.pt` confirm `eps == 0.001` on all 57 of them.
//! The eps is a module attribute, not a state-dict entry, so it is a constant here.
//!
//! Graph interface: input `images` `[1, 3, H, W]` (RGB, 0..1, H and W multiples of the largest
//! stride, symbolic in the graph), output `output0` `[1, rows, 5 + nc]` with decoded
//! `xc, yc, w, h` in input pixels, objectness and class scores (after sigmoid).

mod detect;
mod modules;
mod spec;

use std::path::Path;

use emotic_onnx::{Dim, ElemType, GraphBuilder};
use emotic_weights::Checkpoint;
use serde_json::Value;

use self::detect::DetectHead;
use self::modules::{Blocks, ConvArgs, Feature};
use self::spec::{LayerSpec, ModelSpec, bool_arg, int_arg};
use crate::arch::{PRODUCER, Params};
use crate::{Error, Result};

/// BatchNorm eps of every YOLOv5 BatchNorm2d (set by YOLOv5's `initialize_weights`).
pub const YOLOV5_BN_EPS: f64 = 1e-3;
/// Name of the graph input.
pub const INPUT_NAME: &str = "images";
/// Name of the graph output.
pub const OUTPUT_NAME: &str = "output0";

/// A built YOLOv5 graph and what a detector needs to know about it.
#[derive(Debug, Clone)]
pub struct Yolov5Graph {
    /// Serialised ONNX model.
    pub model: Vec<u8>,
    /// Class names indexed by class id.
    pub names: Vec<String>,
    /// Stride of each detection level (e.g. `[8, 16, 32]`).
    pub strides: Vec<u32>,
    /// Number of classes.
    pub nc: usize,
    /// Graph input name (`images`).
    pub input_name: String,
    /// Graph output name (`output0`).
    pub output_name: String,
}

impl Yolov5Graph {
    /// The largest stride: input sides must be a multiple of it.
    #[must_use]
    pub fn max_stride(&self) -> u32 {
        self.strides.iter().copied().max().unwrap_or(32)
    }

    /// Writes the ONNX model to `path` atomically (temporary file, then rename).
    ///
    /// # Errors
    /// [`Error::Graph`] wrapping the I/O error, naming `path`.
    pub fn write_onnx(&self, path: &Path) -> Result<()> {
        Ok(emotic_onnx::write_atomic(path, &self.model)?)
    }
}

/// Builds the YOLOv5 graph described by `ckpt.meta["yaml"]` with the weights in `ckpt.tensors`.
///
/// # Errors
/// [`Error::Architecture`] for a missing or malformed model dict, an unsupported module, a
/// missing weight or a weight whose shape differs from what the model dict implies (the
/// message names the key and both shapes).
pub fn build_yolov5(ckpt: &Checkpoint) -> Result<Yolov5Graph> {
    build_yolov5_with_input(ckpt, None)
}

/// Like [`build_yolov5`], but with the input size fixed to `input_hw` (height, width) when given,
/// as Ultralytics' own ONNX export does by default. The detector then letterboxes every image to
/// exactly that size.
///
/// # Errors
/// As [`build_yolov5`]; also when a fixed size is not a multiple of 32.
pub fn build_yolov5_with_input(
    ckpt: &Checkpoint,
    input_hw: Option<(usize, usize)>,
) -> Result<Yolov5Graph> {
    if let Some((fh, fw)) = input_hw
        && (fh == 0 || fw == 0 || fh % 32 != 0 || fw % 32 != 0)
    {
        return Err(Error::Architecture(format!(
            "a fixed input size must be a positive multiple of 32, got {fh}x{fw}"
        )));
    }
    let (spec, names) = model_dict(&ckpt.meta)?;

    let mut g = GraphBuilder::new("yolov5");
    let (h, w) = match input_hw {
        Some((fh, fw)) => (Dim::Fixed(fh), Dim::Fixed(fw)),
        None => (
            Dim::Symbolic("height".into()),
            Dim::Symbolic("width".into()),
        ),
    };
    let images = g.input(
        INPUT_NAME,
        ElemType::Float,
        vec![Dim::Fixed(1), Dim::Fixed(3), h, w],
    )?;
    let input = Feature {
        value: images,
        channels: 3,
        stride: 1,
    };
    let mut blocks = Blocks {
        g: &mut g,
        p: Params::new(&ckpt.tensors),
        bn_eps: YOLOV5_BN_EPS,
    };

    let mut outs: Vec<Feature> = Vec::with_capacity(spec.layers.len());
    let mut detect: Option<(String, Vec<usize>)> = None;
    for (i, layer) in spec.layers.iter().enumerate() {
        if detect.is_some() {
            return Err(Error::Architecture(format!(
                "layer {i} comes after Detect, which must be last"
            )));
        }
        let from = resolve_from(i, &layer.from, &outs, &input)?;
        let ctx = |e: Error| match e {
            Error::Architecture(m) => Error::Architecture(format!(
                "layer {i} ({} {}): {m} (depth_multiple {}, width_multiple {})",
                layer.module,
                Value::Array(layer.args.clone()),
                spec.depth_multiple,
                spec.width_multiple
            )),
            other => other,
        };
        if layer.module == "Detect" {
            let feats: Vec<Feature> = from.into_iter().cloned().collect();
            let head = detect_head(&spec, layer, i, &feats, &blocks.p).map_err(ctx)?;
            let value = head.build(blocks.g, &feats).map_err(ctx)?;
            detect = Some((value, feats.iter().map(|f| f.stride).collect()));
            continue;
        }
        let out = build_layer(&mut blocks, &spec, layer, i, &from).map_err(ctx)?;
        outs.push(out);
    }
    let Some((output, strides)) = detect else {
        return Err(Error::Architecture("model dict has no Detect layer".into()));
    };
    check_strides(ckpt.meta.get("stride"), &strides)?;

    let no = spec.nc + 5;
    g.output(
        &output,
        OUTPUT_NAME,
        ElemType::Float,
        vec![Dim::Fixed(1), Dim::Symbolic("rows".into()), Dim::Fixed(no)],
    )?;
    let max_stride = strides.iter().copied().max().unwrap_or(32);
    g.metadata("stride", &max_stride.to_string());
    g.metadata("names", &emotic_weights::pylit::names_dict_repr(&names));
    let strides: Vec<u32> = strides.iter().map(|&s| s as u32).collect();
    Ok(Yolov5Graph {
        model: g.finish(PRODUCER).encode(),
        names,
        strides,
        nc: spec.nc,
        input_name: INPUT_NAME.into(),
        output_name: OUTPUT_NAME.into(),
    })
}

/// Checks what [`build_yolov5`] needs from a checkpoint besides its weights: a readable model
/// dict (`yaml`) and class names. Call it on [`emotic_weights::LazyCheckpoint::meta`] so that a
/// file that is no YOLOv5 checkpoint is refused before its weights are read.
///
/// # Errors
/// [`Error::Architecture`] for a missing or malformed model dict or class names.
pub fn check_model_dict(meta: &serde_json::Map<String, Value>) -> Result<()> {
    model_dict(meta).map(|_| ())
}

/// The model dict and class names of a checkpoint's metadata.
fn model_dict(meta: &serde_json::Map<String, Value>) -> Result<(ModelSpec, Vec<String>)> {
    let yaml = meta.get("yaml").ok_or_else(|| {
        Error::Architecture(
            "checkpoint has no YOLOv5 model dict (`yaml`); is this a YOLOv5 checkpoint?".into(),
        )
    })?;
    let spec = ModelSpec::from_json(yaml)?;
    let names = class_names(meta.get("names"), spec.nc)?;
    Ok((spec, names))
}

/// The layers a row reads: `-1` is the previous layer (the image for layer 0).
fn resolve_from<'f>(
    i: usize,
    from: &[i64],
    outs: &'f [Feature],
    input: &'f Feature,
) -> Result<Vec<&'f Feature>> {
    from.iter()
        .map(|&f| {
            let idx = if f < 0 { i as i64 + f } else { f };
            if i == 0 && f == -1 {
                Ok(input)
            } else {
                usize::try_from(idx)
                    .ok()
                    .and_then(|k| outs.get(k))
                    .ok_or_else(|| {
                        Error::Architecture(format!(
                            "layer {i} reads layer {f}, which does not exist yet"
                        ))
                    })
            }
        })
        .collect()
}

fn single<'f>(from: &[&'f Feature], i: usize) -> Result<&'f Feature> {
    match from {
        [one] => Ok(one),
        _ => Err(Error::Architecture(format!(
            "layer {i} must read exactly one layer"
        ))),
    }
}

/// Output channels of `Conv`-like modules: `make_divisible(args[0] * gw, 8)`.
fn out_channels(spec: &ModelSpec, layer: &LayerSpec, i: usize) -> Result<usize> {
    let c = layer
        .args
        .first()
        .and_then(Value::as_f64)
        .filter(|c| *c >= 1.0 && *c <= 1e6)
        .ok_or_else(|| {
            Error::Architecture(format!("layer {i}: first argument must be a channel count"))
        })?;
    Ok(spec.channels(c))
}

fn build_layer(
    b: &mut Blocks<'_, '_>,
    spec: &ModelSpec,
    layer: &LayerSpec,
    i: usize,
    from: &[&Feature],
) -> Result<Feature> {
    let args = &layer.args;
    let n = spec.repeats(layer.number);
    let usize_arg = |k: usize, default: i64| -> Result<usize> {
        let v = int_arg(args, k, default, i)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v <= 1024)
            .ok_or_else(|| Error::Architecture(format!("argument {k} = {v} out of range")))
    };
    match layer.module.as_str() {
        "Concat" => {
            let dim = int_arg(args, 0, 1, i)?;
            if dim != 1 {
                return Err(Error::Architecture(format!(
                    "Concat along dimension {dim}; only 1 is supported"
                )));
            }
            let stride = from[0].stride;
            if from.iter().any(|f| f.stride != stride) {
                return Err(Error::Architecture(
                    "Concat of feature maps with different strides".into(),
                ));
            }
            let refs: Vec<&str> = from.iter().map(|f| f.value.as_str()).collect();
            let value = b.g.concat(&refs, 1)?;
            Ok(Feature {
                value,
                channels: from.iter().map(|f| f.channels).sum(),
                stride,
            })
        }
        "nn.Upsample" | "Upsample" => {
            let x = single(from, i)?;
            let scale = usize_arg(1, 2)?;
            let mode = args.get(2).and_then(Value::as_str).unwrap_or("nearest");
            if mode != "nearest" || scale == 0 || x.stride % scale != 0 {
                return Err(Error::Architecture(format!(
                    "Upsample mode {mode:?} scale {scale} is not supported"
                )));
            }
            let value = b.g.resize_nearest(&x.value, scale as f32)?;
            Ok(Feature {
                value,
                channels: x.channels,
                stride: x.stride / scale,
            })
        }
        "Conv" | "Focus" | "C3" | "Bottleneck" | "SPP" | "SPPF" => {
            let c2 = out_channels(spec, layer, i)?;
            let mut x = single(from, i)?.clone();
            // Modules other than the C3 family take their repeat as an nn.Sequential.
            let (repeats, inner_n) = if layer.module == "C3" { (1, n) } else { (n, 1) };
            for j in 0..repeats {
                let prefix = if repeats > 1 {
                    format!("model.{i}.{j}")
                } else {
                    format!("model.{i}")
                };
                x = match layer.module.as_str() {
                    "Conv" | "Focus" => {
                        let k = usize_arg(1, 1)?;
                        let s = usize_arg(2, 1)?.max(1);
                        let a = ConvArgs {
                            c2,
                            k,
                            s,
                            pad: usize_arg(3, (k / 2) as i64)?,
                            groups: usize_arg(4, 1)?.max(1),
                            act: bool_arg(args, 5, true, i)?,
                        };
                        if layer.module == "Focus" {
                            b.focus(&prefix, &x, a)?
                        } else {
                            b.conv(&prefix, &x, a)?
                        }
                    }
                    "C3" => b.c3(
                        &prefix,
                        &x,
                        c2,
                        inner_n,
                        bool_arg(args, 1, true, i)?,
                        usize_arg(2, 1)?.max(1),
                    )?,
                    "Bottleneck" => b.bottleneck(
                        &prefix,
                        &x,
                        c2,
                        bool_arg(args, 1, true, i)?,
                        usize_arg(2, 1)?.max(1),
                        0.5,
                    )?,
                    "SPPF" => b.sppf(&prefix, &x, c2, usize_arg(1, 5)?)?,
                    _ => b.spp(&prefix, &x, c2, &spp_kernels(args.get(1))?)?,
                };
            }
            Ok(x)
        }
        other => Err(Error::Architecture(format!(
            "module `{other}` is not supported"
        ))),
    }
}

fn spp_kernels(arg: Option<&Value>) -> Result<Vec<usize>> {
    match arg {
        None | Some(Value::Null) => Ok(vec![5, 9, 13]),
        Some(Value::Array(ks)) => ks
            .iter()
            .map(|k| {
                k.as_u64()
                    .filter(|&k| k % 2 == 1 && k <= 63)
                    .map(|k| k as usize)
                    .ok_or_else(|| {
                        Error::Architecture(format!("SPP kernel {k} must be an odd size"))
                    })
            })
            .collect(),
        Some(v) => Err(Error::Architecture(format!(
            "SPP kernels must be a list, found {v}"
        ))),
    }
}

fn detect_head<'a>(
    spec: &ModelSpec,
    layer: &LayerSpec,
    i: usize,
    feats: &[Feature],
    p: &Params<'a>,
) -> Result<DetectHead<'a>> {
    let prefix = format!("model.{i}");
    let nl = feats.len();
    let key = format!("{prefix}.anchors");
    // The stored anchors are in grid units (divided by the stride) and are what the model
    // was trained with (autoanchor may have changed them); the yaml's are the fallback.
    let anchors_px: Vec<Vec<f32>> = if p.contains(&key) {
        let t = p.ranked(&key, 3)?;
        if t.shape[0] != nl || t.shape[2] != 2 {
            return Err(Error::Architecture(format!(
                "weight `{key}`: expected shape [{nl}, na, 2], found {:?}",
                t.shape
            )));
        }
        let per_level = t.shape[1] * 2;
        t.data
            .chunks(per_level)
            .zip(feats)
            .map(|(a, f)| a.iter().map(|v| v * f.stride as f32).collect())
            .collect()
    } else {
        if spec.anchors.len() != nl
            || layer
                .args
                .get(1)
                .is_some_and(|a| a.as_str() != Some("anchors"))
        {
            return Err(Error::Architecture(format!(
                "missing weight `{key}` and the yaml anchors do not cover {nl} levels"
            )));
        }
        spec.anchors
            .iter()
            .map(|a| a.iter().map(|&v| v as f32).collect())
            .collect()
    };
    if anchors_px.iter().any(|a| a.is_empty() || a.len() % 2 != 0) {
        return Err(Error::Architecture(format!(
            "Detect `{prefix}` has malformed anchors"
        )));
    }
    Ok(DetectHead {
        prefix,
        nc: spec.nc,
        anchors_px,
        p: *p,
    })
}

/// Class names from `meta["names"]` (a list, or a dict keyed by id), checked against `nc`;
/// `class0`, `class1`, ... when the checkpoint has none.
fn class_names(names: Option<&Value>, nc: usize) -> Result<Vec<String>> {
    let list: Vec<String> = match names {
        None | Some(Value::Null) => return Ok((0..nc).map(|c| format!("class{c}")).collect()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        Some(Value::Object(m)) => {
            let mut entries: Vec<(usize, String)> = Vec::with_capacity(m.len());
            for (k, v) in m {
                let id = k.parse::<usize>().map_err(|_| {
                    Error::Architecture(format!("class name key {k:?} is not an id"))
                })?;
                entries.push((id, v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
            }
            entries.sort_by_key(|(id, _)| *id);
            entries.into_iter().map(|(_, n)| n).collect()
        }
        Some(v) => {
            return Err(Error::Architecture(format!(
                "`names` must be a list or dict, found {v}"
            )));
        }
    };
    if list.len() != nc {
        return Err(Error::Architecture(format!(
            "checkpoint has {} class names but nc = {nc}",
            list.len()
        )));
    }
    Ok(list)
}

/// Cross-checks the strides we derived from the architecture with `meta["stride"]`.
fn check_strides(stored: Option<&Value>, derived: &[usize]) -> Result<()> {
    let Some(Value::Array(values)) = stored else {
        return Ok(());
    };
    let stored: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
    let same = stored.len() == derived.len()
        && stored
            .iter()
            .zip(derived)
            .all(|(a, &b)| (a - b as f64).abs() < 1e-6);
    if same {
        Ok(())
    } else {
        Err(Error::Architecture(format!(
            "checkpoint strides {stored:?} differ from the architecture's {derived:?}"
        )))
    }
}
