#!/usr/bin/env python3
"""Golden numbers for crates/emotic-train: the reference losses and a few Adam training steps.

The reference (Tandon-A/emotic `loss.py`, `train.py`) computes
    loss = 0.5 * L_cat + 0.5 * L_cont
    L_cat  = sum over batch and categories of w_c * (pred - y)^2
             w_c: dynamic 1/ln(n_c + 1.2) (n_c = positives in the batch, 1e-4 if none),
                  mean 1/26, or static (26 published numbers)
    L_cont = cont_loss(pred_cont * 10, labels_cont * 10), labels_cont = VAD / 10 (float32),
             Smooth L1 (0.5 x^2 for |x| <= 1, else |x| - 0.5) or L2 (x^2 for |x| >= 1, else 0),
             summed.
The functions below restate those definitions; the Rust crate implements them independently.

Writes (run from the repository root: python3 tools/gen_train_golden.py):
  crates/emotic-train/tests/data/losses.json
      fixed float32 inputs and, for every weighting x continuous loss, L_cat, L_cont and the
      total, computed by PyTorch in float32 (the reference's precision).
  crates/emotic-train/tests/data/train_step.pth
      a reduced-width EMOTIC model (ResNet18 layout with stage widths 4/8/8/16 for both streams,
      head fc1 Linear(32, 256) -> BatchNorm1d(256) -> ReLU -> dropout -> fc_cat / fc_cont)
      with randomised BatchNorm parameters and statistics, one fixed batch (4 persons, context
      48x48, body 32x32: the streams are fully convolutional and end in a global pool), a fixed
      dropout mask (0 or 2 = 1/(1-0.5)), and the result of 3 training steps on that batch
      (train mode, Adam lr 0.01, weight decay 5e-4, dynamic weights + Smooth L1): the loss
      terms of each step, the gradients of the first step, and every tensor after the last
      step (BatchNorm running statistics included). Computed in float64 from the float32
      initial values, stored as float32.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "emotic-train", "tests", "data")
STATIC = [0.1435, 0.1870, 0.1692, 0.1165, 0.1949, 0.1204, 0.1728, 0.1372, 0.1620, 0.1540,
          0.1987, 0.1057, 0.1482, 0.1192, 0.1590, 0.1929, 0.1158, 0.1907, 0.1345, 0.1307,
          0.1665, 0.1698, 0.1797, 0.1657, 0.1520, 0.1537]


def category_weights(kind, target):
    if kind == "mean":
        return torch.full((26,), 1.0 / 26, dtype=target.dtype)
    if kind == "static":
        return torch.tensor(STATIC, dtype=target.dtype)
    counts = target.sum(dim=0)
    w = torch.full((26,), 0.0001, dtype=target.dtype)
    present = counts != 0
    w[present] = 1.0 / torch.log(counts[present] + 1.2)
    return w


def categorical_loss(pred, target, weights):
    return (((pred - target) ** 2) * weights.unsqueeze(0)).sum()


def continuous_loss(kind, pred, target):
    x = torch.abs(pred * 10 - target * 10)
    if kind == "smooth-l1":
        return torch.where(x <= 1, 0.5 * x ** 2, x - 0.5).sum()
    return torch.where(x >= 1, x ** 2, torch.zeros_like(x)).sum()


def write_losses(gen):
    n = 8
    pred_cat = (torch.randn(n, 26, generator=gen) * 0.5 + 0.3).float()
    target_cat = (torch.rand(n, 26, generator=gen) < 0.25).float()
    target_cat[:, 3] = 0.0   # categories without positives get weight 1e-4
    target_cat[:, 17] = 0.0
    target_cat[:, 11] = 1.0  # and one where every person is positive
    vad = torch.randint(1, 11, (n, 3), generator=gen).float()
    target_cont = vad / 10.0
    # Predictions within about +-3 VAD units, so both sides of the margin occur.
    pred_cont = (target_cont + torch.randn(n, 3, generator=gen) * 0.15).float()
    cases = []
    for weighting in ["dynamic", "mean", "static"]:
        for cont in ["smooth-l1", "l2"]:
            w = category_weights(weighting, target_cat)
            lc = categorical_loss(pred_cat, target_cat, w)
            lr = continuous_loss(cont, pred_cont, target_cont)
            cases.append({
                "weighting": weighting, "continuous": cont,
                "weights": w.tolist(),
                "categorical": lc.item(), "continuous_loss": lr.item(),
                "total": (0.5 * lc + 0.5 * lr).item(),
            })
    doc = {
        "generator": "tools/gen_train_golden.py (PyTorch %s, float32)" % torch.__version__,
        "n": n,
        "pred_cat": pred_cat.flatten().tolist(), "target_cat": target_cat.flatten().tolist(),
        "pred_cont": pred_cont.flatten().tolist(), "target_cont": target_cont.flatten().tolist(),
        "cases": cases,
    }
    with open(os.path.join(OUT, "losses.json"), "w") as f:
        json.dump(doc, f, indent=1)


class Stream(nn.Module):
    """torchvision ResNet18's layout (conv1, bn1, layer1..4 of BasicBlocks) at other widths."""

    def __init__(self, widths):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            blocks = []
            for b in range(2):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or c_in != w:
                    down = nn.Sequential(nn.Conv2d(c_in, w, 1, s, bias=False), nn.BatchNorm2d(w))
                blocks.append(BasicBlock(c_in, w, s, down))
                c_in = w
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))


