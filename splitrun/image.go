package splitrun

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// normalization turns the camera's 8-bit RGB planes into the model's
// float input as the plan's accuracy was measured (model.source.preprocess,
// as package dataset writes it: "image → RGB [0,1] → … → mean M std S →
// NCHW float32 …"): v/255, then (v − mean)/std per channel, in float32
// as dataset does, so a server normalizing the bytes gives the edge's
// float input bit for bit.
type normalization struct {
	mean, std []float32
}

// normalization parses the plan's preprocessing; nil and an error say why
// raw images cannot be taken.
func (m *Model) normalization() (*normalization, error) {
	var pre string
	if s := m.Plan.Model.Source; s != nil {
		pre = s.Preprocess
	}
	if !strings.HasPrefix(pre, "image → RGB [0,1]") {
		return nil, fmt.Errorf("the plan records no image preprocessing (model.source.preprocess is %q): send the input as fp32", pre)
	}
	n := &normalization{}
	if _, rest, ok := strings.Cut(pre, " → mean "); ok {
		mean, rest, _ := strings.Cut(rest, " std ")
		std, _, _ := strings.Cut(rest, " → ")
		var err error
		if n.mean, err = floats(mean); err == nil {
			n.std, err = floats(std)
		}
		if err != nil || len(n.mean) != len(n.std) {
			return nil, fmt.Errorf("model.source.preprocess %q: cannot read its mean and std", pre)
		}
	}
	return n, nil
}

func floats(s string) ([]float32, error) {
	var out []float32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, float32(v))
	}
	return out, nil
}

// apply fills dst (C planes) from img's bytes.
func (n *normalization) apply(dst []float32, img []byte) error {
	if len(img) != len(dst) {
		return fmt.Errorf("image of %d bytes; the input takes %d", len(img), len(dst))
	}
	for i, b := range img {
		dst[i] = float32(b) / 255
	}
	if len(n.mean) == 0 {
		return nil
	}
	plane := len(dst) / len(n.mean)
	if plane*len(n.mean) != len(dst) {
		return fmt.Errorf("%d mean values for an input of %d values", len(n.mean), len(dst))
	}
	for c := range n.mean {
		for i := c * plane; i < (c+1)*plane; i++ {
			dst[i] = (dst[i] - n.mean[c]) / n.std[c]
		}
	}
	return nil
}

// image recovers the 8-bit image a normalized input was made from, or nil
// when in is not exactly one (a resized or synthetic input): normalizing
// the recovered bytes must give in back bit for bit, so nothing is lost by
// sending them instead of the input's int8 codes.
func (m *Model) image(in []float32) []byte {
	n, err := m.normalization()
	if err != nil || len(in) == 0 {
		return nil
	}
	plane := len(in)
	if len(n.mean) > 0 {
		plane = len(in) / len(n.mean)
	}
	img := make([]byte, len(in))
	for i, x := range in {
		if len(n.mean) > 0 {
			c := min(i/plane, len(n.mean)-1)
			x = x*n.std[c] + n.mean[c]
		}
		u := math.Round(float64(x) * 255)
		if !(u >= 0 && u <= 255) {
			return nil
		}
		img[i] = byte(u)
	}
	back := make([]float32, len(in))
	if n.apply(back, img) != nil || !slices.Equal(back, in) {
		return nil
	}
	return img
}
