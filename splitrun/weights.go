package splitrun

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/mtlsplit/mtlsplit/engine"
	"github.com/mtlsplit/mtlsplit/plan"
)

// LoadWeights gives a zoo model the trained weights of a safetensors file
// (as 'mtlsplit train --out FILE.safetensors' writes them) instead of
// seeded random ones. The file must hold exactly the plan's graph's
// tensors (model, input size and tasks), else it is refused naming the
// first that differs. Its SHA-256 becomes the model's identity, which
// edge and server compare.
func (m *Model) LoadWeights(path string) error {
	if s := m.Plan.Model.Source; s != nil && s.Kind == plan.SourceONNX {
		return fmt.Errorf("%s: the plan's model is an ONNX file, which carries its weights", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	w, _, err := engine.DecodeSafetensors(b, m.Graph)
	if err != nil {
		return fmt.Errorf("%s for %s at %d px with tasks %v: %w", path, m.Plan.Model.Name, m.Plan.Model.InputSize, m.Plan.Classes(), err)
	}
	params := map[string]map[string][]float32{}
	for _, p := range w.Params() {
		if params[p.Node] == nil {
			params[p.Node] = map[string][]float32{}
		}
		params[p.Node][p.Param] = w.Get(p.Node, p.Param)
	}
	sum := sha256.Sum256(b)
	m.params, m.sha = params, hex.EncodeToString(sum[:])
	return nil
}
