#!/usr/bin/env bash
# Times the engine against PyTorch (Debian's python3-torch, /usr/bin/python3)
# in one run: same machine, batch 1, 224×224, fp32, the same thread count,
# median of 30 runs after warm-up, each model engine then PyTorch so that
# load from elsewhere hits both alike. Prints a table with the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
models=${MODELS:-"resnet18 mobilenet_v3_small efficientnet_b0"}

if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "bench-engine: installing python3-torch and python3-torchvision (Debian) for the peer timing"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-torchvision >/dev/null
fi
make -s build

printf "%-20s %12s %12s %8s\n" model "engine ms" "pytorch ms" ratio
for m in $models; do
  e=$(./bin/mtlsplit profile "$m" --measure --reps 30 --warmup 5 --threads "$threads" -q -o json |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end_to_end_ms"]["median"])')
  t=$(/usr/bin/python3 engine/testdata/bench_torch.py --threads "$threads" --reps 30 "$m" | awk '{print $2}')
  awk -v m="$m" -v e="$e" -v t="$t" 'BEGIN { printf "%-20s %12.2f %12.2f %7.2fx\n", m, e, t, e / t }'
done
