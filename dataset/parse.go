package dataset

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePreprocess reads back the one-line account String writes, as plans
// and accuracy tables record it, so that a runtime prepares its inputs the
// way the recorded numbers were measured. Anything String would not have
// written is refused.
func ParsePreprocess(s string) (Preprocess, error) {
	p, err := parsePreprocess(s)
	if err == nil {
		p, err = p.complete(p.Input)
	}
	if err != nil || p.String() != s {
		return Preprocess{}, fmt.Errorf("preprocess %q: not an account of a pipeline (want e.g. %q)", s,
			Preprocess{Input: InputImage, Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256, Interpolation: InterpBilinearPIL,
				Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}, Layout: LayoutNCHW}.String())
	}
	return p, nil
}

func parsePreprocess(s string) (Preprocess, error) {
	p := Preprocess{Layout: LayoutNCHW, Resize: ResizeNone}
	var err error
	if rest, ok := strings.CutPrefix(s, "raw .f32 tensors "); ok {
		p.Input = InputF32
		shape, _, _ := strings.Cut(rest, " ")
		p.Shape, err = parseInts(shape, "×")
		return p, err
	}
	steps := strings.Split(s, " → ")
	if len(steps) < 4 || steps[0] != "image" || steps[1] != "RGB [0,1]" {
		return p, fmt.Errorf("no image steps")
	}
	p.Input = InputImage
	var h, w int
	var interp string
	switch r := steps[2]; {
	case r == "no resize":
	case strings.HasPrefix(r, "shorter side "):
		p.Resize = ResizeShorter
		_, err = fmt.Sscanf(r, "shorter side %d px, centre crop %d×%d (%s", &p.ShorterPx, &h, &w, &interp)
	case strings.HasPrefix(r, "resize to "):
		p.Resize = ResizeExact
		_, err = fmt.Sscanf(r, "resize to %d×%d (%s", &h, &w, &interp)
	default:
		return p, fmt.Errorf("unknown resize %q", r)
	}
	if err != nil {
		return p, err
	}
	p.Interpolation = Interpolation(strings.TrimSuffix(interp, ")"))
	for _, step := range steps[3 : len(steps)-1] {
		mean, std, ok := strings.Cut(strings.TrimPrefix(step, "mean "), " std ")
		if !ok {
			return p, fmt.Errorf("unknown step %q", step)
		}
		if p.Mean, err = parseFloatList(mean); err != nil {
			return p, err
		}
		if p.Std, err = parseFloatList(std); err != nil {
			return p, err
		}
	}
	shape, ok := strings.CutPrefix(steps[len(steps)-1], LayoutNCHW+" float32 ")
	if !ok {
		return p, fmt.Errorf("no layout")
	}
	p.Shape, err = parseInts(shape, "×")
	return p, err
}

func parseInts(s, sep string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, sep) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloatList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
