package stackfit

import (
	"fmt"
	"strings"

	"github.com/mtlsplit/mtlsplit/profile"
)

// models maps the published table's model names to model.Classifier names.
var models = map[string]string{
	"R18": "resnet18", "R50": "resnet50", "V16": "vgg16", "MV1": "mobilenet_v1", "MV2": "mobilenet_v2",
	"MV3S": "mobilenet_v3_small", "MV3L": "mobilenet_v3_large", "EB0": "efficientnet_b0", "EL0": "efficientnet_lite0",
	// PaddlePaddle's ResNet-50 (OpenCV Zoo) and the Caffe / TF-slim / v1.5
	// exports are ResNet-50 to within a few percent of the MACs.
	"PP-R50": "resnet50",
}

// modelName maps a published model cell ("R50 v1.5", "MV2 (quant)",
// "EL0 (not B0)") to a classifier name.
func modelName(cell string) (string, error) {
	f := strings.Fields(cell)
	if len(f) > 0 {
		if m, ok := models[f[0]]; ok {
			return m, nil
		}
	}
	return "", fmt.Errorf("model %q is not one of R18, R50, V16, MV1, MV2, MV3S, MV3L, EB0, EL0, PP-R50", cell)
}

// stackName maps a published stack cell and unit to a catalog stack.
func stackName(cell, unit string) (string, error) {
	c := strings.ToLower(cell)
	switch {
	case strings.Contains(c, "tensorrt") || strings.Contains(c, "tf-trt"):
		return "tensorrt", nil
	case strings.Contains(c, "ncnn vulkan"):
		return "ncnn-vulkan", nil
	case strings.Contains(c, "ncnn"):
		return "ncnn", nil
	case strings.Contains(c, "opencv dnn cuda"):
		return "opencv-cuda", nil
	case strings.Contains(c, "opencv"):
		return "opencv", nil
	case strings.Contains(c, "tflite"):
		return "tflite", nil
	case strings.Contains(c, "pytorch"):
		return "pytorch", nil
	case strings.Contains(c, "tensorflow"):
		return "tensorflow", nil
	case strings.Contains(c, "onnx"):
		return "onnxruntime", nil
	}
	return "", fmt.Errorf("stack %q (%s) is not one the catalog knows", cell, unit)
}

// precisionOf maps a published precision cell to the arithmetic precision
// and, when it differs, the storage precision ("fp16 storage" on a GPU
// without fp16 arithmetic).
func precisionOf(cell string) (arith, storage string) {
	c := strings.ToLower(cell)
	switch {
	case strings.HasPrefix(c, "int8"):
		return "int8", ""
	case strings.Contains(c, "fp16 storage"):
		return "fp32", "fp16"
	case strings.HasPrefix(c, "fp16"):
		return "fp16", ""
	}
	return "fp32", ""
}

// Clock sources of the CPU rows.
const (
	clkNano   = "the Nano's 4x A57 at 1.43 GHz, as the ncnn benchmark lists it"
	clkTX2    = "TX2 NX MAXN: Denver2 and A57 at 2.0 GHz, https://developer.nvidia.com/embedded/jetson-tx2"
	clkOrin   = "Orin Nano CPU at its 1.5 GHz maximum, https://www.nvidia.com/en-us/autonomous-machines/embedded-systems/jetson-orin/"
	clkRPi415 = "the Pi 4's 1.5 GHz launch clock, as the source gives or (PyTorch tutorial) does not override"
	clkRPi418 = "1.8 GHz, as the ncnn benchmark lists it"
	clkRPi5   = "the Pi 5's 2.4 GHz, as the ncnn benchmark lists it"
)

