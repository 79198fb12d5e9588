package train

import (
	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/model"
)

// The weights file format lives in package engine, so that the runtime
// reads trained weights without linking the trainer.

// EncodeSafetensors writes every tensor of w in graph order with meta.
func EncodeSafetensors(w *engine.Weights, meta map[string]string) ([]byte, error) {
	return engine.EncodeSafetensors(w, meta)
}

// DecodeSafetensors reads weights for g from a safetensors file and
// returns them with the file's metadata (engine.DecodeSafetensors).
func DecodeSafetensors(b []byte, g *model.Graph) (*engine.Weights, map[string]string, error) {
	return engine.DecodeSafetensors(b, g)
}
