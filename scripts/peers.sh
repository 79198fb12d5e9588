# Sourced by bench-engine.sh and bench-memory.sh: sets up the peers in
# $cache (nothing large is committed) and exports the zoo backbones to ONNX.
#
#   - PyTorch: Debian's python3-torch under /usr/bin/python3 (it also
#     exports the ONNX files: engine/testdata/bench_peer_torch.py);
#   - ONNX Runtime 1.24.3: libonnxruntime.so from the npm package
#     onnxruntime-node (its install script is skipped: it downloads from a
#     host this machine cannot reach; the CPU library ships in the package).
ort_version=1.24.3
mkdir -p "$cache"

if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "$0: installing python3-torch and python3-torchvision (Debian) for the peers" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch python3-torchvision >/dev/null
fi

ort_lib=$(ls "$cache"/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1 2>/dev/null | head -1 || true)
if [ -z "$ort_lib" ]; then
  echo "$0: fetching onnxruntime-node@$ort_version (npm) for libonnxruntime.so" >&2
  mkdir -p "$cache/ort"
  (cd "$cache/ort" && npm install --silent --no-save --ignore-scripts "onnxruntime-node@$ort_version" >&2)
  ort_lib=$(ls "$cache"/ort/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1 | head -1)
fi

# export_onnx CASES: MODEL@SIZE,... → $cache/MODEL_SIZE.onnx (random
# weights, seed 0), once.
export_onnx() {
  local c m s
  for c in ${1//,/ }; do
    m=${c%@*} s=${c#*@}
    if [ ! -s "$cache/${m}_${s}.onnx" ]; then
      echo "$0: exporting $m at $s px to ONNX" >&2
      /usr/bin/python3 engine/testdata/bench_peer_torch.py export "$cache" "$m" "$s" 2>/dev/null
    fi
  done
}
