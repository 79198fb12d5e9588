#!/usr/bin/python3
"""PyTorch reference outputs for the engine's correctness tests.

For each case, builds the torchvision backbone (or the small "ops" network
below) in eval mode, sets every parameter and batch-norm buffer from the
deterministic formula that engine/fixture_test.go computes too (so no weights
are stored), runs one input and writes raw little-endian float32 files:

    <case>.in.f32      the input, 1x3xSxS
    <case>.out.f32     the backbone output
    <case>.task<i>.f32 the logits of head i (when the case has heads)

Run from the repo root with Debian's torch (1.13) and torchvision (0.14):

    /usr/bin/python3 engine/testdata/gen_fixtures.py

The formula, per state_dict tensor with key K (e.g. "features.0.0.weight")
and flat index i:
    h = fnv1a32(K); x = (i + h * 0x9E3779B97F4A7C15) mod 2^64; x = fmix64(x)
    u = (x >> 40) / 2^24                        # in [0, 1), exact
    conv/linear weight: (2u - 1) * sqrt(6 / fan_in)
    conv/linear bias:   (2u - 1) / sqrt(fan_in)
    BN weight, running_var: 0.5 + u;  BN bias, running_mean: (u - 0.5) * 0.2
computed in float64 and rounded to float32, which Go and NumPy do identically.
"""

import os

import numpy as np
import torch
from torch import nn
from torchvision import models

HERE = os.path.dirname(os.path.abspath(__file__))
M64 = (1 << 64) - 1


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def uniform(key, n):
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint64) + np.uint64((fnv1a32(key) * 0x9E3779B97F4A7C15) & M64)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xC4CEB9FE1A85EC53)
        x ^= x >> np.uint64(33)
    return (x >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def set_weights(model):
    """Sets every parameter and BN buffer of model by the formula above."""
    modules = dict(model.named_modules())
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        owner, name = key.rsplit(".", 1)
        mod = modules[owner]
        u = uniform(key, t.numel())
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            fan_in = mod.weight[0].numel()
            if name == "weight":
                v = (2 * u - 1) * np.sqrt(6.0 / fan_in)
            else:
                v = (2 * u - 1) / np.sqrt(float(fan_in))
        elif isinstance(mod, nn.BatchNorm2d):
            if name in ("weight", "running_var"):
                v = 0.5 + u
            else:
                v = (u - 0.5) * 0.2
        else:
            raise ValueError(f"no formula for {key}")
        t.copy_(torch.from_numpy(v.astype(np.float32)).reshape(t.shape))


class Backbone(nn.Module):
    """A torchvision model whose state_dict keys match model.New's node names,
    run as model.New builds it (features only; resnet without avgpool/fc),
    with the MTL-Split heads Linear(256) -> Dropout -> ReLU -> Linear(k)."""

    def __init__(self, name, tasks):
        super().__init__()
        full = getattr(models, name)()
        self.name = name
        if name.startswith("resnet"):
            for part in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
                setattr(self, part, getattr(full, part))
        else:
            self.features = full.features
        self.tasks = tasks

    def add_heads(self, flat):
        for i, k in enumerate(self.tasks):
            setattr(self, f"task{i + 1}", nn.Sequential(
                nn.Linear(flat, 256), nn.Dropout(0.1), nn.ReLU(), nn.Linear(256, k)))

    def backbone(self, x):
        if self.name.startswith("resnet"):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            return self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(x)

    def forward(self, x):
        y = self.backbone(x)
        return y, [getattr(self, f"task{i + 1}")(torch.flatten(y, 1)) for i in range(len(self.tasks))]


class Ops(nn.Module):
    """Every op the engine runs, with the odd settings the zoo lacks
    (dilation, groups=2, avg pools with padding, adaptive pool to a size that
    does not divide its input). Mirrors opsGraph in fixture_test.go."""

    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)
        self.bn0 = nn.BatchNorm2d(8)
        self.c1 = nn.Conv2d(8, 8, 3, stride=1, padding=2, dilation=2, groups=2, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc1 = nn.Conv2d(8, 4, 1, bias=True)
        self.fc2 = nn.Conv2d(4, 8, 1, bias=True)
        self.dw = nn.Conv2d(8, 8, 5, stride=1, padding=2, groups=8, bias=True)
        self.pw = nn.Conv2d(8, 16, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.task1 = nn.Sequential(nn.Linear(64, 256), nn.Dropout(0.1), nn.ReLU(), nn.Linear(256, 5))

    def forward(self, x):
        x = nn.functional.hardswish(self.bn0(self.c0(x)))              # stem: 8x10x10
        x = nn.functional.max_pool2d(nn.functional.relu6(self.c1(x)), 3, 2, 1)  # dil: 8x5x5
        s = self.bn2(x)                                                 # se
        t = nn.functional.adaptive_avg_pool2d(s, 1)
        t = torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(t))))
        x = t * s + x
        x = nn.functional.hardsigmoid(self.dw(x))                       # dw: 8x5x5 -> 8x3x3
        x = nn.functional.adaptive_avg_pool2d(x, 3)
        x = nn.functional.avg_pool2d(x, 3, 2, 1)                        # pool: 8x2x2 -> 16x2x2
        x = torch.relu(self.bn3(self.pw(x)))
        return x, [self.task1(torch.flatten(x, 1))]


CASES = [
    # name, model, input size, heads
    ("vgg16_32", "vgg16", 32, []),
    ("vgg16_bn_32", "vgg16_bn", 32, []),
    ("resnet18_64", "resnet18", 64, [8, 4]),
    ("mobilenet_v3_small_64", "mobilenet_v3_small", 64, []),
    ("mobilenet_v3_small_57", "mobilenet_v3_small", 57, []),
    ("efficientnet_b0_64", "efficientnet_b0", 64, []),
    ("ops_19", None, 19, [5]),
]


def write(path, t):
    np.ascontiguousarray(t.detach().numpy(), dtype="<f4").tofile(path)


def main():
    torch.manual_seed(0)
    for case, name, size, tasks in CASES:
        if name is None:
            m = Ops()
        else:
            m = Backbone(name, tasks)
            with torch.no_grad():
                flat = m.backbone(torch.zeros(1, 3, size, size)).numel()
            m.add_heads(flat)
        m.eval()
        with torch.no_grad():
            set_weights(m)
            x = torch.randn(1, 3, size, size)
            y, heads = m(x)
        write(os.path.join(HERE, f"{case}.in.f32"), x)
        write(os.path.join(HERE, f"{case}.out.f32"), y)
        for i, h in enumerate(heads):
            write(os.path.join(HERE, f"{case}.task{i + 1}.f32"), h)
        print(f"{case}: out {tuple(y.shape)} max|y| {y.abs().max().item():.4g}")


if __name__ == "__main__":
    main()
