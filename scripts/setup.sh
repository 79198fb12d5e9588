#!/usr/bin/env bash
# Installs the Debian packages mtlsplit needs. Idempotent: prints one line
# per package it installs and nothing when everything is already installed.
#   coinor-libcbc-dev  CBC, the MILP solver milp links through cgo
#   pkg-config         finds CBC's flags for cgo
#   glpk-utils         glpsol, which the milp tests use to check LP/MPS files
#   libopenblas-dev    the engine's BLAS
#   python3-onnx       the ONNX reference checker, which checks exported files in the onnx tests
#   gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
#                      the arm64 cross compiler and C library: cgo for the engine's NEON
#                      kernels in the arm64 test binary and in `make release`
#   qemu-user-static   runs that arm64 test binary (engine's TestARM64UnderQEMU)
set -euo pipefail

packages=(pkg-config coinor-libcbc-dev glpk-utils libopenblas-dev python3-onnx
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
# apt's chatter (debconf notes included) is shown only if a step fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "setup: failed: $*" >&2
    exit 1
  fi
}
quiet "${sudo[@]}" apt-get update -qq
for p in "${missing[@]}"; do
  echo "setup: installing $p"
  # env after sudo: sudo drops DEBIAN_FRONTEND from the caller's environment.
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p"
done
