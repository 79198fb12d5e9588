package cli

import (
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
	"github.com/mtlsplit/mtlsplit/onnx"
)

// loadONNX reads an ONNX file into a graph and the engine weights from its
// initializers.
func loadONNX(path string) (*model.Graph, *engine.Weights, error) {
	im, err := onnx.Load(path)
	if err != nil {
		return nil, nil, err
	}
	w, err := engine.NewWeights(im.Graph)
	if err != nil {
		return nil, nil, err
	}
	for node, params := range im.Weights {
		for param, data := range params {
			if err := w.Set(node, param, data); err != nil {
				return nil, nil, err
			}
		}
	}
	return im.Graph, w, nil
}
