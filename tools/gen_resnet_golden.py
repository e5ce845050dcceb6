#!/usr/bin/env python3
"""Golden outputs for the ResNet18-features and fusion-head ONNX graphs
(crates/emotic/tests/resnet_graph.rs).

The references are torchvision's own ResNet forward (`nn.Sequential(*children[:-1])`, exactly what
the EMOTIC reference uses) and a PyTorch fusion head (Linear -> BatchNorm1d -> ReLU -> Dropout ->
two Linear heads), both in eval mode and float64, BatchNorm unfolded. Weights are random with
randomised BatchNorm running statistics so that folding is really exercised.

A full ResNet18 state dict is 45 MB, so the committed fixture is a *reduced-width* ResNet18:
torchvision's ResNet with BasicBlock x [2, 2, 2, 2] and stage widths 4/8/16/32 (stem 4), every
key named exactly as in torchvision (`conv1.weight`, `layer2.0.downsample.1.running_var`, `fc.*`).
The fusion head keeps the reference hidden width 256 and outputs 26 + 3, with fc1 Linear(64, 256)
(32 features per stream).

Outputs (crates/emotic/tests/data/):
  resnet_small_state_dict.pth   float32 state dict (torch.save of a plain dict)
  resnet_fusion_state_dict.pth  float32 state dict of the head (fc1, bn1, fc_cat, fc_cont)
  resnet_golden.json            features for 2 images at 224x224 and at 128x128, head outputs

Inputs are computed, not stored; the Rust test builds the same values:
  image[n, c, y, x] = 1.5 * sin(0.037 * (c + 1) * y + 0.051 * x + 0.7 * c + 0.9 * n)
  feature[n, k]     = cos(0.13 * k + 0.7 * n) * (1 + 0.01 * k)      (k over one stream's features)
each computed in float64 and rounded to float32.

Run: python3 tools/gen_resnet_golden.py
     python3 tools/gen_resnet_golden.py --full --out /tmp/resnet_full   (real widths, local check only;
     the Rust test reads that folder when EMOTIC_RESNET_FULL_DIR points to it)
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, ResNet

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "emotic" / "tests" / "data"


def narrow_resnet18(stem):
    """torchvision ResNet18 with stage widths stem, 2*stem, 4*stem, 8*stem, built through
    torchvision's own `_make_layer` so keys and block structure are torchvision's."""
    net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10)
    if stem == 64:
        return net
    net.inplanes = stem
    net.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(stem)
    net.layer1 = net._make_layer(BasicBlock, stem, 2)
    net.layer2 = net._make_layer(BasicBlock, stem * 2, 2, stride=2)
    net.layer3 = net._make_layer(BasicBlock, stem * 4, 2, stride=2)
    net.layer4 = net._make_layer(BasicBlock, stem * 8, 2, stride=2)
    net.fc = nn.Linear(stem * 8, 10)
    return net


def randomise_bn(module, gen):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)


def images(n, h, w):
    nn_, c, y, x = np.meshgrid(np.arange(float(n)), np.arange(3.0), np.arange(float(h)), np.arange(float(w)), indexing="ij")
    v = 1.5 * np.sin(0.037 * (c + 1) * y + 0.051 * x + 0.7 * c + 0.9 * nn_)
    return torch.from_numpy(v.astype(np.float32).astype(np.float64))


def features(n, k):
    nn_, kk = np.meshgrid(np.arange(float(n)), np.arange(float(k)), indexing="ij")
    v = np.cos(0.13 * kk + 0.7 * nn_) * (1 + 0.01 * kk)
    return torch.from_numpy(v.astype(np.float32).astype(np.float64))


class FusionHead(nn.Module):
    """The EMOTIC head's layers and names (fc1, bn1, d1, relu, fc_cat, fc_cont)."""

    def __init__(self, per_stream):
        super().__init__()
        self.fc1 = nn.Linear(2 * per_stream, 256)
        self.bn1 = nn.BatchNorm1d(256)
        self.d1 = nn.Dropout(p=0.5)
        self.relu = nn.ReLU()
        self.fc_cat = nn.Linear(256, 26)
        self.fc_cont = nn.Linear(256, 3)

    def forward(self, context, body):
        x = self.d1(self.relu(self.bn1(self.fc1(torch.cat((context, body), 1)))))
        return self.fc_cat(x), self.fc_cont(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="real widths (45 MB: write it outside the repo)")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = ap.parse_args()
    if args.full and args.out.resolve() == OUT.resolve():
        ap.error("--full needs --out outside the repository")
    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    stem = 64 if args.full else 4
    net = narrow_resnet18(stem)
    randomise_bn(net, gen)
    net.eval()
    head = FusionHead(stem * 8)
    randomise_bn(head, gen)
    head.eval()

    golden = {"stem_width": stem, "feature_dim": stem * 8, "batch": 2}
    backbone = nn.Sequential(*list(net.children())[:-1]).double().eval()
    with torch.no_grad():
        for size in (224, 128):
            f = backbone(images(2, size, size)).view(-1, stem * 8)
            golden[f"features_{size}"] = f.tolist()
        cat, cont = head.double()(features(2, stem * 8), features(2, stem * 8).flip(1))
    golden["head_cat"], golden["head_cont"] = cat.tolist(), cont.tolist()
    golden["head_inputs"] = "context = feature(n, k); body = feature(n, K - 1 - k)"
    print("features_224[0][:4]", golden["features_224"][0][:4], "cat[0][:3]", golden["head_cat"][0][:3])
    torch.save({k: v.float() for k, v in net.state_dict().items()}, out_dir / "resnet_small_state_dict.pth")
    torch.save({k: v.float() for k, v in head.state_dict().items()}, out_dir / "resnet_fusion_state_dict.pth")
    (out_dir / "resnet_golden.json").write_text(json.dumps(golden))
    for p in ("resnet_small_state_dict.pth", "resnet_fusion_state_dict.pth", "resnet_golden.json"):
        print(p, (out_dir / p).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
