#!/usr/bin/env bash
# Training throughput against PyTorch in one run: images/s of one AdamW step
# (lr 1e-4, wd 1e-6) of each zoo backbone with two MTL-Split heads, batch 32
# at 64x64, random weights and batch. Per backbone the Go trainer
# (train.BenchmarkStep) runs, then Debian's PyTorch 1.13
# (train/testdata/bench_train_torch.py), then Go again; the Go figure is the
# median of its runs, so a load spike on the shared machine hits one of
# them and not the comparison. Both get 2 threads (GOMAXPROCS=2, the
# trainer splitting each GEMM over its goroutines, OPENBLAS_NUM_THREADS=1:
# the engine makes OpenBLAS single-threaded at run time, but workers that
# OpenBLAS started at load still took ~10% of the CPU; PyTorch:
# torch.set_num_threads(2) with OPENBLAS_NUM_THREADS=2, which OpenBLAS needs,
# and OMP_WAIT_POLICY=PASSIVE so idle PyTorch threads do not spin).
#
# MODELS and STEPS (timed steps per run) override the defaults; the
# defaults took 4.5 minutes on the shared 2-core VM at load 2 (budget up
# to 10 at higher load), vgg16 and vgg16_bn most of it. Prints a markdown table and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${MODELS:-"resnet18,mobilenet_v3_small,efficientnet_b0,vgg16,vgg16_bn"}
steps=${STEPS:-5}
warmup=1
threads=2
goal=0.5

if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "bench-train: installing python3-torch and python3-torchvision (Debian) for the peer timing" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-torchvision >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/train.test" ./train/

# go_run MODEL: images/s of one Go run. The testing package first runs the
# benchmark once with b.N=1 (the warm-up, like WARMUP=1), then times STEPS.
go_run() {
  OPENBLAS_NUM_THREADS=1 GOMAXPROCS=$threads "$tmp/train.test" -test.run '^$' -test.bench "BenchmarkStep/$1\$" \
    -test.benchtime "${steps}x" |
    awk '{for (i = 2; i <= NF; i++) if ($i == "images/s") print $(i-1)}'
}
torch_run() {
  OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE \
    /usr/bin/python3 train/testdata/bench_train_torch.py "$1" "$threads" "$warmup" "$steps" |
    awk '$1 == "images/s" {print $2}'
}

start=$(date -u +%H:%M)
echo "| model | mtlsplit images/s | PyTorch images/s | ratio | goal ≥ ${goal}× met? |"
echo "|---|---:|---:|---:|---|"
for m in ${models//,/ }; do
  g1=$(go_run "$m"); p=$(torch_run "$m"); g2=$(go_run "$m")
  if [ -z "$g1" ] || [ -z "$p" ] || [ -z "$g2" ]; then
    echo "bench-train: $m: a run printed no images/s (go: '$g1' '$g2', torch: '$p')" >&2
    exit 1
  fi
  # The median of two runs is their mean.
  awk -v m="$m" -v a="$g1" -v b="$g2" -v p="$p" -v goal="$goal" 'BEGIN {
    g = (a + b) / 2; r = g / p
    printf "| %s | %.1f | %.1f | %.2f× | %s |\n", m, g, p, r, (r >= goal ? "yes" : "no")
  }'
done
echo
echo "Started $start UTC, finished $(date -u +%H:%M) UTC; load average (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)."
