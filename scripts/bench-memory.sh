#!/usr/bin/env bash
# Peak memory of `mtlsplit infer` against ONNX Runtime (internal/benchpeers
# -memory): for every zoo model at 224 and 512 px, `mtlsplit infer` on the
# zoo model and on its ONNX export, and ONNX Runtime 1.24.3 on that export
# (intra-op THREADS threads, ORT_ENABLE_ALL graph optimisation, batch 1),
# each in a fresh process; the peak is the child's ru_maxrss (the whole
# process), median of three. Writes OUT/memory.{csv,md,png,svg} and prints
# the table. Peers are set up on first use into CACHE (scripts/peers.sh).
#
# CASES, THREADS and OUT override the defaults; about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mtlsplit/bench}
models="vgg16 vgg16_bn resnet18 mobilenet_v3_small efficientnet_b0"
default_cases=$(for m in $models; do printf '%s@224,%s@512,' "$m" "$m"; done)
cases=${CASES:-${default_cases%,}}
threads=${THREADS:-2}
out=${OUT:-results/memory}
. scripts/peers.sh
export_onnx "$cases"

go build -o bin/mtlsplit ./cmd/mtlsplit
go build -o "$cache/benchpeers" ./internal/benchpeers
"$cache/benchpeers" -memory "$out" -mtlsplit bin/mtlsplit -dir "$cache" -ort "$ort_lib" -cases "$cases" -threads "$threads"
