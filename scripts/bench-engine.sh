#!/usr/bin/env bash
# Times the engine against ONNX Runtime and PyTorch in one run
# (internal/benchpeers): the same ONNX exports of torchvision backbones
# (random weights, seed 0), batch 1, fp32, 1 and 2 threads, every forward
# pass of the three peers interleaved, median of REPS. Prints a markdown
# table with engine/ORT and engine/PyTorch ratios and the load average.
#
# Peers (scripts/peers.sh), set up on first use into CACHE: PyTorch with its
# OpenBLAS threads pinned (OPENBLAS_NUM_THREADS=N; torch.set_num_threads
# does not govern them) and torch.set_num_threads(N); ONNX Runtime 1.24.3
# driven through github.com/yalue/onnxruntime_go v1.27.0 (ORT API 24),
# intra-op N threads, ORT_ENABLE_ALL graph optimisation.
#
# CASES, THREADS and REPS override the defaults; the default set takes
# about 5 minutes on a 2-core machine. LAYERS=1 prints instead, per case
# and thread count, the engine's time per step and ONNX Runtime's per node
# (its own profiler), each peer back to back.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtlsplit/bench}
cases=${CASES:-"resnet18@224,mobilenet_v3_small@224,efficientnet_b0@224,vgg16@224,vgg16_bn@224,resnet18@320,efficientnet_b0@320,resnet18@512,efficientnet_b0@512"}
threads=${THREADS:-"1,2"}
reps=${REPS:-20}
. scripts/peers.sh
export_onnx "$cases"

go build -o "$cache/benchpeers" ./internal/benchpeers
"$cache/benchpeers" -dir "$cache" -ort "$ort_lib" -cases "$cases" -threads "$threads" -reps "$reps" ${LAYERS:+-layers}
