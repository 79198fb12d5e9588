//go:build cgo

package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// withORT runs f with ONNX Runtime's environment up.
func withORT(c config, f func() error) error {
	ort.SetSharedLibraryPath(c.ortLib)
	if err := ort.InitializeEnvironment(); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", c.ortLib, err)
	}
	defer ort.DestroyEnvironment()
	return f()
}

func run(c config, out io.Writer) error {
	torch := map[int]*torchPeer{}
	for _, t := range c.threads {
		p, err := startTorch(c, t)
		if err != nil {
			return err
		}
		defer p.close()
		torch[t] = p
	}
	load0 := loadAvg()
	var rows []*row
	for _, bc := range c.cases {
		r, err := runCase(c, bc, torch)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	writeTable(out, c, rows, load0)
	return nil
}

// loadCase reads a case's ONNX export, its weights for the engine and the
// fixed input every peer runs.
func loadCase(c config, bc benchCase) (string, *onnx.Imported, *engine.Weights, []float32, error) {
	path := filepath.Join(c.dir, fmt.Sprintf("%s_%d.onnx", bc.model, bc.size))
	im, err := onnx.Load(path)
	if err != nil {
		return "", nil, nil, nil, err
	}
	w, err := engine.NewWeights(im.Graph)
	if err == nil {
		err = w.SetAll(im.Weights)
	}
	if err != nil {
		return "", nil, nil, nil, err
	}
	x := make([]float32, 3*bc.size*bc.size)
	for i := range x { // any fixed input: a smooth one avoids denormals
		x[i] = float32(math.Sin(float64(i) * 0.001))
	}
	return path, im, w, x, nil
}

// runCase times one model at one size on every peer and thread count.
func runCase(c config, bc benchCase, torch map[int]*torchPeer) ([]*row, error) {
	path, im, w, x, err := loadCase(c, bc)
	if err != nil {
		return nil, err
	}
	type peers struct {
		prog  *engine.Program
		sess  *ort.AdvancedSession
		in    *ort.Tensor[float32]
		out   *ort.Tensor[float32]
		torch *torchPeer
	}
	var ps []peers
	defer func() {
		for _, p := range ps {
			p.prog.Close()
			p.sess.Destroy()
			p.in.Destroy()
			p.out.Destroy()
		}
	}()
	var rows []*row
	for _, t := range c.threads {
		prog, err := engine.Compile(im.Graph, w, engine.Options{Threads: t, Backend: engine.BestBackend()})
		if err != nil {
			return nil, err
		}
		sess, in, outT, err := newORT(c, path, im, bc, prog.CutShape(prog.Cuts()), x, t)
		if err != nil {
			prog.Close()
			return nil, err
		}
		ps = append(ps, peers{prog, sess, in, outT, torch[t]})
		if err := torch[t].load(bc); err != nil {
			return nil, err
		}
		rows = append(rows, &row{benchCase: bc, threads: t})
	}
	once := func(i, peer int) (float64, error) {
		p := ps[i]
		switch peer {
		case peerEngine:
			start := time.Now()
			_, err := p.prog.Run(x)
			return float64(time.Since(start).Nanoseconds()) / 1e6, err
		case peerORT:
			start := time.Now()
			err := p.sess.Run()
			return float64(time.Since(start).Nanoseconds()) / 1e6, err
		}
		return p.torch.run()
	}
	// The previous case's tensors are garbage now: collect them (and give
	// their pages back) before timing, not in the middle of it. Without
	// this, efficientnet_b0 at 2 threads after mobilenet_v3_small took
	// 11.9 ms for the engine, 15.2 for ONNX Runtime, against 8.4 and 10.8
	// as the only case.
	runtime.GC()
	debug.FreeOSMemory()
	for rep := -c.warmup; rep < c.reps; rep++ {
		for i := range ps {
			for k := range nPeers {
				peer := (k + rep + c.warmup) % nPeers
				ms, err := once(i, peer)
				if err != nil {
					return nil, fmt.Errorf("%s@%d threads %d: %w", bc.model, bc.size, c.threads[i], err)
				}
				if rep >= 0 {
					rows[i].ms[peer] = append(rows[i].ms[peer], ms)
				}
			}
		}
	}
	for i, p := range ps {
		y, err := p.prog.Run(x)
		if err != nil {
			return nil, err
		}
		rows[i].maxErr = relErr(y, p.out.GetData())
		rows[i].load = loadAvg()
	}
	fmt.Fprintf(os.Stderr, "benchpeers: %s@%d done (load %.2f)\n", bc.model, bc.size, loadAvg())
	return rows, nil
}

func newORT(c config, path string, im *onnx.Imported, bc benchCase, outShape model.Shape, x []float32, threads int) (*ort.AdvancedSession, *ort.Tensor[float32], *ort.Tensor[float32], error) {
	opts, err := sessionOptions(threads, c.ortSpin)
	if err != nil {
		return nil, nil, nil, err
	}
	defer opts.Destroy()
	return newORTWith(path, im, bc, outShape, x, opts)
}

// newORTWith is newORT with the session options given.
func newORTWith(path string, im *onnx.Imported, bc benchCase, outShape model.Shape, x []float32, opts *ort.SessionOptions) (*ort.AdvancedSession, *ort.Tensor[float32], *ort.Tensor[float32], error) {
	in, err := ort.NewTensor(ort.NewShape(1, 3, int64(bc.size), int64(bc.size)), x)
	if err != nil {
		return nil, nil, nil, err
	}
	dims := []int64{1}
	for _, d := range outShape {
		dims = append(dims, int64(d))
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(dims...))
	if err != nil {
		in.Destroy()
		return nil, nil, nil, err
	}
	sess, err := ort.NewAdvancedSession(path, []string{im.Input}, im.Outputs[:1],
		[]ort.Value{in}, []ort.Value{out}, opts)
	if err != nil {
		in.Destroy()
		out.Destroy()
		return nil, nil, nil, fmt.Errorf("onnx runtime session for %s: %w", path, err)
	}
	return sess, in, out, nil
}

// sessionOptions are ONNX Runtime's settings for every peer run: intra-op
// threads, one inter-op thread, full graph optimisation.
func sessionOptions(threads int, spin bool) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	for _, err := range []error{
		opts.SetIntraOpNumThreads(threads),
		opts.SetInterOpNumThreads(1),
		opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll),
		opts.AddSessionConfigEntry("session.intra_op.allow_spinning", map[bool]string{true: "1", false: "0"}[spin]),
	} {
		if err != nil {
			opts.Destroy()
			return nil, err
		}
	}
	return opts, nil
}

