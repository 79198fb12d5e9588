//go:build cgo

package export

import (
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ONNX Runtime's environment is global to the process, and the library
// it was loaded from cannot change.
var (
	ortMu   sync.Mutex
	ortPath string
)

func initORT(lib string) error {
	ortMu.Lock()
	defer ortMu.Unlock()
	if ort.IsInitialized() {
		if lib != ortPath {
			return fmt.Errorf("onnx runtime already loaded from %s, not %s", ortPath, lib)
		}
		return nil
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", lib, err)
	}
	ortPath = lib
	return nil
}

// ortRunner runs each file alone in its own ONNX Runtime session.
type ortRunner struct {
	sessions []*ort.DynamicAdvancedSession
	files    []*File
}

func (b *Bundle) ortRunner(lib string) (runner, error) {
	if err := initORT(lib); err != nil {
		return nil, err
	}
	r := &ortRunner{sessions: make([]*ort.DynamicAdvancedSession, len(b.Parts)), files: make([]*File, len(b.Parts))}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, err
	}
	for i := range b.Manifest.Files {
		f := &b.Manifest.Files[i]
		s, err := ort.NewDynamicAdvancedSessionWithONNXData(b.Parts[f.Tier], names(f.Inputs), names(f.Outputs), opts)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("onnx runtime: %s: %w", f.Name, err)
		}
		r.sessions[f.Tier], r.files[f.Tier] = s, f
	}
	return r, nil
}

// shape is t's shape at batch n.
func shape(t Tensor, n int) ort.Shape {
	s := ort.Shape{int64(n)}
	for _, d := range t.Shape[1:] {
		s = append(s, int64(d))
	}
	return s
}

// perSample is the number of values of one sample of t.
func perSample(t Tensor) int {
	n := 1
	for _, d := range t.Shape[1:] {
		n *= d
	}
	return n
}

func (r *ortRunner) run(k int, in map[string][]float32) (map[string][]float32, error) {
	f := r.files[k]
	// The batch is what the inputs hold: the files take any batch, as
	// Triton's batcher gives them.
	batch := 0
	if len(f.Inputs) > 0 {
		batch = len(in[f.Inputs[0].Name]) / perSample(f.Inputs[0])
	}
	if batch < 1 {
		return nil, fmt.Errorf("%s: no whole sample in input %q", f.Name, f.Inputs[0].Name)
	}
	var values []ort.Value
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, t := range f.Inputs {
		x, ok := in[t.Name]
		if !ok {
			return nil, fmt.Errorf("%s: no input %q", f.Name, t.Name)
		}
		v, err := ort.NewTensor(shape(t, batch), append([]float32(nil), x...))
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	outs := make([]*ort.Tensor[float32], len(f.Outputs))
	outVals := make([]ort.Value, len(f.Outputs))
	for i, t := range f.Outputs {
		v, err := ort.NewEmptyTensor[float32](shape(t, batch))
		if err != nil {
			return nil, err
		}
		values = append(values, v)
		outs[i], outVals[i] = v, v
	}
	if err := r.sessions[k].Run(values[:len(f.Inputs)], outVals); err != nil {
		return nil, fmt.Errorf("onnx runtime: %s: %w", f.Name, err)
	}
	res := map[string][]float32{}
	for i, t := range f.Outputs {
		res[t.Name] = append([]float32(nil), outs[i].GetData()...)
	}
	return res, nil
}

func (r *ortRunner) close() {
	for _, s := range r.sessions {
		if s != nil {
			s.Destroy()
		}
	}
}
