#!/usr/bin/env python3
"""Checks the reference whole-module .pth files that `emotic export` writes, with PyTorch.

Given an export folder (from `emotic export -w bundle.safetensors -o DIR`) and the folder of
the torch-written originals it came from, this script:

  1. loads model_context1.pth, model_body1.pth and model_emotic1.pth with
     torch.load(..., weights_only=False), the reference head's `emotic` module importable
     (defined from EMOTIC_SOURCE of tools/gen_emotic_fixtures.py, as the reference's own
     checkpoints need it);
  2. checks every submodule: same names and type as the original, `vars()` keys (names and
     order) equal to those of a freshly constructed torch object of that type and to the
     original's, the same non-tensor attribute values, eval mode, and every parameter and
     buffer equal (values, dtype, shape, requires_grad);
  3. runs the three modules in eval mode on fixed random inputs (context 224x224, body
     128x128, two of each; the head on the two streams' features) and reports the largest
     absolute difference from the originals' outputs (exactly 0 is expected: same weights,
     same operations);
  4. loads the files once more with mmap=True (storages must be 64-byte aligned) and compares
     val_thresholds.npy.

The originals made by tools/gen_emotic_fixtures.py set every BatchNorm's momentum to None
(their calibration pass); exported models have torch's default 0.1, which eval mode never
uses. That one attribute is reported, not failed.

Run from the repository root:
    cargo run -p emotic-cli -- import --dir crates/emotic/tests/data/emotic_small -o /tmp/s.safetensors
    cargo run -p emotic-cli -- export -w /tmp/s.safetensors -o /tmp/s_export
    python3 tools/check_reference_export.py /tmp/s_export
    python3 tools/check_reference_export.py /tmp/full_export --original /tmp/emotic_full
Exits 1 when a check fails.
"""
import argparse
import importlib.util
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ["model_context1.pth", "model_body1.pth", "model_emotic1.pth"]


