package onnx

import (
	"strings"
	"testing"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// TestPartJoin writes resnet18 as two parts at a block cut and joins them
// back: the joined model has the whole graph's heads and blocks' weights,
// and each node comes from the part that computes it.
func TestPartJoin(t *testing.T) {
	g, err := model.New("resnet18", 32, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	w, err := engine.RandomWeights(g, 3)
	if err != nil {
		t.Fatal(err)
	}
	cut := g.Blocks[5].Output
	edge, server := &Part{Nodes: make([]bool, len(g.Nodes))}, &Part{Nodes: make([]bool, len(g.Nodes))}
	for id := 1; id < len(g.Nodes); id++ {
		edge.Nodes[id], server.Nodes[id] = id <= cut, id > cut
	}
	edge.Inputs = []Port{{0, InputName}}
	edge.Outputs = []Port{{cut, "cut"}}
	server.Inputs = edge.Outputs
	server.Outputs = []Port{{g.Heads[0].Output, "a"}, {g.Heads[1].Output, "b"}}
	var files [][]byte
	for _, p := range []*Part{edge, server} {
		b, err := Encode(g, w, ExportOptions{Part: p, DynamicBatch: true})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	j, err := Join(files, []string{"a", "b"}, "resnet18", 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Graph.Heads) != 2 || j.Graph.BackboneParams() != g.BackboneParams() || j.Graph.BackboneMACs() != g.BackboneMACs() {
		t.Errorf("joined: %d heads, %d params, %d MACs; want 2, %d, %d", len(j.Graph.Heads), j.Graph.BackboneParams(), j.Graph.BackboneMACs(), g.BackboneParams(), g.BackboneMACs())
	}
	c := j.Tensor["cut"]
	if j.Graph.Nodes[c].OutShape.String() != g.Nodes[cut].OutShape.String() || j.File[c] != 0 || j.File[j.Graph.Heads[0].Output] != 1 {
		t.Errorf("cut node %d shape %v file %d; head file %d", c, j.Graph.Nodes[c].OutShape, j.File[c], j.File[j.Graph.Heads[0].Output])
	}
	for id := 1; id < len(j.Graph.Nodes); id++ {
		want := 0
		if id > c {
			want = 1
		}
		if j.File[id] != want {
			t.Errorf("node %q from file %d, want %d", j.Graph.Nodes[id].Name, j.File[id], want)
		}
	}
}

func TestPartRefuses(t *testing.T) {
	g, err := model.New("resnet18", 32, []int{8})
	if err != nil {
		t.Fatal(err)
	}
	w, err := engine.RandomWeights(g, 3)
	if err != nil {
		t.Fatal(err)
	}
	cut := g.Blocks[2].Output
	nodes := func(lo, hi int) []bool {
		n := make([]bool, len(g.Nodes))
		for id := lo; id <= hi; id++ {
			n[id] = true
		}
		return n
	}
	last := len(g.Nodes) - 1
	for _, tc := range []struct {
		name string
		part Part
		want string
	}{
		{"missing input", Part{Nodes: nodes(cut+1, last), Outputs: []Port{{last, "a"}}}, "neither computes nor receives"},
		{"output not made", Part{Nodes: nodes(1, cut), Inputs: []Port{{0, "input"}}, Outputs: []Port{{last, "a"}}}, "neither computed nor received"},
		{"same name twice", Part{Nodes: nodes(1, cut), Inputs: []Port{{0, "x"}}, Outputs: []Port{{cut, "x"}}}, "distinct"},
		{"input computed", Part{Nodes: nodes(1, cut), Inputs: []Port{{0, "input"}, {cut, "c"}}, Outputs: []Port{{cut, "o"}}}, "not a tensor made elsewhere"},
		{"weight name", Part{Nodes: nodes(1, cut), Inputs: []Port{{0, "input"}}, Outputs: []Port{{cut, "conv1.weight"}}}, "name of a weight"},
		{"short mask", Part{Nodes: []bool{false}}, "marks 1 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(g, w, ExportOptions{Part: &tc.part})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
