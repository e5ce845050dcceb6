#!/usr/bin/env python3
"""Training throughput on this machine's CPU: emotic-train (burn's flex and ndarray backends) vs PyTorch.

Both run the same work per step: full-size ResNet18 context (224x224) and body (128x128)
streams + the EMOTIC head, forward in training mode, the reference loss (dynamic weights +
Smooth L1), backward, one Adam step (lr 0.01, weight decay 5e-4). The first step of each
batch size is a warm-up and not counted. Run from the repository root:

    python3 tools/bench_train.py [--steps 2] [--batches 8 52] [--threads N]

It builds and runs `cargo run --profile $BENCH_PROFILE -p emotic-train --example bench_train`
(default `release`; `test` reuses the test build: dependencies at opt-level 3, our crate at 1) and
prints one JSON line per implementation and batch size.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torchvision


def torch_bench(batch, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def stream():
        return nn.Sequential(*list(torchvision.models.resnet18(weights=None).children())[:-1])

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(1024, 256)
            self.bn1 = nn.BatchNorm1d(256)
            self.d1 = nn.Dropout(0.5)
            self.fc_cat = nn.Linear(256, 26)
            self.fc_cont = nn.Linear(256, 3)

        def forward(self, c, b):
            x = torch.cat([c.view(-1, 512), b.view(-1, 512)], 1)
            x = self.d1(torch.relu(self.bn1(self.fc1(x))))
            return self.fc_cat(x), self.fc_cont(x)

    context, body, head = stream().train(), stream().train(), Head().train()
    params = list(context.parameters()) + list(body.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    xc = torch.randn(batch, 3, 224, 224)
    xb = torch.randn(batch, 3, 128, 128)
    cat = torch.zeros(batch, 26)
    cat.view(-1)[::7] = 1.0
    cont = torch.full((batch, 3), 0.5)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        pc, pv = head(context(xc), body(xb))
        n = cat.sum(0)
        w = torch.where(n != 0, 1.0 / torch.log(n + 1.2), torch.full_like(n, 1e-4))
        lc = (((pc - cat) ** 2) * w).sum()
        x = (pv * 10 - cont * 10).abs()
        lr = torch.where(x <= 1, 0.5 * x ** 2, x - 0.5).sum()
        (0.5 * lc + 0.5 * lr).backward()
        opt.step()
        times.append(time.perf_counter() - t)
    mean = sum(times[1:]) / steps
    return {"impl": "pytorch-%s" % torch.__version__, "threads": threads, "batch": batch,
            "steps": steps, "seconds_per_step": round(mean, 3),
            "samples_per_second": round(batch / mean, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 52])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--skip-rust", action="store_true")
    ap.add_argument("--devices", nargs="+", default=["flex", "ndarray"],
                    help="emotic-train devices (BENCH_DEVICE of the example)")
    args = ap.parse_args()
    if not args.skip_rust:
        profile = os.environ.get("BENCH_PROFILE", "release")
        cmd = ["cargo", "run", "-q", "--profile", profile, "-p", "emotic-train",
               "--example", "bench_train"]
        cmd += ["--"] + [str(b) for b in args.batches] + ["--steps", str(args.steps)]
        for device in args.devices:
            env = dict(os.environ, BENCH_DEVICE=device)
            out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                                 env=env).stdout
            for line in out.splitlines():
                rec = json.loads(line)
                rec["profile"] = profile
                print(json.dumps(rec), flush=True)
    for b in args.batches:
        print(json.dumps(torch_bench(b, args.steps, args.threads)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
