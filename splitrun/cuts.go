package splitrun

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/mtlsplit/mtlsplit/placement"
)

// work is what a server does for one shape of request — the tensors it is
// sent and the tasks it is asked for — worked out once and cached.
type work struct {
	// inputs are the nodes sent, in node (execution) order; index[i] is
	// the request's input holding inputs[i].
	inputs, index []int
	// run marks the nodes this server runs before it forwards (every
	// node it runs, when it does not forward); after, those it runs while
	// the next tier works (its own heads).
	run, after []bool
	// here are the tasks answered by this server, onward those asked of
	// the next tier.
	here, onward []int
	// fwd is the placement whose next hop this tier sends (nil: it is the
	// last tier).
	fwd *Deployment
	// cut names the tensors sent, in node order, joined by "+": the
	// label /metrics counts requests by, so an edge's switches show there.
	cut string
}

// httpError is a failure with the HTTP status it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

// workCache holds the work of every request shape seen, up to a bound (a
// client naming ever new tensor sets must not grow the server).
type workCache struct {
	mu sync.Mutex
	m  map[string]*work
}

const maxCachedWork = 256

func (c *workCache) get(key string, make func() (*work, error)) (*work, error) {
	c.mu.Lock()
	w, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return w, nil
	}
	w, err := make()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*work{}
	}
	if len(c.m) < maxCachedWork {
		c.m[key] = w
	}
	c.mu.Unlock()
	return w, nil
}

// planWork works out what tier k does for a request sending the tensors
// named inNames and asking for tasks; next says whether a tier follows.
func (m *Model) planWork(k int, inNames []string, tasks []int, next bool) (*work, error) {
	nm, g := m.names(), m.Graph
	cut := map[int]bool{}
	for _, id := range m.cutTensors() {
		cut[id] = true
	}
	w := &work{}
	sent := map[int]bool{}
	for i, name := range inNames {
		id, ok := nm.node[name]
		if !ok {
			return nil, errStatus(http.StatusNotFound, "inputs[%d].name: %s has no tensor %q (GET /v2/models/%s lists the cut tensors)", i, g.Name, name, m.Plan.Model.Name)
		}
		if !cut[id] {
			return nil, errStatus(http.StatusNotFound, "inputs[%d].name: %q is not a cut this server takes: it is fused into the next layer (GET /v2/models/%s lists the cut tensors)", i, name, m.Plan.Model.Name)
		}
		sent[id] = true
		w.inputs = append(w.inputs, id)
	}
	order := make([]int, len(w.inputs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return w.inputs[a] - w.inputs[b] })
	w.index = order
	sorted := make([]int, len(order))
	for i, o := range order {
		sorted[i] = w.inputs[o]
	}
	w.inputs = sorted
	names := make([]string, len(sorted))
	for i, id := range sorted {
		names[i] = m.TensorName(id)
	}
	w.cut = strings.Join(names, "+")
	if next {
		return w, m.forwardWork(w, k, sent, tasks)
	}
	w.here = tasks
	// Everything the asked heads need, back to the tensors sent.
	w.run = make([]bool, len(g.Nodes))
	used := map[int]bool{}
	stack := []int{}
	for _, t := range tasks {
		stack = append(stack, g.Heads[t].Output)
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if sent[id] {
			used[id] = true
			continue
		}
		if w.run[id] {
			continue
		}
		if id == 0 {
			return nil, errStatus(http.StatusBadRequest, "inputs: the tensors sent do not cover the outputs asked (computing them reaches the model's input, which was not sent)")
		}
		w.run[id] = true
		stack = append(stack, g.Nodes[id].Inputs...)
	}
	for i, name := range inNames {
		if id := nm.node[name]; !used[id] {
			return nil, errStatus(http.StatusBadRequest, "inputs[%d].name: %q is not needed for the outputs asked", i, name)
		}
	}
	return w, nil
}

// forwardWork finds the placement of the plan (its choice or a feasible
// switch-table row) that sends exactly these tensors to tier k and gives
// exactly these tasks from tier k on: tier k runs its part of it and
// forwards the next hop.
func (m *Model) forwardWork(w *work, k int, sent map[int]bool, tasks []int) error {
	want := slices.Sorted(func(yield func(int) bool) {
		for _, t := range tasks {
			if !yield(t) {
				return
			}
		}
	})
	for _, d := range m.deployments() {
		if len(d.Hops) <= k-1 || len(d.Hops[k-1]) != len(sent) {
			continue
		}
		same := true
		for _, t := range d.Hops[k-1] {
			same = same && sent[t.Node]
		}
		var beyond []int
		for t, tier := range d.Placement.HeadTier {
			if tier >= k {
				beyond = append(beyond, t)
			}
		}
		if !same || !slices.Equal(beyond, want) {
			continue
		}
		w.fwd = d
		n := len(m.Graph.Nodes)
		w.run, w.after = make([]bool, n), make([]bool, n)
		for id := range n {
			w.run[id], w.after[id] = d.runsOn(k, id, true), d.runsOn(k, id, false)
		}
		for t, tier := range d.Placement.HeadTier {
			if tier == k {
				w.here = append(w.here, t)
			} else if tier > k {
				w.onward = append(w.onward, t)
			}
		}
		return nil
	}
	var names []string
	for id := range sent {
		names = append(names, m.TensorName(id))
	}
	slices.Sort(names)
	return errStatus(http.StatusNotFound, "inputs: no placement of the plan (its choice or a switch-table row) sends %s to tier %d and asks it for these tasks", strings.Join(names, ", "), k)
}

// deployments are the plan's choice and its feasible switch-table rows,
// resolved once.
func (m *Model) deployments() []*Deployment {
	m.deployOnce.Do(func() {
		add := func(pl placement.Placement, err error) {
			if err != nil {
				return
			}
			if d, err := m.prepare(pl); err == nil {
				m.deploys = append(m.deploys, d)
			}
		}
		add(m.Plan.Placement())
		for _, row := range m.Plan.SwitchTable {
			if row.Feasible {
				add(m.Plan.RowPlacement(row))
			}
		}
	})
	return m.deploys
}
