package experiments

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/optimizer"
)

// Scenarios is the grid study: every model on every edge device over every
// network to one server — where the searched split beats MTL-Split's fixed
// split (backbone on the edge, fp32 features, heads on the server), and by
// how much.
type Scenarios struct {
	Models, Devices, Networks []string
	Server                    string
	// Stack, if set, runs every device as that inference stack does.
	Stack     string
	Tasks     []int
	Input     int
	Encodings []codec.Encoding
	Objective optimizer.Objective
}

// DefaultScenarios is the study the README shows (docs/figures/scenarios):
// every zoo model on every catalog device over every catalog network to an
// H100, two tasks (8 and 4 classes) at 224 px, fp32/fp16/int8, latency. A
// nil catalog leaves the devices and networks empty.
func DefaultScenarios(cat *hwprofiles.Catalog) Scenarios {
	return Scenarios{
		Models: model.Zoo(), Devices: cat.DeviceIDs(), Networks: cat.NetworkIDs(), Server: "h100",
		Tasks: []int{8, 4}, Input: 224, Encodings: []codec.Encoding{codec.FP32, codec.FP16, codec.Int8},
		Objective: optimizer.Latency,
	}
}

// ScenarioRow is one cell of the grid.
type ScenarioRow struct {
	Model, Device, Server, Network string
	UplinkMbps                     float64
	// Choice is the optimum's label (cut/encoding/heads).
	Choice     string
	OptimumMS  float64
	LocalMS    float64
	RemoteMS   float64
	MTLSplitMS float64
	Bytes      int64
	EnergyMJ   float64
	// With a stack: its expected error of edge latency and the optimum's
	// edge part, so BandMS is how far the optimum's latency may be off.
	Stack            string
	ExpectedErrorPct float64
	EdgeMS           float64
}

// BandMS is the ± on OptimumMS a stack's expected error implies: the edge
// part scaled by the error (network and server as predicted). 0 without
// a stack.
func (r ScenarioRow) BandMS() float64 { return r.ExpectedErrorPct / 100 * r.EdgeMS }

// SpeedupVsMTLSplit is how much faster the optimum is than the fixed split.
func (r ScenarioRow) SpeedupVsMTLSplit() float64 { return r.MTLSplitMS / r.OptimumMS }

// Run solves every cell; progress, if set, is called after each.
func (s Scenarios) Run(cat *hwprofiles.Catalog, progress func(done, total int)) ([]ScenarioRow, error) {
	server, err := cat.Server(s.Server)
	if err != nil {
		return nil, err
	}
	total := len(s.Models) * len(s.Devices) * len(s.Networks)
	var rows []ScenarioRow
	for _, m := range s.Models {
		g, err := model.New(m, s.Input, s.Tasks)
		if err != nil {
			return nil, err
		}
		for _, d := range s.Devices {
			dev, err := cat.Device(d)
			if err == nil && s.Stack != "" {
				dev, err = cat.DeviceStack(d, s.Stack)
			}
			if err != nil {
				return nil, err
			}
			for _, n := range s.Networks {
				net, err := cat.Network(n)
				if err != nil {
					return nil, err
				}
				row, err := s.solve(g, dev, server, net)
				if err != nil {
					return nil, fmt.Errorf("%s on %s over %s: %w", m, d, n, err)
				}
				rows = append(rows, row)
				if progress != nil {
					progress(len(rows), total)
				}
			}
		}
	}
	return rows, nil
}

func (s Scenarios) solve(g *model.Graph, dev, server hwprofiles.Device, net hwprofiles.Network) (ScenarioRow, error) {
	p, err := optimizer.NewProblem(g, dev, server, net)
	if err != nil {
		return ScenarioRow{}, err
	}
	if s.Encodings != nil {
		p.Encodings = s.Encodings
	}
	if s.Objective != "" {
		p.Objective = s.Objective
	}
	r, err := optimizer.Solve(p, nil, nil)
	if err != nil {
		return ScenarioRow{}, err
	}
	b := r.Baselines
	return ScenarioRow{
		Model: g.Name, Device: dev.ID, Server: server.ID, Network: net.ID, UplinkMbps: p.Links[0].UplinkMbps,
		Choice: r.Best.Label.String(), OptimumMS: r.Best.Cost.TotalMS,
		LocalMS: b.LocalOnly.Cost.TotalMS, RemoteMS: b.RemoteOnly.Cost.TotalMS, MTLSplitMS: b.MTLSplit.Cost.TotalMS,
		Bytes: r.Best.Cost.Bytes, EnergyMJ: r.Best.Cost.EdgeEnergyMJ,
		Stack: dev.Stack, ExpectedErrorPct: dev.ExpectedErrorPct.Value, EdgeMS: r.Best.Cost.EdgeMS,
	}, nil
}
