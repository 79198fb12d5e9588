package cli

import (
	"fmt"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// loadONNX reads an ONNX file into a graph and engine weights.
func loadONNX(path string) (*model.Graph, *engine.Weights, error) {
	return nil, nil, fmt.Errorf("%s: ONNX import is not in this build yet", path)
}
