//go:build cgo && !noort

package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

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
		return fmt.Errorf("%w %s: %v", ErrORTLoad, lib, err)
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

// TimeORT times every file of the export in dir under ONNX Runtime (the
// library at lib), batch 1, on seeded inputs, as the ONNX Runtime backend
// of Triton would run it: all graph optimizations on.
func TimeORT(dir, lib string, s TimeSettings) ([]FileTiming, error) {
	m, files, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := initORT(lib); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if s.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(s.Threads); err != nil {
			return nil, err
		}
	}
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(m.Source.Seed), 5))
	var out []FileTiming
	for _, f := range m.Files {
		sess, err := ort.NewDynamicAdvancedSessionWithONNXData(files[f.Name], names(f.Inputs), names(f.Outputs), opts)
		if err != nil {
			return nil, fmt.Errorf("onnx runtime: %s: %w", f.Name, err)
		}
		r := &ortRunner{sessions: []*ort.DynamicAdvancedSession{sess}, files: []*File{&f}}
		in := map[string][]float32{}
		for _, t := range f.Inputs {
			x := make([]float32, perSample(t))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			in[t.Name] = x
		}
		ms := make([]float64, 0, s.Reps)
		for i := range s.Warmup + s.Reps {
			start := time.Now()
			if _, err := r.run(0, in); err != nil {
				r.close()
				return nil, err
			}
			if i >= s.Warmup {
				ms = append(ms, float64(time.Since(start).Microseconds())/1000)
			}
		}
		r.close()
		slices.Sort(ms)
		out = append(out, FileTiming{File: f.Name, Tier: f.Tier, Device: f.Device,
			MedianMS: ms[len(ms)/2], P90MS: ms[min(len(ms)-1, len(ms)*9/10)]})
	}
	return out, nil
}
