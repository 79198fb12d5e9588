package dataset

import (
	"reflect"
	"strings"
	"testing"
)

// TestParsePreprocessRoundTrip: every account String writes parses back
// to the same pipeline; anything else is refused with an example.
func TestParsePreprocessRoundTrip(t *testing.T) {
	good := []Preprocess{
		{Input: InputImage, Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256, Interpolation: InterpBilinearPIL,
			Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}},
		{Input: InputImage, Shape: []int{3, 64, 48}, Resize: ResizeExact, Interpolation: InterpBilinear},
		{Input: InputImage, Shape: []int{3, 32, 32}, Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.25, 1e-3, 2}},
		{Input: InputImage, Shape: []int{3, 64, 64}},
		{Input: InputF32, Shape: []int{1, 28, 28}},
	}
	for _, in := range good {
		want, err := in.complete(in.Input)
		if err != nil {
			t.Fatal(err)
		}
		s := want.String()
		t.Run(s, func(t *testing.T) {
			got, err := ParsePreprocess(s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parsed %+v, want %+v", got, want)
			}
		})
	}
	for _, bad := range []string{
		"",
		"image → RGB [0,1] → no resize",
		"image → RGB [0,1] → squash → NCHW float32 3×64×64",
		"image → RGB [0,1] → resize to 64×64 (nearest) → NCHW float32 3×64×64",
		"image → RGB [0,1] → no resize → mean 0.5 std x → NCHW float32 3×64×64",
		"image → RGB [0,1] → no resize → NCHW float32 3×64×64 ",
		"raw .f32 tensors 1×a used as they are (NCHW float32)",
	} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParsePreprocess(bad); err == nil || !strings.Contains(err.Error(), "want e.g. \"image → RGB [0,1] → shorter side 256 px") {
				t.Errorf("err %v", err)
			}
		})
	}
}
