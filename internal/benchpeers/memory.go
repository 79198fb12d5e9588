package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/model"
)

// memoryReps is how often each process is run; peak memory varies little
// (the Go collector's timing, the kernel's page faults), so the median of
// three is stable.
const memoryReps = 3

// memRow is one case's peak memory, in bytes (medians over memoryReps).
type memRow struct {
	benchCase
	threads int
	// engine is `mtlsplit infer MODEL` (the zoo model's backbone, seeded
	// random weights); engineONNX is `mtlsplit infer MODEL_SIZE.onnx`, the
	// file ONNX Runtime runs (ort).
	engine, engineONNX, ort int64
	planned                 int64   // engine.PlanMemory's total for the zoo model
	outErr                  float64 // engineONNX against ort, relative to ort's largest value
}

// runMemory runs, for every case, `mtlsplit infer` on the zoo model and on
// its ONNX export and ONNX Runtime on the same export, each in a fresh
// process, and records each process's peak resident set (getrusage's
// ru_maxrss of the waited child: the whole process, measured the same way
// for all). It writes memory.csv, memory.md (the table) and memory.png/svg.
func runMemory(c config, out io.Writer) error {
	if err := os.MkdirAll(c.memoryDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchmem")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var rows []memRow
	ortVersion := "?"
	for _, bc := range c.cases {
		x := filepath.Join(tmp, fmt.Sprintf("x%d.f32", bc.size))
		if err := os.WriteFile(x, benchInput(bc.size), 0o644); err != nil {
			return err
		}
		onnxFile := filepath.Join(c.dir, fmt.Sprintf("%s_%d.onnx", bc.model, bc.size))
		for _, t := range c.threads {
			th := strconv.Itoa(t)
			eOut, eoOut, oOut := filepath.Join(tmp, "engine.f32"), filepath.Join(tmp, "engine_onnx.f32"), filepath.Join(tmp, "ort.f32")
			cmds := [][]string{
				{c.mtlsplit, "infer", bc.model, "--size", strconv.Itoa(bc.size), "--input", x, "--out", eOut, "--force", "--threads", th},
				{c.mtlsplit, "infer", onnxFile, "--input", x, "--out", eoOut, "--force", "--threads", th},
				{self, "-ort-once", onnxFile, "-ort", c.ortLib, "-size", strconv.Itoa(bc.size), "-threads", th, "-ort-out", oOut},
			}
			var peaks [3][]float64
			for rep := range memoryReps {
				for k := range cmds {
					i := (k + rep) % len(cmds) // rotate the order, as the timing does
					peak, stdout, err := peakRSS(cmds[i])
					if err != nil {
						return fmt.Errorf("%s@%d: %w", bc.model, bc.size, err)
					}
					if i == 2 && stdout != "" {
						ortVersion = stdout
					}
					peaks[i] = append(peaks[i], float64(peak))
				}
			}
			r := memRow{benchCase: bc, threads: t,
				engine: int64(median(peaks[0])), engineONNX: int64(median(peaks[1])), ort: int64(median(peaks[2]))}
			if r.outErr, err = fileErr(eoOut, oOut); err != nil {
				return err
			}
			if r.planned, err = plannedBytes(bc, t); err != nil {
				return err
			}
			rows = append(rows, r)
			fmt.Fprintf(os.Stderr, "benchpeers: %s@%d: engine %s, engine (ONNX) %s, ORT %s\n", bc.model, bc.size,
				engine.HumanBytes(r.engine), engine.HumanBytes(r.engineONNX), engine.HumanBytes(r.ort))
		}
	}
	var csv, md bytes.Buffer
	writeMemoryCSV(&csv, rows)
	writeMemoryTable(&md, rows, ortVersion)
	for name, data := range map[string][]byte{"memory.csv": csv.Bytes(), "memory.md": md.Bytes()} {
		if err := atomicfile.Write(filepath.Join(c.memoryDir, name), data, true); err != nil {
			return err
		}
	}
	for _, ext := range []string{"png", "svg"} {
		if err := memoryChart(rows, filepath.Join(c.memoryDir, "memory."+ext)); err != nil {
			return err
		}
	}
	_, err = out.Write(md.Bytes())
	return err
}

// benchInput is the fixed input every peer runs (the timing's: smooth, so
// no denormals), as raw little-endian float32.
func benchInput(size int) []byte {
	b := make([]byte, 4*3*size*size)
	for i := range 3 * size * size {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(math.Sin(float64(i)*0.001))))
	}
	return b
}

