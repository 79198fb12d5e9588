package cli

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// EngineOptions are the flags of commands that run a network: which one,
// at what size, with which weights, threads, BLAS and memory budget.
type EngineOptions struct {
	Model       string
	Input       int
	Tasks       string
	Seed        uint64
	Threads     int
	Backend     string
	MaxMemoryMB int
	// Backbone builds a zoo model without task heads, for commands that
	// never run them: their weights are never made.
	Backbone bool
	// Heads puts the zoo heads of Tasks (seeded random weights) on an ONNX
	// file that has none, for commands that score tasks.
	Heads bool
	// Batch is the most samples one engine call runs (0: 1).
	Batch int
	// keep lists the nodes whose tensors must stay their own (nil: none).
	keep func(*model.Graph) []int
	// held is what the command keeps besides the Program while it runs
	// (measure's recorded tensors), counted against the budget; nil: none.
	held func(*model.Graph) int64
	// flags tells which flags were given, sizeFlag names the input size's.
	flags    *pflag.FlagSet
	sizeFlag string
}

// addFlags adds the flags; sizeFlag names the input size flag ("input",
// or "size" where --input is a file).
func (o *EngineOptions) addFlags(fs *pflag.FlagSet, sizeFlag string) {
	o.flags, o.sizeFlag = fs, sizeFlag
	fs.IntVar(&o.Input, sizeFlag, 224, "square input size in pixels (zoo models, and ONNX files whose input size is dynamic)")
	fs.StringVar(&o.Tasks, "tasks", "8,4", "classes per task head (zoo models)")
	if o.Backbone {
		// Kept so scripts that pass it still run.
		fs.MarkDeprecated("tasks", "zoo models run their backbone only, and an ONNX file's tasks are its outputs")
	}
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the random weights of zoo models")
	fs.IntVar(&o.Threads, "threads", 0, "threads (0: all cores)")
	fs.StringVar(&o.Backend, "blas", string(engine.BestBackend()), "BLAS backend: gonum|openblas|native (what this build has: the default is the fastest)")
	fs.IntVar(&o.MaxMemoryMB, "max-memory-mb", 0, "refuse to run a network that needs more memory (weights, activations, scratch) than this; 0: 3/4 of this machine's memory, at most what is free now; -1: no limit")
}

// program builds and compiles the network: a zoo model with seeded random
// weights, or an ONNX file with its own.
func (o *EngineOptions) program() (*engine.Program, error) {
	if o.MaxMemoryMB < -1 {
		return nil, fmt.Errorf("--max-memory-mb %d: want a size in MB, 0 (3/4 of this machine's memory) or -1 (no limit)", o.MaxMemoryMB)
	}
	b := engine.Backend(o.Backend)
	valid := engine.Backends()
	ok := false
	for _, v := range valid {
		ok = ok || v == b
	}
	if !ok {
		return nil, fmt.Errorf("--blas %q: this build has %v", o.Backend, valid)
	}
	if err := checkThreads(o.Threads); err != nil {
		return nil, err
	}
	eo := engine.Options{Threads: o.Threads, Backend: b, MaxMemoryMB: o.MaxMemoryMB, Batch: o.Batch}
	var g *model.Graph
	var w *engine.Weights // an ONNX file's; a zoo model's are made below
	var err error
	if strings.HasSuffix(strings.ToLower(o.Model), ".onnx") {
		// A file with several outputs runs its own heads; one with a single
		// output runs as the file is, without heads.
		f := onnxFlags{size: o.Input, sizeFlag: o.sizeFlag, given: changed(o.flags)}
		if f.given("tasks") {
			f.tasks, err = parseTasks(o.Tasks)
		}
		if err == nil {
			g, w, err = loadONNX(o.Model, f)
		}
	} else {
		var tasks []int
		if !o.Backbone {
			if tasks, err = parseTasks(o.Tasks); err != nil {
				return nil, err
			}
		}
		g, err = model.New(o.Model, o.Input, tasks)
	}
	if err != nil {
		return nil, err
	}
	if o.Heads && w != nil && len(g.Heads) == 0 { // a single-output ONNX file
		if g, w, err = withZooHeads(g, w, o.Tasks, o.Seed); err != nil {
			return nil, err
		}
	}
	if o.keep != nil {
		eo.Keep = o.keep(g)
	}
	// Before the random weights, the first large allocation.
	m, err := engine.PlanMemory(g, eo)
	if err != nil {
		return nil, err
	}
	if o.held != nil {
		m.OtherBytes = o.held(g)
	}
	if err := engine.CheckPlan(g.Name, m, eo); err != nil {
		return nil, fmt.Errorf("%w; --max-memory-mb sets the budget", err)
	}
	if w == nil {
		if w, err = engine.RandomWeights(g, o.Seed); err != nil {
			return nil, err
		}
	}
	eo.ReleaseWeights = true // w is this Program's alone
	return engine.Compile(g, w, eo)
}

// readF32 reads raw little-endian float32 values and checks their count.
func readF32(path string, want int64) ([]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != 4*want {
		return nil, fmt.Errorf("%s holds %d bytes; the model takes %d float32 values (%d bytes, little-endian, C order, batch 1)", path, len(raw), want, 4*want)
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

func f32Bytes(x []float32) []byte {
	out := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}
