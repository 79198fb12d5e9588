package stackfit

import (
	"bytes"
	"fmt"

	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// InputSize is the input of every published row (the table's README).
const InputSize = 224

// Specs are the fit settings of every fit group. Every inference stack folds
// batch norm and activations into the conv before them; eager PyTorch and
// TensorFlow 1.8 on a GPU run each as its own kernel. GPU stacks start from
// a larger per-layer cost (a kernel launch) than CPU stacks (a function
// call).
var Specs = map[string]profile.StackSpec{
	"tensorrt/gpu":    {FoldNormAct: true, Prior: gpuPrior},
	"ncnn/cpu":        {FoldNormAct: true},
	"ncnn-vulkan/gpu": {FoldNormAct: true, Prior: gpuPrior},
	// The Pi 5's VideoCore VII: a tile-based mobile GPU without fp16
	// arithmetic, its Vulkan driver far from NVIDIA's, but ncnn's shaders
	// are the same: three rows fit one factor on the NVIDIA GPUs' numbers.
	"ncnn-vulkan/gpu-videocore": {FoldNormAct: true, Family: "ncnn-vulkan/gpu"},
	"opencv/cpu":                {FoldNormAct: true},
	"opencv-cuda/gpu":           {FoldNormAct: true, Prior: gpuPrior},
	"tflite/cpu":                {FoldNormAct: true},
	"pytorch/cpu":               {FoldNormAct: true}, // quantized TorchScript fuses conv+bn+relu
	"tensorrt/gpu/int8":         {FoldNormAct: true, Prior: gpuPrior},
	"pytorch/gpu":               {Prior: gpuPrior},
	"tensorflow/gpu":            {Prior: gpuPrior},
}

var gpuPrior = profile.StackParams{LayerOverheadMS: 0.05, CallOverheadMS: 0.5, MemEfficiency: 0.6}

// Result is the fit of every stack to the published rows.
type Result struct {
	Rows []Row // every published row, excluded ones included
	// Runs are the fitted rows (Rows without the excluded), in order.
	Runs []profile.StackRun
	Fit  *profile.StackFit
}

// Published reads the embedded published table and resolves its rows.
func Published() ([]Row, error) {
	pub, err := profile.ParsePublished(bytes.NewReader(hwprofiles.PublishedLatencies()), hwprofiles.PublishedLatencyFile)
	if err != nil {
		return nil, err
	}
	return Rows(pub)
}

// Fit fits every stack to the embedded published rows, with leave-one-out
// predictions when loo is set.
func Fit(loo bool) (*Result, error) {
	rows, err := Published()
	if err != nil {
		return nil, err
	}
	runs, err := Runs(rows)
	if err != nil {
		return nil, err
	}
	f, err := profile.FitStacks(runs, Specs, loo)
	if err != nil {
		return nil, err
	}
	return &Result{Rows: rows, Runs: runs, Fit: f}, nil
}

// Runs turns the rows not excluded into fit runs, building each classifier
// once.
func Runs(rows []Row) ([]profile.StackRun, error) {
	graphs := map[string]*model.Graph{}
	var runs []profile.StackRun
	for _, r := range rows {
		if r.Excluded != "" {
			continue
		}
		g, ok := graphs[r.Model]
		if !ok {
			var err error
			if g, err = model.Classifier(r.Model, InputSize); err != nil {
				return nil, err
			}
			graphs[r.Model] = g
		}
		peak, _, err := r.Setup.peak()
		if err != nil {
			return nil, err
		}
		runs = append(runs, profile.StackRun{
			ID: fmt.Sprintf("%s/%s/%s", r.Row, r.Model, r.Setup.precision), Stack: r.Setup.group(), Graph: g,
			PeakGFLOPS: peak, Threads: r.Setup.threads, Device: boards[r.Setup.board].device, MemBandwidthGBps: boards[r.Setup.board].bwGBps,
			BytesPerElem: r.Setup.bytesPerElem(), MeasuredMS: r.LatencyMS, Int8: r.Setup.precision == "int8",
		})
	}
	return runs, nil
}
