//! Picks the model out of a decoded `torch.save` object and flattens it into a state dict of
//! tensor views, whose data is read later, when asked for ([`crate::LazyCheckpoint`]).

use super::StorageSource;
use super::storage::{dtype_size, materialize_view, parse_storage_pid};
use crate::error::format_err;
use crate::pickle::{TensorRef, Value};
use crate::{Error, Result, Tensor};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Tensors up to this many elements that are plain module attributes (YOLOv5 `stride`,
/// `class_weights`) are copied into the metadata as JSON arrays.
const MAX_META_TENSOR: usize = 4096;
/// Nesting bound for module trees and metadata conversion.
const MAX_DEPTH: usize = 200;
/// Entries of a training checkpoint dict that hold models or optimiser state, never metadata.
const NOT_META: &[&str] = &["model", "ema", "optimizer", "state_dict", "updates"];

/// What [`select`] found: the model's tensor views, not yet read, and its metadata.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// State-dict names and the views they refer to.
    pub tensors: BTreeMap<String, TensorRef>,
    /// As [`crate::Checkpoint::meta`].
    pub meta: serde_json::Map<String, Json>,
    /// As [`crate::Checkpoint::module_class`].
    pub module_class: Option<String>,
}

/// Picks the model out of the root object of a checkpoint. Only small metadata tensors
/// (YOLOv5 `stride`) are read here; the state dict's tensors are not.
pub(crate) fn select(root: &Value, src: &mut dyn StorageSource) -> Result<Selection> {
    let mut ckpt = Selection::default();
    match root {
        Value::Object { class, .. } => {
            flatten_module(root, "", &mut ckpt.tensors, 0)?;
            module_meta(root, &mut ckpt.meta, src)?;
            ckpt.module_class = Some(class.clone());
        }
        Value::Dict(pairs) => {
            let ema = root
                .get("ema")
                .filter(|v| matches!(v, Value::Object { .. }));
            let model = root.get("model");
            let state_dict = root.get("state_dict");
            if let Some(module @ Value::Object { class, .. }) = ema.or(model) {
                // YOLOv5's attempt_load prefers the EMA weights when present.
                flatten_module(module, "", &mut ckpt.tensors, 0)?;
                module_meta(module, &mut ckpt.meta, src)?;
                ckpt.module_class = Some(class.clone());
                outer_meta(pairs, &mut ckpt.meta, src)?;
            } else if let Some(dict @ Value::Dict(_)) = state_dict.or(model) {
                state_dict_tensors(dict, &mut ckpt.tensors);
                outer_meta(pairs, &mut ckpt.meta, src)?;
            } else {
                state_dict_tensors(root, &mut ckpt.tensors);
                if ckpt.tensors.is_empty() {
                    return Err(format_err!(
                        "the pickled dict holds no tensors, module, 'model', 'ema' or 'state_dict'"
                    ));
                }
            }
        }
        other => {
            return Err(format_err!(
                "the file holds a {} instead of a module or a state dict",
                other.kind()
            ));
        }
    }
    Ok(ckpt)
}

