#!/usr/bin/env python3
"""A small synthetic EMOTIC release for crates/emotic-data tests.

Writes crates/emotic-data/tests/data/synthetic/:
  release/Annotations/Annotations.mat   official nested layout (scipy.io.savemat):
        train/val/test = 1xN struct arrays (filename, folder, image_size{n_col,n_row},
        original_database, person); train persons have one annotator, val/test persons
        have per-annotator and combined categories/continuous.
  release/emotic/{ade20k,emodb_small,framesdb,mscoco}/images/*.{png,jpg}   generated images
        (PNG, and JPEG like the real release: emotic-io decodes JPEG with libjpeg-turbo's
        algorithms, so the Rust pixels must equal cv2.imread's exactly),
        one corrupt file, one image listed but missing.
  reference/{split}.csv, {split}_cat_arr.npy, {split}_cont_arr.npy   computed the way the
        reference mat2py.py does (scipy.io.loadmat, cv2.imread, BGR->RGB, crop, cv2.resize);
  reference/{split}_context_arr.npy.gz, {split}_body_arr.npy.gz   the image arrays, gzipped
        to keep the fixture small (tests gunzip them).
  expected.json   counts and skip counts per split.

Special persons: NaN VAD (train), missing image (train), box clamped to nothing (train), zero category annotators (val),
corrupt image (test), boxes outside the image (clamped), fractional boxes (truncated),
a grayscale image, several persons per image, multi-annotator val/test persons.

  python3 tools/gen_synthetic_emotic.py                    generate
  python3 tools/gen_synthetic_emotic.py --check-export DIR  verify `emotic prepare --export`
        output in DIR reads back in Python and equals the reference arrays
"""
import ast
import csv
import gzip
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import scipy.io

OUT = Path(__file__).resolve().parent.parent / "crates" / "emotic-data" / "tests" / "data" / "synthetic"
CATS = ["Affection", "Anger", "Annoyance", "Anticipation", "Aversion", "Confidence", "Disapproval",
        "Disconnection", "Disquietment", "Doubt/Confusion", "Embarrassment", "Engagement", "Esteem",
        "Excitement", "Fatigue", "Fear", "Happiness", "Pain", "Peace", "Pleasure", "Sadness",
        "Sensitivity", "Suffering", "Surprise", "Sympathy", "Yearning"]
FOLDERS = ["ade20k/images", "emodb_small/images", "framesdb/images", "mscoco/images"]
HEADER = ["Index", "Folder", "Filename", "Image Size", "BBox", "Categorical_Labels",
          "Continuous_Labels", "Gender", "Age"]


