package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/profile"
)

// InspectOptions are the options of "mtlsplit inspect".
type InspectOptions struct {
	IO     *IO
	Model  string
	Input  int
	Tasks  string
	Format string
	// given reports the flags set on the command line: an ONNX file's own
	// input size and tasks may be restated, not contradicted.
	given func(flag string) bool
}

// NewCmdInspect shows a model's blocks, layers, heads and cut candidates.
func NewCmdInspect(io *IO) *cobra.Command {
	opts := &InspectOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "inspect MODEL|FILE.onnx",
		Short: "Show a model's blocks, layers, heads and cut candidates",
		Args:  exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			opts.given = changed(cmd.Flags())
			return runInspect(opts)
		},
	}
	cmd.Flags().IntVar(&opts.Input, "input", 224, inputHelp)
	cmd.Flags().StringVar(&opts.Tasks, "tasks", "8,4", "classes per task head, comma-separated (empty: backbone only; "+tasksLimits+"); an ONNX file with several outputs has one task per output")
	cmd.Flags().StringVarP(&opts.Format, "output", "o", "table", "output format: table|json|csv")
	return cmd
}

type inspectBlock struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	OutShape []int  `json:"out_shape"`
	Params   int64  `json:"params"`
	MACs     int64  `json:"macs"`
}

type inspectLayer struct {
	Name           string `json:"name"`
	Op             string `json:"op"`
	Block          string `json:"block"`
	BlockIndex     int    `json:"block_index"`
	OutShape       []int  `json:"out_shape"`
	Params         int64  `json:"params"`
	MACs           int64  `json:"macs"`
	ElementwiseOps int64  `json:"elementwise_ops"`
}

type inspectHead struct {
	Task string `json:"task"`
	// Classes is the number of values the head makes (class logits).
	Classes    int      `json:"classes"`
	InFeatures int64    `json:"in_features"`
	OutShape   []int    `json:"out_shape"`
	Layers     []string `json:"layers"`
	Params     int64    `json:"params"`
	MACs       int64    `json:"macs"`
}

type inspectNode struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Op       string `json:"op"`
	Inputs   []int  `json:"inputs"`
	OutShape []int  `json:"out_shape"`
}

type inspectCut struct {
	Name  string           `json:"name"`
	Shape []int            `json:"shape"`
	Bytes map[string]int64 `json:"bytes"`
}

type inspectOutput struct {
	Model  string         `json:"model"`
	Input  []int          `json:"input"`
	Hash   string         `json:"hash"`
	Blocks []inspectBlock `json:"blocks"`
	Layers []inspectLayer `json:"layers"`
	Heads  []inspectHead  `json:"heads"`
	Cuts   []inspectCut   `json:"cuts"`
	Totals struct {
		Params int64 `json:"params"`
		MACs   int64 `json:"macs"`
	} `json:"totals"`
	// Graph is every node of the DAG, functional ops (add, mul, flatten)
	// included, with its inputs.
	Graph []inspectNode `json:"graph"`
}

func runInspect(opts *InspectOptions) error {
	if err := checkFormat(opts.Format, "table", "json", "csv"); err != nil {
		return err
	}
	tasks, err := parseTasks(opts.Tasks)
	if err != nil {
		return err
	}
	given := opts.given
	if given == nil {
		given = changed(nil)
	}
	g, _, err := loadGraph(opts.Model, opts.Input, tasks, given)
	if err != nil {
		return err
	}
	out := describe(g)
	switch opts.Format {
	case "json":
		return writeJSON(opts.IO.Out, out)
	case "csv":
		var rows [][]string
		for _, l := range out.Layers {
			rows = append(rows, []string{l.Name, l.Op, l.Block, shapeString(l.OutShape), fmt.Sprint(l.Params), fmt.Sprint(l.MACs)})
		}
		return writeCSV(opts.IO.Out, []string{"name", "op", "block", "out_shape", "params", "macs"}, rows)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s at %s: %s params, %s MACs (backbone), graph %s\n\n", g.Name, shapeString(g.Input),
		human(float64(out.Totals.Params)), human(float64(out.Totals.MACs)), out.Hash)
	var rows [][]string
	for i, b := range out.Blocks {
		c := out.Cuts[i+1]
		rows = append(rows, []string{b.Name, b.Type, shapeString(b.OutShape), human(float64(b.Params)), human(float64(b.MACs)),
			human(float64(c.Bytes["fp32"])), human(float64(c.Bytes["int8"]))})
	}
	if err := writeTable(w, []string{"BLOCK (cut after)", "TYPE", "OUTPUT", "PARAMS", "MACS", "FP32 B", "INT8 B"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ninput cut sends the raw image: %s bytes\n", human(float64(out.Cuts[0].Bytes["uint8"])))
	if len(out.Heads) > 0 {
		fmt.Fprintln(w)
		rows = nil
		for _, h := range out.Heads {
			rows = append(rows, []string{h.Task, fmt.Sprint(h.Classes), fmt.Sprint(h.InFeatures), fmt.Sprint(len(h.Layers)), human(float64(h.Params)), human(float64(h.MACs))})
		}
		return writeTable(w, []string{"HEAD", "CLASSES", "IN", "LAYERS", "PARAMS", "MACS"}, rows)
	}
	return nil
}

// describe flattens a graph for output.
func describe(g *model.Graph) inspectOutput {
	out := inspectOutput{Model: g.Name, Input: g.Input, Hash: g.Hash(), Layers: []inspectLayer{}, Heads: []inspectHead{}}
	for _, b := range g.Blocks {
		out.Blocks = append(out.Blocks, inspectBlock{Name: b.Name, Type: b.Type, OutShape: b.OutShape, Params: b.Params, MACs: b.MACs})
	}
	for _, n := range model.Leaves(g) {
		out.Layers = append(out.Layers, inspectLayer{Name: n.Name, Op: string(n.Op), Block: g.Blocks[n.Block].Name, BlockIndex: n.Block,
			OutShape: n.OutShape, Params: n.Params, MACs: n.MACs, ElementwiseOps: n.ElementwiseOps})
	}
	for _, h := range g.Heads {
		ih := inspectHead{Task: h.Task, Classes: h.Classes, InFeatures: g.Nodes[g.Backbone()].OutShape.Elems(),
			OutShape: g.Nodes[h.Output].OutShape, Layers: []string{}, Params: h.Params, MACs: h.MACs}
		for _, id := range h.Nodes {
			if n := g.Nodes[id]; n.Op.IsModule() {
				ih.Layers = append(ih.Layers, n.Name)
			}
		}
		out.Heads = append(out.Heads, ih)
	}
	for _, c := range profile.Cuts(g) {
		ic := inspectCut{Name: c.Name, Shape: c.Shape, Bytes: map[string]int64{}}
		if c.Index == 0 {
			ic.Bytes[string(codec.Raw)] = c.Bytes(codec.Raw)
		} else {
			for _, e := range codec.Encodings {
				ic.Bytes[string(e)] = c.Bytes(e)
			}
		}
		out.Cuts = append(out.Cuts, ic)
	}
	out.Totals.Params, out.Totals.MACs = g.BackboneParams(), g.BackboneMACs()
	for _, n := range g.Nodes {
		out.Graph = append(out.Graph, inspectNode{ID: n.ID, Name: n.Name, Op: string(n.Op), Inputs: n.Inputs, OutShape: n.OutShape})
	}
	return out
}
