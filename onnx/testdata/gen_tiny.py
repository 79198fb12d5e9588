"""Export the tiny torch models the onnx package's tests import.

Run from the repo root with Debian's python3-torch (1.13):

    /usr/bin/python3 onnx/testdata/gen_tiny.py onnx/testdata

Weights are seeded; the tests check structure, shapes, params and MACs, and
that weights land in the right node in PyTorch's layout.
"""
import sys

import torch
from torch import nn


class Branches(nn.Module):
    """Two convs side by side, joined along channels."""

    def __init__(self):
        super().__init__()
        self.left = nn.Conv2d(8, 4, 1)
        self.right = nn.Conv2d(8, 4, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([self.left(x), self.right(x)], 1)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.act = nn.SiLU()

    def forward(self, x):
        return x + self.act(self.conv(x))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6()),
            Residual(),
            Branches(),
            nn.MaxPool2d(2),
            nn.Sequential(nn.Conv2d(8, 8, 1), nn.Hardswish()),
            nn.AvgPool2d(2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(8, 6), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(6, 3))

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(x)


def main(out):
    torch.manual_seed(0)
    m = Tiny().eval()
    # Non-trivial batch-norm statistics, so folding (or not) is visible.
    with torch.no_grad():
        bn = m.features[0][1]
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 3, 32, 32)
    # EVAL folds batch norm into the conv before it; PRESERVE (on an eval
    # model) keeps BatchNormalization nodes.
    for name, mode in (("tiny_folded", torch.onnx.TrainingMode.EVAL), ("tiny_bn", torch.onnx.TrainingMode.PRESERVE)):
        torch.onnx.export(m, x, f"{out}/{name}.onnx", opset_version=13, input_names=["input"],
                          output_names=["output"], training=mode)
    # The input and PyTorch's output, raw little-endian float32, so the
    # engine's run of both exports can be checked.
    with torch.no_grad():
        y = m(x)
    x.numpy().astype("<f4").tofile(f"{out}/tiny.input.f32")
    y.numpy().astype("<f4").tofile(f"{out}/tiny.output.f32")
    print("output", tuple(y.shape))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
