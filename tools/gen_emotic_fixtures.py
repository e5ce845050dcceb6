#!/usr/bin/env python3
"""EMOTIC checkpoints in the exact reference layout, plus PyTorch goldens on the shared images.

The reference (Tandon-A/emotic) saves three whole-module pickles:
  model_context1.pth  nn.Sequential(*list(resnet18.children())[:-1])   (context stream, 224x224)
  model_body1.pth     the same for the body stream                       (128x128)
  model_emotic1.pth   an `emotic.Emotic` fusion head (fc1, bn1, d1, relu, fc_cat, fc_cont)
and `val_thresholds.npy` (float32, 26). This script builds models in that layout with random
weights and randomised BatchNorm statistics (eval mode), runs the reference preprocessing
(cv2.imread -> BGR2RGB -> cv2.resize INTER_LINEAR -> ToTensor -> Normalize) on the shared
fixture images with the person boxes of yolov5n_expected_detections.json, and records the
PyTorch outputs.

Variants:
  default (committed): a *reduced-width* ResNet18, torchvision ResNet(BasicBlock, [2, 2, 2, 2])
      with stage widths 4/8/16/32 (stem 4) instead of 64/128/256/512, so each stream emits 32
      features and the head's fc1 is Linear(64, 256) instead of Linear(1024, 256). Every key,
      layer kind and the head's hidden size (256), outputs (26, 3) are the reference ones; only
      the widths shrink, which keeps the files under a megabyte.
  --full: the real widths (fc1 Linear(1024, 256)), ~45 MB per stream; written outside the repo
      for local checks only.

Also written: state-dict variants of the head and the body stream (`*_state_dict.pth`), the
cv2-preprocessed uint8 inputs as PNG (`emotic_inputs/`, what the Rust parity test feeds the
model, since the `image` crate's JPEG decoder differs from libjpeg-turbo by a few levels) and
FNV-1a 64 hashes of the uint8 inputs and of the normalised float32 tensors.

Run from the repository root:
    python3 tools/gen_emotic_fixtures.py            # committed reduced fixture
    python3 tools/gen_emotic_fixtures.py --full --out /tmp/emotic_full
"""
import argparse
import json
import os
import sys
import types

import cv2
import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision import transforms
from torchvision.models.resnet import BasicBlock, ResNet

CATEGORIES = ["Affection", "Anger", "Annoyance", "Anticipation", "Aversion", "Confidence",
              "Disapproval", "Disconnection", "Disquietment", "Doubt/Confusion", "Embarrassment",
              "Engagement", "Esteem", "Excitement", "Fatigue", "Fear", "Happiness", "Pain", "Peace",
              "Pleasure", "Sadness", "Sensitivity", "Suffering", "Surprise", "Sympathy", "Yearning"]
CONTEXT_MEAN = [0.4690646, 0.4407227, 0.40508908]
CONTEXT_STD = [0.2514227, 0.24312855, 0.24266963]
BODY_MEAN = [0.43832874, 0.3964344, 0.3706214]
BODY_STD = [0.24784276, 0.23621225, 0.2323653]
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures")
IMAGES = ["zidane.jpg", "bus.jpg"]


# The reference head, defined in a module named `emotic` so the pickle records `emotic.Emotic`
# exactly as the reference checkpoints do.
EMOTIC_SOURCE = '''
import torch
import torch.nn as nn

class Emotic(nn.Module):
    """Fusion head: concatenated context and body features -> 26 categories + 3 VAD."""

    def __init__(self, num_context_features, num_body_features):
        super(Emotic, self).__init__()
        self.num_context_features = num_context_features
        self.num_body_features = num_body_features
        self.fc1 = nn.Linear((self.num_context_features + num_body_features), 256)
        self.bn1 = nn.BatchNorm1d(256)
        self.d1 = nn.Dropout(p=0.5)
        self.fc_cat = nn.Linear(256, 26)
        self.fc_cont = nn.Linear(256, 3)
        self.relu = nn.ReLU()

    def forward(self, x_context, x_body):
        context_features = x_context.view(-1, self.num_context_features)
        body_features = x_body.view(-1, self.num_body_features)
        fuse_features = torch.cat((context_features, body_features), 1)
        fuse_out = self.fc1(fuse_features)
        fuse_out = self.bn1(fuse_out)
        fuse_out = self.relu(fuse_out)
        fuse_out = self.d1(fuse_out)
        cat_out = self.fc_cat(fuse_out)
        cont_out = self.fc_cont(fuse_out)
        return cat_out, cont_out
'''
emotic_module = types.ModuleType("emotic")
exec(compile(EMOTIC_SOURCE, "emotic.py", "exec"), emotic_module.__dict__)
sys.modules["emotic"] = emotic_module
Emotic = emotic_module.Emotic


