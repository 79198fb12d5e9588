"""Export the multi-output (multi-task) torch models the tests import.

Run from the repo root with Debian's python3-torch (1.13):

    /usr/bin/python3 onnx/testdata/gen_multi.py onnx/testdata

Writes, all seeded:

- mtl_resnet.onnx: a reduced-width ResNet built from torchvision's own
  BasicBlock (stem, three stages of two residual blocks, global pool) held as
  self.backbone, so every module path is nested ("backbone.layer2.0.conv1"),
  and two MTL-Split heads (Flatten -> Linear -> ReLU -> Linear) for the tasks
  "hue" (8 classes) and "shape" (4 classes), exported at 1x3x64x64, opset 13,
  with the two graph outputs named after the tasks;
- mtl_resnet_flat.onnx: the same network with the same weights, its backbone
  modules at the top level (no wrapper), so a test can check the wrapper
  changes no cut point;
- mtl_resnet.input.f32, mtl_resnet.hue.f32, mtl_resnet.shape.f32: an input and
  PyTorch's two outputs (raw little-endian float32);
- mtl_tiny.onnx (+ .input.f32, .a.f32, .b.f32): a 16x16 two-output net whose
  second head is a conv sub-graph (conv -> ReLU -> pool -> Linear), for fast
  tests of heads that are not the MTL-Split head;
- mtl_tiny_dynamic.onnx: the same net exported with a dynamic height and
  width, which the user sizes with --input.

The full-width torchvision resnet18 would be 45 MB; the widths here (8, 16,
32) keep every file small while keeping nested modules, downsampling
residual blocks and two heads.
"""
import sys

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock


def stage(inplanes, planes, stride):
    down = None
    if stride != 1 or inplanes != planes:
        down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
    return nn.Sequential(BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes))


class SmallResNet(nn.Module):
    """torchvision's ResNet layout (conv1, bn1, relu, maxpool, layerN,
    avgpool) at widths 8, 16, 32."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = stage(8, 8, 1)
        self.layer2 = stage(8, 16, 2)
        self.layer3 = stage(16, 32, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.avgpool(x)


def head(features, classes, hidden=256):
    """The MTL-Split task head (its Dropout is the identity at inference)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = SmallResNet()
        self.hue = head(32, 8)
        self.shape = head(32, 4)

    def forward(self, x):
        f = self.backbone(x)
        return self.hue(f), self.shape(f)


class Flat(nn.Module):
    """The same network with the backbone's modules at the top level."""

    def __init__(self, w):
        super().__init__()
        b = w.backbone
        self.conv1, self.bn1, self.relu, self.maxpool = b.conv1, b.bn1, b.relu, b.maxpool
        self.layer1, self.layer2, self.layer3, self.avgpool = b.layer1, b.layer2, b.layer3, b.avgpool
        self.hue, self.shape = w.hue, w.shape

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f = self.avgpool(self.layer3(self.layer2(self.layer1(x))))
        return self.hue(f), self.shape(f)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.a = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
        self.b = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x):
        f = self.trunk(x)
        return self.a(f), self.b(f)


def randomize_bn(m):
    """Non-trivial batch-norm statistics, so folding them is visible."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2)


def export(m, x, path, outputs, dynamic=None):
    torch.onnx.export(m, x, path, opset_version=13, input_names=["input"], output_names=outputs,
                      training=torch.onnx.TrainingMode.EVAL, dynamic_axes=dynamic)


def save(t, path):
    t.detach().numpy().astype("<f4").tofile(path)


def save_run(m, x, out, name, tasks):
    """The input and PyTorch's output for each task, as name.input.f32 and
    name.<task>.f32."""
    with torch.no_grad():
        ys = m(x)
    save(x, f"{out}/{name}.input.f32")
    for task, y in zip(tasks, ys):
        save(y, f"{out}/{name}.{task}.f32")
    print(name, [tuple(y.shape) for y in ys])


def main(out):
    torch.manual_seed(0)
    m = Wrapped().eval()
    randomize_bn(m)
    x = torch.randn(1, 3, 64, 64)
    export(m, x, f"{out}/mtl_resnet.onnx", ["hue", "shape"])
    export(Flat(m).eval(), x, f"{out}/mtl_resnet_flat.onnx", ["hue", "shape"])
    save_run(m, x, out, "mtl_resnet", ["hue", "shape"])

    t = Tiny().eval()
    x = torch.randn(1, 3, 16, 16)
    export(t, x, f"{out}/mtl_tiny.onnx", ["a", "b"])
    export(t, x, f"{out}/mtl_tiny_dynamic.onnx", ["a", "b"], {"input": {2: "height", 3: "width"}})
    save_run(t, x, out, "mtl_tiny", ["a", "b"])

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
