package stackfit

import (
	"fmt"
	"strconv"
)

// board is the hardware of one device as the published rows used it: CPU
// cores and what one does per cycle, GPU peaks, DRAM bandwidth. Every
// number says where it comes from.
type board struct {
	device string // catalog id the board's entries belong to
	name   string
	// cpuCores is the core type; flopsPerCycle what one core does per
	// cycle at each arithmetic precision.
	cpuCores      string
	flopsPerCycle map[string]float64
	flopsSource   string
	// gpuPeak is the GPU's dense peak by precision ("fp16-tensor" for
	// tensor cores), gpuSource where it comes from.
	gpuPeak   map[string]float64
	gpuSource string
	bwGBps    float64
	bwSource  string
	// shaderSource says where a "-shader" peak comes from: the rate a
	// board's GPU reaches in Vulkan compute shaders, where it differs from
	// the CUDA libraries' (gpuPeak without the suffix).
	shaderSource string
	// gpuFamily names GPUs of another architecture than the Jetsons'
	// NVIDIA ones: a stack's GPU efficiencies are shared within a family.
	gpuFamily string
}

// Sources of the per-cycle rates: Arm's optimization guides give the
// 128-bit NEON pipes that take FMA; fp16 doubles the lanes on ARMv8.2
// cores; int8 without dot-product instructions (QNNPACK, ruy on A72)
// widens to 16 bits, twice the fp32 lanes.
const (
	a57Source = "derived: 1 x 128-bit NEON FMA per cycle = 8 fp32 FLOP/cycle per Cortex-A57 core (Arm Cortex-A57 Software Optimization Guide)"
	a72Source = "derived: 8 fp32 FLOP/cycle per Cortex-A72 core as in the rpi4 entry (one 128-bit NEON FMA per cycle); int8 without dot product: 16 ops/cycle (8 x 16-bit widening MACs)"
	a76Source = "derived: 2 x 128-bit NEON FMA pipes per Cortex-A76/A78AE core = 16 fp32, 32 fp16 FLOP/cycle (ARMv8.2 fp16); int8 without dot product as QNNPACK runs it: 32 ops/cycle"
)

var boards = map[string]board{
	"nano": {device: "jetson-nano", name: "Jetson Nano", cpuCores: "4x Cortex-A57",
		flopsPerCycle: map[string]float64{"fp32": 8}, flopsSource: a57Source,
		gpuPeak:      map[string]float64{"fp32": 236, "fp16": 472, "fp16-shader": 236},
		gpuSource:    "derived: 128 Maxwell CUDA cores x 0.9216 GHz x 2 FLOP/FMA = 236 GFLOPS fp32, x2 half2 = 472 fp16, https://developer.nvidia.com/embedded/jetson-nano",
		shaderSource: "estimate: ncnn's Vulkan fp16 shaders on the Tegra X1 taken at the fp32 rate, 236 GFLOPS: its Maxwell (sm_53) runs fp16 at twice the fp32 rate only as paired half2 instructions, and whether the L4T driver's shader compiler pairs ncnn's f16vec4 arithmetic is not documented; the Nano's benchncnn rows say it does not (VGG-16 at 21% of the half2 peak, 42% of this one, where the TX2 NX's Pascal reaches 37% of its half2 peak), https://github.com/Tencent/ncnn/blob/a4d2ea1d4422c9e849f166fd7a4aefb52f942f6a/benchmark/README.md",
		bwGBps:       25.6, bwSource: "derived: 64-bit LPDDR4 at 3200 MT/s = 25.6 GB/s, https://developer.nvidia.com/embedded/jetson-nano"},
	"tx2": {device: "jetson-tx2", name: "Jetson TX2", cpuCores: "2x Denver2 + 4x Cortex-A57",
		flopsPerCycle: map[string]float64{"fp32": 8}, flopsSource: a57Source + "; Denver2 taken as the same (estimate)",
		gpuPeak:   map[string]float64{"fp32": 665, "fp16": 1331},
		gpuSource: "derived: 256 Pascal CUDA cores x 1.30 GHz x 2 = 665 GFLOPS fp32, x2 half2 = 1331 fp16, https://developer.nvidia.com/embedded/jetson-tx2",
		bwGBps:    59.7, bwSource: "derived: 128-bit LPDDR4 at 3733 MT/s = 59.7 GB/s, https://developer.nvidia.com/embedded/jetson-tx2"},
	"tx2nx": {device: "jetson-tx2", name: "Jetson TX2 NX", cpuCores: "2x Denver2 + 4x Cortex-A57",
		flopsPerCycle: map[string]float64{"fp32": 8}, flopsSource: a57Source + "; Denver2 taken as the same (estimate)",
		gpuPeak:   map[string]float64{"fp32": 665, "fp16": 1331},
		gpuSource: "derived: the TX2's Tegra X2 GPU (256 Pascal cores, 1.30 GHz): 665 GFLOPS fp32, 1331 fp16, https://developer.nvidia.com/embedded/jetson-tx2",
		bwGBps:    51.2, bwSource: "derived: TX2 NX 128-bit LPDDR4 at 3200 MT/s = 51.2 GB/s, https://developer.nvidia.com/embedded/jetson-tx2"},
	"xnx": {device: "jetson-xavier-nx", name: "Jetson Xavier NX", cpuCores: "6x Carmel",
		gpuPeak:   map[string]float64{"fp32": 845, "fp16": 1690, "fp16-tensor": 6758, "int8-tensor": 13517},
		gpuSource: "derived: 384 Volta CUDA cores x 1.1 GHz x 2 = 845 GFLOPS fp32 (1690 fp16); 48 tensor cores x 64 FMA x 2 x 1.1 GHz = 6758 fp16, 13517 int8, https://developer.nvidia.com/embedded/jetson-xavier-nx",
		bwGBps:    51.2, bwSource: "derived: 128-bit LPDDR4x at 3200 MT/s = 51.2 GB/s, https://developer.nvidia.com/embedded/jetson-xavier-nx"},
	"orin": {device: "jetson-orin-nano", name: "Jetson Orin Nano", cpuCores: "6x Cortex-A78AE",
		flopsPerCycle: map[string]float64{"fp32": 16, "fp16": 32}, flopsSource: a76Source,
		gpuPeak:   map[string]float64{"fp32": 1280, "fp16": 1280, "fp16-tensor": 10240},
		gpuSource: "derived: 1024 Ampere CUDA cores x 0.625 GHz x 2 = 1280 GFLOPS fp32 (fp16 on CUDA cores at the same rate); 32 tensor cores x 256 FMA x 2 x 0.625 GHz = 10240 fp16, https://www.nvidia.com/en-us/autonomous-machines/embedded-systems/jetson-orin/",
		bwGBps:    68, bwSource: "https://www.nvidia.com/en-us/autonomous-machines/embedded-systems/jetson-orin/ (128-bit LPDDR5, 68 GB/s)"},
	"rpi4": {device: "rpi4", name: "Raspberry Pi 4", cpuCores: "4x Cortex-A72",
		flopsPerCycle: map[string]float64{"fp32": 8, "int8": 16}, flopsSource: a72Source,
		bwGBps: 12.8, bwSource: "derived: 32-bit LPDDR4-3200 = 12.8 GB/s, https://www.raspberrypi.com/products/raspberry-pi-4-model-b/specifications/"},
	"rpi5": {device: "rpi5", name: "Raspberry Pi 5", cpuCores: "4x Cortex-A76",
		flopsPerCycle: map[string]float64{"fp32": 16, "fp16": 32, "int8": 32}, flopsSource: a76Source,
		gpuPeak:   map[string]float64{"fp32": 76.8},
		gpuSource: "estimate: VideoCore VII, 12 QPUs x 4 lanes x 2 ALUs x 0.8 GHz = 76.8 GFLOPS fp32 (VideoCore VI: 8 QPUs at 0.5 GHz = 32), https://www.raspberrypi.com/products/raspberry-pi-5/",
		bwGBps:    17.1, bwSource: "derived: 32-bit LPDDR4X-4267 = 17.1 GB/s, https://www.raspberrypi.com/products/raspberry-pi-5/",
		gpuFamily: "videocore"},
}

