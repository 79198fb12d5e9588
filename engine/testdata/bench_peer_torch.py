#!/usr/bin/python3
"""PyTorch's side of `make bench-engine` (internal/benchpeers).

    bench_peer_torch.py export DIR MODEL SIZE   write DIR/MODEL_SIZE.onnx
    bench_peer_torch.py serve                   time runs on request

Both build the torchvision backbone (bench_torch.py's: the features, or
resnet's layers up to layer4) after torch.manual_seed(0), so the ONNX file
the engine and ONNX Runtime run has the weights PyTorch runs: weights change
no timing but denormals would, and this way all three see the same numbers.

`serve` reads one command per line on stdin and answers one line on stdout,
so that the Go driver can interleave PyTorch's runs with the other peers'
while this process sleeps on its pipe in between:

    load MODEL SIZE   -> "ok"        build, eval, 3 warm-up runs
    run               -> "<ms>"      one batch-1 forward pass, timed here

The thread count comes from the environment the driver sets, read before
torch is imported: OPENBLAS_NUM_THREADS (Debian's torch links the threaded
OpenBLAS, whose threads torch.set_num_threads does not govern) and
MTS_TORCH_THREADS for torch.set_num_threads.
"""

import os
import sys
import time

import torch
from torchvision import models


def backbone(name):
    torch.manual_seed(0)
    m = getattr(models, name)()
    if name.startswith("resnet"):
        m = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    else:
        m = m.features
    return m.eval()


def export(out, name, size):
    m = backbone(name)
    x = torch.randn(1, 3, size, size)
    path = os.path.join(out, f"{name}_{size}.onnx")
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(m, x, tmp, opset_version=13, input_names=["input"], output_names=["output"])
    os.replace(tmp, path)


def serve():
    torch.set_num_threads(int(os.environ.get("MTS_TORCH_THREADS", "1")))
    m, x = None, None
    for line in sys.stdin:
        f = line.split()
        if f[:1] == ["load"]:
            m, size = backbone(f[1]), int(f[2])
            torch.manual_seed(1)
            x = torch.randn(1, 3, size, size)
            with torch.no_grad():
                for _ in range(3):
                    m(x)
            print("ok", flush=True)
        elif f == ["run"]:
            with torch.no_grad():
                t0 = time.perf_counter()
                m(x)
                ms = (time.perf_counter() - t0) * 1e3
            print(f"{ms:.4f}", flush=True)
        else:
            print(f"error: unknown command {line.strip()!r}", flush=True)


def main():
    if sys.argv[1:2] == ["export"] and len(sys.argv) == 5:
        export(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
