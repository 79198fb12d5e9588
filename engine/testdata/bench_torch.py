#!/usr/bin/python3
"""PyTorch's time for the backbones BenchmarkEngine times, on this machine:
batch 1, 224x224, fp32, eval, no_grad, torch.set_num_threads(2), median of
30 runs after 5 warm-up runs. Prints one line per model: name and ms.

    /usr/bin/python3 engine/testdata/bench_torch.py [--threads 2] [--reps 30] [model ...]
"""

import argparse
import statistics
import time

import torch
from torchvision import models


def backbone(name):
    m = getattr(models, name)()
    if name.startswith("resnet"):
        return torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    return m.features


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("models", nargs="*", default=["resnet18", "mobilenet_v3_small", "efficientnet_b0", "vgg16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(1, 3, a.size, a.size)
    for name in a.models:
        m = backbone(name).eval()
        with torch.no_grad():
            for _ in range(5):
                m(x)
            times = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                m(x)
                times.append((time.perf_counter() - t0) * 1e3)
        print(f"{name} {statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