// setup is how a stack ran on a board: the unit, the arithmetic precision
// (the peak it is measured against), the bytes per stored element, and on a
// CPU the threads and clock.
type setup struct {
	board     string
	stack     string // catalog stack name
	unit      string // "cpu" or "gpu"
	precision string // arithmetic: fp32, fp16, int8
	storage   string // stored elements, when not the arithmetic precision
	threads   int    // CPU only
	clockGHz  float64
	clockSrc  string
	tensor    bool // the stack runs convs on tensor cores
}

// group is the fit group of a setup: one stack on one kind of unit shares
// its numbers across devices (GPUs: of one architecture family). On a CPU,
// a stack's int8 kernels are its float ones on narrower lanes: int8 runs
// share the group through a fitted int8 speed. On a GPU, int8 runs on
// other tensor-core kernels (TensorRT's calibrated int8): a group of its
// own.
func (s setup) group() string {
	g := s.stack + "/" + s.unit
	if f := boards[s.board].gpuFamily; f != "" && s.unit == "gpu" {
		g += "-" + f
	}
	if s.unit == "gpu" && s.precision == "int8" {
		g += "/int8"
	}
	return g
}

// bytesPerElem of what the stack stores.
func (s setup) bytesPerElem() int {
	p := s.precision
	if s.storage != "" {
		p = s.storage
	}
	switch p {
	case "fp16":
		return 2
	case "int8":
		return 1
	}
	return 4
}

// peak is the datasheet peak of the setup in GFLOPS: of one core on a CPU
// (the fit scales it by the threads), of the whole GPU otherwise, with the
// source.
func (s setup) peak() (float64, string, error) {
	b, ok := boards[s.board]
	if !ok {
		return 0, "", fmt.Errorf("unknown board %q", s.board)
	}
	if s.unit == "cpu" {
		f, ok := b.flopsPerCycle[s.precision]
		if !ok || s.clockGHz <= 0 || s.threads < 1 {
			return 0, "", fmt.Errorf("board %q: no %s CPU rate, clock or threads", s.board, s.precision)
		}
		return f * s.clockGHz, fmt.Sprintf("%s; %s at %s GHz (%s)", b.flopsSource, b.cpuCores, g4(s.clockGHz), s.clockSrc), nil
	}
	key := s.precision
	if s.tensor {
		key += "-tensor"
	}
	if p, ok := b.gpuPeak[key+"-shader"]; ok && s.stack == "ncnn-vulkan" {
		return p, b.shaderSource, nil
	}
	p, ok := b.gpuPeak[key]
	if !ok {
		return 0, "", fmt.Errorf("board %q: no %s GPU peak", s.board, key)
	}
	return p, b.gpuSource, nil
}

func g4(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
