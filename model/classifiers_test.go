package model

import (
	"strings"
	"testing"
)

// TestClassifiers checks the whole classifiers against torchvision's
// parameter counts (sum(p.numel() for p in m.parameters()) at 1000
// classes; EfficientNet-Lite0 and MobileNetV1 from their reference
// implementations) and MACs at 224×224.
func TestClassifiers(t *testing.T) {
	tests := []struct {
		name   string
		params int64
		macs   int64
	}{
		{"resnet18", 11689512, 1814073344},
		{"resnet50", 25557032, 4089184256},
		{"vgg16", 138357544, 15470264320},
		{"mobilenet_v1", 4231976, 568740352},
		{"mobilenet_v2", 3504872, 300774272},
		{"mobilenet_v3_small", 2542856, 56510400},
		{"mobilenet_v3_large", 5483032, 216589760},
		{"efficientnet_b0", 5288548, 385814752},
		{"efficientnet_lite0", 4652008, 385187552},
	}
	if len(tests) != len(Classifiers()) {
		t.Fatalf("%d cases for %d classifiers", len(tests), len(Classifiers()))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Classifier(tc.name, 224)
			if err != nil {
				t.Fatal(err)
			}
			var params, macs int64
			for _, n := range g.Nodes {
				params += n.Params
				macs += n.MACs
			}
			if params != tc.params || macs != tc.macs {
				t.Errorf("params %d, MACs %d; want %d, %d", params, macs, tc.params, tc.macs)
			}
			if out := g.Nodes[len(g.Nodes)-1].OutShape; len(out) != 1 || out[0] != ImageNetClasses {
				t.Errorf("output %v, want [%d]", out, ImageNetClasses)
			}
		})
	}
}

func TestClassifierBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		want string
	}{
		{"resnet51", 224, `unknown classifier "resnet51"`},
		{"resnet50", 8, "input size 8 px"},
	} {
		if _, err := Classifier(tc.name, tc.size); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Classifier(%q, %d) = %v, want %q", tc.name, tc.size, err, tc.want)
		}
	}
}