// peakRSS runs argv and returns its peak resident set in bytes and its
// trimmed standard output.
func peakRSS(argv []string) (int64, string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, "", fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, "", fmt.Errorf("%s: no resource usage on this system", argv[0])
	}
	return ru.Maxrss * 1024, strings.TrimSpace(stdout.String()), nil // Linux's ru_maxrss is in KiB
}

// fileErr compares two raw float32 files (relErr).
func fileErr(a, b string) (float64, error) {
	var v [2][]float32
	for i, f := range []string{a, b} {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		v[i] = make([]float32, len(raw)/4)
		for j := range v[i] {
			v[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
	}
	return relErr(v[0], v[1]), nil
}

// plannedBytes is what the engine plans for infer's zoo model: the
// backbone, batch 1, the best backend of this build, the weights released
// as they are compiled.
func plannedBytes(bc benchCase, threads int) (int64, error) {
	g, err := model.New(bc.model, bc.size, nil)
	if err != nil {
		return 0, err
	}
	m, err := engine.PlanMemory(g, engine.Options{Threads: threads, Backend: engine.BestBackend(), ReleaseWeights: true})
	return m.TotalBytes(), err
}

// memoryGoal is the bound on the engine's peak over ONNX Runtime's.
const memoryGoal = 1.5

func mb(b int64) float64 { return float64(b) / 1e6 }

func writeMemoryCSV(w io.Writer, rows []memRow) {
	fmt.Fprintln(w, "model,px,threads,engine_mb,engine_onnx_mb,ort_mb,engine_over_ort,engine_onnx_over_ort,planned_mb,out_err")
	for _, r := range rows {
		fmt.Fprintf(w, "%s,%d,%d,%.1f,%.1f,%.1f,%.3f,%.3f,%.1f,%.1e\n", r.model, r.size, r.threads,
			mb(r.engine), mb(r.engineONNX), mb(r.ort), float64(r.engine)/float64(r.ort),
			float64(r.engineONNX)/float64(r.ort), mb(r.planned), r.outErr)
	}
}

func writeMemoryTable(w io.Writer, rows []memRow, ortVersion string) {
	fmt.Fprintf(w, "Peak resident memory of one process (ru_maxrss, MB = 10⁶ bytes, median of %d fresh processes): `mtlsplit infer` "+
		"(%s backend) on the zoo model and on its ONNX export, and ONNX Runtime %s on that export (full graph optimisation); "+
		"batch 1, %s\n\n", memoryReps, engine.BestBackend(), ortVersion, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| model | px | threads | engine MB | engine (ONNX file) MB | ORT MB | engine/ORT | engine (ONNX file)/ORT | planned MB | ≤ 1.5× |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
	for _, r := range rows {
		ratio := float64(r.engine) / float64(r.ort)
		ok := "yes"
		if ratio > memoryGoal {
			ok = "**no**"
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.0f | %.0f | %.2f× | %.2f× | %.0f | %s |\n", r.model, r.size, r.threads,
			mb(r.engine), mb(r.engineONNX), mb(r.ort), ratio, float64(r.engineONNX)/float64(r.ort), mb(r.planned), ok)
	}
	fmt.Fprintln(w, "\nplanned: engine.PlanMemory's total for the zoo model (weights, activations, scratch), without the process itself (Go runtime, code, libraries).")
}

// memoryChart draws each case's three peaks side by side.
func memoryChart(rows []memRow, path string) error {
	p := plot.New()
	p.Title.Text = "Peak memory of one inference process"
	p.Y.Label.Text = "peak RSS (MB)"
	var names []string
	vals := [3]plotter.Values{}
	for _, r := range rows {
		names = append(names, fmt.Sprintf("%s %d px", r.model, r.size))
		vals[0] = append(vals[0], mb(r.engine))
		vals[1] = append(vals[1], mb(r.engineONNX))
		vals[2] = append(vals[2], mb(r.ort))
	}
	w := vg.Points(9)
	series := []struct {
		name string
		c    color.Color
	}{
		{"mtlsplit infer (zoo model)", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
		{"mtlsplit infer (ONNX file)", color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
		{"ONNX Runtime", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
	}
	for i, s := range series {
		b, err := plotter.NewBarChart(vals[i], w)
		if err != nil {
			return err
		}
		b.Color, b.LineStyle.Width = s.c, 0
		b.Offset = vg.Length(i-1) * w
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.25 // room for the legend
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YTop
	return p.Save(vg.Length(max(len(rows), 4))*0.9*vg.Inch, 5*vg.Inch, path)
}
