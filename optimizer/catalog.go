package optimizer

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/hwprofiles"
	"github.com/mtlsplit/mtlsplit/model"
)

// NewProblem profiles g on a catalog edge device and server and sets the
// catalog network; the objective is latency, the encodings fp32 and fp16,
// and the edge memory bound the device's memory. Callers adjust the rest.
func NewProblem(g *model.Graph, edge, server hwprofiles.Device, net hwprofiles.Network) (*Problem, error) {
	e, err := NewSide(g, edge)
	if err != nil {
		return nil, err
	}
	s, err := NewSide(g, server)
	if err != nil {
		return nil, err
	}
	return &Problem{
		Graph: g, Tiers: []Side{e, s}, Links: []Network{NewLink(net)},
		Encodings:   []codec.Encoding{codec.FP32, codec.FP16},
		Objective:   Latency,
		Constraints: Constraints{MaxEdgeMemoryBytes: int64(edge.MemoryMB.Value * 1e6)},
	}, nil
}

// NewSide profiles g on a catalog device: measured where its table covers
// the graph, predicted elsewhere.
func NewSide(g *model.Graph, d hwprofiles.Device) (Side, error) {
	src, err := d.LatencySource()
	if err != nil {
		return Side{}, err
	}
	lat, err := src.Latency(g)
	if err != nil {
		return Side{}, fmt.Errorf("device %q: %w", d.ID, err)
	}
	return Side{Name: d.ID, Stack: d.Stack, ExpectedErrorPct: d.ExpectedErrorPct.Value, Latency: lat, Cost: d.CostModel(),
		ActivePowerW: d.ActivePowerW.Value}, nil
}

// NewLink is a catalog network as a link between tiers.
func NewLink(n hwprofiles.Network) Network {
	return Network{Name: n.ID, UplinkMbps: n.UplinkMbps.Value, DownlinkMbps: n.DownlinkMbps.Value, RTTMS: n.RTTMS.Value, TxPowerW: n.TxPowerW.Value,
		OverheadMS: n.OverheadMS.Value}
}
