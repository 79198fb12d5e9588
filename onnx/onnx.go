package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlsplit/mtlsplit/model"
)

// Imported is an ONNX model read into the project's graph.
type Imported struct {
	// Graph is the file's network. With one output it is all backbone,
	// without heads. With several, each output is a task named after it:
	// the layers that feed only that output are its head (any sub-graph
	// branching from the backbone's output), the layers that feed several
	// are the shared backbone. Its name is the file's base name for Load
	// and the ONNX graph's name for Parse. Nodes
	// are named by their torch module path when the file has one
	// ("1.block.0.0"; functional ops get ".add", ".mul", ".concat"), else by
	// their ONNX node name. A block's Type is its op when it has one node
	// and "Subgraph" otherwise: ONNX does not record module classes.
	Graph *model.Graph
	// Weights holds every parameter tensor by model node name, then by
	// PyTorch parameter name, as flat float32 slices in PyTorch's C-order
	// layout — the state_dict layout, so node + "." + param is the
	// state_dict key:
	//
	//	Conv2d       weight [out, in/groups, k, k], bias [out] if present
	//	Linear       weight [out, in], bias [out] if present; Gemm and MatMul
	//	             weights are transposed to it and alpha/beta folded in
	//	BatchNorm2d  weight (γ), bias (β), running_mean, running_var, each
	//	             [C]; ε is the node's Eps
	//
	// torch.onnx folds an eval-mode batch norm into the conv before it,
	// which then has a bias and no BatchNorm2d follows: the graph holds what
	// the file holds.
	Weights map[string]map[string][]float32
	// Cuts lists, in order, every backbone node ID after which exactly one
	// tensor is live, the backbone's output included. Block outputs are
	// among them; Cuts also has the finer ones inside blocks (after each
	// layer of a chain).
	Cuts []int
	// Opset is the file's ai.onnx opset; Producer names the exporter
	// ("pytorch 1.13.0").
	Opset    int64
	Producer string
	// Input is the ONNX name of the input tensor; Outputs those of the
	// outputs, in the file's order (task k's head makes Outputs[k]).
	Input   string
	Outputs []string
	// made maps the ONNX tensor each node writes to the node, and tensors
	// every activation tensor name, aliases included: for Join.
	made, tensors map[string]int
}

// UnsupportedOpError says the file uses an op (or a form of an op) that
// the project's graph cannot hold.
type UnsupportedOpError struct {
	Op, Node string
	Reason   string // empty when the op is not supported at all
}

func (e *UnsupportedOpError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("unsupported ONNX op %q at node %q", e.Op, e.Node)
	}
	return fmt.Sprintf("unsupported ONNX op %q at node %q: %s", e.Op, e.Node, e.Reason)
}

// ErrNotONNX is wrapped by the error for input that is not an ONNX model
// (truncated, not protobuf, or protobuf without a graph).
var ErrNotONNX = errors.New("not an ONNX model")

// ErrDynamicSize is wrapped by the error for a file whose input leaves its
// height and width dynamic when no size was given (LoadAt).
var ErrDynamicSize = errors.New("the image height and width are dynamic and no size was given")

// Load reads the .onnx file at path; its input must have a fixed size.
func Load(path string) (*Imported, error) { return LoadAt(path, 0) }

// LoadAt reads the .onnx file at path, giving a dynamic input height and
// width size pixels (0: none). A fixed size is the file's: size never
// changes it.
func LoadAt(path string, size int) (*Imported, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load onnx: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	im, err := parse(data, name, size)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return im, nil
}

// Parse reads an ONNX model from r.
func Parse(r io.Reader) (*Imported, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read onnx: %w", err)
	}
	return parse(data, "", 0)
}

func parse(data []byte, name string, size int) (*Imported, error) {
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	if m.graph == nil || m.irVersion <= 0 || len(m.graph.nodes) == 0 {
		return nil, fmt.Errorf("%w: no graph", ErrNotONNX)
	}
	opset, ok := m.opsets[""]
	if v, ok2 := m.opsets["ai.onnx"]; !ok && ok2 {
		opset, ok = v, true
	}
	if !ok {
		opset = 1 // ONNX: a missing default-domain import means opset 1
	}
	if name == "" {
		name = m.graph.name
	}
	if name == "" {
		name = "onnx"
	}
	im, err := importGraph(m.graph, opset, name, size)
	if err != nil {
		return nil, err
	}
	im.Opset, im.Producer = opset, strings.TrimSpace(m.producer+" "+m.producerVersion)
	return im, nil
}