func writeTable(w io.Writer, c config, rows []*row, load0 float64) {
	fmt.Fprintf(w, "engine (%s backend) vs ONNX Runtime %s and PyTorch %s: batch 1, fp32, median of %d interleaved runs, %s\n\n",
		engine.BestBackend(), ort.GetVersion(), torchVersion(c), c.reps, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| model | px | threads | engine ms | ORT ms | PyTorch ms | engine/ORT | engine/PyTorch | load | out err |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		e, o, t := median(r.ms[peerEngine]), median(r.ms[peerORT]), median(r.ms[peerTorch])
		fmt.Fprintf(w, "| %s | %d | %d | %.2f | %.2f | %.2f | %.2f× | %.2f× | %.1f | %.0e |\n",
			r.model, r.size, r.threads, e, o, t, e/o, e/t, r.load, r.maxErr)
	}
	fmt.Fprintf(w, "\nload average (1 min) %.1f at the start, %.1f at the end; %d cores\n", load0, loadAvg(), runtime.NumCPU())
}

func torchVersion(c config) string {
	b, err := exec.Command(c.python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// ortOnce runs c.ortOnce once in ONNX Runtime on the bench input, as one
// process of the memory measurement: it loads nothing else (no engine
// import of the file), so its peak is ONNX Runtime's own. It prints ONNX
// Runtime's version and writes the output to c.ortOut.
func ortOnce(c config) error {
	ort.SetSharedLibraryPath(c.ortLib)
	if err := ort.InitializeEnvironment(); err != nil {
		return fmt.Errorf("onnx runtime %s: %w", c.ortLib, err)
	}
	defer ort.DestroyEnvironment()
	opts, err := sessionOptions(c.threads[0], c.ortSpin)
	if err != nil {
		return err
	}
	defer opts.Destroy()
	// bench_peer_torch.py's export names them so.
	sess, err := ort.NewDynamicAdvancedSession(c.ortOnce, []string{"input"}, []string{"output"}, opts)
	if err != nil {
		return fmt.Errorf("onnx runtime session for %s: %w", c.ortOnce, err)
	}
	defer sess.Destroy()
	raw := benchInput(c.size)
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	in, err := ort.NewTensor(ort.NewShape(1, 3, int64(c.size), int64(c.size)), x)
	if err != nil {
		return err
	}
	defer in.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		return err
	}
	defer outs[0].Destroy()
	y, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return fmt.Errorf("%s: output is not a float32 tensor", c.ortOnce)
	}
	if c.ortOut != "" {
		b := make([]byte, 4*len(y.GetData()))
		for i, v := range y.GetData() {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if err := os.WriteFile(c.ortOut, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Println(ort.GetVersion())
	return nil
}