// rowSetups says how each published row ran: board, unit, threads and
// clock. The stack and precision come from the row itself.
var rowSetups = map[string]setup{
	"N1": {board: "nano", unit: "gpu"}, "N2": {board: "nano", unit: "gpu"}, "N5": {board: "nano", unit: "gpu"},
	"N6": {board: "nano", unit: "gpu"}, "N7": {board: "nano", unit: "gpu"},
	"N8":  {board: "nano", unit: "cpu", threads: 4, clockGHz: 1.43, clockSrc: clkNano},
	"N9":  {board: "nano", unit: "cpu", threads: 4, clockGHz: 1.43, clockSrc: clkNano},
	"N10": {board: "nano", unit: "gpu"}, "N11": {board: "nano", unit: "gpu"},
	"N12": {board: "nano", unit: "cpu", threads: 4, clockGHz: 1.43, clockSrc: clkNano},
	"N13": {board: "nano", unit: "cpu", threads: 1, clockGHz: 1.43, clockSrc: clkNano},
	"T1":  {board: "tx2", unit: "gpu"}, "T2": {board: "tx2", unit: "gpu"}, "T3": {board: "tx2", unit: "gpu"},
	"T4": {board: "tx2nx", unit: "gpu"},
	"T6": {board: "tx2nx", unit: "cpu", threads: 6, clockGHz: 2.0, clockSrc: clkTX2},
	"T7": {board: "tx2nx", unit: "cpu", threads: 1, clockGHz: 2.0, clockSrc: clkTX2},
	"X1": {board: "xnx", unit: "gpu"}, "X3": {board: "xnx", unit: "gpu"}, "X4": {board: "xnx", unit: "gpu"},
	"X6": {board: "xnx", unit: "gpu"},
	"O1": {board: "orin", unit: "gpu"},
	"O3": {board: "orin", unit: "cpu", threads: 6, clockGHz: 1.5, clockSrc: clkOrin},
	"O4": {board: "orin", unit: "cpu", threads: 6, clockGHz: 1.5, clockSrc: clkOrin},
	"O5": {board: "orin", unit: "cpu", threads: 1, clockGHz: 1.5, clockSrc: clkOrin},
	"O6": {board: "orin", unit: "gpu"}, "O7": {board: "orin", unit: "gpu"},
	"O8":  {board: "orin", unit: "cpu", threads: 6, clockGHz: 1.5, clockSrc: clkOrin},
	"R1":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R2":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R3":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R4":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R5":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R6":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R7":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R8":  {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.8, clockSrc: clkRPi418},
	"R10": {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.8, clockSrc: clkRPi418},
	"R11": {board: "rpi4", unit: "cpu", threads: 1, clockGHz: 1.8, clockSrc: clkRPi418},
	"R12": {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.5, clockSrc: clkRPi415},
	"R13": {board: "rpi4", unit: "cpu", threads: 4, clockGHz: 1.95, clockSrc: "overclocked to 1.95 GHz, as the source says"},
	"P1":  {board: "rpi5", unit: "cpu", threads: 4, clockGHz: 2.4, clockSrc: clkRPi5},
	"P3":  {board: "rpi5", unit: "cpu", threads: 1, clockGHz: 2.4, clockSrc: clkRPi5},
	"P4":  {board: "rpi5", unit: "gpu"},
	"P5":  {board: "rpi5", unit: "cpu", threads: 4, clockGHz: 2.4, clockSrc: clkRPi5},
}

// excluded are rows left out of the fit, with the reason.
var excluded = map[string]string{
	"X2": "MLPerf MaxQ submission: power-capped clocks the source does not give",
	"X5": "DLA, not the GPU: no catalog unit, and the row is 1000/throughput, not a latency",
}

// Row is a published row as the fit uses it.
type Row struct {
	profile.PublishedRow
	Setup setup
	Model string // classifier name
	// Excluded says why the row is not fitted ("" when it is).
	Excluded string
}

// Rows resolves every published row to its setup and model, or says why it
// is left out.
func Rows(pub []profile.PublishedRow) ([]Row, error) {
	var out []Row
	for _, p := range pub {
		r := Row{PublishedRow: p}
		if why, ok := excluded[p.Row]; ok {
			r.Excluded = why
			out = append(out, r)
			continue
		}
		s, ok := rowSetups[p.Row]
		if !ok {
			return nil, fmt.Errorf("published row %s (line %d): no setup for it (board, unit, threads, clock)", p.Row, p.Line)
		}
		if strings.ToLower(p.Unit) != s.unit {
			return nil, fmt.Errorf("published row %s (line %d): unit %s, the setup says %s", p.Row, p.Line, p.Unit, s.unit)
		}
		var err error
		if s.stack, err = stackName(p.Stack, p.Unit); err != nil {
			return nil, fmt.Errorf("published row %s (line %d): %w", p.Row, p.Line, err)
		}
		s.precision, s.storage = precisionOf(p.Precision)
		// TensorRT and cuDNN's fp16 convs run on tensor cores where the GPU
		// has them; ncnn's Vulkan shaders run on the CUDA cores.
		_, hasTensor := boards[s.board].gpuPeak[s.precision+"-tensor"]
		s.tensor = hasTensor && (s.stack == "tensorrt" || s.stack == "opencv-cuda" && s.precision == "fp16")
		if r.Model, err = modelName(p.Model); err != nil {
			return nil, fmt.Errorf("published row %s (line %d): %w", p.Row, p.Line, err)
		}
		if _, _, err := s.peak(); err != nil {
			return nil, fmt.Errorf("published row %s (line %d): %w", p.Row, p.Line, err)
		}
		r.Setup = s
		out = append(out, r)
	}
	return out, nil
}