/// Reads one tensor's data, naming it in errors.
pub(crate) fn load_tensor(
    name: &str,
    t: &TensorRef,
    src: &mut dyn StorageSource,
) -> Result<Tensor> {
    let mut inner = || -> Result<Tensor> {
        let sid = parse_storage_pid(&t.storage)?;
        let big_endian = src.big_endian();
        let bytes = src.storage(&sid)?;
        let claimed = sid.numel.checked_mul(dtype_size(sid.dtype));
        if sid.view_offset == 0 && claimed != Some(bytes.len()) {
            return Err(format_err!(
                "storage {} claims {} elements but the file holds {} bytes of {:?}",
                sid.key,
                sid.numel,
                bytes.len(),
                sid.dtype
            ));
        }
        materialize_view(t, &sid, &bytes, big_endian)
    };
    inner().map_err(|e| match e {
        Error::Format(m) => format_err!("tensor {name}: {m}"),
        Error::Limit(m) => Error::Limit(format!("tensor {name}: {m}")),
        other => other,
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Adds `_parameters` and persistent `_buffers` of `module` and, recursively, of its
/// `_modules`, named like `module.state_dict()` would name them.
fn flatten_module(
    module: &Value,
    prefix: &str,
    out: &mut BTreeMap<String, TensorRef>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Limit(format!(
            "modules nested deeper than {MAX_DEPTH} at {prefix}"
        )));
    }
    let Value::Object {
        class,
        state: Some(state),
        ..
    } = module
    else {
        return Err(format_err!("module {prefix:?} has no state (__dict__)"));
    };
    let non_persistent: Vec<&str> = match state.get("_non_persistent_buffers_set") {
        Some(Value::Set(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for (field, persistent_only) in [("_parameters", false), ("_buffers", true)] {
        let Some(Value::Dict(entries)) = state.get(field) else {
            continue;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            if persistent_only && non_persistent.contains(&name) {
                continue;
            }
            match value {
                Value::Tensor(t) => {
                    out.insert(join(prefix, name), t.clone());
                }
                Value::None => {} // e.g. `bias=False`
                other => {
                    return Err(format_err!(
                        "{class} {prefix:?}: {field}[{name:?}] is a {}, not a tensor",
                        other.kind()
                    ));
                }
            }
        }
    }
    if let Some(Value::Dict(children)) = state.get("_modules") {
        for (key, child) in children {
            let Some(name) = key.as_str() else { continue };
            if matches!(child, Value::None) {
                continue;
            }
            flatten_module(child, &join(prefix, name), out, depth + 1)?;
        }
    }
    Ok(())
}

/// Plain attributes of a module (`yaml`, `names`, `stride`, `nc`, ...) as JSON.
fn module_meta(
    module: &Value,
    meta: &mut serde_json::Map<String, Json>,
    src: &mut dyn StorageSource,
) -> Result<()> {
    let Value::Object {
        state: Some(state), ..
    } = module
    else {
        return Ok(());
    };
    let Value::Dict(pairs) = state.as_ref() else {
        return Ok(());
    };
    for (key, value) in pairs {
        let Some(name) = key.as_str() else { continue };
        if name.starts_with('_') || name == "training" {
            continue;
        }
        if let Some(json) = to_json(value, name, src, 0)? {
            meta.insert(name.to_owned(), json);
        }
    }
    Ok(())
}

/// Entries of the enclosing training checkpoint dict (`epoch`, `date`, `arch`, ...).
fn outer_meta(
    pairs: &[(Value, Value)],
    meta: &mut serde_json::Map<String, Json>,
    src: &mut dyn StorageSource,
) -> Result<()> {
    for (key, value) in pairs {
        let Some(name) = key.as_str() else { continue };
        if NOT_META.contains(&name) || meta.contains_key(name) {
            continue;
        }
        if let Some(json) = to_json(value, name, src, 0)? {
            meta.insert(name.to_owned(), json);
        }
    }
    Ok(())
}

/// The tensors of a state dict, dropping a `DataParallel` `module.` prefix from keys.
fn state_dict_tensors(dict: &Value, out: &mut BTreeMap<String, TensorRef>) {
    let Value::Dict(pairs) = dict else {
        return;
    };
    for (key, value) in pairs {
        let (Some(name), Value::Tensor(t)) = (key.as_str(), value) else {
            continue;
        };
        let name = name.strip_prefix("module.").unwrap_or(name);
        out.insert(name.to_owned(), t.clone());
    }
}

/// Converts plain data to JSON; `None` for things that are not data (modules, large tensors).
fn to_json(
    v: &Value,
    name: &str,
    src: &mut dyn StorageSource,
    depth: usize,
) -> Result<Option<Json>> {
    if depth > MAX_DEPTH {
        return Ok(None);
    }
    let mut go = |c: &Value| to_json(c, name, src, depth + 1);
    Ok(Some(match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            let mut arr = Vec::with_capacity(items.len());
            for item in items {
                match go(item)? {
                    Some(j) => arr.push(j),
                    None => return Ok(None),
                }
            }
            Json::Array(arr)
        }
        Value::Dict(pairs) => {
            let mut map = serde_json::Map::new();
            for (k, val) in pairs {
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                if let Some(j) = go(val)? {
                    map.insert(key, j);
                }
            }
            Json::Object(map)
        }
        Value::Tensor(t) if t.size.iter().product::<usize>() <= MAX_META_TENSOR => {
            let tensor = load_tensor(name, t, src)?;
            tensor_json(&tensor)
        }
        _ => return Ok(None),
    }))
}

/// A tensor as (nested) JSON arrays; integral types as integers.
fn tensor_json(t: &Tensor) -> Json {
    let integral = !matches!(
        t.dtype,
        crate::DType::F16 | crate::DType::BF16 | crate::DType::F32 | crate::DType::F64
    );
    #[allow(clippy::cast_possible_truncation)]
    let scalar = |x: f32| {
        if integral {
            Json::from(x as i64)
        } else {
            serde_json::Number::from_f64(f64::from(x)).map_or(Json::Null, Json::Number)
        }
    };
    fn nest(shape: &[usize], data: &[f32], scalar: &dyn Fn(f32) -> Json) -> Json {
        match shape {
            [] => data.first().map_or(Json::Null, |&x| scalar(x)),
            [_] => Json::Array(data.iter().map(|&x| scalar(x)).collect()),
            [d, rest @ ..] => {
                let step = rest.iter().product::<usize>();
                Json::Array(
                    (0..*d)
                        .map(|i| nest(rest, &data[i * step..(i + 1) * step], scalar))
                        .collect(),
                )
            }
        }
    }
    nest(&t.shape, &t.data, &scalar)
}
