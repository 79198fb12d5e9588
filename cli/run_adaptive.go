package cli

import (
	"fmt"
	"io"
	"sync"

	"github.com/mtlsplit/mtlsplit/adapt"
	"github.com/mtlsplit/mtlsplit/plan"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// adaptiveFlagHelp says what run --adaptive does and where its settings
// come from.
const adaptiveFlagHelp = "follow the plan's switch table: estimate the uplink from each request (bytes over the server's receive time) and a probe after 1 s without one, and run the row it falls in (50% hysteresis, 1 s dwell: the setting 'experiment adaptive --tune' chose); switches are logged on stderr"

// checkAdaptive refuses --adaptive where the estimate could not see the
// link: the plan's formula link sleeps before each send, so the server's
// receive time shows loopback, not the emulated uplink.
func checkAdaptive(opts *DeployOptions) error {
	if opts.Adaptive && opts.Trace == "" && !opts.NoEmu {
		return fmt.Errorf("--adaptive estimates the uplink from the server's receive times, which the plan's emulated link (a sleep before each send) does not show: add --trace FILE to emulate the uplink from a trace, or --no-emulate to measure the real one")
	}
	return nil
}

// adaptiveEdges makes one switch-table follower per edge (each estimates
// from its own connection), logging to w, and says whether any row sends;
// it checks the table once, so that a plan without a feasible row is bad
// input before any edge runs.
func adaptiveEdges(m *splitrun.Model, w io.Writer) (newAdaptive func() *splitrun.Adaptive, sends bool, err error) {
	a, err := splitrun.NewAdaptive(m, adapt.DefaultSettings)
	if err != nil {
		return nil, false, fmt.Errorf("--adaptive: %w", err)
	}
	for _, d := range a.Deployments() {
		sends = sends || d.Sends()
	}
	var mu sync.Mutex // edges log from their own goroutines
	n := 0
	return func() *splitrun.Adaptive {
		mu.Lock()
		n++
		edge := n
		mu.Unlock()
		a, _ := splitrun.NewAdaptive(m, adapt.DefaultSettings) // the same plan checked above
		a.Log = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "edge %d: "+format+"\n", append([]any{edge}, args...)...)
		}
		return a
	}, sends, nil
}

// adaptiveSummary is what an adaptive run did: its switches and probes,
// and per switch-table row how many inferences ran it and how long they
// took.
type adaptiveSummary struct {
	Switches int          `json:"switches"`
	Probes   int          `json:"probes"`
	Rows     []rowSummary `json:"rows"`
}

type rowSummary struct {
	Row        int     `json:"row"`
	FromMbps   float64 `json:"from_mbps"`
	ToMbps     float64 `json:"to_mbps"`
	Cut        string  `json:"cut"`
	Encoding   string  `json:"encoding"`
	Requests   int     `json:"requests"`
	TotalP50MS float64 `json:"total_p50_ms"`
}

// summarizeAdaptive counts what the edges decided over ts (nil when they
// did not adapt).
func summarizeAdaptive(p *plan.Plan, ts []splitrun.Timing) *adaptiveSummary {
	s := &adaptiveSummary{}
	totals := map[int][]float64{}
	for _, t := range ts {
		c := t.Choice
		if c == nil {
			continue
		}
		if c.Switched {
			s.Switches++
		}
		if c.Probed {
			s.Probes++
		}
		totals[c.Row] = append(totals[c.Row], t.TotalMS)
	}
	if len(totals) == 0 {
		return nil
	}
	for i, row := range p.SwitchTable {
		if v, ok := totals[i]; ok {
			s.Rows = append(s.Rows, rowSummary{Row: i, FromMbps: row.FromMbps, ToMbps: row.ToMbps, Cut: row.Cut, Encoding: row.Encoding,
				Requests: len(v), TotalP50MS: nearestRank(v, 0.5)})
		}
	}
	return s
}

// printAdaptive is the adaptive part of a summary people read.
func printAdaptive(w io.Writer, s *adaptiveSummary) error {
	if s == nil {
		return nil
	}
	fmt.Fprintf(w, "\nadaptive: %d switches, %d probes; inferences by switch-table row:\n", s.Switches, s.Probes)
	var rows [][]string
	for _, r := range s.Rows {
		rows = append(rows, []string{fmt.Sprint(r.Row), fmt.Sprintf("%.4g–%.4g", r.FromMbps, r.ToMbps), r.Cut, r.Encoding, fmt.Sprint(r.Requests), ms(r.TotalP50MS)})
	}
	return writeTable(w, []string{"ROW", "MBPS", "CUT", "ENCODING", "INFERENCES", "TOTAL P50 ms"}, rows)
}

// runSummary is run -o json's output: the medians against the plan, and
// what an adaptive edge did.
type runSummary struct {
	splitrun.Summary
	Adaptive *adaptiveSummary `json:"adaptive,omitempty"`
}
