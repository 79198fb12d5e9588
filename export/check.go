package export

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// FP32Tolerance bounds, relative to the largest magnitude of the output,
// the difference between two runs of the same fp32 arithmetic in another
// order (another runtime, another kernel): float rounding only.
const FP32Tolerance = 1e-4

// CheckReport is what Check measured, per output of every runtime checked.
type CheckReport struct {
	Samples int `yaml:"samples" json:"samples"`
	// Engine is the exported files read back through the importer and run
	// on the engine; ORT each file run alone by ONNX Runtime (absent when
	// ORTSkipped says why).
	Engine     []OutputDiff `yaml:"engine" json:"engine"`
	ORT        []OutputDiff `yaml:"ort,omitempty" json:"ort,omitempty"`
	ORTSkipped string       `yaml:"ort_skipped,omitempty" json:"ort_skipped,omitempty"`
	// ORTBatchMaxAbs is the largest difference between every file run by
	// ONNX Runtime on all samples as one batch (as Triton batches) and on
	// each alone.
	ORTBatchMaxAbs float64 `yaml:"ort_batch_max_abs" json:"ort_batch_max_abs"`
}

// OutputDiff is one file output's largest absolute differences over the
// samples.
type OutputDiff struct {
	File   string `yaml:"file" json:"file"`
	Output string `yaml:"output" json:"output"`
	// Result says the output is a task's result (EndToEnd is measured).
	Result bool `yaml:"result" json:"result"`
	// Half: the file against the plan's model run by the engine on the same
	// inputs (the same decoded tensors for a server file): float rounding.
	Half float64 `yaml:"half_max_abs" json:"half_max_abs"`
	// EndToEnd, for a task's result: the files chained with the wire's
	// encodings against the full fp32 model; Quantization the same for
	// the engine's own split runtime — the tolerance the encodings allow.
	EndToEnd     float64 `yaml:"end_to_end_max_abs,omitempty" json:"end_to_end_max_abs,omitempty"`
	Quantization float64 `yaml:"quantization_max_abs,omitempty" json:"quantization_max_abs,omitempty"`
	// Scale is the largest magnitude of the output, which the tolerances
	// are relative to.
	Scale float64 `yaml:"scale" json:"scale"`
}

// runner runs one tier's file: named inputs in, named outputs out, batch 1.
type runner interface {
	run(tier int, in map[string][]float32) (map[string][]float32, error)
	close()
}

// Check runs the bundle's files on samples seeded images against the
// plan's model on the engine, and fails when a file differs from it by
// more than float rounding, or the chained files from the full model by
// more than the wire's encodings do in the engine's own split runtime.
// ortLib is ONNX Runtime's library ("": not checked there).
func (b *Bundle) Check(samples int, ortLib string) (*CheckReport, error) {
	ref, err := b.referenceRunner()
	if err != nil {
		return nil, err
	}
	defer ref.close()
	rep := &CheckReport{Samples: samples}
	eng, err := b.engineRunner()
	if err != nil {
		return nil, fmt.Errorf("read the files back: %w", err)
	}
	defer eng.close()
	if rep.Engine, err = b.compare(ref, eng, samples); err != nil {
		return rep, err
	}
	if ortLib == "" {
		rep.ORTSkipped = "no libonnxruntime.so found (set ORT_LIB)"
	} else {
		o, err := b.ortRunner(ortLib)
		if err != nil {
			return rep, err
		}
		defer o.close()
		if rep.ORT, err = b.compare(ref, o, samples); err != nil {
			return rep, err
		}
		if rep.ORTBatchMaxAbs, err = b.batchDiff(o, samples); err != nil {
			return rep, err
		}
		if rep.ORTBatchMaxAbs > FP32Tolerance*max(maxScale(rep.ORT), 1) {
			return rep, fmt.Errorf("onnx runtime: a batch of %d differs from the samples run alone by %.3g", samples, rep.ORTBatchMaxAbs)
		}
	}
	b.Manifest.Check = rep
	return rep, nil
}

