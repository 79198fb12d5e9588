package experiments

import "time"

// Progress adds up work done across every stage of a reproduction so that
// one display covers them all. Work is counted in expected seconds on a
// quiet two-core machine (see trainIPS), so the fraction done is close to
// the fraction of time spent and the ETA is honest across stages. A nil
// *Progress ignores everything.
type Progress struct {
	// Total is the expected work of everything to run; Done, what is done.
	Total, Done float64
	// Stage names what runs now.
	Stage string
	// Draw, if set, is called after every change.
	Draw  func(p *Progress)
	start time.Time
}

// Begin names the stage that runs next.
func (p *Progress) Begin(stage string) {
	if p == nil {
		return
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.Stage = stage
	p.draw()
}

func (p *Progress) add(work float64) {
	if p == nil {
		return
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	p.Done = min(p.Done+work, p.Total)
	p.draw()
}

// skip counts work a cache spared as done; it does not move the ETA's clock.
func (p *Progress) skip(work float64) {
	if p == nil {
		return
	}
	p.Total = max(p.Total-work, p.Done)
	p.draw()
}

func (p *Progress) draw() {
	if p.Draw != nil {
		p.Draw(p)
	}
}

// ETA extrapolates the time spent so far over the work left; 0 before any
// work is done.
func (p *Progress) ETA() time.Duration {
	if p == nil || p.Done <= 0 {
		return 0
	}
	el := time.Since(p.start).Seconds()
	return time.Duration(el * (p.Total - p.Done) / p.Done * float64(time.Second))
}

// Elapsed is the time since the first stage began.
func (p *Progress) Elapsed() time.Duration {
	if p == nil || p.start.IsZero() {
		return 0
	}
	return time.Since(p.start)
}

// trainIPS is training images/s at 64 px, batch 32, on a quiet 2-core
// machine as make bench-train measured it before the training speed work:
// the yardstick of all work estimates (training runs faster since, so they
// are upper bounds; a run reports its pace against them).
var trainIPS = map[string]float64{"resnet18": 33.7, "mobilenet_v3_small": 66.2, "efficientnet_b0": 10.1, "vgg16": 7.1, "vgg16_bn": 6.0}

func ips(backbone string, size int) float64 {
	v, ok := trainIPS[backbone]
	if !ok {
		v = 10
	}
	// Work grows with the pixels.
	return v * 64 * 64 / float64(size*size)
}

// trainWork is one model's expected training time in seconds.
func (l *Lab) trainWork(backbone string) float64 {
	r := l.Recipe
	return float64(r.Epochs*(r.TrainN/r.Batch)*r.Batch) / ips(backbone, r.Size)
}

// evalWork is scoring one model on the test and hold-out scenes: a
// forward pass is about a third of a training step.
func (l *Lab) evalWork(backbone string) float64 {
	r := l.Recipe
	return float64(r.TestN+r.HoldoutN) / (3 * ips(backbone, r.Size))
}

// accuracyWork is scoring one model at every cut × encoding: per sample,
// about half a forward pass per cut and encoding, on the engine (about
// three times faster than a training step's forward).
func (l *Lab) accuracyWork(backbone string, cuts int) float64 {
	return float64(l.Recipe.accuracyN()*cuts*len(accuracyEncodings)) / (2 * 9 * ips(backbone, l.Recipe.Size))
}