class NarrowResNet(ResNet):
    """torchvision's ResNet with every stage width divided by `div` (same children, same keys)."""

    def __init__(self, div):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = 64 // div
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, 64 // div, 2)
        self.layer2 = self._make_layer(BasicBlock, 128 // div, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 256 // div, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 512 // div, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 // div, 1000)


def calibrate_batchnorm(model, gen, *inputs):
    """Running statistics measured on the real inputs (as training would leave them), then
    perturbed, and random affine parameters: non-trivial BatchNorm that still keeps every
    activation of order one, so outputs are of the size a trained model gives (scores ~1)."""
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batch
    model.train()
    with torch.no_grad():
        model(*inputs)
    model.eval()
    for m in bns:
        n = m.num_features
        with torch.no_grad():
            m.running_var.mul_(torch.rand(n, generator=gen) * 0.7 + 0.7)
            m.running_mean.add_(torch.randn(n, generator=gen) * 0.1 * m.running_var.sqrt())
            m.weight.copy_(torch.rand(n, generator=gen) * 0.8 + 0.6)
            m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=gen)))


def build_stream(div, gen):
    resnet = torchvision.models.resnet18() if div == 1 else NarrowResNet(div)
    for p in resnet.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / max(1, p[0].numel())) ** 0.5)
    return nn.Sequential(*list(resnet.children())[:-1]).eval(), 512 // div


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return f"{h:016x}"


def person_boxes(detections):
    """Person boxes as the reference takes them: Python int() of each coordinate."""
    return [[int(v) for v in d[:4]] for d in detections if int(d[5]) == 0]