// compare runs ref and cand tier by tier on the same inputs, and each of
// them end to end with the wire's encodings.
func (b *Bundle) compare(ref *programRunner, cand runner, samples int) ([]OutputDiff, error) {
	diffs := map[string]*OutputDiff{}
	var order []string
	note := func(file, out string) *OutputDiff {
		key := file + "\x00" + out
		if diffs[key] == nil {
			diffs[key] = &OutputDiff{File: file, Output: out}
			order = append(order, key)
		}
		return diffs[key]
	}
	for _, in := range b.samples(samples) {
		// Tier by tier on the reference's tensors.
		err := b.walk(ref, in, func(k int, wire, want map[string][]float32) error {
			got, err := cand.run(k, wire)
			if err != nil {
				return err
			}
			for _, name := range b.outputs(k) {
				d := note(partFile(b.d, k), name)
				d.Half = max(d.Half, maxAbsDiff(got[name], want[name]))
				d.Scale = max(d.Scale, maxAbs(want[name]))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		full, err := b.fullModel(ref.prog, in)
		if err != nil {
			return nil, err
		}
		split, err := b.chain(ref, in)
		if err != nil {
			return nil, err
		}
		files, err := b.chain(cand, in)
		if err != nil {
			return nil, err
		}
		for _, t := range b.d.Plan.Model.Tasks {
			task, f := t.Name, full[t.Name]
			d := note(b.headFile(task), task)
			d.Result = true
			d.EndToEnd = max(d.EndToEnd, maxAbsDiff(files[task], f))
			d.Quantization = max(d.Quantization, maxAbsDiff(split[task], f))
		}
	}
	var out []OutputDiff
	for _, key := range order {
		d := *diffs[key]
		out = append(out, d)
		tol := FP32Tolerance * max(d.Scale, 1)
		if d.Half > tol {
			return out, fmt.Errorf("%s output %q differs from the plan's model by %.3g (tolerance %.3g)", d.File, d.Output, d.Half, tol)
		}
		// A code may flip where float rounding straddles a quantization
		// boundary; beyond twice the runtime's own error is a wrong file.
		if d.EndToEnd > 2*d.Quantization+tol {
			return out, fmt.Errorf("%s result %q differs from the full model by %.3g end to end; the engine's split differs by %.3g", d.File, d.Output, d.EndToEnd, d.Quantization)
		}
	}
	return out, nil
}

// samples are n seeded images: the same for every runtime checked.
func (b *Bundle) samples(n int) [][]float32 {
	rng := rand.New(rand.NewPCG(b.seed, 77))
	out := make([][]float32, n)
	for s := range out {
		out[s] = make([]float32, b.d.Graph.Input.Elems())
		for i := range out[s] {
			out[s][i] = float32(rng.NormFloat64())
		}
	}
	return out
}

// batchDiff runs every file of r on the samples' tensors one sample at a
// time, then all of them as one batch, and returns the largest difference.
func (b *Bundle) batchDiff(r runner, samples int) (float64, error) {
	var worst float64
	ins := make([]map[string][]float32, len(b.Parts))
	outs := make([]map[string][]float32, len(b.Parts))
	for _, x := range b.samples(samples) {
		err := b.walk(r, x, func(k int, wire, out map[string][]float32) error {
			ins[k], outs[k] = appendAll(ins[k], wire), appendAll(outs[k], out)
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for k := range b.Parts {
		if b.Parts[k] == nil {
			continue
		}
		got, err := r.run(k, ins[k])
		if err != nil {
			return 0, err
		}
		for name, want := range outs[k] {
			worst = max(worst, maxAbsDiff(got[name], want))
		}
	}
	return worst, nil
}

// appendAll appends each tensor of add to the one of the same name in to.
func appendAll(to, add map[string][]float32) map[string][]float32 {
	if to == nil {
		to = map[string][]float32{}
	}
	for name, x := range add {
		to[name] = append(to[name], x...)
	}
	return to
}

func maxScale(ds []OutputDiff) float64 {
	var m float64
	for _, d := range ds {
		m = max(m, d.Scale)
	}
	return m
}

// chain runs r's tiers one after the other, each sent tensor encoded and
// decoded as the wire does, and returns every task's result.
func (b *Bundle) chain(r runner, x []float32) (map[string][]float32, error) {
	results := map[string][]float32{}
	err := b.walk(r, x, func(_ int, _, out map[string][]float32) error {
		for _, t := range b.d.Plan.Model.Tasks {
			if v, ok := out[t.Name]; ok {
				results[t.Name] = v
			}
		}
		return nil
	})
	return results, err
}

// walk runs r's tiers on image x one after the other, each sent tensor
// encoded and decoded as the wire does, showing visit every tier's inputs
// and outputs.
func (b *Bundle) walk(r runner, x []float32, visit func(k int, in, out map[string][]float32) error) error {
	wire := map[string][]float32{onnx.InputName: x}
	for k := range b.Parts {
		if b.Parts[k] == nil {
			continue
		}
		out, err := r.run(k, wire)
		if err != nil {
			return err
		}
		if err := visit(k, wire, out); err != nil {
			return err
		}
		if wire, err = b.send(k, out); err != nil {
			return err
		}
	}
	return nil
}

// send is what tier k's outputs become at the next tier: each tensor of
// the hop after it, encoded and decoded in its encoding.
func (b *Bundle) send(k int, out map[string][]float32) (map[string][]float32, error) {
	next := map[string][]float32{}
	if k >= len(b.d.Hops) {
		return next, nil
	}
	names := tensorNames(b.d)
	for _, t := range b.d.Hops[k] {
		x, ok := out[names[t.Node]]
		if !ok {
			return nil, fmt.Errorf("tier %d gives no tensor %q", k, names[t.Node])
		}
		y, err := roundTrip(t.Encoding, x)
		if err != nil {
			return nil, err
		}
		next[names[t.Node]] = y
	}
	return next, nil
}

// roundTrip is x after encoding e and decoding (a lossless stage changes
// nothing).
func roundTrip(e codec.Encoding, x []float32) ([]float32, error) {
	b, err := engine.Encode(nil, e.Base(), x)
	if err != nil {
		return nil, err
	}
	y := make([]float32, len(x))
	return y, engine.Decode(y, e.Base(), b)
}

// headFile is the file giving task's result.
func (b *Bundle) headFile(task string) string {
	for _, f := range b.Manifest.Files {
		for _, h := range f.Heads {
			if h == task {
				return f.Name
			}
		}
	}
	return ""
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func maxAbs(a []float32) float64 {
	var m float64
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
