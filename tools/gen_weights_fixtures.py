#!/usr/bin/env python3
"""Writes the small fixtures of crates/emotic-weights/tests/data/ and the expected values the
Rust tests compare against (expected.json), using PyTorch and numpy.

Usage: python3 tools/gen_weights_fixtures.py            # regenerate the fixtures
       python3 tools/gen_weights_fixtures.py --yolo     # also record facts of the real yolov5n.pt

Everything is seeded, so reruns produce the same tensors (zip timestamps aside).
"""

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "emotic-weights", "tests", "data")
YOLOV5N = os.path.join(ROOT, "..", "shared", "fixtures", "yolov5n.pt")

DTYPE_NAMES = {
    torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
    torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.int32: "I32",
    torch.int64: "I64", torch.bool: "Bool",
}


def fake_module(name):
    """Registers an importable module so pickles record classes as `<name>.<Class>`."""
    mod = types.ModuleType(name)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, mod)
    return mod


# The reference EMOTIC fusion head, tiny: fc1 -> bn1 -> relu -> dropout -> fc_cat / fc_cont.
emotic_mod = fake_module("emotic")


class Emotic(nn.Module):
    def __init__(self, num_context_features, num_body_features):
        super().__init__()
        self.num_context_features = num_context_features
        self.num_body_features = num_body_features
        self.fc1 = nn.Linear(num_context_features + num_body_features, 6)
        self.bn1 = nn.BatchNorm1d(6)
        self.d1 = nn.Dropout(p=0.5)
        self.relu = nn.ReLU()
        self.fc_cat = nn.Linear(6, 4)
        self.fc_cont = nn.Linear(6, 3)


Emotic.__module__ = "emotic"
emotic_mod.Emotic = Emotic

# A YOLOv5-like model: classes under models.yolo / models.common, fp16 parameters.
fake_module("models")
yolo_mod = fake_module("models.yolo")
common_mod = fake_module("models.common")


class Conv(nn.Module):
    def __init__(self, c1, c2, k):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()


class Detect(nn.Module):
    def __init__(self, nc, ch):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.register_buffer("anchors", torch.tensor([[10, 13, 16, 30, 33, 23]]).float().view(1, 3, 2))
        self.register_buffer("grid_cache", torch.zeros(2), persistent=False)
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * 3, 1) for c in ch)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.yaml = {"nc": 2, "depth_multiple": 0.33, "width_multiple": 0.25,
                     "anchors": [[10, 13, 16, 30, 33, 23]],
                     "backbone": [[-1, 1, "Conv", [4, 3]]], "head": [[[0], 1, "Detect", ["nc", "anchors"]]]}
        self.model = nn.Sequential(Conv(3, 4, 3), Detect(2, [4]))
        self.names = ["person", "bicycle"]
        self.nc = 2
        self.register_buffer("unused_buffer", torch.ones(1))
        self.stride = torch.tensor([8.0])


Conv.__module__ = "models.common"
common_mod.Conv = Conv
Detect.__module__ = "models.yolo"
Model.__module__ = "models.yolo"
yolo_mod.Detect = Detect
yolo_mod.Model = Model


