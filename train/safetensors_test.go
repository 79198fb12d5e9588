package train

import (
	"slices"
	"strings"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	g := smallGraph(t)
	tr, err := New(g, Config{Batch: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	w, err := tr.Weights()
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeSafetensors(w, map[string]string{"model": "small"})
	if err != nil {
		t.Fatal(err)
	}
	back, meta, err := DecodeSafetensors(b, g)
	if err != nil {
		t.Fatal(err)
	}
	if meta["model"] != "small" {
		t.Errorf("metadata %v", meta)
	}
	for _, p := range w.Params() {
		if !slices.Equal(back.Get(p.Node, p.Param), w.Get(p.Node, p.Param)) {
			t.Errorf("%s differs after the round trip", p.Key())
		}
	}
	other := zoo(t, "resnet18", 32)
	if _, _, err := DecodeSafetensors(b, other); err == nil || !strings.Contains(err.Error(), "no tensor conv1.weight") {
		t.Errorf("decoding small weights for resnet18: %v; want a missing conv1.weight", err)
	}
	if _, _, err := DecodeSafetensors(b[:20], g); err == nil {
		t.Error("a truncated file decoded")
	}
}
