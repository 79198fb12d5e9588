package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hugeFiles are small files in testdata that declare networks far too big
// for memory. The import reads what the file holds and allocates nothing
// by a declared size: the huge ones import (the engine's memory plan
// refuses them, see the CLI tests), the ones declaring data they lack are
// an error. TestHugeFiles -update writes them.
var hugeFiles = []struct {
	file  string
	make  func() []byte
	shape string // the output shape the import computes; empty for an error
	err   string
}{
	{file: "huge_input", shape: "[4 20000 20000]", make: func() []byte {
		convNode, convInits := conv1("/0/Conv", "x", "y")
		return testModel{output: "y", input: []int64{1, 3, 20000, 20000}, nodes: [][]byte{convNode}, inits: convInits}.encode()
	}},
	{file: "huge_pads", shape: "[4 200006 200006]", make: func() []byte {
		return testModel{output: "y", nodes: [][]byte{node("/0/Conv", "Conv", []string{"x", "y.w"}, []string{"y"},
			intsAttr("kernel_shape", 3, 3), intsAttr("pads", 100000, 100000, 100000, 100000))},
			inits: [][]byte{floatTensor("y.w", []int64{4, 3, 3, 3}, seq(108, 0.1))}}.encode()
	}},
	// 4·(2·10⁹)² elements: more than a count of bytes can hold, so the
	// graph builder refuses it before the engine plans its memory.
	{file: "huge_pad_node", err: "its output [4 2000000006 2000000006] would be 1.6e+19 elements", make: func() []byte {
		return testModel{output: "y", nodes: [][]byte{
			node("/0/Pad", "Pad", []string{"x", "pads"}, []string{"p"}),
			node("/0/Conv", "Conv", []string{"p", "y.w"}, []string{"y"}, intsAttr("kernel_shape", 3, 3))},
			inits: [][]byte{intTensor("pads", 0, 0, 1e9, 1e9, 0, 0, 1e9, 1e9), floatTensor("y.w", []int64{4, 3, 3, 3}, seq(108, 0.1))}}.encode()
	}},
	{file: "huge_init.bad", err: `tensor "y.w": 0 raw bytes for 12884901888 floats`, make: func() []byte {
		return testModel{output: "y", nodes: [][]byte{node("/0/Conv", "Conv", []string{"x", "y.w"}, []string{"y"}, intsAttr("kernel_shape", 256, 256))},
			inits: [][]byte{floatTensor("y.w", []int64{65536, 3, 256, 256}, nil)}}.encode()
	}},
	{file: "huge_init_dims.bad", err: `tensor "y.w": invalid dims [4294967296 4294967296 3 3]`, make: func() []byte {
		return testModel{output: "y", nodes: [][]byte{node("/0/Conv", "Conv", []string{"x", "y.w"}, []string{"y"}, intsAttr("kernel_shape", 3, 3))},
			inits: [][]byte{floatTensor("y.w", []int64{1 << 32, 1 << 32, 3, 3}, nil)}}.encode()
	}},
}

func TestHugeFiles(t *testing.T) {
	for _, hf := range hugeFiles {
		t.Run(hf.file, func(t *testing.T) {
			path := filepath.Join("testdata", hf.file+".onnx")
			if *update {
				if err := os.WriteFile(path, hf.make(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			im, err := Load(path)
			if hf.err != "" {
				if err == nil || !strings.Contains(err.Error(), hf.err) {
					t.Fatalf("error %v, want one containing %q", err, hf.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := im.Graph.Nodes[im.Graph.Backbone()].OutShape.String(); got != hf.shape {
				t.Errorf("output shape %s, want %s", got, hf.shape)
			}
		})
	}
}
