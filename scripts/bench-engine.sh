#!/usr/bin/env bash
# Times the engine against ONNX Runtime and PyTorch in one run
# (internal/benchpeers): the same ONNX exports of torchvision backbones
# (random weights, seed 0), batch 1, fp32, 1 and 2 threads, every forward
# pass of the three peers interleaved, median of REPS. Prints a markdown
# table with engine/ORT and engine/PyTorch ratios and the load average.
#
# Peers, set up on first use into CACHE (nothing large is committed):
#   - PyTorch: Debian's python3-torch under /usr/bin/python3, with its
#     OpenBLAS threads pinned (OPENBLAS_NUM_THREADS=N; torch.set_num_threads
#     does not govern them) and torch.set_num_threads(N);
#   - ONNX Runtime 1.24.3: libonnxruntime.so from the npm package
#     onnxruntime-node (its install script is skipped: it downloads from a
#     host this machine cannot reach; the CPU library ships in the package),
#     driven through github.com/yalue/onnxruntime_go v1.27.0 (ORT API 24),
#     intra-op N threads, ORT_ENABLE_ALL graph optimisation.
#
# CASES, THREADS and REPS override the defaults; the default set takes
# about 5 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtlsplit/bench}
cases=${CASES:-"resnet18@224,mobilenet_v3_small@224,efficientnet_b0@224,vgg16@224,resnet18@320,efficientnet_b0@320,resnet18@512,efficientnet_b0@512"}
threads=${THREADS:-"1,2"}
reps=${REPS:-20}
ort_version=1.24.3
mkdir -p "$cache"

if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "bench-engine: installing python3-torch and python3-torchvision (Debian) for the peer timing" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-torchvision >/dev/null
fi

ort_lib=$(ls "$cache"/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1 2>/dev/null | head -1 || true)
if [ -z "$ort_lib" ]; then
  echo "bench-engine: fetching onnxruntime-node@$ort_version (npm) for libonnxruntime.so" >&2
  mkdir -p "$cache/ort"
  (cd "$cache/ort" && npm install --silent --no-save --ignore-scripts "onnxruntime-node@$ort_version" >&2)
  ort_lib=$(ls "$cache"/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1 | head -1)
fi

for c in ${cases//,/ }; do
  m=${c%@*} s=${c#*@}
  if [ ! -s "$cache/${m}_${s}.onnx" ]; then
    echo "bench-engine: exporting $m at $s px to ONNX" >&2
    /usr/bin/python3 engine/testdata/bench_peer_torch.py export "$cache" "$m" "$s" 2>/dev/null
  fi
done

go build -o "$cache/benchpeers" ./internal/benchpeers
"$cache/benchpeers" -dir "$cache" -ort "$ort_lib" -cases "$cases" -threads "$threads" -reps "$reps"
