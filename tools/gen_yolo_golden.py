#!/usr/bin/env python3
"""Golden outputs for the YOLOv5 ONNX graph test (crates/emotic/tests/yolov5_graph.rs).

The reference forward is written here in plain torch functional ops from the state dict and the
model dict (`yaml`), in float64, with BatchNorm *unfolded* (its own eps) and YOLOv5's Detect decode;
it shares no code with the Rust graph builder. The real yolov5 repo is not needed: a custom
Unpickler maps the pickled `models.*` classes to empty nn.Module subclasses, which is enough to
get the state dict, the yaml and the BatchNorm eps.

Outputs (crates/emotic/tests/data/):
  yolo_zidane_320.png         zidane.jpg letterboxed like YOLOv5 (320, auto padding) -> 192x320 RGB
  yolov5n_zidane_golden.npy   reference rows [K, 85] at the indices below (float32)
  yolov5n_golden.json         row indices, output shapes, whole-output stats, for both inputs
  yolov5n_pattern_golden.npy  same for a synthetic pattern at 224x256 (dynamic-shape check)
  yolo_v50_tiny.pt            a tiny random v5.0-layout model (Focus, SPP, C3), fp16, as
                              {'model': <models.yolo.Model>} with a `yaml` attribute
  yolo_v50_tiny_golden.npy    its full reference output on the pattern at 128x160 [1, rows, 8]
  yolo_v50_tiny_golden.json   shapes and eps

Also checks the reference itself: at 640 it must reproduce the detections in
/work/shared/fixtures/yolov5n_expected_detections.json (made by the real YOLOv5).

Run: python3 tools/gen_yolo_golden.py   (needs torch, torchvision, opencv, numpy)
"""
import json
import math
import pickle
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
OUT = ROOT / "crates" / "emotic" / "tests" / "data"
N_ROWS = 200  # rows kept per golden: the 100 most confident + 100 spread over the output


# ---------------------------------------------------------------- loading without the yolov5 repo
class _Stub(nn.Module):
    """Stands in for any pickled `models.*` / `utils.*` class."""


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith(("models.", "utils.")):
            return type(name, (_Stub,), {"__module__": module})
        return super().find_class(module, name)


_stub_pickle = types.ModuleType("stub_pickle")
_stub_pickle.Unpickler = _StubUnpickler
_stub_pickle.load = lambda f, **kw: _StubUnpickler(f, **kw).load()


