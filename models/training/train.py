#!/usr/bin/python3
"""Train Driftline's reference detector on the synthetic line and export it to ONNX.

Run from the repository root with Debian's Python (python3-torch, python3-onnx, python3-pil):

    /usr/bin/python3 models/training/train.py            # or: npm run train

It renders its own data with `node bin/driftline.js synth`, trains a small anchor-free detector for a
fixed number of steps with a fixed seed and thread count (so the result is reproducible), and writes

    models/line-detector.onnx             the shipped model (Ultralytics YOLOv8 output layout)
    bench/models/yolov8n-random-640.onnx  a YOLOv8n-sized network with random weights, for benchmarks

The ONNX output is [1, 4+nc, N]: cx, cy, w, h in input pixels, then per-class scores, no NMS, with
the metadata props `names`, `imgsz` and `stride` written the way Ultralytics exports write them. A
second output, `embed0` [1, D, N], is the feature vector both heads read at each anchor (same anchor
order as output0's columns), for detection-level out-of-distribution scoring (agent/ood/); the
metadata prop `embedding` describes it.

    /usr/bin/python3 models/training/train.py --only embed   # add embed0 to the shipped model, weights unchanged
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
NAMES = ['washer', 'bracket', 'scratch', 'missing_notch']
IMG_H, IMG_W = 192, 256
STRIDE = 16
EMBED_DIM = 64  # channels of the last backbone stage
EMBEDDING = {'output': 'embed0', 'dim': EMBED_DIM, 'layout': '[1,D,anchors]', 'anchors': (IMG_H // STRIDE) * (IMG_W // STRIDE),
             'source': 'last backbone stage (stride 16, after SiLU): the features the box and class heads read at each anchor'}

# The training distribution: nominal line conditions with mild photometric variation. The defect
# rate is given per rendered set (--defect-rates, default one set at 0.3).
TRAIN_CONDITIONS = [
    '--gain', '0.85:1.15', '--colourTempK', '5000:6000', '--noise', '1:4', '--blur', '0:1',
    '--jpegQuality', '80:95',
]


def log(msg):
    print(f'[train {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def render(out, count, seed, defect_rate):
    if os.path.exists(os.path.join(out, 'manifest.jsonl')):
        with open(os.path.join(out, 'manifest.jsonl')) as f:
            if sum(1 for _ in f) == count:
                log(f'reusing rendered data in {out}')
                return
    cmd = ['node', os.path.join(ROOT, 'bin', 'driftline.js'), 'synth', '--out', out, '--count', str(count),
           '--seed', str(seed), '--val', '0', *TRAIN_CONDITIONS, '--defectRate', str(defect_rate)]
    log(' '.join(cmd))
    subprocess.run(cmd, check=True, cwd=ROOT)


def letterbox_params(w, h):
    """Ultralytics letterbox: scale to fit, centre, pad with 114."""
    r = min(IMG_H / h, IMG_W / w)
    nw, nh = round(w * r), round(h * r)
    dw, dh = (IMG_W - nw) / 2, (IMG_H - nh) / 2
    return r, nw, nh, round(dw - 0.1), round(dh - 0.1)


def load(out):
    """Decodes the rendered JPEGs and letterboxes them exactly as the agent does by default:
    bilinear sampling with half-pixel centres and no antialiasing (OpenCV INTER_LINEAR, which is also
    what Ultralytics' LetterBox uses), padding with 114."""
    cached = os.path.join(out, f'letterboxed-{IMG_W}x{IMG_H}.npz')
    if os.path.exists(cached) and os.path.getmtime(cached) >= os.path.getmtime(os.path.join(out, 'manifest.jsonl')):
        z = np.load(cached)
        ends = np.cumsum(z['counts'])
        log(f'loaded {len(z["images"])} letterboxed images from {cached}')
        return z['images'], list(np.split(z['boxes'], ends[:-1])) if len(ends) else []
    entries = [json.loads(line) for line in open(os.path.join(out, 'manifest.jsonl'))]
    n = len(entries)
    images = np.empty((n, 3, IMG_H, IMG_W), dtype=np.uint8)
    boxes = []
    for i, e in enumerate(entries):
        im = np.asarray(Image.open(os.path.join(out, e['image'])).convert('RGB'))
        h, w = im.shape[:2]
        r, nw, nh, left, top = letterbox_params(w, h)
        t = torch.from_numpy(im).permute(2, 0, 1).unsqueeze(0).float()
        small = F.interpolate(t, size=(nh, nw), mode='bilinear', align_corners=False)
        canvas = torch.full((3, IMG_H, IMG_W), 114.0)
        canvas[:, top:top + nh, left:left + nw] = small[0]
        images[i] = canvas.round().clamp(0, 255).to(torch.uint8).numpy()
        objs = [o for o in e['objects'] if o['classId'] < len(NAMES)]
        sx, sy = nw / w, nh / h
        b = np.array([[o['classId'], o['box'][0] * sx + left, o['box'][1] * sy + top, o['box'][2] * sx + left,
                       o['box'][3] * sy + top] for o in objs], dtype=np.float32).reshape(-1, 5)
        boxes.append(b)
        if (i + 1) % 1000 == 0:
            log(f'loaded {i + 1}/{n}')
    # Letterboxing is most of the loading time: keep the result beside the rendered images.
    np.savez(cached, images=images, boxes=np.concatenate(boxes) if boxes else np.zeros((0, 5), np.float32),
             counts=np.array([len(b) for b in boxes], dtype=np.int64))
    return images, boxes


def training_sets(args):
    """Renders and loads one set per defect rate, the images split evenly between them. The first set
    keeps the seed (and, at the default single rate 0.3, the cache directory of earlier versions); set
    k uses seed + 1000 * k, so no two sets share a scene."""
    rates = [float(r) for r in args.defect_rates.split(',')]
    sizes = [args.images // len(rates) + (1 if k < args.images % len(rates) else 0) for k in range(len(rates))]
    all_images, all_boxes = [], []
    for k, (rate, count) in enumerate(zip(rates, sizes)):
        seed = args.seed + 1000 * k
        name = f'train-{seed}-{count}' if rate == 0.3 else f'train-{seed}-{count}-d{rate:g}'
        cache = os.path.join(ROOT, 'models', 'training', '.cache', name)
        render(cache, count, seed, rate)
        images, boxes = load(cache)
        all_images.append(images)
        all_boxes.extend(boxes)
    return np.concatenate(all_images), all_boxes


def conv(ci, co, s=1):
    return nn.Sequential(nn.Conv2d(ci, co, 3, s, 1, bias=False), nn.BatchNorm2d(co), nn.SiLU())


class LineDetector(nn.Module):
    """Plain conv backbone to stride 16 and one anchor-free head (ltrb distances + class logits)."""

    def __init__(self, nc):
        super().__init__()
        self.nc = nc
        self.backbone = nn.Sequential(
            conv(3, 12, 2), conv(12, 24, 2), conv(24, 24), conv(24, 48, 2), conv(48, 48),
            conv(48, 64, 2), conv(64, 64), conv(64, 64))
        self.box = nn.Conv2d(64, 4, 1)
        self.cls = nn.Conv2d(64, nc, 1)
        nn.init.constant_(self.cls.bias, -4.6)  # prior 0.01: stable focal-loss start

    def forward(self, x):
        f = self.backbone(x)
        return self.box(f), self.cls(f)


def grid(h, w):
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return ((xs.reshape(-1).float() + 0.5) * STRIDE, (ys.reshape(-1).float() + 0.5) * STRIDE)


def decode(box_raw, gx, gy):
    """box_raw [B,4,H,W] -> x1,y1,x2,y2 [B,N,4] in input pixels."""
    d = F.softplus(box_raw).flatten(2).transpose(1, 2) * STRIDE
    return torch.stack([gx - d[..., 0], gy - d[..., 1], gx + d[..., 2], gy + d[..., 3]], -1)


def giou(a, b):
    ix1, iy1 = torch.max(a[:, 0], b[:, 0]), torch.max(a[:, 1], b[:, 1])
    ix2, iy2 = torch.min(a[:, 2], b[:, 2]), torch.min(a[:, 3], b[:, 3])
    inter = (ix2 - ix1).clamp(0) * (iy2 - iy1).clamp(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    cx1, cy1 = torch.min(a[:, 0], b[:, 0]), torch.min(a[:, 1], b[:, 1])
    cx2, cy2 = torch.max(a[:, 2], b[:, 2]), torch.max(a[:, 3], b[:, 3])
    hull = (cx2 - cx1) * (cy2 - cy1) + 1e-7
    return iou - (hull - union) / hull, iou


def assign(gts, gx, gy, nc):
    """Centre sampling: a cell is positive for the smallest box whose centre region holds it."""
    n = gx.shape[0]
    cls_t = torch.zeros(n, nc)
    box_t = torch.zeros(n, 4)
    pos = torch.zeros(n, dtype=torch.bool)
    if len(gts) == 0:
        return cls_t, box_t, pos
    g = torch.from_numpy(gts)
    cx, cy = (g[:, 1] + g[:, 3]) / 2, (g[:, 2] + g[:, 4]) / 2
    area = (g[:, 3] - g[:, 1]) * (g[:, 4] - g[:, 2])
    radius = 1.5 * STRIDE
    inside = ((gx[:, None] > g[None, :, 1]) & (gx[:, None] < g[None, :, 3]) & (gy[:, None] > g[None, :, 2])
              & (gy[:, None] < g[None, :, 4]) & ((gx[:, None] - cx[None]).abs() < radius)
              & ((gy[:, None] - cy[None]).abs() < radius))
    cost = torch.where(inside, area[None].expand(n, -1), torch.full((n, len(g)), float('inf')))
    best_cost, best = cost.min(1)
    pos = torch.isfinite(best_cost)
    # Every object gets at least its nearest cell, even when it is small or clipped at the edge.
    for j in range(len(g)):
        if not inside[:, j].any():
            k = ((gx - cx[j]) ** 2 + (gy - cy[j]) ** 2).argmin()
            pos[k] = True
            best[k] = j
    idx = best[pos]
    cls_t[pos, g[idx, 0].long()] = 1.0
    box_t[pos] = g[idx, 1:5]
    return cls_t, box_t, pos


def focal(logits, target, alpha=0.25, gamma=2.0, class_weight=None):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
    pt = p * target + (1 - p) * (1 - target)
    w = alpha * target + (1 - alpha) * (1 - target)
    if class_weight is not None:
        w = w * class_weight
    return (w * (1 - pt) ** gamma * ce).sum()


class Export(nn.Module):
    """Wraps the detector into the YOLOv8 output layout [1, 4+nc, N] (cx, cy, w, h, scores), plus the
    per-anchor embedding [1, D, N] (the backbone features both heads read)."""

    def __init__(self, m, h, w):
        super().__init__()
        self.m = m
        gx, gy = grid(h // STRIDE, w // STRIDE)
        self.register_buffer('gx', gx.view(1, -1))
        self.register_buffer('gy', gy.view(1, -1))

    def forward(self, x):
        f = self.m.backbone(x)
        box_raw, cls_raw = self.m.box(f), self.m.cls(f)
        d = F.softplus(box_raw).flatten(2) * STRIDE  # [1,4,N]
        x1, y1 = self.gx - d[:, 0], self.gy - d[:, 1]
        x2, y2 = self.gx + d[:, 2], self.gy + d[:, 3]
        xywh = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1)
        return torch.cat([xywh, torch.sigmoid(cls_raw.flatten(2))], 1), f.flatten(2)


def add_embedding_output(path):
    """Adds `embed0` to an exported detector whose graph lacks it, leaving every existing node (and so
    output0, bit for bit) as it is: a Reshape of the last backbone activation, the tensor that feeds
    both head convolutions. This is how the shipped weights gained the output without retraining."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    model = onnx.load(path)
    g = model.graph
    if any(o.name == 'embed0' for o in g.output):
        log(f'{path} already has embed0')
        return
    box_conv = next(n for n in g.node if n.op_type == 'Conv' and n.input[1] == 'm.box.weight')
    feat = box_conv.input[0]
    shape = numpy_helper.from_array(np.array([1, EMBED_DIM, EMBEDDING['anchors']], dtype=np.int64), 'embed0_shape')
    g.initializer.append(shape)
    g.node.append(helper.make_node('Reshape', [feat, 'embed0_shape'], ['embed0'], name='/embed/Reshape'))
    g.output.append(helper.make_tensor_value_info('embed0', TensorProto.FLOAT, [1, EMBED_DIM, EMBEDDING['anchors']]))
    entry = model.metadata_props.add()
    entry.key, entry.value = 'embedding', json.dumps(EMBEDDING)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    log(f'added embed0 [1, {EMBED_DIM}, {EMBEDDING["anchors"]}] to {path} ({os.path.getsize(path)} bytes)')


def add_metadata(path, names, imgsz, stride, extra):
    import onnx
    model = onnx.load(path)
    props = {
        'description': extra.get('description', ''),
        'author': 'Driftline',
        'task': 'detect',
        'batch': '1',
        'stride': str(stride),
        'imgsz': str(list(imgsz)),
        'names': str({i: n for i, n in enumerate(names)}),
        **{k: v for k, v in extra.items() if k != 'description'},
    }
    del model.metadata_props[:]
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    images, boxes = training_sets(args)
    n = len(images)
    log(f'{n} images, {sum(len(b) for b in boxes)} objects')
    model = LineDetector(len(NAMES))
    log(f'parameters: {sum(p.numel() for p in model.parameters())}')
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    gh, gw = IMG_H // STRIDE, IMG_W // STRIDE
    gx, gy = grid(gh, gw)
    gen = torch.Generator().manual_seed(args.seed)
    # Per-class loss weight: the defect classes (scratch, missing_notch) by --defect-weight, both for
    # their positives and their negatives, so the parts they must be told apart from count as much.
    class_weight = torch.tensor([1.0, 1.0, args.defect_weight, args.defect_weight]) if args.defect_weight != 1.0 else None
    t0 = time.time()
    for step in range(args.steps):
        lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        if step < 100:
            lr *= (step + 1) / 100
        for g in opt.param_groups:
            g['lr'] = lr
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        flips = torch.rand(args.batch, 2, generator=gen) < 0.5
        xb = torch.from_numpy(images[idx.numpy()]).float() / 255.0
        targets = []
        for k, i in enumerate(idx.tolist()):
            b = boxes[i].copy()
            if flips[k, 0]:
                xb[k] = xb[k].flip(2)
                b[:, [1, 3]] = IMG_W - b[:, [3, 1]]
            if flips[k, 1]:
                xb[k] = xb[k].flip(1)
                b[:, [2, 4]] = IMG_H - b[:, [4, 2]]
            targets.append(b)
        box_raw, cls_raw = model(xb)
        pred = decode(box_raw, gx, gy)
        cls_logits = cls_raw.flatten(2).transpose(1, 2)
        loss_cls = 0.0
        loss_box = 0.0
        npos = 0
        for k in range(args.batch):
            cls_t, box_t, pos = assign(targets[k], gx, gy, len(NAMES))
            loss_cls = loss_cls + focal(cls_logits[k], cls_t, class_weight=class_weight)
            if pos.any():
                g, _ = giou(pred[k][pos], box_t[pos])
                loss_box = loss_box + (1 - g).sum()
                npos += int(pos.sum())
        npos = max(npos, 1)
        loss = (loss_cls + 2.0 * loss_box) / npos
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            el = time.time() - t0
            log(f'step {step}/{args.steps} loss {loss.item():.4f} cls {float(loss_cls) / npos:.4f} '
                f'box {float(loss_box) / npos:.4f} lr {lr:.5f} {el:.0f}s')
    model.eval()
    out = os.path.join(ROOT, args.out)
    exp = Export(model, IMG_H, IMG_W).eval()
    dummy = torch.zeros(1, 3, IMG_H, IMG_W)
    torch.onnx.export(exp, dummy, out, opset_version=13, input_names=['images'], output_names=['output0', 'embed0'],
                      do_constant_folding=True)
    add_metadata(out, NAMES, (IMG_H, IMG_W), STRIDE, {
        'description': 'Driftline line-detector: parts and defects on the synthetic conveyor line',
        'version': f'seed{args.seed}-steps{args.steps}',
        'embedding': json.dumps(EMBEDDING),
        'training': json.dumps({'parameters': sum(p.numel() for p in model.parameters()),
                                'images': args.images, 'steps': args.steps, 'batch': args.batch,
                                'lr': args.lr, 'seed': args.seed, 'threads': args.threads,
                                'conditions': ' '.join(TRAIN_CONDITIONS) + f' --defectRate {args.defect_rates}',
                                'defectRates': args.defect_rates, 'defectWeight': args.defect_weight,
                                'seconds': round(time.time() - t0),
                                'command': '/usr/bin/python3 models/training/train.py ' + ' '.join(sys.argv[1:])}),
    })
    log(f'wrote {out} ({os.path.getsize(out)} bytes) in {time.time() - t0:.0f}s of training')


# ---------------------------------------------------------------------------------------------
# A YOLOv8n-shaped network with random weights: benchmark material only, never used to detect.

class Conv(nn.Module):
    def __init__(self, ci, co, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(ci, co, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(co)

    def forward(self, x):
        return F.silu(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, ci, co, n=1, shortcut=False):
        super().__init__()
        self.c = co // 2
        self.cv1 = Conv(ci, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, co)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, ci, co):
        super().__init__()
        self.cv1, self.cv2 = Conv(ci, ci // 2), Conv(ci // 2 * 4, co)

    def forward(self, x):
        x = self.cv1(x)
        y1 = F.max_pool2d(x, 5, 1, 2)
        y2 = F.max_pool2d(y1, 5, 1, 2)
        return self.cv2(torch.cat([x, y1, y2, F.max_pool2d(y2, 5, 1, 2)], 1))


class V8nDetect(nn.Module):
    def __init__(self, nc, ch, imgsz):
        super().__init__()
        self.nc, self.reg = nc, 16
        c2, c3 = max(16, ch[0] // 4, 64), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 64, 1)) for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in ch)
        # Ultralytics' Detect.bias_init: class logits start near log(5 / nc / cells), so a network
        # that has not learned anything scores background low, as a trained one does. Without it,
        # random weights score every anchor near 0.5 and NMS cost dominates the benchmark.
        for seq, s in zip(self.cv3, (8, 16, 32)):
            nn.init.constant_(seq[-1].bias, math.log(5 / nc / (imgsz / s) ** 2))
        for seq in self.cv2:
            nn.init.constant_(seq[-1].bias, 1.0)
        anchors, strides = [], []
        for s in (8, 16, 32):
            h, w = imgsz // s, imgsz // s
            ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing='ij')
            anchors.append(torch.stack([xs, ys], 0).reshape(2, -1))
            strides.append(torch.full((1, h * w), float(s)))
        self.register_buffer('anchors', torch.cat(anchors, 1))
        self.register_buffer('strides', torch.cat(strides, 1))
        self.register_buffer('proj', torch.arange(16).float().view(1, 16, 1, 1))

    def forward(self, xs):
        out = torch.cat([torch.cat([self.cv2[i](x), self.cv3[i](x)], 1).flatten(2) for i, x in enumerate(xs)], 2)
        box, cls = out.split((64, self.nc), 1)
        b = box.view(1, 4, 16, -1).transpose(1, 2).softmax(1)
        d = (b * self.proj).sum(1)  # DFL: [1,4,N]
        lt, rb = d[:, :2], d[:, 2:]
        x1y1, x2y2 = self.anchors - lt, self.anchors + rb
        xywh = torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1) * self.strides
        return torch.cat([xywh, cls.sigmoid()], 1)


class YOLOv8n(nn.Module):
    """Same layer widths and depths as Ultralytics yolov8n (width 0.25, depth 0.33)."""

    def __init__(self, nc=80, imgsz=640):
        super().__init__()
        self.b0, self.b1, self.b2 = Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True)
        self.b3, self.b4 = Conv(32, 64, 3, 2), C2f(64, 64, 2, True)
        self.b5, self.b6 = Conv(64, 128, 3, 2), C2f(128, 128, 2, True)
        self.b7, self.b8, self.b9 = Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256)
        self.h12, self.h15 = C2f(384, 128), C2f(192, 64)
        self.h16, self.h18 = Conv(64, 64, 3, 2), C2f(192, 128)
        self.h19, self.h21 = Conv(128, 128, 3, 2), C2f(384, 256)
        self.detect = V8nDetect(nc, (64, 128, 256), imgsz)

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode='nearest')
        h12 = self.h12(torch.cat([up(p5), p4], 1))
        h15 = self.h15(torch.cat([up(h12), p3], 1))
        h18 = self.h18(torch.cat([self.h16(h15), h12], 1))
        h21 = self.h21(torch.cat([self.h19(h18), p5], 1))
        return self.detect([h15, h18, h21])


def fp16_storage(path):
    """Store float initializers as float16 with a Cast to float32: half the file, fp32 compute."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    model = onnx.load(path)
    g = model.graph
    new_inits, casts = [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and len(init.dims) > 0 and np.prod(init.dims) > 16:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + '_fp16')
            new_inits.append(half)
            casts.append(helper.make_node('Cast', [half.name], [init.name], to=TensorProto.FLOAT))
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.save(model, path)


def export_bench(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    m = YOLOv8n().eval()
    log(f'YOLOv8n-shaped benchmark model: {sum(p.numel() for p in m.parameters())} parameters')
    out = os.path.join(ROOT, 'bench', 'models', 'yolov8n-random-640.onnx')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with torch.no_grad():
        shape = m(torch.zeros(1, 3, 640, 640)).shape
    log(f'output shape {list(shape)}')
    torch.onnx.export(m, torch.zeros(1, 3, 640, 640), out, opset_version=13, input_names=['images'],
                      output_names=['output0'], do_constant_folding=True)
    fp16_storage(out)
    add_metadata(out, [f'class{i}' for i in range(80)], (640, 640), 32,
                 {'description': 'RANDOM WEIGHTS: YOLOv8n-sized benchmark model, detects nothing'})
    log(f'wrote {out} ({os.path.getsize(out)} bytes)')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--images', type=int, default=6000, help='rendered training images')
    ap.add_argument('--steps', type=int, default=2500, help='optimiser steps (fixed, not time-based)')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1001, help='training seed (evaluation sets use others)')
    ap.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    ap.add_argument('--out', default='models/line-detector.onnx')
    ap.add_argument('--defect-rates', default='0.3',
                    help='comma-separated defect rates, one rendered set each, the images split evenly (e.g. 0.3,0.05)')
    ap.add_argument('--defect-weight', type=float, default=1.0,
                    help='weight of the defect classes (scratch, missing_notch) in the classification loss')
    ap.add_argument('--only', choices=['detector', 'bench', 'embed'],
                    help='build only one of the two models; `embed` adds embed0 to the existing --out model without retraining')
    args = ap.parse_args()
    if args.only == 'embed':
        add_embedding_output(os.path.join(ROOT, args.out))
        return
    if args.only != 'bench':
        train(args)
    if args.only != 'detector':
        export_bench(args)


if __name__ == '__main__':
    sys.exit(main())
