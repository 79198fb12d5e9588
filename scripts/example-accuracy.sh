#!/usr/bin/env bash
# Bring-your-own-model walkthrough with real numbers: train a two-task
# mobilenet_v3_small on 3D Shapes scenes, measure its per-task accuracy at
# every cut and encoding on held-out scenes, and show how an accuracy floor
# moves the plan. Writes results/accuracy-example/ (summary.md, acc.yaml);
# the model and the data stay in results/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
M=./bin/mtlsplit
out=results/accuracy-example
work=results/out/accuracy-example
mkdir -p "$out" "$work"

$M data shapes3d --out "$work/test" --split test --n 300 --seed 7 -q --force
$M train mobilenet_v3_small --tasks scale,shape --n 2048 --test-n 256 --epochs 4 --lr 1e-3 --size 64 -q \
	--out "$work/model.onnx" --force > "$work/train.txt"
$M profile "$work/model.onnx" --accuracy --data "$work/test" --encodings fp32,fp16,int8,int4 -q \
	--accuracy-out "$out/acc.yaml" --force > "$work/accuracy.txt"

plan=("$work/model.onnx" --device rpi4 --server h100 --network 4g --objective energy
	--encodings fp32,fp16,int8,int4 --accuracy "$out/acc.yaml")
{
	echo "# Accuracy floors move the plan"
	echo
	echo "Regenerate with \`make example-accuracy\` (scripts/example-accuracy.sh)."
	echo
	echo "Training (\`mtlsplit train mobilenet_v3_small --tasks scale,shape --n 2048 --test-n 256 --epochs 4 --lr 1e-3 --size 64\`;"
	echo "test accuracy is on scenes whose floor and wall colours training never shows):"
	echo
	echo '```'
	cat "$work/train.txt"
	echo '```'
	echo
	echo "Measured accuracy (\`profile --accuracy\` on 300 test-split scenes), plain pass and the first cut:"
	echo
	echo '```'
	sed -n 2,4p "$work/accuracy.txt"
	grep -E '^(CUT|features\.0 )' "$work/accuracy.txt"
	echo '```'
	echo
	echo "Plans on a Raspberry Pi 4 → H100 over 4G, minimizing edge energy:"
	echo
	echo "| --min-accuracy | choice | bytes | edge energy mJ | latency ms | scale | shape |"
	echo "|---|---|---|---|---|---|---|"
	for floor in "" shape=0.96 shape=0.97; do
		args=("${plan[@]}")
		[ -n "$floor" ] && args+=(--min-accuracy "$floor")
		$M plan "${args[@]}" -o json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
c, p = d["choice"], d["predicted"]
label = "cut after %s, %s" % (c["cut"], c["encoding"]) if c["encoding"] not in ("none", "uint8") else c["cut"]
print("| %s | %s | %d | %.2f | %.1f | %.1f%% | %.1f%% |" % (sys.argv[1] or "none", label, p["bytes"], p["edge_energy_mj"],
      p["total_ms"], 100 * p["accuracy"]["scale"], 100 * p["accuracy"]["shape"]))' "$floor"
	done
} > "$out/summary.md"
echo "wrote $out/summary.md"
