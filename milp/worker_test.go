//go:build cgo && !nocbc

package milp

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestCBCWorkerCrash: an abort in the worker (the test hook calls abort(),
// as a failed assert in CBC does) is an ErrSolverCrashed naming the signal,
// and the next solve gets a fresh worker that answers.
func TestCBCWorkerCrash(t *testing.T) {
	needCBC(t)
	m := knapsack(30, 1)
	want, err := CBC{InProcess: true}.Solve(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(hookEnv, "abort")
	sol, err := CBC{}.Solve(m, nil)
	if !errors.Is(err, ErrSolverCrashed) {
		t.Fatalf("err = %v, want ErrSolverCrashed", err)
	}
	if !strings.Contains(err.Error(), "signal: aborted") || !strings.Contains(err.Error(), "knapsack_30") {
		t.Errorf("error %q should name the model and the signal", err)
	}
	if sol == nil || sol.Status != Error || sol.X != nil {
		t.Errorf("solution %+v, want status error and no X", sol)
	}
	t.Setenv(hookEnv, "")
	for range 2 {
		sol, err = CBC{}.Solve(m, nil)
		if err != nil {
			t.Fatalf("solve after the crash: %v", err)
		}
		if sol.Status != Optimal || math.Abs(sol.Objective-want.Objective) > 1e-9 {
			t.Errorf("after the crash: %v %g, want optimal %g", sol.Status, sol.Objective, want.Objective)
		}
	}
}

// TestCBCWorkerHang: a worker that never answers is killed well after its
// time limit, and that is an ErrSolverCrashed too.
func TestCBCWorkerHang(t *testing.T) {
	needCBC(t)
	t.Setenv(hookEnv, "hang")
	_, err := CBC{}.Solve(knapsack(10, 1), &Settings{TimeLimit: time.Millisecond})
	if !errors.Is(err, ErrSolverCrashed) || !strings.Contains(err.Error(), "without an answer (time limit 1ms)") {
		t.Fatalf("err = %v, want ErrSolverCrashed after the time limit", err)
	}
	t.Setenv(hookEnv, "")
	if sol, err := (CBC{}).Solve(knapsack(10, 1), nil); err != nil || sol.Status != Optimal {
		t.Fatalf("after the hang: %v, %v", sol, err)
	}
}

// TestCBCConservative: the retry settings give the same optimum, and
// ignore a warm start.
func TestCBCConservative(t *testing.T) {
	needCBC(t)
	for _, m := range []*Model{knapsack(40, 2), assignment(6, 2), placement(40, 3, 2)} {
		t.Run(m.Name, func(t *testing.T) {
			want, err := CBC{}.Solve(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := CBC{}.Solve(m, &Settings{Conservative: true, Start: want.X})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != Optimal || math.Abs(got.Objective-want.Objective) > 1e-6*max(1, math.Abs(want.Objective)) {
				t.Errorf("conservative %v %g, default %v %g", got.Status, got.Objective, want.Status, want.Objective)
			}
		})
	}
}

// TestCBCInProcessMatchesWorker: both paths give the same answer.
func TestCBCInProcessMatchesWorker(t *testing.T) {
	needCBC(t)
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build()
			a, errA := CBC{}.Solve(m, nil)
			b, errB := CBC{InProcess: true}.Solve(m, nil)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("worker error %v, in-process error %v", errA, errB)
			}
			if errA != nil {
				return
			}
			if a.Status != b.Status || a.Status == Optimal && math.Abs(a.Objective-b.Objective) > 1e-9 {
				t.Errorf("worker %v %g, in process %v %g", a.Status, a.Objective, b.Status, b.Objective)
			}
		})
	}
}

// BenchmarkCBCIsolation is the cost of solving in a worker process against
// solving in this one: the same models both ways, and a worker's start
// (a fresh process for each solve).
func BenchmarkCBCIsolation(b *testing.B) {
	needCBC(b)
	models := []*Model{knapsack(10, 1), placement(200, 8, 1), placement(600, 8, 1)}
	ways := []struct {
		name  string
		solve func(m *Model) (*Solution, error)
	}{
		{"in-process", func(m *Model) (*Solution, error) { return CBC{InProcess: true}.Solve(m, nil) }},
		{"worker", func(m *Model) (*Solution, error) { return CBC{}.Solve(m, nil) }},
		{"worker-start", func(m *Model) (*Solution, error) {
			w, err := startWorker()
			if err != nil {
				return nil, err
			}
			defer w.close()
			p := &workerPool{slots: make(chan struct{}, 1)}
			p.idle = []*worker{w}
			w.timer = time.NewTimer(time.Hour)
			return p.solve(m, &Settings{})
		}},
	}
	for _, m := range models {
		for _, way := range ways {
			b.Run(fmt.Sprintf("%s/vars=%d/%s", m.Name, len(m.Vars), way.name), func(b *testing.B) {
				var sol *Solution
				var err error
				for b.Loop() {
					sol, err = way.solve(m)
				}
				if err != nil || sol.Status != Optimal {
					b.Fatalf("status %v, err %v", sol.Status, err)
				}
			})
		}
	}
}