def load_yolo(path):
    ckpt = torch.load(path, map_location="cpu", pickle_module=_stub_pickle, weights_only=False)
    model = ckpt["model"]
    eps = {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert len(eps) == 1, eps
    sd = {k: v.double() for k, v in model.state_dict().items() if v.is_floating_point()}
    names = model.names if isinstance(model.names, list) else [model.names[i] for i in sorted(model.names)]
    return sd, model.yaml, eps.pop(), names


# ---------------------------------------------------------------- reference forward (float64)
def make_divisible(x, d=8):
    return math.ceil(x / d) * d


class Ref:
    def __init__(self, sd, eps):
        self.sd, self.eps = sd, eps

    def conv(self, p, x, k, s=1, pad=None, g=1, act=True):
        w = self.sd[p + ".conv.weight"]
        assert w.shape[2] == k, (p, w.shape, k)
        y = F.conv2d(x, w, None, s, k // 2 if pad is None else pad, 1, g)
        b = p + ".bn."
        y = F.batch_norm(y, self.sd[b + "running_mean"], self.sd[b + "running_var"], self.sd[b + "weight"],
                         self.sd[b + "bias"], False, 0.0, self.eps)
        return F.silu(y) if act else y

    def bottleneck(self, p, x, shortcut):
        y = self.conv(p + ".cv2", self.conv(p + ".cv1", x, 1), 3)
        return x + y if shortcut and x.shape[1] == y.shape[1] else y

    def c3(self, p, x, n, shortcut):
        a = self.conv(p + ".cv1", x, 1)
        for j in range(n):
            a = self.bottleneck(f"{p}.m.{j}", a, shortcut)
        return self.conv(p + ".cv3", torch.cat([a, self.conv(p + ".cv2", x, 1)], 1), 1)

    def forward(self, yaml, x):
        gd, gw, nc = yaml["depth_multiple"], yaml["width_multiple"], yaml["nc"]
        outs, strides = [], []
        stride = 1
        layers = yaml["backbone"] + yaml["head"]
        for i, (f, n, m, args) in enumerate(layers):
            n = max(round(n * gd), 1) if n > 1 else n
            p = f"model.{i}"
            inp = (x if i == 0 else outs[-1]) if f == -1 else None
            if m == "Conv":
                k = args[1] if len(args) > 1 else 1
                s = args[2] if len(args) > 2 else 1
                pad = args[3] if len(args) > 3 and args[3] not in (None, "None") else None
                y = self.conv(p, inp, k, s, pad)
                stride *= s
            elif m == "Focus":
                k = args[1] if len(args) > 1 else 1
                y = torch.cat([inp[..., ::2, ::2], inp[..., 1::2, ::2], inp[..., ::2, 1::2], inp[..., 1::2, 1::2]], 1)
                y = self.conv(p + ".conv", y, k)
                stride *= 2
            elif m == "C3":
                y = self.c3(p, inp, n, args[1] if len(args) > 1 else True)
            elif m == "SPPF":
                k = args[1] if len(args) > 1 else 5
                a = self.conv(p + ".cv1", inp, 1)
                y1 = F.max_pool2d(a, k, 1, k // 2)
                y2 = F.max_pool2d(y1, k, 1, k // 2)
                y3 = F.max_pool2d(y2, k, 1, k // 2)
                y = self.conv(p + ".cv2", torch.cat([a, y1, y2, y3], 1), 1)
            elif m == "SPP":
                ks = args[1] if len(args) > 1 else (5, 9, 13)
                a = self.conv(p + ".cv1", inp, 1)
                y = self.conv(p + ".cv2", torch.cat([a] + [F.max_pool2d(a, k, 1, k // 2) for k in ks], 1), 1)
            elif m == "nn.Upsample":
                y = F.interpolate(inp, scale_factor=args[1], mode="nearest")
                stride //= args[1]
            elif m == "Concat":
                y = torch.cat([outs[j] if j >= 0 else outs[i + j] for j in f], 1)
            elif m == "Detect":
                return self.detect(p, [outs[j] for j in f], nc, x.shape)
            else:
                raise ValueError(m)
            outs.append(y)
        raise ValueError("no Detect")

    def detect(self, p, feats, nc, in_shape):
        no = nc + 5
        anchors = self.sd[p + ".anchors"]  # grid units
        rows = []
        for i, fmap in enumerate(feats):
            stride = in_shape[2] // fmap.shape[2]
            na = anchors.shape[1]
            y = F.conv2d(fmap, self.sd[f"{p}.m.{i}.weight"], self.sd[f"{p}.m.{i}.bias"])
            bs, _, ny, nx = y.shape
            y = y.view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=y.dtype), torch.arange(nx, dtype=y.dtype), indexing="ij")
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2)
            anchor_grid = (anchors[i] * stride).view(1, na, 1, 1, 2)
            xy = (y[..., :2] * 2 - 0.5 + grid) * stride
            wh = (y[..., 2:4] * 2) ** 2 * anchor_grid
            rows.append(torch.cat((xy, wh, y[..., 4:]), -1).view(bs, -1, no))
        return torch.cat(rows, 1)


# ---------------------------------------------------------------- inputs
def letterbox(img, size):
    """YOLOv5 letterbox with auto (minimal, stride-32) padding; returns RGB uint8 HWC."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = (size - nw) % 32 / 2, (size - nh) % 32 / 2
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return img[..., ::-1].copy(), r, (left, top)


def to_tensor(rgb):
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy()).double().div(255.0).unsqueeze(0)


def pattern(h, w):
    """Smooth deterministic test image, mirrored in the Rust test:
    v[c, y, x] = 0.5 + 0.45 * sin(0.037 * (c + 1) * y + 0.051 * x + 0.7 * c), computed in f64
    and rounded to f32."""
    c, y, x = np.meshgrid(np.arange(3.0), np.arange(float(h)), np.arange(float(w)), indexing="ij")
    v = 0.5 + 0.45 * np.sin(0.037 * (c + 1) * y + 0.051 * x + 0.7 * c)
    return torch.from_numpy(v.astype(np.float32).astype(np.float64)).unsqueeze(0)


def pick_rows(out):
    """Indices of the N_ROWS/2 most confident rows plus N_ROWS/2 evenly spread ones."""
    rows = out.shape[1]
    conf = out[0, :, 4]
    top = torch.argsort(conf, descending=True)[: N_ROWS // 2].tolist()
    spread = np.linspace(0, rows - 1, N_ROWS // 2).round().astype(int).tolist()
    return sorted(set(top) | set(spread))


def stats(out):
    o = out[0]
    return {"shape": list(out.shape), "sum": float(o.sum()), "abs_sum": float(o.abs().sum()),
            "column_mean": o.mean(0)[:6].tolist(), "max_obj": float(o[:, 4].max())}


def nms_check(out, r, pad, expected, names):
    """The reference at 640 must find what the real YOLOv5 found (boxes within 2 px)."""
    o = out[0].float()
    o = o[o[:, 4] > 0.25]
    conf, cls = (o[:, 5:] * o[:, 4:5]).max(1)
    keep = conf > 0.25
    o, conf, cls = o[keep], conf[keep], cls[keep]
    xyxy = torch.cat([o[:, :2] - o[:, 2:4] / 2, o[:, :2] + o[:, 2:4] / 2], 1)
    idx = torchvision.ops.nms(xyxy + cls[:, None] * 7680, conf, 0.45)
    got = []
    for i in idx.tolist():
        b = xyxy[i].clone()
        b[[0, 2]] = ((b[[0, 2]] - pad[0]) / r).clamp(0, 1280)
        b[[1, 3]] = ((b[[1, 3]] - pad[1]) / r).clamp(0, 720)
        got.append([round(v) for v in b.tolist()] + [round(float(conf[i]), 5), int(cls[i])])
    assert len(got) == len(expected), (got, expected)
    for g, e in zip(got, expected):
        assert max(abs(a - b) for a, b in zip(g[:4], e[:4])) <= 2 and abs(g[4] - e[4]) < 2e-3 and g[5] == e[5], (g, e)
    print("reference reproduces YOLOv5's detections on zidane.jpg:", [(g[5], names[g[5]], g[4]) for g in got])


# ---------------------------------------------------------------- a tiny v5.0-layout checkpoint
V50_YAML = {
    "nc": 3, "depth_multiple": 0.33, "width_multiple": 0.0625,
    "anchors": [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]],
    "backbone": [[-1, 1, "Focus", [64, 3]], [-1, 1, "Conv", [128, 3, 2]], [-1, 3, "C3", [128]],
                 [-1, 1, "Conv", [256, 3, 2]], [-1, 9, "C3", [256]], [-1, 1, "Conv", [512, 3, 2]],
                 [-1, 9, "C3", [512]], [-1, 1, "Conv", [1024, 3, 2]], [-1, 1, "SPP", [1024, [5, 9, 13]]],
                 [-1, 3, "C3", [1024, False]]],
    "head": [[-1, 1, "Conv", [512, 1, 1]], [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
             [[-1, 6], 1, "Concat", [1]], [-1, 3, "C3", [512, False]], [-1, 1, "Conv", [256, 1, 1]],
             [-1, 1, "nn.Upsample", ["None", 2, "nearest"]], [[-1, 4], 1, "Concat", [1]],
             [-1, 3, "C3", [256, False]], [-1, 1, "Conv", [256, 3, 2]], [[-1, 14], 1, "Concat", [1]],
             [-1, 3, "C3", [512, False]], [-1, 1, "Conv", [512, 3, 2]], [[-1, 10], 1, "Concat", [1]],
             [-1, 3, "C3", [1024, False]], [[17, 20, 23], 1, "Detect", ["nc", "anchors"]]],
}


def fake_yolov5_classes():
    """Module classes with YOLOv5 v5.0's names, attribute names and shapes (no forward needed:
    the reference forward reads the state dict), registered as models.common / models.yolo so
    torch.save pickles them under the real class paths."""
    def conv_init(self, c1, c2, k=1, s=1, p=None, g=1):
        nn.Module.__init__(self)
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def bottleneck_init(self, c1, c2, shortcut=True, e=0.5):
        nn.Module.__init__(self)
        c_ = int(c2 * e)
        self.cv1, self.cv2, self.add = Conv(c1, c_, 1), Conv(c_, c2, 3), shortcut and c1 == c2

    def c3_init(self, c1, c2, n=1, shortcut=True):
        nn.Module.__init__(self)
        c_ = int(c2 * 0.5)
        self.cv1, self.cv2, self.cv3 = Conv(c1, c_), Conv(c1, c_), Conv(2 * c_, c2)
        self.m = nn.Sequential(*[Bottleneck(c_, c_, shortcut, 1.0) for _ in range(n)])

    def spp_init(self, c1, c2, k=(5, 9, 13)):
        nn.Module.__init__(self)
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_), Conv(c_ * (len(k) + 1), c2)
        self.m = nn.ModuleList([nn.MaxPool2d(x, 1, x // 2) for x in k])

    def focus_init(self, c1, c2, k=1):
        nn.Module.__init__(self)
        self.conv = Conv(c1 * 4, c2, k)

    def concat_init(self, d=1):
        nn.Module.__init__(self)
        self.d = d

    def detect_init(self, nc, anchors, ch, strides):
        nn.Module.__init__(self)
        self.nc, self.no, self.nl, self.na = nc, nc + 5, len(anchors), len(anchors[0]) // 2
        a = torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2)
        self.register_buffer("anchors", a / torch.tensor(strides, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("anchor_grid", a.clone().view(self.nl, 1, -1, 1, 1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.stride = torch.tensor(strides, dtype=torch.float32)

    common = types.ModuleType("models.common")
    yolo = types.ModuleType("models.yolo")
    sys.modules.setdefault("models", types.ModuleType("models"))
    sys.modules["models.common"], sys.modules["models.yolo"] = common, yolo
    made = {}
    for mod, name, init in [(common, "Conv", conv_init), (common, "Bottleneck", bottleneck_init),
                            (common, "C3", c3_init), (common, "SPP", spp_init), (common, "Focus", focus_init),
                            (common, "Concat", concat_init), (yolo, "Detect", detect_init)]:
        cls = type(name, (nn.Module,), {"__init__": init, "__module__": mod.__name__})
        setattr(mod, name, cls)
        made[name] = cls
    yolo.Model = type("Model", (nn.Module,), {"__module__": "models.yolo"})
    Conv, Bottleneck = made["Conv"], made["Bottleneck"]
    return made, yolo.Model


def build_tiny_v50(path):
    made, model_cls = fake_yolov5_classes()
    y = V50_YAML
    gd, gw, nc = y["depth_multiple"], y["width_multiple"], y["nc"]
    layers, ch, strides, stride = [], [3], [], 1
    for i, (f, n, m, args) in enumerate(y["backbone"] + y["head"]):
        n = max(round(n * gd), 1) if n > 1 else n
        c1 = ch[f] if isinstance(f, int) else None
        if m in ("Conv", "C3", "SPP", "Focus"):
            c2 = make_divisible(args[0] * gw)
            extra = [n] + args[1:] if m == "C3" else args[1:]
            layer = made[m](c1, c2, *extra)
            stride *= 2 if m == "Focus" else (args[2] if m == "Conv" and len(args) > 2 else 1)
        elif m == "nn.Upsample":
            layer, c2 = nn.Upsample(None, args[1], args[2]), c1
            stride //= 2
        elif m == "Concat":
            layer, c2 = made["Concat"](args[0]), sum(ch[x + 1 if x >= 0 else x] for x in f)
        else:
            feats = [ch[x + 1] for x in f]
            strides = [8, 16, 32]
            layer, c2 = made["Detect"](nc, y["anchors"], feats, strides), None
        layers.append(layer)
        ch.append(c2)
    model = model_cls()
    model.model = nn.Sequential(*layers)
    model.yaml, model.names, model.stride = y, ["cat", "dog", "bird"], torch.tensor([8.0, 16.0, 32.0])
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                # Small variances, as in trained YOLOv5 models, so that eps (1e-3) matters;
                # gamma ~ sqrt(var) keeps activations of order 1 through the network.
                mod.running_var.uniform_(0.002, 0.05)
                mod.weight.copy_(mod.running_var.sqrt() * torch.empty_like(mod.weight).uniform_(0.5, 1.5))
                mod.bias.normal_(0, 0.1)
                mod.running_mean.normal_(0, 0.2)
    model.eval().half()
    torch.save({"model": model, "epoch": -1}, path)


def main():
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    sd, yaml, eps, names = load_yolo(FIXTURES / "yolov5n.pt")
    assert eps == 1e-3, eps
    ref = Ref(sd, eps)
    img = cv2.imread(str(FIXTURES / "images" / "zidane.jpg"))
    expected = json.loads((FIXTURES / "yolov5n_expected_detections.json").read_text())["zidane.jpg"]
    rgb640, r, pad = letterbox(img, 640)
    assert list(rgb640.shape[:2]) == expected["input_shape"][2:], rgb640.shape
    with torch.no_grad():
        nms_check(ref.forward(yaml, to_tensor(rgb640)), r, pad, expected["detections"], names)

    golden = {"bn_eps": eps, "tolerance_note": "reference is float64 with unfolded BatchNorm"}
    rgb320, _, _ = letterbox(img, 320)
    png = OUT / "yolo_zidane_320.png"
    cv2.imwrite(str(png), rgb320[..., ::-1])
    x = to_tensor(cv2.imread(str(png))[..., ::-1].copy())  # exactly the pixels the test decodes
    for key, inp in [("zidane", x), ("pattern", pattern(224, 256))]:
        with torch.no_grad():
            out = ref.forward(yaml, inp)
        idx = pick_rows(out)
        np.save(OUT / f"yolov5n_{key}_golden.npy", out[0, idx].float().numpy())
        golden[key] = {"input_hw": list(inp.shape[2:]), "indices": idx, **stats(out)}
        print(key, golden[key]["shape"], "max obj", golden[key]["max_obj"])
    (OUT / "yolov5n_golden.json").write_text(json.dumps(golden, indent=1))

    tiny = OUT / "yolo_v50_tiny.pt"
    build_tiny_v50(tiny)
    sd, yaml, eps, _ = load_yolo(tiny)
    with torch.no_grad():
        out = Ref(sd, eps).forward(yaml, pattern(128, 160))
    np.save(OUT / "yolo_v50_tiny_golden.npy", out[0].float().numpy())
    (OUT / "yolo_v50_tiny_golden.json").write_text(json.dumps({"bn_eps": eps, "input_hw": [128, 160], **stats(out)}, indent=1))
    print("v5.0 tiny:", list(out.shape), "params", sum(v.numel() for v in sd.values()), "bytes", tiny.stat().st_size)


if __name__ == "__main__":
    main()