def make_image(rng, w, h, gray=False, gradient=False):
    """Flat shapes on a flat background (compresses well after resizing; every edge still
    exercises the interpolation); `gradient` adds a smooth ramp to one image."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = tuple(int(v) for v in rng.integers(0, 256, 3))
    if gradient:
        y, x = np.mgrid[0:h, 0:w]
        img[..., 1] = (x * 255 // max(w - 1, 1)).astype(np.uint8)
        img[..., 2] = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    for _ in range(3):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.rectangle(img, p1, p2, color, -1)
        cv2.circle(img, p2, int(rng.integers(2, 10)), color[::-1], -1)
    if gray:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img


def cell(strings):
    out = np.empty((1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        out[0, i] = s
    return out


def vad_struct(v, a, d):
    s = np.zeros((1, 1), dtype=[("valence", "O"), ("arousal", "O"), ("dominance", "O")])
    s[0, 0] = (np.array([[v]], float), np.array([[a]], float), np.array([[d]], float))
    return s


def build(rng, root):
    """Images on disk plus the annotation structs."""
    img_dir = root / "release" / "emotic"
    for f in FOLDERS:
        (img_dir / f).mkdir(parents=True, exist_ok=True)
    splits = {}
    counter = 0
    plan = {"train": 12, "val": 8, "test": 8}
    for split, n_images in plan.items():
        img_dt = [("filename", "O"), ("folder", "O"), ("image_size", "O"),
                  ("original_database", "O"), ("person", "O")]
        images = np.zeros((1, n_images), dtype=img_dt)
        for i in range(n_images):
            counter += 1
            folder = FOLDERS[counter % 4]
            # Every third image is a JPEG (decoded like cv2.imread by emotic-io), the rest PNG.
            name = f"img_{split}_{i:02d}.{'jpg' if i % 3 == 1 else 'png'}"
            w, h = int(rng.integers(40, 90)), int(rng.integers(40, 90))
            path = img_dir / folder / name
            if split == "train" and i == 3:
                pass  # listed but missing on disk
            elif split == "test" and i == 3:
                path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 60, dtype=np.uint8)))
            else:
                cv2.imwrite(str(path), make_image(rng, w, h, gray=(split == "val" and i == 1),
                                                 gradient=(split == "train" and i == 0)))
            size = np.zeros((1, 1), dtype=[("n_col", "O"), ("n_row", "O")])
            size[0, 0] = (np.array([[w]], float), np.array([[h]], float))
            db = np.zeros((1, 1), dtype=[("name", "O"), ("info", "O")])
            db[0, 0] = (folder.split("/")[0], np.zeros((1, 1), dtype=[("note", "O")]))
            n_persons = 1 + int(rng.integers(0, 3))
            persons = make_persons(rng, split, i, n_persons, w, h)
            images[0, i] = (name, folder, size, db, persons)
        splits[split] = images
    scipy.io.savemat(root / "release" / "Annotations" / "Annotations.mat", splits,
                     do_compression=True)


def make_persons(rng, split, image_index, n, w, h):
    def bbox():
        x1, y1 = rng.uniform(-10, w * 0.6), rng.uniform(-10, h * 0.6)
        return np.array([[x1, y1, x1 + rng.uniform(8, w), y1 + rng.uniform(8, h)]])

    def cats():
        k = int(rng.integers(1, 4))
        return sorted(rng.choice(len(CATS), k, replace=False).tolist())

    genders, ages = ["Male", "Female"], ["Adult", "Teenager", "Kid"]
    if split == "train":
        dt = [("body_bbox", "O"), ("annotations_categories", "O"), ("annotations_continuous", "O"),
              ("gender", "O"), ("age", "O")]
        out = np.zeros((1, n), dtype=dt)
        for p in range(n):
            ann = np.zeros((1, 1), dtype=[("categories", "O")])
            ann[0, 0] = (cell([CATS[c] for c in cats()]),)
            v, a, d = (float(x) for x in rng.integers(1, 11, 3))
            if image_index == 5 and p == 0:
                a = float("nan")
            box = bbox()
            if image_index == 6 and p == 0:
                box = np.array([[w + 5.0, 3.0, w + 20.0, h - 1.5]])  # clamps to an empty crop
            out[0, p] = (box, ann, vad_struct(v, a, d), genders[p % 2], ages[p % 3])
        return out
    dt = [("body_bbox", "O"), ("annotations_categories", "O"), ("combined_categories", "O"),
          ("annotations_continuous", "O"), ("combined_continuous", "O"), ("gender", "O"), ("age", "O")]
    out = np.zeros((1, n), dtype=dt)
    for p in range(n):
        n_ann = 0 if (split == "val" and image_index == 2 and p == 0) else int(rng.integers(2, 4))
        ann = np.zeros((1, n_ann), dtype=[("categories", "O")])
        cont = np.zeros((1, n_ann), dtype=[("valence", "O"), ("arousal", "O"), ("dominance", "O")])
        union, vads = set(), []
        for k in range(n_ann):
            cs = cats()
            union.update(cs)
            ann[0, k] = (cell([CATS[c] for c in cs]),)
            vad = [float(x) for x in rng.integers(1, 10, 3)]
            vads.append(vad)
            cont[0, k] = tuple(np.array([[x]], float) for x in vad)
        comb = np.mean(vads, axis=0) if vads else [float("nan")] * 3
        out[0, p] = (bbox(), ann, cell([CATS[c] for c in sorted(union)]), cont,
                     vad_struct(*comb), genders[p % 2], ages[p % 3])
    return out


def reference_prepare(root, split):
    """The reference mat2py.py logic, written again: positional access on loadmat output."""
    mat = scipy.io.loadmat(root / "release" / "Annotations" / "Annotations.mat")
    rows, contexts, bodies, cat_arr, cont_arr = [], [], [], [], []
    skipped = {}
    for ex in mat[split][0]:
        filename, folder = str(ex[0][0]), str(ex[1][0])
        size = np.array(ex[2]).flatten().tolist()[0]
        im_size = [np.array(size[0]).flatten().tolist()[0], np.array(size[1]).flatten().tolist()[0]]
        for person in ex[4][0]:
            x1, y1, x2, y2 = np.array(person[0]).flatten().tolist()
            x1, x2 = (min(im_size[0], max(0, v)) for v in (x1, x2))
            y1, y2 = (min(im_size[1], max(0, v)) for v in (y1, y2))
            bbox = [int(x1), int(y1), int(x2), int(y2)]
            if split == "train":
                annotators = len(person[1][0])
                names = [str(np.array(c).flatten()[0]) for c in person[1][0][0][0].flatten()]
                cont = [np.array(c).flatten().tolist()[0] for c in person[2][0][0]]
                gender, age = str(person[3][0]), str(person[4][0])
            else:
                annotators = len(person[1][0])
                names = [str(np.array(c).flatten()[0]) for c in person[2].flatten()]
                cont = [np.array(c).flatten().tolist()[0] for c in person[4][0][0]]
                gender, age = str(person[5][0]), str(person[6][0])
            if annotators == 0:
                skipped["no_category_annotators"] = skipped.get("no_category_annotators", 0) + 1
                continue
            if any(np.isnan(c) for c in cont):
                skipped["nan_vad"] = skipped.get("nan_vad", 0) + 1
                continue
            path = root / "release" / "emotic" / folder / filename
            if not path.exists():
                skipped["missing_image"] = skipped.get("missing_image", 0) + 1
                continue
            img = cv2.imread(str(path))
            if img is None:
                skipped["unreadable_image"] = skipped.get("unreadable_image", 0) + 1
                continue
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            body = img[bbox[1]:bbox[3], bbox[0]:bbox[2]].copy()
            if body.size == 0:
                skipped["empty_crop"] = skipped.get("empty_crop", 0) + 1
                continue
            contexts.append(cv2.resize(img, (224, 224)))
            bodies.append(cv2.resize(body, (128, 128)))
            hot = np.zeros(26)
            for n in names:
                hot[CATS.index(n)] = 1
            cat_arr.append(hot)
            cont_arr.append(cont)
            rows.append([len(rows), folder, filename, im_size, bbox, names, cont, gender, age])
    return rows, contexts, bodies, cat_arr, cont_arr, skipped


def mat_types(root):
    """MAT files covering every type the reader handles, plus the expected values as JSON."""
    st = np.zeros((1, 2), dtype=[("a", "O"), ("b", "O")])
    st[0, 0] = (np.array([[1.5]]), "x")
    inner = np.zeros((1, 1), dtype=[("deep", "O")])
    inner[0, 0] = (cell(["z", np.array([[7]], np.int16)]),)
    st[0, 1] = (inner, np.zeros((0, 0)))
    values = {
        "d": np.array([[1.0, -2.5, 3.0], [4.0, 5.0, np.inf]]),
        "s": np.array([[0.25, -1.0]], np.float32),
        "i8": np.array([[-128, 127]], np.int8), "u8": np.array([[0, 255]], np.uint8),
        "i16": np.array([[-32768, 7]], np.int16), "u16": np.array([[65535]], np.uint16),
        "i32": np.array([[-2147483648, 5]], np.int32), "u32": np.array([[4294967295]], np.uint32),
        "i64": np.array([[-(2 ** 40), 3]], np.int64), "u64": np.array([[2 ** 50]], np.uint64),
        "b": np.array([[True, False, True]]),
        "txt": "h\u00e9llo w\u00f6rld", "empty": np.zeros((0, 3)),
        "c": cell([1.0, "a", cell([2.0])]),
        "st": st,
    }
    expected = {
        "d": {"dims": [2, 3], "data": [1.0, 4.0, -2.5, 5.0, 3.0, "inf"]},
        "s": {"dims": [1, 2], "data": [0.25, -1.0]},
        "i8": {"dims": [1, 2], "data": [-128, 127]}, "u8": {"dims": [1, 2], "data": [0, 255]},
        "i16": {"dims": [1, 2], "data": [-32768, 7]}, "u16": {"dims": [1, 1], "data": [65535]},
        "i32": {"dims": [1, 2], "data": [-2147483648, 5]},
        "u32": {"dims": [1, 1], "data": [4294967295]},
        "i64": {"dims": [1, 2], "data": [-(2 ** 40), 3]}, "u64": {"dims": [1, 1], "data": [2 ** 50]},
        "b": {"dims": [1, 3], "data": [1, 0, 1], "logical": True},
        "txt": {"text": "h\u00e9llo w\u00f6rld"}, "empty": {"dims": [0, 3], "data": []},
    }
    scipy.io.savemat(root / "mat_types.mat", values, do_compression=False)
    scipy.io.savemat(root / "mat_types_z.mat", values, do_compression=True)
    (root / "mat_types.json").write_text(json.dumps(expected, indent=1))


def generate():
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "release" / "Annotations").mkdir(parents=True)
    (OUT / "reference").mkdir(parents=True)
    rng = np.random.default_rng(4)
    build(rng, OUT)
    mat_types(OUT)
    expected = {}
    for split in ("train", "val", "test"):
        rows, ctx, body, cat, cont, skipped = reference_prepare(OUT, split)
        ref = OUT / "reference"
        with open(ref / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(rows)
        for name, arr in (("context", np.array(ctx, np.uint8)), ("body", np.array(body, np.uint8))):
            with open(ref / f"{split}_{name}_arr.npy.gz", "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
                    np.save(f, arr)
        np.save(ref / f"{split}_cat_arr.npy", np.array(cat))
        np.save(ref / f"{split}_cont_arr.npy", np.array(cont))
        expected[split] = {"count": len(rows), "skipped": skipped}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(json.dumps(expected), f"{total} bytes")


def check_export(export_dir):
    """Reads an exported split back the way the reference Emotic_PreDataset and pandas would."""
    export_dir = Path(export_dir)
    ok = True
    for split in ("train", "val", "test"):
        rows, ctx, body, cat, cont, _ = reference_prepare(OUT, split)
        got_ctx = np.load(export_dir / f"{split}_context_arr.npy")
        got_body = np.load(export_dir / f"{split}_body_arr.npy")
        got_cat = np.load(export_dir / f"{split}_cat_arr.npy")
        got_cont = np.load(export_dir / f"{split}_cont_arr.npy")
        with open(export_dir / f"{split}.csv", newline="") as f:
            got_rows = list(csv.reader(f))
        checks = {
            "context": np.array_equal(got_ctx, np.array(ctx, np.uint8)) and got_ctx.dtype == np.uint8,
            "body": np.array_equal(got_body, np.array(body, np.uint8)),
            "cat": np.array_equal(got_cat, np.array(cat)),
            "cont": np.array_equal(got_cont, np.array(cont)),
            "csv_header": got_rows[0] == HEADER,
            "csv_rows": len(got_rows) - 1 == len(rows) and all(
                [r[1], r[2], ast.literal_eval(r[3]), ast.literal_eval(r[4]), ast.literal_eval(r[5]),
                 ast.literal_eval(r[6]), r[7], r[8]] == e[1:] for r, e in zip(got_rows[1:], rows)),
        }
        print(split, checks)
        ok &= all(checks.values())
    print("export reads back in Python:", "OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
    else:
        generate()
