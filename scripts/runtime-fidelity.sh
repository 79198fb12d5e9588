#!/usr/bin/env bash
# Measured against predicted on emulated links: this machine is both the
# edge and the server. Its profile is measured (profile --measure), a plan
# is made for it at each uplink, and `run --data` sends every input over a
# constant-rate Mahimahi trace of that uplink (linkemu: 1500-byte packets
# at the trace's milliseconds, half the RTT of propagation delay). The
# inputs are split into ROUNDS rounds; in each, every uplink runs its
# round's inputs with the plan as measured ("before"), `calibrate --runtime`
# fits the fixed costs and each side's idle-gap term on the CALIBRATE logs
# of this round and the ones before, the plans are made again with the
# fitted terms (plan --hw), and every uplink runs the same inputs with them
# ("after"), seconds after the runs they were fitted on. Logs, CSV, figures
# and the README table go to OUT.
#
# Environment: MODEL, INPUT, N (inputs per uplink, in ROUNDS rounds), BWS
# (uplinks in Mbps),
# CALIBRATE (the uplinks whose logs are fitted), THREADS, OUT; NICE, a
# niceness for every profile and run (e.g. -10 as root on a machine other
# jobs load: they slow the runtime's compute far more than the profile's
# back-to-back block timings, see the load column).
set -euo pipefail
cd "$(dirname "$0")/.."
M=$PWD/bin/mtlsplit
MODEL=${MODEL:-resnet18}
INPUT=${INPUT:-128}
N=${N:-60}
ROUNDS=${ROUNDS:-4}
BWS=${BWS:-1 10 100 1000}
# Every uplink is fitted: the idle-gap term needs gaps between the few ms
# of 1000 Mbps and the ~280 ms of 1 Mbps to find its time constant (1 and
# 1000 Mbps alone leave it free), so the after-columns are in sample.
CALIBRATE=${CALIBRATE:-1 10 100 1000}
THREADS=${THREADS:-1}
OUT=${OUT:-results/runtime-fidelity}
if [ -n "${NICE:-}" ]; then
	M="nice -n $NICE $M"
fi
# The plan: this host's measured profile on both sides (the catalog's
# epyc-2c and epyc-16c entries lend their names and the terms calibrate
# writes; every layer's latency is the measured one), a 2 ms RTT so the
# trace's delay is a whole millisecond each way, and an edge memory bound
# that keeps the weights of layer4 off the device: the cut is after layer3
# (fp16, 32 KB) at every uplink.
PLAN=${PLAN:-$MODEL --input $INPUT --device epyc-2c --server epyc-16c --network ethernet --rtt-ms 2 --encodings fp32,fp16 --max-edge-memory-mb 20}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT/logs"
rm -f "$OUT"/logs/*.jsonl
echo "phase,uplink_mbps,load_avg_1min" > "$OUT/logs/load.csv"

echo "== profile of this host ($MODEL at $INPUT px, $THREADS thread)"
$M profile "$MODEL" --input "$INPUT" --measure --reps 20 --warmup 5 --threads "$THREADS" -q --out "$work/host.yaml" --force > /dev/null

$M data shapes3d --out "$work/raw" --split test --n "$N" --size "$INPUT" --seed 3 -q --force > /dev/null
i=0
for f in "$work/raw/img/"*; do
	mkdir -p "$work/data/$((i % ROUNDS + 1))"
	mv "$f" "$work/data/$((i % ROUNDS + 1))/"
	i=$((i + 1))
done

# A constant rate as a Mahimahi trace, as linkemu.ConstantTrace makes it:
# the shortest period q ms in which n = rate·q/12 packets fit exactly,
# the i-th due by ceil(i·q/n) ms (1000 Mbps: 250 packets every 3 ms, the
# same millisecond repeated for each packet it carries).
trace() {
	awk -v m="$1" 'BEGIN { for (q = 1; q <= 12000; q++) { n = m * q / 12; if (n >= 1 && n == int(n)) {
		for (i = 1; i <= n; i++) print int((i * q + n - 1) / n); exit } } }' > "$2"
}

plans() { # plan-file tag, extra plan flags
	for bw in $BWS; do
		# shellcheck disable=SC2086 # PLAN is a list of arguments
		$M plan $PLAN --profile "$work/host.yaml" --server-profile "$work/host.yaml" --uplink-mbps "$bw" "${@:2}" \
			--out "$work/plan_$1_$bw.yaml" --force > /dev/null
	done
}

round() { # phase, round, plan-file tag
	for bw in $BWS; do
		# The load as the run starts: other work on the cores slows
		# the runtime's compute more than the profile's.
		echo "$1,$bw,$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/logs/load.csv"
		$M run --plan "$work/plan_$3_$bw.yaml" --data "$work/data/$2" --trace "$work/$bw.up" --threads "$THREADS" \
			--workers 1 -q --out "$work/$1_${bw}_$2.jsonl" --force > /dev/null 2>&1
	done
}

calibrate() { # round, out: fit the before-logs of rounds 1..round at $CALIBRATE Mbps into out
	: > "$work/calibrate.jsonl"
	for bw in $CALIBRATE; do
		for q in $(seq "$1"); do cat "$work/before_${bw}_$q.jsonl" >> "$work/calibrate.jsonl"; done
	done
	(cd "$work" && $M calibrate --runtime calibrate.jsonl --network ethernet --device epyc-2c --server epyc-16c \
		--out "$2" --force)
}

for bw in $BWS; do trace "$bw" "$work/$bw.up"; done
plans before
# Round-robin over the uplinks, N/ROUNDS inputs at a time, so that a change
# in the machine's load falls on every uplink alike; and each round's runs
# after calibration follow at once the runs they were calibrated on (those
# of this round and the ones before). This VM's compute drifts by 10-17%
# over a minute; with every calibration run first and every run after it
# a minute later, the drift read as model error.
echo "== $ROUNDS rounds: runs before calibration, calibrate --runtime, runs after it"
for r in $(seq "$ROUNDS"); do
	round before "$r" before
	calibrate "$r" "$work/fitted_$r.yaml" > "$work/calibrate_$r.txt"
	plans "after_$r" --hw "$work/fitted_$r.yaml"
	round after "$r" "after_$r"
	echo "round $r of $ROUNDS done"
done
for phase in before after; do
	for bw in $BWS; do
		for r in $(seq "$ROUNDS"); do cat "$work/${phase}_${bw}_$r.jsonl"; done > "$OUT/logs/${phase}_${bw}mbps.jsonl"
	done
done
echo "== calibrate --runtime on all the runs before calibration (the terms the last round used)"
cp "$work/fitted_$ROUNDS.yaml" "$OUT/fitted.yaml"
tee "$OUT/calibrate.txt" < "$work/calibrate_$ROUNDS.txt"

go run ./scripts/fidelityreport -logs "$OUT/logs" -out "$OUT"