class Head(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.fc1 = nn.Linear(features, 256)
        self.bn1 = nn.BatchNorm1d(256)
        self.fc_cat = nn.Linear(256, 26)
        self.fc_cont = nn.Linear(256, 3)

    def forward(self, c, b, mask):
        x = torch.relu(self.bn1(self.fc1(torch.cat([c, b], 1))))
        x = x * mask  # dropout with a given mask (0 or 1/(1-p))
        return self.fc_cat(x), self.fc_cont(x)


def randomise_bn(module, gen):
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = 1.0 + 0.2 * torch.randn(c, generator=gen)
            m.bias.data = 0.1 * torch.randn(c, generator=gen)
            m.running_mean.data = 0.1 * torch.randn(c, generator=gen)
            m.running_var.data = 0.5 + torch.rand(c, generator=gen)
            m.num_batches_tracked.data = torch.tensor(3)


def state(prefix, module):
    return {prefix + k: v.detach().clone() for k, v in module.state_dict().items()}


def write_train_step(gen):
    torch.manual_seed(1234)
    widths = [4, 8, 8, 16]
    context, body, head = Stream(widths), Stream(widths), Head(2 * widths[-1])
    for m in (context, body, head):
        randomise_bn(m, gen)
    n = 4
    inputs = {
        "input.context": torch.randn(n, 3, 48, 48, generator=gen),
        "input.body": torch.randn(n, 3, 32, 32, generator=gen),
        "input.cat": (torch.rand(n, 26, generator=gen) < 0.3).float(),
        "input.cont": torch.randint(1, 11, (n, 3), generator=gen).float() / 10.0,
        "input.dropout_mask": (torch.rand(n, 256, generator=gen) < 0.5).float() * 2.0,
    }
    out = {}
    for prefix, m in (("init.context.", context), ("init.body.", body), ("init.head.", head)):
        out.update(state(prefix, m))
    out.update(inputs)

    models = [context.double(), body.double(), head.double()]
    for m in models:
        m.train()
    params = [p for m in models for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    x = {k: v.double() for k, v in inputs.items()}
    named = {}
    for prefix, m in (("context.", context), ("body.", body), ("head.", head)):
        for k, p in m.named_parameters():
            named[prefix + k] = p
    for step in range(1, 4):
        opt.zero_grad()
        pc, pv = head(context(x["input.context"]), body(x["input.body"]), x["input.dropout_mask"])
        w = category_weights("dynamic", x["input.cat"])
        lc = categorical_loss(pc, x["input.cat"], w)
        lr = continuous_loss("smooth-l1", pv, x["input.cont"])
        loss = 0.5 * lc + 0.5 * lr
        loss.backward()
        if step == 1:
            for k, p in named.items():
                out["grad." + k] = p.grad.detach().clone()
        out["step%d.total" % step] = loss.detach().reshape(1)
        out["step%d.categorical" % step] = lc.detach().reshape(1)
        out["step%d.continuous" % step] = lr.detach().reshape(1)
        opt.step()
    for prefix, m in (("final.context.", context), ("final.body.", body), ("final.head.", head)):
        out.update(state(prefix, m))
    out = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    torch.save(out, os.path.join(OUT, "train_step.pth"))


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261129)
    write_losses(gen)
    write_train_step(gen)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
