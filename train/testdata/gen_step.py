#!/usr/bin/python3
"""PyTorch reference for one multi-task training step (train/fixture_test.go).

For each network of train/fixture_test.go — "small" (conv, batch norm, ReLU,
padded max pooling, a residual add) and "mobile" (depthwise and grouped
convs, Hardswish, squeeze-excitation with ReLU and Hardsigmoid, SiLU,
Sigmoid, a residual add), both with two MTL-Split heads — builds it with
state_dict names equal to the Go graph's node names, sets every parameter by
the deterministic formula below (so no initial weights are stored), runs one
batch in training mode with dropout off, takes the loss as the sum of the
tasks' cross-entropies, back-propagates and applies one AdamW step. Writes:

    step_<net>.json  hyperparameters, labels, per-task losses and an index of
               step_<net>.f32: name, shape, offset (in float32 values)
    step_<net>.f32   little-endian float32: the input, then per parameter its
               gradient ("grad/<key>") and its value after the step
               ("after/<key>"), and the batch-norm running statistics after
               the step ("after/<key>")

Run from the repo root with Debian's torch 1.13 (the python3 on PATH may
have no torch):

    /usr/bin/python3 train/testdata/gen_step.py

Initial value of index i of the tensor with state_dict key K:
    h = fnv1a32(K); x = (h + (i + 1) * 0x9E3779B1) mod 2^32
    x ^= x >> 16; x = x * 0x45D9F3B mod 2^32; x ^= x >> 16
    u = x / 2^32                                   # exact in float64
    conv/linear weight and bias: (2u - 1) / sqrt(fan_in)   (PyTorch's range)
    input: 2u - 1 (key "input")
BN weight 1, bias 0, running mean 0, variance 1 (PyTorch's defaults).
"""

import json
import os

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, CLASSES = 8, (4, 3)
# eps 1e-6, not 1e-8: gradients that are rounding noise (~1e-8) would
# otherwise take steps that follow their last bits.
LR, WEIGHT_DECAY, EPS = 1e-3, 1e-2, 1e-6


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def uniform(key, n):
    x = (np.uint64(fnv1a32(key)) + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x45D9F3B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / float(1 << 32)


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(6, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)


def head(features, classes):
    return nn.Sequential(nn.Linear(features, 256), nn.Dropout(0.0), nn.ReLU(), nn.Linear(256, classes))


class Small(nn.Module):
    size = 8

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.res = Res()
        feats = 6 * (self.size // 2) ** 2
        self.task1 = head(feats, CLASSES[0])
        self.task2 = head(feats, CLASSES[1])

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        y = self.res.bn(self.res.conv2(F.relu(self.res.conv1(x))))
        x = F.relu(y + x)
        x = torch.flatten(x, 1)
        return self.task1(x), self.task2(x)


class SE(nn.Module):
    def __init__(self):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(8, 4, 1)
        self.activation = nn.ReLU()
        self.fc2 = nn.Conv2d(4, 8, 1)
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * s


class Mobile(nn.Module):
    size = 6

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.hs = nn.Hardswish()
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)
        self.dwbn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.se = SE()
        self.pw = nn.Conv2d(8, 8, 1, groups=2, bias=False)
        self.pwbn = nn.BatchNorm2d(8)
        self.silu = nn.SiLU()
        self.sig = nn.Sigmoid()
        feats = 8 * (self.size // 2) ** 2
        self.task1 = head(feats, CLASSES[0])
        self.task2 = head(feats, CLASSES[1])

    def forward(self, x):
        x = self.hs(self.bn(self.conv(x)))
        y = self.se(self.relu(self.dwbn(self.dw(x))))
        y = self.silu(self.pwbn(self.pw(y)))
        x = self.sig(y + x)
        x = torch.flatten(x, 1)
        return self.task1(x), self.task2(x)


def main():
    for name, cls in [("small", Small), ("mobile", Mobile)]:
        write(name, cls())


def write(name, net):
    torch.manual_seed(0)
    size = net.size
    with torch.no_grad():
        for key, p in net.named_parameters():
            if isinstance(net.get_submodule(key.rsplit(".", 1)[0]), nn.BatchNorm2d):
                continue  # batch norm keeps PyTorch's defaults
            weight = net.get_parameter(key.rsplit(".", 1)[0] + ".weight")
            fan_in = weight[0].numel()
            u = uniform(key, p.numel())
            p.copy_(torch.from_numpy(((2 * u - 1) / np.sqrt(fan_in)).astype(np.float32)).reshape(p.shape))
    x = torch.from_numpy((2 * uniform("input", BATCH * 3 * size * size) - 1).astype(np.float32)).reshape(BATCH, 3, size, size)
    labels = [[(i * (t + 1) + t) % k for i in range(BATCH)] for t, k in enumerate(CLASSES)]
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, eps=EPS)
    logits = net(x)
    losses = [F.cross_entropy(l, torch.tensor(y)) for l, y in zip(logits, labels)]
    opt.zero_grad()
    sum(losses).backward()
    opt.step()

    index, chunks, offset = [], [], 0

    def put(name, t):
        nonlocal offset
        a = t.detach().numpy().astype("<f4").ravel()
        index.append({"name": name, "shape": list(t.shape), "offset": offset})
        chunks.append(a)
        offset += a.size

    put("input", x)
    for key, p in net.named_parameters():
        put("grad/" + key, p.grad)
        put("after/" + key, p)
    for key, b in net.named_buffers():
        if not key.endswith("num_batches_tracked"):
            put("after/" + key, b)
    meta = {
        "torch": torch.__version__, "batch": BATCH, "size": size, "classes": CLASSES,
        "lr": LR, "weight_decay": WEIGHT_DECAY, "eps": EPS, "labels": labels,
        "loss": [float(l) for l in losses], "tensors": index,
    }
    with open(os.path.join(HERE, f"step_{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    np.concatenate(chunks).tofile(os.path.join(HERE, f"step_{name}.f32"))


if __name__ == "__main__":
    main()
