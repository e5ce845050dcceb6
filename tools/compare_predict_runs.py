#!/usr/bin/env python3
"""Runs `emotic predict` with two builds on the same inputs and compares their run folders.

Used to prove that a refactor of the predict path leaves every output as it was:

    python3 tools/compare_predict_runs.py --before /tmp/emotic-old --after target/debug/emotic

Cases: the shared fixture images (with the reduced EMOTIC model and every output switched on,
and detection only), a 1 s H.264 clip of zidane.jpg, and a `.txt` list mixing an image and the
clip. Files are compared byte for byte, except that in JSON records the stage timings
(`speed_ms`, which differ run to run) and the `schema_version` field (added by the typed
schema; older builds have none) are cut out of the text first, and that videos are compared by
their decoded frames (ffmpeg's framemd5). Exit status 1 when anything differs.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures")
EMOTIC_SMALL = os.path.join(ROOT, "crates", "emotic", "tests", "data", "emotic_small")

SPEED = re.compile(r'"speed_ms":\{[^}]*\}')
VERSION = re.compile(r'"schema_version":\s*1,\s*')


def normalise(path, data):
    """The bytes to compare: timings and the schema version cut out of JSON text."""
    if path.endswith((".jsonl", ".json")):
        text = data.decode()
        text = SPEED.sub('"speed_ms":{}', text)
        text = VERSION.sub("", text)
        return text.encode()
    if path.endswith((".mp4", ".mkv")):
        out = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", path, "-f", "framemd5", "-"],
            check=True, capture_output=True,
        ).stdout
        return b"\n".join(l for l in out.splitlines() if not l.startswith(b"#"))
    return data


def files(folder):
    found = {}
    for base, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(base, n)
            found[os.path.relpath(p, folder)] = p
    return found


def run(binary, args, project):
    proc = subprocess.run([binary, "predict", *args, "--project", project],
                          capture_output=True, text=True)
    return proc.returncode, proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="emotic-compare-")
    weights = os.path.join(FIXTURES, "yolov5n.pt")
    images = os.path.join(FIXTURES, "images")
    clip = os.path.join(work, "clip.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i",
                    os.path.join(images, "zidane.jpg"), "-t", "1", "-r", "10",
                    "-vf", "scale=640:360", "-pix_fmt", "yuv420p", "-c:v", "libx264", clip],
                   check=True)
    listing = os.path.join(work, "mixed.txt")
    with open(listing, "w") as f:
        f.write(os.path.join(images, "bus.jpg") + "\n" + clip + "\n")
    every = ["--save-txt", "--save-conf", "--save-crop", "--save-csv"]
    cases = {
        "images+emotions": ["-s", images, "-e", EMOTIC_SMALL, *every],
        "images, detection only": ["-s", images, *every],
        "video+emotions": ["-s", clip, "-e", EMOTIC_SMALL, *every],
        "mixed list+emotions": ["-s", listing, "-e", EMOTIC_SMALL],
    }
    differences = 0
    for name, case in cases.items():
        results = {}
        for side, binary in (("before", args.before), ("after", args.after)):
            project = os.path.join(work, side, re.sub(r"\W+", "_", name))
            code, _ = run(binary, ["-w", weights, *case], project)
            results[side] = (code, files(os.path.join(project, "exp")))
        (code_a, a), (code_b, b) = results["before"], results["after"]
        problems = []
        if code_a != code_b:
            problems.append(f"exit code {code_a} vs {code_b}")
        if set(a) != set(b):
            problems.append(f"files differ: only before {sorted(set(a) - set(b))}, only after {sorted(set(b) - set(a))}")
        same = 0
        for rel in sorted(set(a) & set(b)):
            with open(a[rel], "rb") as fa, open(b[rel], "rb") as fb:
                da, db = normalise(a[rel], fa.read()), normalise(b[rel], fb.read())
            if da == db:
                same += 1
            else:
                problems.append(f"{rel} differs (sha256 {hashlib.sha256(da).hexdigest()[:12]} vs {hashlib.sha256(db).hexdigest()[:12]})")
        status = "same" if not problems else "DIFFERENT"
        print(f"{name}: {status}: {same} of {len(a)} files identical, exit code {code_b}")
        for p in problems:
            print(f"  {p}")
        differences += len(problems)
    shutil.rmtree(work)
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
