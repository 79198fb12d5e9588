"""PyTorch peer of train's BenchmarkStep: one AdamW training step of a zoo
model (torchvision backbone .features, random weights, plus two MTL-Split
heads Linear(C*h*w -> 256) -> Dropout(0.1) -> ReLU -> Linear(256 -> k)),
batch 32 at 64x64, loss = sum of the two cross-entropies.

usage: bench_train_torch.py MODEL THREADS WARMUP STEPS
Prints one line: "images/s <value>". Run it with OPENBLAS_NUM_THREADS and
OMP_WAIT_POLICY=PASSIVE set by the caller (scripts/bench-train.sh): OpenBLAS
does not follow torch.set_num_threads, and busy-waiting threads distort a
shared machine.
"""
import sys
import time

import torch
import torch.nn as nn
import torchvision.models as tvm

BATCH, SIZE, CLASSES = 32, 64, (8, 4)


def backbone(name):
    if name == "resnet18":
        m = tvm.resnet18(weights=None)
        # resnet18 has no .features: everything but avgpool and fc.
        return nn.Sequential(*list(m.children())[:-2])
    return getattr(tvm, name)(weights=None).features


class MTL(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.features = backbone(name)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 3, SIZE, SIZE)).numel()
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Flatten(), nn.Linear(flat, 256), nn.Dropout(0.1), nn.ReLU(), nn.Linear(256, k))
            for k in CLASSES
        )

    def forward(self, x):
        f = self.features(x)
        return [h(f) for h in self.heads]


def main():
    name, threads, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = MTL(name).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-6)
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    labels = [torch.randint(0, k, (BATCH,)) for k in CLASSES]
    ce = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = sum(ce(o, y) for o, y in zip(net(x), labels))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = time.perf_counter() - t
    if not loss > 0:
        sys.exit(f"bench_train_torch: {name}: loss {loss}")
    print(f"images/s {steps * BATCH / dt:.2f}")


if __name__ == "__main__":
    main()