class RunsShell:
    """Pickles as a call to os.system: the reader must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/emotic_weights_pwned",))


def describe(t):
    t = t.detach().contiguous()
    values = t.to(torch.float32).flatten() if t.dtype != torch.float64 else t.flatten()
    # Values are compared after widening to f32 (f64/i64 narrowed to f32, as the reader does).
    as_f32 = values.to(torch.float32).to(torch.float64)
    return {
        "shape": list(t.shape),
        "dtype": DTYPE_NAMES[t.dtype],
        "sum": float(as_f32.sum().item()),
        "first": [float(x) for x in as_f32[:8].tolist()],
    }


def expected_tensors(state):
    return {k: describe(v) for k, v in state.items()}


def save(obj, name, legacy=False, **kw):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, **kw)
    return path


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors layout by hand (the package is not installed here): 8-byte LE
    header length, JSON header with dtype/shape/data_offsets and __metadata__, then the data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": {"F16": "F16", "BF16": "BF16", "F32": "F32", "F64": "F64",
                                  "I64": "I64", "U8": "U8", "Bool": "BOOL"}[DTYPE_NAMES[t.dtype]],
                        "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    np.random.seed(0)
    expected = {}

    # Whole-module pickle of the EMOTIC head, after one training step of BN statistics.
    head = Emotic(5, 3)
    head.train()
    head.bn1(head.fc1(torch.randn(4, 8)))
    head.eval()
    for name, legacy in [("emotic_module.pth", False), ("emotic_module_legacy.pth", True)]:
        save(head, name, legacy)
        expected[name] = {"module_class": "emotic.Emotic", "tensors": expected_tensors(head.state_dict()),
                          "meta": {"num_context_features": 5, "num_body_features": 3}}

    # nn.Sequential backbone-like stack with a nested Sequential of a torchvision BasicBlock.
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Sequential(torchvision.models.resnet.BasicBlock(4, 4)))
    seq.train()
    seq(torch.randn(2, 3, 10, 10))
    save(seq, "sequential_module.pth")
    expected["sequential_module.pth"] = {"module_class": "torch.nn.modules.container.Sequential",
                                         "tensors": expected_tensors(seq.state_dict()), "meta": {}}

    # Plain state dicts: fp16 zip, fp32 legacy, protocol 4 zip.
    sd16 = collections.OrderedDict([("a.weight", torch.randn(3, 4).half()), ("a.bias", torch.randn(3).half()),
                                    ("scalar", torch.tensor(2.5).half())])
    save(sd16, "state_dict_fp16.pth")
    expected["state_dict_fp16.pth"] = {"module_class": None, "tensors": expected_tensors(sd16), "meta": {}}
    sd32 = collections.OrderedDict([("w", torch.randn(2, 3, 2)), ("b", torch.randn(5))])
    save(sd32, "state_dict_legacy.pth", legacy=True)
    expected["state_dict_legacy.pth"] = {"module_class": None, "tensors": expected_tensors(sd32), "meta": {}}
    save(sd32, "state_dict_proto4.pth", pickle_protocol=4)
    expected["state_dict_proto4.pth"] = expected["state_dict_legacy.pth"]

    # Views sharing one storage: transposed, sliced, strided, offset.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    views = collections.OrderedDict([("base", base), ("t", base.t()), ("slice", base[1:3, 2:5]),
                                     ("col", base[:, 1]), ("step", base[::2, ::3]), ("tail", base.view(-1)[20:])])
    for name, legacy in [("shared_views.pth", False), ("shared_views_legacy.pth", True)]:
        save(views, name, legacy)
        expected[name] = {"module_class": None, "tensors": expected_tensors(views), "meta": {}}

    # Every storage type the reader supports.
    dtypes = collections.OrderedDict([
        ("f16", torch.randn(5).half()), ("bf16", torch.randn(5).bfloat16()), ("f32", torch.randn(2, 2)),
        ("f64", torch.randn(3, dtype=torch.float64)), ("i64", torch.tensor([-3, 0, 7, 2**40])),
        ("i32", torch.tensor([-5, 6], dtype=torch.int32)), ("i16", torch.tensor([-300, 300], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127], dtype=torch.int8)), ("u8", torch.tensor([0, 200, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])), ("empty", torch.zeros(0, 3))])
    for name, legacy in [("dtypes.pth", False), ("dtypes_legacy.pth", True)]:
        save(dtypes, name, legacy)
        expected[name] = {"module_class": None, "tensors": expected_tensors(dtypes), "meta": {}}

    # Places365-style training checkpoint with DataParallel keys (legacy, like the original).
    places_sd = collections.OrderedDict([("module.conv1.weight", torch.randn(2, 3, 3, 3)),
                                         ("module.fc.bias", torch.randn(4))])
    places = {"epoch": 3, "arch": "resnet18", "state_dict": places_sd, "best_prec1": 54.5}
    save(places, "places_style.pth.tar", legacy=True)
    expected["places_style.pth.tar"] = {
        "module_class": None,
        "tensors": {k.replace("module.", "", 1): describe(v) for k, v in places_sd.items()},
        "meta": {"epoch": 3, "arch": "resnet18", "best_prec1": 54.5}}

    # YOLOv5-style checkpoint: {'model': fp16 module, 'ema': None, ...}.
    yolo = Model().half()
    ckpt = {"epoch": -1, "best_fitness": None, "model": yolo, "ema": None, "updates": None,
            "optimizer": None, "date": "2026-11-29T00:00:00"}
    save(ckpt, "yolo_style.pt")
    yolo_sd = {k: v for k, v in yolo.state_dict().items()}
    expected["yolo_style.pt"] = {
        "module_class": "models.yolo.Model", "tensors": expected_tensors(yolo_sd),
        "meta": {"yaml": yolo.yaml, "names": yolo.names, "nc": 2, "stride": [8.0], "epoch": -1,
                 "date": "2026-11-29T00:00:00", "best_fitness": None}}

    # safetensors with metadata.
    st = collections.OrderedDict([("x.weight", torch.randn(3, 2)), ("x.half", torch.randn(4).half()),
                                  ("x.bf16", torch.randn(2).bfloat16()), ("x.f64", torch.randn(2, dtype=torch.float64)),
                                  ("x.count", torch.tensor([5])), ("x.mask", torch.tensor([True, False])),
                                  ("x.bytes", torch.tensor([1, 2, 250], dtype=torch.uint8))])
    write_safetensors(os.path.join(OUT, "small.safetensors"), st, {"format": "pt", "source": "gen_weights_fixtures"})
    expected["small.safetensors"] = {"module_class": None, "tensors": expected_tensors(st),
                                     "meta": {"format": "pt", "source": "gen_weights_fixtures"}}

    # Hostile inputs.
    save({"evil": RunsShell()}, "malicious_os_system.pth")
    deep = []
    for _ in range(300):  # deeper than the reader allows (200), within Python recursion
        deep = [deep]
    save({"deep": deep}, "deep_nesting.pth")
    # A legacy file whose storage claims 10^12 elements: patch the 8-byte count before the data.
    path = save({"w": torch.arange(4, dtype=torch.float32)}, "huge_storage_legacy.pth", legacy=True)
    data = bytearray(open(path, "rb").read())
    count_at = len(data) - 16 - 8
    assert struct.unpack("<Q", data[count_at:count_at + 8])[0] == 4
    data[count_at:count_at + 8] = struct.pack("<Q", 10**12)
    open(path, "wb").write(bytes(data))

    # .npy arrays of several dtypes, byte orders, orders and format versions.
    npy = {}
    arrays = {
        "f4.npy": np.random.randn(3, 4).astype("<f4"),
        "f8.npy": np.random.randn(5).astype("<f8"),
        "f2.npy": np.random.randn(2, 3).astype("<f2"),
        "u1.npy": np.arange(12, dtype=np.uint8).reshape(2, 2, 3),
        "i1.npy": np.array([-128, 5, 127], dtype=np.int8),
        "i2_be.npy": np.array([[-2, 300], [7, -30000]], dtype=">i2"),
        "i4.npy": np.array([1, -2, 2**31 - 1], dtype="<i4"),
        "i8_be.npy": np.array([-(2**40), 3], dtype=">i8"),
        "b1.npy": np.array([True, False, True, True]),
        "f4_be.npy": np.random.randn(2, 2).astype(">f4"),
        "fortran_f4.npy": np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)),
        "scalar_f8.npy": np.array(3.25),
        "thresholds_f4.npy": np.random.rand(26).astype(np.float32),
    }
    for name, arr in arrays.items():
        np.save(os.path.join(OUT, name), arr)
    for version in [(2, 0), (3, 0)]:
        name = f"v{version[0]}_f4.npy"
        arrays[name] = np.random.randn(2, 2).astype("<f4")
        with open(os.path.join(OUT, name), "wb") as f:
            np.lib.format.write_array(f, arrays[name], version=version)
    for name, arr in arrays.items():
        c = np.ascontiguousarray(arr)
        npy[name] = {"shape": list(arr.shape), "dtype": arr.dtype.str,
                     "fortran_order": bool(arr.flags.f_contiguous and not arr.flags.c_contiguous),
                     "values": [float(x) if arr.dtype.kind == "f" else int(x) for x in c.flatten().tolist()]}
    expected_npy = {"arrays": npy}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"checkpoints": expected, "npy": expected_npy}, f, indent=1, sort_keys=True)
    print(f"wrote fixtures to {OUT}")

    if "--yolo" in sys.argv:
        yolo_facts()


def yolo_facts():
    """Reads the real yolov5n.pt with stub classes (no YOLOv5 code needed) and writes the facts
    that tests/yolov5_real.rs checks to yolov5n_facts.json."""

    class Stub(nn.Module):
        pass

    stubs = {}

    class StubUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module.split(".")[0] in ("models", "utils"):
                return stubs.setdefault((module, name), type(name, (Stub,), {"__module__": module}))
            return super().find_class(module, name)

    pickle_module = types.ModuleType("stub_pickle")
    pickle_module.Unpickler = StubUnpickler
    pickle_module.load = pickle.load
    pickle_module.__name__ = "pickle"
    # The stub modules registered above for the fixtures would shadow the real class paths.
    for name in ("models", "models.yolo", "models.common"):
        sys.modules.pop(name, None)
    ckpt = torch.load(YOLOV5N, map_location="cpu", pickle_module=pickle_module, weights_only=False)
    model = ckpt["model"]
    sd = model.state_dict()
    params = sum(p.numel() for p in model.parameters())
    bn_channels = sum(v.numel() for k, v in sd.items() if k.endswith("bn.weight"))
    facts = {
        "class": f"{type(model).__module__}.{type(model).__name__}",
        "ema": repr(ckpt["ema"]), "epoch": ckpt["epoch"], "keys": len(sd),
        "parameters": params, "parameters_after_conv_bn_fusion": params - bn_channels,
        "stride": model.stride.tolist(), "names0": model.names[0], "nc": model.yaml["nc"],
        "first_weight": [float(x) for x in sd["model.0.conv.weight"].flatten()[:4].float()],
        "model.0.conv.weight_sum": float(sd["model.0.conv.weight"].double().sum()),
    }
    with open(os.path.join(OUT, "yolov5n_facts.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