def install_emotic_module():
    """Registers the reference `emotic` module from the fixture generator's EMOTIC_SOURCE, with
    the generator's own code (it registers `emotic` in sys.modules when imported)."""
    spec = importlib.util.spec_from_file_location("gen_emotic_fixtures", os.path.join(HERE, "gen_emotic_fixtures.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert "emotic" in sys.modules and isinstance(sys.modules["emotic"], types.ModuleType)
    return sys.modules["emotic"].Emotic


def fresh_objects(emotic_cls):
    """A torch-constructed object per class, for the `vars()` key lists."""
    down = nn.Sequential(nn.Conv2d(1, 2, 1, 2, bias=False), nn.BatchNorm2d(2))
    return {
        (nn.Conv2d, None): nn.Conv2d(1, 1, 1),
        (nn.BatchNorm2d, None): nn.BatchNorm2d(1),
        (nn.BatchNorm1d, None): nn.BatchNorm1d(1),
        (nn.ReLU, None): nn.ReLU(),
        (nn.MaxPool2d, None): nn.MaxPool2d(3),
        (nn.AdaptiveAvgPool2d, None): nn.AdaptiveAvgPool2d(1),
        (nn.Sequential, None): nn.Sequential(),
        (nn.Linear, None): nn.Linear(1, 1),
        (nn.Dropout, None): nn.Dropout(),
        (BasicBlock, False): BasicBlock(1, 1),
        (BasicBlock, True): BasicBlock(1, 2, 2, downsample=down),
        (emotic_cls, None): emotic_cls(1, 1),
    }


def compare_modules(name, ours, orig, fresh, problems, notes):
    ours_mods = dict(ours.named_modules())
    orig_mods = dict(orig.named_modules())
    if list(ours_mods) != list(orig_mods):
        problems.append(f"{name}: submodule names differ: {list(ours_mods)[:5]}... vs {list(orig_mods)[:5]}...")
        return
    for path, m in ours_mods.items():
        o = orig_mods[path]
        where = f"{name}:{path or '<root>'}"
        if type(m) is not type(o):
            problems.append(f"{where}: type {type(m)} vs {type(o)}")
            continue
        key = (type(m), isinstance(getattr(m, "downsample", None), nn.Module)) if type(m) is BasicBlock else (type(m), None)
        if key not in fresh:
            problems.append(f"{where}: unexpected class {type(m)}")
            continue
        for label, keys in [("a fresh torch object", list(vars(fresh[key]))), ("the original", list(vars(o)))]:
            if list(vars(m)) != keys:
                problems.append(f"{where}: vars() keys {list(vars(m))} differ from {label}'s {keys}")
        if m.training:
            problems.append(f"{where}: not in eval mode")
        for attr, value in vars(m).items():
            if attr in ("_parameters", "_buffers", "_modules") or attr.endswith("hooks") or attr == "training":
                continue
            theirs = vars(o).get(attr)
            if attr == "momentum" and theirs is None and value == 0.1:
                notes.add("BatchNorm momentum: original None (fixture calibration), export 0.1 (torch default)")
            elif value != theirs or type(value) is not type(theirs):
                problems.append(f"{where}: {attr} = {value!r}, original {theirs!r}")
    sd_ours, sd_orig = ours.state_dict(keep_vars=True), orig.state_dict(keep_vars=True)
    if list(sd_ours) != list(sd_orig):
        problems.append(f"{name}: state_dict keys differ")
        return
    for k, t in sd_ours.items():
        u = sd_orig[k]
        if t.dtype != u.dtype or t.shape != u.shape or not torch.equal(t, u) or t.requires_grad != u.requires_grad \
                or type(t) is not type(u):
            problems.append(f"{name}: tensor {k} differs ({t.dtype}/{u.dtype}, {tuple(t.shape)}/{tuple(u.shape)})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export_dir")
    ap.add_argument("--original", default=os.path.join(HERE, "..", "crates/emotic/tests/data/emotic_small"),
                    help="folder with the torch-written originals (default: the committed fixture)")
    ap.add_argument("--tolerance", type=float, default=1e-6)
    args = ap.parse_args()
    emotic_cls = install_emotic_module()
    fresh = fresh_objects(emotic_cls)
    problems, notes = [], set()

    load = lambda folder, f, **kw: torch.load(os.path.join(folder, f), weights_only=False, **kw)
    ours = {f: load(args.export_dir, f) for f in FILES}
    orig = {f: load(args.original, f).eval() for f in FILES}
    for f in FILES:
        compare_modules(f, ours[f], orig[f], fresh, problems, notes)

    gen = torch.Generator().manual_seed(0)
    ctx_in = torch.randn(2, 3, 224, 224, generator=gen)
    body_in = torch.randn(2, 3, 128, 128, generator=gen)
    with torch.no_grad():
        outputs = {}
        for label, models in (("export", ours), ("original", orig)):
            ctx = models["model_context1.pth"](ctx_in)
            body = models["model_body1.pth"](body_in)
            cat, cont = models["model_emotic1.pth"](ctx, body)
            outputs[label] = {"context features": ctx, "body features": body, "categories": cat, "vad": cont}
    worst = 0.0
    for k, a in outputs["export"].items():
        if a.shape != outputs["original"][k].shape:
            problems.append(f"{k}: shape {tuple(a.shape)}, original {tuple(outputs['original'][k].shape)}")
            continue
        diff = float((a - outputs["original"][k]).abs().max())
        worst = max(worst, diff)
        print(f"{k:16s} shape {tuple(a.shape)}  max |export - original| = {diff:.3g}  (|original| max {float(outputs['original'][k].abs().max()):.3g})")
    if worst > args.tolerance:
        problems.append(f"outputs differ by {worst:.3g} > {args.tolerance}")

    for f in FILES:
        try:
            mapped = load(args.export_dir, f, mmap=True)
            for k, t in mapped.state_dict().items():
                if not torch.equal(t, ours[f].state_dict()[k]):
                    problems.append(f"{f}: mmap load gives a different {k}")
        except Exception as e:  # noqa: BLE001 - report any failure of the mmap path
            problems.append(f"{f}: torch.load(mmap=True) failed: {e}")
    thr_ours = np.load(os.path.join(args.export_dir, "val_thresholds.npy"))
    thr_orig = np.load(os.path.join(args.original, "val_thresholds.npy"))
    if thr_ours.dtype != thr_orig.dtype or not np.array_equal(thr_ours, thr_orig):
        problems.append("val_thresholds.npy differs")

    modules = sum(len(list(m.modules())) for m in ours.values())
    tensors = sum(len(m.state_dict()) for m in ours.values())
    print(f"torch {torch.__version__}: {modules} modules, {tensors} tensors compared")
    for n in sorted(notes):
        print(f"note: {n}")
    for p in problems:
        print(f"FAIL: {p}")
    print("OK" if not problems else f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
