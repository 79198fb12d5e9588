# mtlsplit — quick start: `make demo`, `make test`.
GO      ?= go
BIN     := bin/mtlsplit
PKGS    := ./...
DEMO    ?= efficientnet_b0 --device rpi4 --server h100 --network wifi --tasks 8,4 --encodings fp32,fp16,int8

.PHONY: all setup build test demo sweep-demo figures shapes3d-figure example-accuracy bench bench-engine bench-train calibrate-host calibrate-reference calibrate-stacks lint clean

all: build

# System packages the project needs (idempotent; silent when installed).
setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/mtlsplit

test: setup
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)

# Plan a deployment for the default model, device, server and network.
demo: build
	@./$(BIN) plan $(DEMO)

# Sweep the uplink bandwidth for the same setup and draw it.
sweep-demo: build
	@mkdir -p results/out
	@./$(BIN) sweep $(DEMO) --encodings fp32,fp16,int8 --plot results/out/sweep_demo.png --force

# Regenerate the figures the README shows.
figures: build
	./$(BIN) sweep efficientnet_b0 --device rpi4 --server h100 --encodings fp32,fp16,int8 --granularity layer \
		--plot docs/figures/sweep_effnet_rpi4_h100.png --force > docs/figures/sweep_effnet_rpi4_h100.txt
	./$(BIN) experiment scenarios --out docs/figures/scenarios --force -q > /dev/null
	./$(BIN) experiment adaptive --tune --force -q > /dev/null

# The 3D Shapes sample sheet (results/shapes3d/samples.png).
shapes3d-figure: build
	./$(BIN) data shapes3d --grid results/shapes3d/samples.png --force

# Train a two-task model, measure its accuracy per cut and encoding, and
# show an accuracy floor moving the plan (results/accuracy-example/).
example-accuracy: build
	@bash scripts/example-accuracy.sh

bench: setup
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The engine against PyTorch in one run (installs Debian's python3-torch).
bench-engine: setup
	@bash scripts/bench-engine.sh

# Training images/s per backbone against PyTorch in one run (installs Debian's python3-torch).
bench-train: setup
	@bash scripts/bench-train.sh

# Measure the five zoo backbones on this machine and fit its cost model.
calibrate-host: build
	@mkdir -p results/out
	./$(BIN) profile vgg16,vgg16_bn,resnet18,mobilenet_v3_small,efficientnet_b0 --measure --granularity layer --reps 40 --warmup 10 --threads 2 -q --out results/out/host_profile.yaml --force > /dev/null
	./$(BIN) calibrate --profile results/out/host_profile.yaml --device epyc-2c --bandwidth-gbps 25 --out results/out/host_device.yaml --force

# The README's calibration table: fit the three measured tables from their base figures (H100 SXM
# datasheet: 3350 GB/s HBM3; the EPYC VM: 25 GB/s, a vgg16 head streaming its fp32 weights in
# epyc2c_fp32_b1_224.json), in sample and held out, and write the entries hwprofiles/catalog carries
# (h100, epyc-2c, epyc-2c-engine) to results/out/fitted_*.yaml.
calibrate-reference: build
	@mkdir -p results/out
	./$(BIN) calibrate --profile hwprofiles/measured/h100_fp16_b1_224.json --device h100 --bandwidth-gbps 3350 \
		--out results/out/fitted_h100.yaml --force | tee results/out/calibrate_h100.txt
	./$(BIN) calibrate --profile hwprofiles/measured/epyc2c_fp32_b1_224.json --device epyc-2c --bandwidth-gbps 25 \
		--out results/out/fitted_epyc-2c.yaml --force | tee results/out/calibrate_epyc-2c.txt
	./$(BIN) calibrate --profile hwprofiles/measured/engine_epyc2c_fp32_b1_224.json --device epyc-2c-engine \
		--peak-gflops 332.8 --bandwidth-gbps 25 --out results/out/fitted_epyc-2c-engine.yaml --force | tee results/out/calibrate_epyc-2c-engine.txt

# Fit every inference stack to the published latencies (hwprofiles/published/edge_latency.csv) with
# leave-one-out, and rewrite hwprofiles/catalog/stacks.yaml, hwprofiles/published/loo.csv and the
# README's stack tables.
calibrate-stacks: setup
	$(GO) test -count=1 -run '^TestRegenerate$$' ./hwprofiles/stackfit -update -v | grep -v '^=== RUN' | head -80

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else echo "golangci-lint not installed: skipped"; fi

clean:
	rm -rf bin results/out

# Load test on loopback (bounded: 30 s per phase): 8 concurrent edges against one server lose no
# request and get none answered twice (throughput, p50, p99); then 4× more clients than the server
# admits get 503 quickly while the heap stays bounded.
.PHONY: load
load: setup
	LOAD_SECONDS=30 $(GO) test -count=1 -run '^TestLoad$$' -v -timeout 10m ./splitrun | grep -E 'load:|overload:|^(ok|FAIL|---)'

# The runtime end to end: the plan `make demo` makes, `serve` in the background, `run --server
# URL --data` on a small labelled 3D Shapes sample; prints results and measured vs predicted.
.PHONY: demo-runtime
demo-runtime: build
	@DEMO="$(DEMO)" bash scripts/demo-runtime.sh

.PHONY: reproduce reproduce-full

# Regenerate results/ (STL vs MTL, accuracy vs bytes, bandwidth sweep, DADS) with one progress display:
# the reduced recipe (experiments.ReducedRecipe: mobilenet_v3_small + resnet18, MTL and both STL models, 2 seeds,
# 3,072 training scenes at 64 px, 2 epochs; scored on 512 OOD + 512 hold-out scenes, 256 at every cut x encoding):
# under 30 minutes on two cores. results/README.md says what ran, where and how long.
reproduce: build
	./$(BIN) experiment all --recipe reduced --force

# MTL-Split's protocol (five backbones, 30 epochs over the train split, 3 seeds): results/README.md states
# the time it would take here (far more than a day on two cores).
reproduce-full: build
	./$(BIN) experiment all --recipe paper --cache results/out/repro-full --force

# Measured against predicted on emulated links (this machine as edge and server, constant-rate
# Mahimahi traces at 1, 10, 100, 1000 Mbps), before and after `calibrate --runtime`: logs, CSV,
# figures and the table in results/runtime-fidelity/ (a few minutes).
.PHONY: runtime-fidelity
runtime-fidelity: build
	@bash scripts/runtime-fidelity.sh

# Peak memory of `mtlsplit infer` against ONNX Runtime on every zoo model at 224 and 512 px, each
# in a fresh process (scripts/bench-memory.sh): results/memory/memory.{csv,md,png,svg}.
.PHONY: bench-memory
bench-memory: setup
	@bash scripts/bench-memory.sh

# Release binaries in dist/ with SHA256SUMS: linux/amd64 (CBC, OpenBLAS, AVX2/AVX-512 kernels) and
# a static linux/arm64 for the edge device (NEON kernels; no CBC, OpenBLAS or ONNX Runtime loader).
# The README's "On the edge device (arm64)" says what each can do.
.PHONY: release
release: setup
	@bash scripts/release.sh