def pick_thresholds(scores, gen):
    """Per category, a threshold between two observed scores (so some persons pass and some do
    not), kept at least 1e-2 away from every score so a 1e-4 difference cannot flip a decision."""
    thr = np.zeros(26, np.float32)
    for c in range(26):
        vals = np.sort(scores[:, c])
        k = int(torch.randint(0, len(vals) + 1, (1,), generator=gen))
        lo = vals[k - 1] if k > 0 else vals[0] - 1.0
        hi = vals[k] if k < len(vals) else vals[-1] + 1.0
        thr[c] = (lo + hi) / 2 if hi - lo > 2e-2 else vals[-1] + 0.5
    return thr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="real ResNet18 widths (not committed)")
    ap.add_argument("--out", default="crates/emotic/tests/data/emotic_small")
    args = ap.parse_args()
    div = 1 if args.full else 16
    out = args.out
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(20240613)
    torch.manual_seed(0)

    detections = json.load(open(os.path.join(FIXTURES, "yolov5n_expected_detections.json")))
    ctx_norm = transforms.Normalize(CONTEXT_MEAN, CONTEXT_STD)
    body_norm = transforms.Normalize(BODY_MEAN, BODY_STD)
    to_tensor = transforms.Compose([transforms.ToPILImage(), transforms.ToTensor()])
    inputs_dir = None if args.full else "crates/emotic/tests/data/emotic_inputs"
    if inputs_dir:
        os.makedirs(inputs_dir, exist_ok=True)

    # Reference preprocessing of every image, first: the BatchNorm calibration needs the inputs.
    prepared = []
    for name in IMAGES:
        image = cv2.cvtColor(cv2.imread(os.path.join(FIXTURES, "images", name)), cv2.COLOR_BGR2RGB)
        boxes = person_boxes(detections[name]["detections"])
        context = cv2.resize(image, (224, 224))
        bodies = [cv2.resize(image[y1:y2, x1:x2].copy(), (128, 128)) for x1, y1, x2, y2 in boxes]
        ctx_t = ctx_norm(to_tensor(context)).unsqueeze(0)
        body_t = torch.stack([body_norm(to_tensor(b)) for b in bodies])
        prepared.append((name, image, boxes, context, bodies, ctx_t, body_t))
    all_ctx = torch.cat([p[5] for p in prepared])
    all_body = torch.cat([p[6] for p in prepared])

    model_context, n_ctx = build_stream(div, gen)
    calibrate_batchnorm(model_context, gen, all_ctx)
    model_body, n_body = build_stream(div, gen)
    calibrate_batchnorm(model_body, gen, all_body)
    head = Emotic(n_ctx, n_body)
    for p in head.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p[0].numel())) ** 0.5)
    with torch.no_grad():
        ctx_rows = model_context(all_ctx)
        per_person = torch.cat([ctx_rows[i:i + 1].expand(len(p[2]), -1, -1, -1) for i, p in enumerate(prepared)])
        calibrate_batchnorm(head, gen, per_person, model_body(all_body))
        # A trained head emits VAD / 10, i.e. values in about [0.1, 1]; scale the random fc_cont
        # to that range so the x10 VAD readout has realistic magnitudes.
        head.fc_cont.weight.mul_(0.1)
        head.fc_cont.bias.fill_(0.5)

    torch.save(model_context, os.path.join(out, "model_context1.pth"))
    torch.save(model_body, os.path.join(out, "model_body1.pth"))
    torch.save(head, os.path.join(out, "model_emotic1.pth"))
    torch.save(head.state_dict(), os.path.join(out, "model_emotic1_state_dict.pth"))
    torch.save(model_body.state_dict(), os.path.join(out, "model_body1_state_dict.pth"))
    if not args.full:
        # A head for narrower streams (fc1 expects 8 + 8 features): loading it with these streams
        # must fail with an error about mismatched shapes.
        torch.save(Emotic(8, 8).eval(), os.path.join(out, "mismatched_model_emotic1.pth"))

    records = []
    all_cat = []
    batch_diff = []
    for name, image, boxes, context, bodies, ctx_t, body_t in prepared:
        stem = os.path.splitext(name)[0]
        with torch.no_grad():
            ctx_feat = model_context(ctx_t)
            body_feat = model_body(body_t)
            cat, cont = head(ctx_feat.expand(len(bodies), -1, -1, -1), body_feat)
            # The reference runs one person at a time; check batching did not change anything.
            for i in range(len(bodies)):
                c1, v1 = head(model_context(ctx_t), model_body(body_t[i:i + 1]))
                batch_diff.append(float(max((c1[0] - cat[i]).abs().max(), (v1[0] - cont[i]).abs().max())))
        if inputs_dir:
            cv2.imwrite(os.path.join(inputs_dir, f"{stem}_context.png"), cv2.cvtColor(context, cv2.COLOR_RGB2BGR))
            for i, b in enumerate(bodies):
                cv2.imwrite(os.path.join(inputs_dir, f"{stem}_body{i}.png"), cv2.cvtColor(b, cv2.COLOR_RGB2BGR))
        persons = []
        for i, box in enumerate(boxes):
            persons.append({
                "box": box,
                "body_u8_fnv1a64": fnv1a64(bodies[i].tobytes()),
                "body_tensor_fnv1a64": fnv1a64(body_t[i].numpy().astype("<f4").tobytes()),
                "cat": cat[i].tolist(),
                "cont": cont[i].tolist(),
                "vad": (cont[i] * 10).tolist(),
            })
            all_cat.append(cat[i].numpy())
        records.append({
            "image": name,
            "image_hw": list(image.shape[:2]),
            "image_rgb_fnv1a64": fnv1a64(image.tobytes()),
            "context_u8_fnv1a64": fnv1a64(context.tobytes()),
            "context_tensor_fnv1a64": fnv1a64(ctx_t[0].numpy().astype("<f4").tobytes()),
            "context_features_sum": float(ctx_feat.double().sum()),
            "persons": persons,
        })

    thresholds = pick_thresholds(np.stack(all_cat), gen)
    np.save(os.path.join(out, "val_thresholds.npy"), thresholds)
    for rec in records:
        for p in rec["persons"]:
            cat = np.asarray(p["cat"], np.float32)
            idx = [int(i) for i in np.nonzero(cat > thresholds)[0]]
            idx.sort(key=lambda i: -(cat[i] - thresholds[i]))
            p["predicted"] = [CATEGORIES[i] for i in idx]

    golden = {
        "generator": "tools/gen_emotic_fixtures.py" + (" --full" if args.full else ""),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "opencv_version": cv2.__version__,
        "stream_features": n_ctx,
        "stage_widths": [64 // div, 128 // div, 256 // div, 512 // div],
        "thresholds": thresholds.tolist(),
        "categories": CATEGORIES,
        "images": records,
    }
    golden_path = os.path.join(out, "golden.json") if args.full else "crates/emotic/tests/data/emotic_small_golden.json"
    with open(golden_path, "w") as f:
        json.dump(golden, f, indent=1)
    spread = np.stack(all_cat)
    print(f"wrote {out} and {golden_path}: {len(all_cat)} persons, cat range "
          f"[{spread.min():.3f}, {spread.max():.3f}], std {spread.std():.3f}; torch one-at-a-time vs "
          f"batched max diff {max(batch_diff):.2e}", file=sys.stderr)


if __name__ == "__main__":
    main()
