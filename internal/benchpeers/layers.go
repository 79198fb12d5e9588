package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// runLayers prints, for every case and thread count, where each peer's
// pass goes: the engine's steps (Program.LayerTimes, reps passes back to
// back) and ONNX Runtime's nodes (its own profiler, the same number of
// passes), medians in ms. The two are listed apart: ONNX Runtime fuses
// and renames nodes (a convolution with its ReLU and residual add is one).
func runLayers(c config, out io.Writer) error {
	for _, bc := range c.cases {
		path, im, w, x, err := loadCase(c, bc)
		if err != nil {
			return err
		}
		for _, t := range c.threads {
			if err := layersCase(c, bc, path, im, w, x, t, out); err != nil {
				return err
			}
		}
	}
	return nil
}

func layersCase(c config, bc benchCase, path string, im *onnx.Imported, w *engine.Weights, x []float32, t int, out io.Writer) error {
	prog, err := engine.Compile(im.Graph, w, engine.Options{Threads: t, Backend: engine.BestBackend()})
	if err != nil {
		return err
	}
	defer prog.Close()
	for range c.warmup {
		if _, err := prog.Run(x); err != nil {
			return err
		}
	}
	lt, err := prog.LayerTimes(x, c.reps)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "## %s@%d, %d threads\n\nengine (median of %d back-to-back passes):\n\n| step | op | ms |\n|---|---|---:|\n", bc.model, bc.size, t, c.reps)
	g := prog.Graph()
	var sum float64
	for _, l := range lt {
		n := g.Nodes[l.Nodes[0]]
		fmt.Fprintf(out, "| %s | %s | %.3f |\n", n.Name, n.Op, l.MedianMS)
		sum += l.MedianMS
	}
	fmt.Fprintf(out, "| sum | | %.2f |\n\n", sum)
	nodes, err := ortNodeTimes(c, path, im, bc, prog, x, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ONNX Runtime (its profiler, median of %d passes):\n\n| node | op | ms |\n|---|---|---:|\n", c.reps)
	sum = 0
	for _, n := range nodes {
		fmt.Fprintf(out, "| %s | %s | %.3f |\n", n.name, n.op, n.ms)
		sum += n.ms
	}
	fmt.Fprintf(out, "| sum | | %.2f |\n\n", sum)
	return nil
}

type nodeTime struct {
	name, op string
	ms       float64
}

// ortNodeTimes runs the ONNX file warmup + reps times with ONNX Runtime's
// profiler on and returns each node's median kernel time, in order.
func ortNodeTimes(c config, path string, im *onnx.Imported, bc benchCase, prog *engine.Program, x []float32, t int) ([]nodeTime, error) {
	dir, err := os.MkdirTemp("", "benchpeers-profile")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	opts, err := sessionOptions(t, c.ortSpin)
	if err != nil {
		return nil, err
	}
	err = opts.EnableProfiling(filepath.Join(dir, "ort"))
	if err == nil {
		err = runProfiled(c, path, im, bc, prog, x, opts)
	}
	opts.Destroy()
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "ort*.json"))
	if len(files) != 1 {
		return nil, fmt.Errorf("onnx runtime wrote %d profiles in %s, want 1", len(files), dir)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	var events []struct {
		Cat  string         `json:"cat"`
		Name string         `json:"name"`
		Dur  float64        `json:"dur"` // µs
		Args map[string]any `json:"args"`
	}
	if err := json.Unmarshal(b, &events); err != nil {
		return nil, fmt.Errorf("onnx runtime profile %s: %w", files[0], err)
	}
	var order []nodeTime
	durs := map[string][]float64{}
	for _, e := range events {
		name, ok := strings.CutSuffix(e.Name, "_kernel_time")
		if e.Cat != "Node" || !ok {
			continue
		}
		if _, seen := durs[name]; !seen {
			op, _ := e.Args["op_name"].(string)
			order = append(order, nodeTime{name: name, op: op})
		}
		durs[name] = append(durs[name], e.Dur/1000)
	}
	for i := range order {
		d := durs[order[i].name]
		order[i].ms = median(d[min(c.warmup, len(d)-1):])
	}
	return order, nil
}

// runProfiled runs one profiled session warmup + reps times; ONNX Runtime
// writes the profile when the session is destroyed.
func runProfiled(c config, path string, im *onnx.Imported, bc benchCase, prog *engine.Program, x []float32, opts *ort.SessionOptions) error {
	sess, in, outT, err := newORTWith(path, im, bc, prog.CutShape(prog.Cuts()), x, opts)
	if err != nil {
		return err
	}
	defer in.Destroy()
	defer outT.Destroy()
	for range c.warmup + c.reps {
		if err := sess.Run(); err != nil {
			sess.Destroy()
			return err
		}
	}
	return sess.Destroy()
}
