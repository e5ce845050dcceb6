#!/usr/bin/env python3
"""Golden numbers for crates/emotic-eval, computed with scikit-learn and numpy.

Writes crates/emotic-eval/tests/data/:
  golden_cases.json   single-category cases (ties at the threshold, no positives, highest
                      score negative, ...) with sklearn's precision_recall_curve, AP, the
                      reference threshold and a VOC-style AP;
  val_cat_preds.mat, val_cat_labels.mat, val_cont_preds.mat, val_cont_labels.mat
                      a small (26,N)/(3,N) set written like the reference test.py does;
  val_preds.jsonl, val_labels.jsonl   the same set in our JSON lines format;
  golden_full.json    the reference test.py numbers for it (float32 AP array, mean, VAD).

Run: python3 tools/gen_eval_golden.py   (numbers recorded with the sklearn version printed)
Optional: --big N DIR writes an N-person set as .mat files for timing `emotic eval`.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.io
import sklearn
from sklearn.metrics import average_precision_score, precision_recall_curve

OUT = Path(__file__).resolve().parent.parent / "crates" / "emotic-eval" / "tests" / "data"


def reference_threshold(labels, scores):
    """test.py: first k with p[k] == r[k] gives t[k], else 0; float32."""
    p, r, t = precision_recall_curve(labels, scores)
    for k in range(len(t)):
        if p[k] == r[k]:
            return float(np.float32(t[k]))
    return 0.0


def voc_ap(labels, scores):
    """VOC devkit all-point interpolated AP with ties grouped (no random jitter)."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    npos = labels.sum()
    if npos == 0:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    s, l = scores[order], labels[order]
    tp, fp = np.cumsum(l), np.cumsum(1 - l)
    last = np.r_[np.where(np.diff(s) != 0)[0], len(s) - 1]
    rec = tp[last] / npos
    prec = tp[last] / (tp[last] + fp[last])
    mrec = np.r_[0.0, rec, 1.0]
    mpre = np.r_[0.0, prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))


def case(name, labels, scores):
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No positive class found" is part of the test
        p, r, t = precision_recall_curve(labels, scores)
        ap = average_precision_score(labels, scores)
        thr = reference_threshold(labels, scores)
    return {
        "name": name,
        "labels": labels.tolist(),
        "scores": scores.tolist(),
        "precision": p.tolist(),
        "recall": r.tolist(),
        "thresholds": t.tolist(),
        "average_precision": float(ap),
        "threshold": thr,
        "voc_ap": voc_ap(labels, scores),
    }


def make_set(rng, n):
    labels = (rng.random((26, n)) < rng.uniform(0.02, 0.5, (26, 1))).astype(np.float64)
    labels[7, :] = 0.0  # a category without positives
    noise = rng.normal(0, 1, (26, n))
    preds = 1 / (1 + np.exp(-(noise + 1.5 * labels - 1)))
    preds = np.round(preds, 2)  # many ties, as coarse model outputs give
    preds = preds.astype(np.float32).astype(np.float64)  # model outputs are float32
    cont_labels = rng.integers(1, 10, (3, n)).astype(np.float64)
    cont_preds = (cont_labels + rng.normal(0, 1, (3, n))).astype(np.float32).astype(np.float64)
    return preds, labels, cont_preds, cont_labels


def save_set(out, split, preds, labels, cont_preds, cont_labels):
    out.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(out / f"{split}_cat_preds.mat", {"cat_preds": preds})
    scipy.io.savemat(out / f"{split}_cat_labels.mat", {"cat_labels": labels})
    scipy.io.savemat(out / f"{split}_cont_preds.mat", {"cont_preds": cont_preds})
    scipy.io.savemat(out / f"{split}_cont_labels.mat", {"cont_labels": cont_labels})


def save_jsonl(out, split, preds, labels, cont_preds, cont_labels):
    """The same set in our JSON lines format (one person per line)."""
    for kind, cat, cont in (("preds", preds, cont_preds), ("labels", labels, cont_labels)):
        with open(out / f"{split}_{kind}.jsonl", "w") as f:
            for i in range(cat.shape[1]):
                f.write(json.dumps({"cat": cat[:, i].tolist(), "vad": cont[:, i].tolist()}) + "\n")


def reference_scores(preds, labels, cont_preds, cont_labels):
    """What the reference test.py computes."""
    ap = np.zeros(26, dtype=np.float32)
    thr = np.zeros(26, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(26):
            ap[i] = average_precision_score(labels[i, :], preds[i, :])
            thr[i] = reference_threshold(labels[i, :], preds[i, :])
    vad = np.zeros(3, dtype=np.float32)
    for i in range(3):
        vad[i] = np.mean(np.abs(cont_preds[i, :] - cont_labels[i, :]))
    return {
        "ap": ap.tolist(),
        "mean_ap": float(ap.mean()),
        "thresholds": thr.tolist(),
        "voc_ap": [voc_ap(labels[i], preds[i]) for i in range(26)],
        "vad": vad.tolist(),
        "mean_vad": float(vad.mean()),
    }


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--big":
        n, out = int(sys.argv[2]), Path(sys.argv[3])
        s = make_set(np.random.default_rng(7), n)
        save_set(out, "test", *s)
        (out / "golden_big.json").write_text(json.dumps(reference_scores(*s)))
        return
    rng = np.random.default_rng(20261129)
    cases = [
        case("simple", [0, 1, 1, 0, 1], [0.9, 0.5, 0.5, 0.1, 0.3]),
        # precision == recall only at the top threshold, whose only sample is negative
        case("highest_score_negative", [1, 0, 1, 0], [0.5, 0.9, 0.5, 0.5]),
        case("no_positives", [0, 0, 0, 0, 0], [0.3, 0.1, 0.3, 0.7, 0.2]),
        case("all_positives", [1, 1, 1], [0.2, 0.2, 0.9]),
        case("single", [1], [0.4]),
        # P = 3; the tie group at 0.6 brings the predicted count from 2 to 4: no exact match
        # there, so the threshold comes from elsewhere
        case("tie_straddles_count", [1, 1, 0, 1, 0, 0, 0], [0.9, 0.6, 0.6, 0.8, 0.6, 0.1, 0.2]),
        # P = 3 reached exactly at a tie group
        case("tie_at_threshold", [1, 0, 1, 1, 0, 0], [0.7, 0.7, 0.7, 0.2, 0.1, 0.1]),
        case("negative_zero", [1, 0, 1, 0], [0.0, -0.0, 1.0, -1.0]),
        case("random_ties", (rng.random(300) < 0.3).astype(float), np.round(rng.random(300), 1)),
        case("random", (rng.random(500) < 0.1).astype(float), rng.random(500)),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"sklearn": sklearn.__version__, "numpy": np.__version__}
    (OUT / "golden_cases.json").write_text(json.dumps({"meta": meta, "cases": cases}))
    s = make_set(rng, 150)
    save_set(OUT, "val", *s)
    save_jsonl(OUT, "val", *s)
    full = reference_scores(*s)
    full["meta"] = meta
    (OUT / "golden_full.json").write_text(json.dumps(full))
    print("sklearn", sklearn.__version__, "wrote", OUT)


if __name__ == "__main__":
    main()
