package engine

import (
	"fmt"
	"testing"
)

// TestCrossFusions counts the steps fused with the activation opening the
// next block: every ReLU of vgg16 (a block of its own after each
// convolution), vgg16_bn's after each batch norm, resnet18's stem. That
// the fused runs give the unfused values bit for bit is TestSplitEqualsWhole:
// a run to a cut ends before the fusion, a run from it starts after.
func TestCrossFusions(t *testing.T) {
	for _, tc := range []struct {
		model string
		size  int
		want  int
	}{{"vgg16", 32, 13}, {"vgg16_bn", 32, 13}, {"resnet18", 64, 1}, {"mobilenet_v3_small", 57, 0}} {
		t.Run(fmt.Sprintf("%s/%d", tc.model, tc.size), func(t *testing.T) {
			p := compileRandom(t, tc.model, tc.size, nil, Options{Threads: 1, Backend: BestBackend()})
			got := 0
			for _, f := range p.fused {
				if f.step != nil {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("%d steps fused across a cut, want %d", got, tc.want)
			}
		})
	}
}
