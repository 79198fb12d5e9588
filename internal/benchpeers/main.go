// Command benchpeers times the engine against ONNX Runtime and PyTorch in
// one run, on the same ONNX exports, for `make bench-engine`
// (scripts/bench-engine.sh). It is a separate command under internal/ so
// that ONNX Runtime (github.com/yalue/onnxruntime_go and the shared
// library) never becomes a dependency of the mtlsplit binary.
//
// Each case (model at a size) is run by every peer at every thread count,
// one forward pass at a time and interleaved — rep r runs the peers in an
// order rotated by r — so that load from the rest of the machine hits all
// of them alike. PyTorch runs in long-lived child processes (one per thread
// count, engine/testdata/bench_peer_torch.py) that time their own forward
// pass and sleep on their pipe while the others run.
//
// No peer spins while another runs: ONNX Runtime's idle threads are told
// not to (session.intra_op.allow_spinning 0, unless -ort-spin), PyTorch's
// OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE: with GOMP's
// default busy wait, 2 threads on this shared 2-core machine took 1.2 s for
// a 60 ms resnet18), and the engine's goroutines block on a channel.
//
//	go run ./internal/benchpeers -dir CACHE -ort libonnxruntime.so -cases resnet18@224 -threads 1,2
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

type config struct {
	dir, ortLib, python, script string
	cases                       []benchCase
	threads                     []int
	reps, warmup                int
	ortSpin                     bool
	// layers, when set, prints each peer's per-layer times instead
	// (layers.go).
	layers bool
	// memoryDir, when set, measures peak memory instead of time
	// (memory.go): mtlsplit is the binary whose infer is measured.
	memoryDir, mtlsplit string
	// ortOnce, when set, is the ONNX file this process runs once in
	// ONNX Runtime (a child of the memory measurement), writing ortOut.
	ortOnce, ortOut string
	size            int
}

type benchCase struct {
	model string
	size  int
}

func main() {
	c, err := parseFlags(os.Args[1:])
	switch {
	case err != nil:
	case c.ortOnce != "":
		err = ortOnce(c)
	case c.memoryDir != "":
		err = runMemory(c, os.Stdout)
	case c.layers:
		err = withORT(c, func() error { return runLayers(c, os.Stdout) })
	default:
		err = withORT(c, func() error { return run(c, os.Stdout) })
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeers:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchpeers", flag.ContinueOnError)
	fs.StringVar(&c.dir, "dir", "", "directory holding MODEL_SIZE.onnx (bench_peer_torch.py export)")
	fs.StringVar(&c.ortLib, "ort", "", "path of libonnxruntime.so (ONNX Runtime 1.24)")
	fs.StringVar(&c.python, "python", "/usr/bin/python3", "Python with torch and torchvision")
	fs.StringVar(&c.script, "torch", "engine/testdata/bench_peer_torch.py", "PyTorch peer script")
	cases := fs.String("cases", "resnet18@224", "comma-separated MODEL@SIZE")
	threads := fs.String("threads", "1,2", "comma-separated thread counts")
	fs.IntVar(&c.reps, "reps", 20, "timed runs per peer, case and thread count (median reported)")
	fs.IntVar(&c.warmup, "warmup", 3, "untimed runs first")
	fs.BoolVar(&c.layers, "layers", false, "print the engine's per-step and ONNX Runtime's per-node times (its profiler), back to back, instead of the interleaved table")
	fs.BoolVar(&c.ortSpin, "ort-spin", false, "let ONNX Runtime's idle threads spin (they then steal the next peer's cores)")
	fs.StringVar(&c.memoryDir, "memory", "", "measure the peak memory of mtlsplit infer and ONNX Runtime, each in its own process, and write DIR/memory.{csv,md,png,svg}")
	fs.StringVar(&c.mtlsplit, "mtlsplit", "bin/mtlsplit", "the mtlsplit binary -memory measures")
	fs.StringVar(&c.ortOnce, "ort-once", "", "run FILE.onnx once in ONNX Runtime and exit (a child of -memory)")
	fs.StringVar(&c.ortOut, "ort-out", "", "with -ort-once: file to write the output to (raw float32)")
	fs.IntVar(&c.size, "size", 0, "with -ort-once: the input's height and width")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.ortOnce != "" {
		if c.ortLib == "" || c.size < 32 {
			return c, fmt.Errorf("-ort-once needs -ort and -size ≥ 32")
		}
	} else if c.dir == "" || c.ortLib == "" {
		return c, fmt.Errorf("-dir and -ort are required")
	}
	if c.reps < 1 || c.warmup < 0 {
		return c, fmt.Errorf("-reps %d -warmup %d: want reps ≥ 1 and warmup ≥ 0", c.reps, c.warmup)
	}
	for _, s := range strings.Split(*cases, ",") {
		m, sz, ok := strings.Cut(strings.TrimSpace(s), "@")
		n, err := strconv.Atoi(sz)
		if !ok || err != nil || n < 32 {
			return c, fmt.Errorf("-cases: %q is not MODEL@SIZE with SIZE ≥ 32", s)
		}
		c.cases = append(c.cases, benchCase{m, n})
	}
	for _, s := range strings.Split(*threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-threads: %q is not a positive count", s)
		}
		c.threads = append(c.threads, n)
	}
	return c, nil
}

const (
	peerEngine = iota
	peerORT
	peerTorch
	nPeers
)

// row is one case at one thread count: every peer's times.
type row struct {
	benchCase
	threads int
	ms      [nPeers][]float64
	load    float64 // 1-minute load average after the case
	maxErr  float64 // engine vs ONNX Runtime, relative to the output's largest value
}

// relErr is the largest |a−b| over the largest |b|: whether the engine and
// ONNX Runtime ran the same network.
func relErr(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = max(m, math.Abs(float64(b[i])))
	}
	return d / max(m, 1e-30)
}

// torchPeer is one bench_peer_torch.py serve process.
type torchPeer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startTorch(c config, threads int) (*torchPeer, error) {
	cmd := exec.Command(c.python, c.script, "serve")
	n := strconv.Itoa(threads)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS="+n, "OMP_NUM_THREADS="+n, "MTS_TORCH_THREADS="+n,
		"OMP_WAIT_POLICY=PASSIVE")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", c.python, c.script, err)
	}
	return &torchPeer{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

func (p *torchPeer) ask(line string) (string, error) {
	if _, err := fmt.Fprintln(p.in, line); err != nil {
		return "", fmt.Errorf("pytorch peer: %w", err)
	}
	if !p.out.Scan() {
		return "", fmt.Errorf("pytorch peer exited on %q", line)
	}
	return p.out.Text(), nil
}

func (p *torchPeer) load(bc benchCase) error {
	s, err := p.ask(fmt.Sprintf("load %s %d", bc.model, bc.size))
	if err == nil && s != "ok" {
		err = fmt.Errorf("pytorch peer: load %s@%d: %s", bc.model, bc.size, s)
	}
	return err
}

func (p *torchPeer) run() (float64, error) {
	s, err := p.ask("run")
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(s, 64)
}

func (p *torchPeer) close() {
	p.in.Close()
	p.cmd.Wait()
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
