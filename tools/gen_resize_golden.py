#!/usr/bin/env python3
"""Golden outputs of OpenCV's cv2.resize(INTER_LINEAR) on 8-bit images, for emotic::imageops.

Source images are generated from a seed with splitmix64 (reimplemented in the Rust test), so only
the expected outputs need committing: the full bytes (hex) when small, else their FNV-1a 64 hash.
Cases cover up- and down-scaling, odd sizes, 1-pixel-wide crops, exact 2x up/down, equal sizes and
the model's 224x224 and 128x128 targets, on noise (every rounding case) and on smooth ramps.

Writes crates/emotic/tests/data/resize_golden.json. Run from the repository root:
    python3 tools/gen_resize_golden.py
"""
import json
import sys

import cv2
import numpy as np

MASK = (1 << 64) - 1
FULL_BYTES_LIMIT = 512


def splitmix64_bytes(seed, n):
    """n bytes: the low byte of successive splitmix64 outputs (state starts at `seed`)."""
    idx = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + idx * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z & np.uint64(0xFF)).astype(np.uint8)


def make_image(w, h, seed, pattern):
    """`noise`: uniform bytes; `ramp`: a smooth gradient plus small noise (natural-image-like)."""
    noise = splitmix64_bytes(seed, w * h * 3).reshape(h, w, 3)
    if pattern == "noise":
        return noise
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w, 1), yy * 255 // max(h, 1), (xx + yy) * 127 // max(w + h, 1)], -1)
    return np.clip(base + (noise.astype(np.int64) % 9) - 4, 0, 255).astype(np.uint8)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def cases():
    targets = [(224, 224), (128, 128), (1, 1), (7, 5), (5, 7), (17, 1), (1, 17), (33, 65), (300, 200)]
    sources = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 7), (13, 17), (37, 100), (100, 37), (64, 48),
               (3, 400), (400, 3), (31, 63), (250, 187), (640, 480), (1280, 720), (810, 1080)]
    seed = 1
    for (w, h) in sources:
        extra = [(2 * w, 2 * h), (max(1, w // 2), max(1, h // 2)), (w, h), (w + 1, max(1, h - 1))]
        for (dw, dh) in targets + extra:
            if dw * dh > 1_500_000:
                continue
            pattern = "noise" if seed % 3 else "ramp"
            yield dict(src_w=w, src_h=h, seed=seed, pattern=pattern, dst_w=dw, dst_h=dh)
            seed += 1
    # Thin body crops as the pipeline produces them (1-pixel-wide and 1-pixel-tall boxes).
    for (w, h) in [(1, 250), (250, 1), (2, 300), (1, 1)]:
        yield dict(src_w=w, src_h=h, seed=seed, pattern="noise", dst_w=128, dst_h=128)
        seed += 1


def main():
    out = []
    for case in cases():
        img = make_image(case["src_w"], case["src_h"], case["seed"], case["pattern"])
        res = cv2.resize(img, (case["dst_w"], case["dst_h"]), interpolation=cv2.INTER_LINEAR)
        data = res.tobytes()
        entry = dict(case)
        entry["fnv1a64"] = f"{fnv1a64(data):016x}"
        if len(data) <= FULL_BYTES_LIMIT:
            entry["bytes_hex"] = data.hex()
        out.append(entry)
    doc = {
        "generator": "tools/gen_resize_golden.py",
        "opencv_version": cv2.__version__,
        "note": "source pixels: low byte of splitmix64(seed) outputs, see make_image()",
        "cases": out,
    }
    path = "crates/emotic/tests/data/resize_golden.json"
    with open(path, "w") as f:
        json.dump(doc, f, indent=0)
    print(f"wrote {len(out)} cases to {path} (OpenCV {cv2.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
