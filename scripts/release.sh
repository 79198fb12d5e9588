#!/usr/bin/env bash
# Builds the release binaries into dist/ with their SHA-256 sums (make release):
#   mtlsplit-linux-amd64  this machine's build: cgo, CBC, OpenBLAS, the AVX2/AVX-512 kernels;
#                         needs Debian 12's libcbc3 and libopenblas0 (or newer) on the target
#   mtlsplit-linux-arm64  for the edge device: cgo with Debian's aarch64 cross gcc for the NEON
#                         kernels, no CBC (nocbc), no OpenBLAS (noopenblas), no ONNX Runtime loader
#                         (noort); static, so it runs on any arm64 Linux (Raspberry Pi OS, Jetson L4T)
# Each binary is started once (the arm64 one under qemu) to show it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
go=${GO:-go}

if [ "$(uname -m)" != x86_64 ]; then
  echo "release: build on linux/amd64 (the amd64 binary links this machine's CBC and OpenBLAS); this is $(uname -m)" >&2
  exit 1
fi
for tool in aarch64-linux-gnu-gcc qemu-aarch64-static; do
  command -v "$tool" >/dev/null || { echo "release: $tool missing: run make setup" >&2; exit 1; }
done

mkdir -p dist
rm -f dist/mtlsplit-linux-amd64 dist/mtlsplit-linux-arm64 dist/SHA256SUMS

echo "release: linux/amd64"
CGO_ENABLED=1 GOOS=linux GOARCH=amd64 "$go" build -trimpath -o dist/mtlsplit-linux-amd64 ./cmd/mtlsplit

echo "release: linux/arm64 (static, NEON)"
# netgo and osusergo keep glibc's NSS, which a static binary cannot load, out of the link.
CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc "$go" build -trimpath \
  -tags nocbc,noopenblas,noort,netgo,osusergo -ldflags '-extldflags=-static' \
  -o dist/mtlsplit-linux-arm64 ./cmd/mtlsplit

./dist/mtlsplit-linux-amd64 --help >/dev/null
qemu-aarch64-static ./dist/mtlsplit-linux-arm64 --help >/dev/null

(cd dist && sha256sum mtlsplit-linux-amd64 mtlsplit-linux-arm64 > SHA256SUMS)
ls -l dist/mtlsplit-linux-amd64 dist/mtlsplit-linux-arm64
cat dist/SHA256SUMS
