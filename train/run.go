package train

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"math/rand/v2"
)

// Run is a training run over epochs: the data order of each epoch is
// drawn from a seeded generator, the learning rate follows a schedule, and
// the whole state can be saved at an epoch boundary (Checkpoint) and
// continued bit for bit (Resume).
type Run struct {
	T      *Trainer
	Data   Data
	Sched  StepLR
	Epochs int
	// Epoch is the number of epochs done.
	Epoch    int
	orderSrc *rand.PCG
	order    []int // the next epoch's order, drawn in advance
}

// NewRun starts a run of epochs over data; seed draws the orders.
func NewRun(t *Trainer, data Data, sched StepLR, epochs int, seed uint64) (*Run, error) {
	if err := t.checkData(data); err != nil {
		return nil, err
	}
	r := &Run{T: t, Data: data, Sched: sched, Epochs: epochs, orderSrc: rand.NewPCG(seed, 0x6f72646572)}
	r.order = rand.New(r.orderSrc).Perm(data.Len())
	return r, nil
}

// Done reports whether every epoch has run.
func (r *Run) Done() bool { return r.Epoch >= r.Epochs }

// Next trains the next epoch at the schedule's rate and returns its mean
// result; then it draws the order of the epoch after.
func (r *Run) Next(progress func(done, total int, res Result)) (Result, error) {
	if r.Done() {
		return Result{}, fmt.Errorf("train: all %d epochs have run", r.Epochs)
	}
	r.T.LR = r.Sched.LR(r.Epoch)
	res, err := r.T.EpochOrder(r.Data, r.order, 0, progress)
	if err != nil {
		return Result{}, err
	}
	r.Epoch++
	r.order = rand.New(r.orderSrc).Perm(r.Data.Len())
	return res, nil
}

// checkpointVersion changes whenever the checkpoint's fields do.
const checkpointVersion = 1

// checkpoint is what Checkpoint writes (gob: exact float32 bits).
type checkpoint struct {
	Version   int
	Graph     string // the graph's hash: a checkpoint resumes its own model only
	Batch     int
	Epoch     int
	Epochs    int
	Params    [][]float32 // in Trainer.params order
	Stats     map[string][2][]float32
	Optimizer string
	OptStep   int
	Moments   [][][]float32 // AdamW: m, v; SGD: the momentum buffer
	DropRNG   []byte
	DepthRNG  []byte
	OrderRNG  []byte
	Order     []int // the next epoch's order
}

// Checkpoint encodes the run's whole state after its last epoch: weights,
// running statistics, optimizer moments and step, the epoch, every
// generator's state and the next epoch's data order.
func (r *Run) Checkpoint() ([]byte, error) {
	t := r.T
	c := checkpoint{Version: checkpointVersion, Graph: t.graph.Hash(), Batch: t.cfg.Batch, Epoch: r.Epoch, Epochs: r.Epochs,
		Stats: map[string][2][]float32{}, Order: r.order}
	for _, p := range t.params {
		c.Params = append(c.Params, p.data)
	}
	for name, st := range t.stats {
		c.Stats[name] = [2][]float32{st.mean, st.variance}
	}
	switch o := t.cfg.Optimizer.(type) {
	case *AdamW:
		c.Optimizer, c.OptStep = "adamw", o.step
		if o.m != nil {
			c.Moments = [][][]float32{o.m, o.v}
		}
	case *SGD:
		c.Optimizer = "sgd"
		if o.buf != nil {
			c.Moments = [][][]float32{o.buf}
		}
	default:
		return nil, fmt.Errorf("train: checkpoint: optimizer %T has no saved state", o)
	}
	var err error
	if c.DropRNG, err = t.dropSrc.MarshalBinary(); err != nil {
		return nil, err
	}
	if c.DepthRNG, err = t.depthSrc.MarshalBinary(); err != nil {
		return nil, err
	}
	if c.OrderRNG, err = r.orderSrc.MarshalBinary(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		return nil, fmt.Errorf("train: checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}

// Resume restores a state Checkpoint wrote into r, whose trainer, data
// and optimizer must be set up as the checkpointed run's were; the run
// then continues exactly where that one stopped. r.Epochs stays as given
// (a run may be extended).
func (r *Run) Resume(b []byte) error {
	var c checkpoint
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		return errors.New("not a training checkpoint (undecodable)")
	}
	t := r.T
	switch {
	case c.Version != checkpointVersion:
		return fmt.Errorf("checkpoint version %d; this build reads version %d", c.Version, checkpointVersion)
	case c.Graph != t.graph.Hash():
		return fmt.Errorf("the checkpoint is of another model (graph hash %.12s, this one %.12s): same MODEL, --size and --tasks as the run that wrote it", c.Graph, t.graph.Hash())
	case c.Batch != t.cfg.Batch:
		return fmt.Errorf("the checkpoint was trained with --batch %d, not %d", c.Batch, t.cfg.Batch)
	case len(c.Order) != r.Data.Len():
		return fmt.Errorf("the checkpoint's data has %d items, this data %d: resume on the same data", len(c.Order), r.Data.Len())
	case c.Epoch > r.Epochs:
		return fmt.Errorf("the checkpoint has %d epochs done, more than --epochs %d", c.Epoch, r.Epochs)
	case len(c.Params) != len(t.params) || len(c.Stats) != len(t.stats):
		return fmt.Errorf("the checkpoint has %d parameters and %d batch norms; the model %d and %d", len(c.Params), len(c.Stats), len(t.params), len(t.stats))
	}
	for i, p := range t.params {
		if len(c.Params[i]) != len(p.data) {
			return fmt.Errorf("the checkpoint's %s has %d values, want %d", p.info.Key(), len(c.Params[i]), len(p.data))
		}
	}
	for name, st := range t.stats {
		s, ok := c.Stats[name]
		if !ok || len(s[0]) != len(st.mean) || len(s[1]) != len(st.variance) {
			return fmt.Errorf("the checkpoint lacks the running statistics of %s", name)
		}
	}
	if err := restoreOptimizer(t.cfg.Optimizer, c, t.params); err != nil {
		return err
	}
	for i, p := range t.params {
		copy(p.data, c.Params[i])
	}
	for name, st := range t.stats {
		copy(st.mean, c.Stats[name][0])
		copy(st.variance, c.Stats[name][1])
	}
	for _, s := range []struct {
		src *rand.PCG
		b   []byte
	}{{t.dropSrc, c.DropRNG}, {t.depthSrc, c.DepthRNG}, {r.orderSrc, c.OrderRNG}} {
		if err := s.src.UnmarshalBinary(s.b); err != nil {
			return fmt.Errorf("the checkpoint's generator state: %w", err)
		}
	}
	r.Epoch, r.order = c.Epoch, c.Order
	return nil
}

// restoreOptimizer sets o's moments and step from c.
func restoreOptimizer(o Optimizer, c checkpoint, params []*param) error {
	want := len(c.Moments)
	for _, ms := range c.Moments {
		if len(ms) != len(params) {
			return fmt.Errorf("the checkpoint's optimizer state has %d tensors, the model %d parameters", len(ms), len(params))
		}
		for i, m := range ms {
			if len(m) != len(params[i].data) {
				return fmt.Errorf("the checkpoint's optimizer state of %s has %d values, want %d", params[i].info.Key(), len(m), len(params[i].data))
			}
		}
	}
	clone := func(ms [][]float32) [][]float32 {
		out := make([][]float32, len(ms))
		for i, m := range ms {
			out[i] = append([]float32(nil), m...)
		}
		return out
	}
	switch o := o.(type) {
	case *AdamW:
		if c.Optimizer != "adamw" || want != 0 && want != 2 {
			return fmt.Errorf("the checkpoint's optimizer is %s, this run's adamw", c.Optimizer)
		}
		o.step, o.m, o.v = c.OptStep, nil, nil
		if want == 2 {
			o.m, o.v = clone(c.Moments[0]), clone(c.Moments[1])
		}
	case *SGD:
		if c.Optimizer != "sgd" || want > 1 {
			return fmt.Errorf("the checkpoint's optimizer is %s, this run's sgd", c.Optimizer)
		}
		o.buf = nil
		if want == 1 {
			o.buf = clone(c.Moments[0])
		}
	default:
		return fmt.Errorf("train: resume: optimizer %T has no saved state", o)
	}
	return nil
}
