package dataset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Input kinds: what the files of a set are.
const (
	InputImage = "image" // PNG or JPEG, preprocessed as Preprocess says
	InputF32   = "f32"   // raw little-endian float32 tensors, used as they are
)

// ResizeMode says how an image reaches the model's input size.
type ResizeMode string

// Resize modes. Every mode ends at Preprocess.Shape's height and width.
const (
	// ResizeNone takes images as they are: every image must already have
	// the model's input size.
	ResizeNone ResizeMode = "none"
	// ResizeShorter scales the shorter side to ShorterPx (the longer side
	// keeps the aspect ratio, truncated as torchvision's Resize(int) does)
	// and then crops the centre to the input size (torchvision's
	// CenterCrop, offsets rounded half to even like Python's round).
	ResizeShorter ResizeMode = "shorter"
	// ResizeExact scales to the input size, aspect ratio not kept.
	ResizeExact ResizeMode = "exact"
)

// Interpolation names a resampling filter.
type Interpolation string

// InterpBilinear is PyTorch's bilinear interpolation with
// align_corners=False and antialias=False, computed in float32 on values
// already scaled to [0,1]: what torchvision's Resize does to a float tensor
// (torchvision 0.14's default for tensors). It is not PIL's bilinear, which
// widens its filter when shrinking (antialiasing) and rounds to 8 bits after
// each pass; shrinking by more than 2× therefore aliases here as it does in
// PyTorch. Equal bit for bit to a torchvision fixture (testdata/gen_fixture.py).
const InterpBilinear Interpolation = "bilinear"

// InterpBilinearPIL is Pillow's bilinear resize (Image.resize with
// BILINEAR, Pillow 9), which torchvision's Resize uses on PIL images: the
// usual ImageNet evaluation pipeline (PIL open, convert("RGB"), Resize,
// CenterCrop, ToTensor, Normalize). Shrinking widens the filter so every
// covered pixel counts (antialiasing); each of the two passes (rows, then
// columns) rounds to 8 bits in Pillow's 22-bit fixed point. 16-bit images
// are first rounded to 8 bits (v/257), where Pillow would keep the high
// byte. Equal bit for bit to a torchvision fixture on PIL images.
const InterpBilinearPIL Interpolation = "bilinear-pil"

// LayoutNCHW is the only layout: channels, then rows, then columns, float32.
const LayoutNCHW = "NCHW"

// Preprocess is how files become the model's input tensor. It is recorded in
// plans and accuracy tables so a number can be traced to the exact input it
// was measured on; Set.Preprocess returns the completed copy that was used.
//
// Images go: decode → RGB (grey replicated, alpha dropped, palette looked up)
// → values ÷ (2^depth − 1), so 8- and 16-bit images both land in [0,1] →
// resize → (x − Mean[c]) / Std[c] → NCHW float32. Raw .f32 tensors skip
// every step: their Shape is their file's shape, Resize is none and Mean/Std
// are empty.
type Preprocess struct {
	// Input is InputImage or InputF32; Open fills it from the files' names
	// when empty and refuses a set whose files are not what it says.
	Input string `yaml:"input" json:"input"`
	// Shape is one item's tensor shape [C, H, W], the model's input without
	// the batch: C is 3 for images; for .f32 files it is the files' shape.
	Shape []int `yaml:"shape" json:"shape"`
	// Resize is how images reach Shape's H×W; empty means ResizeNone.
	Resize ResizeMode `yaml:"resize" json:"resize"`
	// ShorterPx is the length the shorter side is scaled to with
	// ResizeShorter; it must be at least the crop (Shape's H and W).
	ShorterPx int `yaml:"shorter_px,omitempty" json:"shorter_px,omitempty"`
	// Interpolation is the resampling filter; empty means InterpBilinear
	// when resizing. Recorded empty with ResizeNone.
	Interpolation Interpolation `yaml:"interpolation,omitempty" json:"interpolation,omitempty"`
	// Mean and Std normalize each channel after scaling to [0,1]; both empty
	// (no normalization) or one finite value per channel, Std > 0.
	Mean []float64 `yaml:"mean,omitempty" json:"mean,omitempty"`
	Std  []float64 `yaml:"std,omitempty" json:"std,omitempty"`
	// Layout is LayoutNCHW (float32); empty means that.
	Layout string `yaml:"layout" json:"layout"`
}

// Validate reports the first thing wrong with p, naming the field and what
// would be valid. An empty Input is allowed (Open infers it).
func (p Preprocess) Validate() error {
	_, err := p.complete(p.Input)
	return err
}

// complete checks p for files of the given input kind and returns it with
// defaults filled in.
func (p Preprocess) complete(input string) (Preprocess, error) {
	q := p
	q.Shape = append([]int(nil), p.Shape...)
	q.Mean = append([]float64(nil), p.Mean...)
	q.Std = append([]float64(nil), p.Std...)
	if q.Input == "" {
		q.Input = input
	}
	if q.Layout == "" {
		q.Layout = LayoutNCHW
	}
	if q.Resize == "" {
		q.Resize = ResizeNone
	}
	if q.Layout != LayoutNCHW {
		return q, fmt.Errorf("preprocess: layout %q is not supported (want %s)", q.Layout, LayoutNCHW)
	}
	if len(q.Shape) != 3 {
		return q, fmt.Errorf("preprocess: shape %v must have 3 entries C,H,W (e.g. 3,224,224)", q.Shape)
	}
	for _, d := range q.Shape {
		if d <= 0 {
			return q, fmt.Errorf("preprocess: shape %v must be positive", q.Shape)
		}
	}
	switch q.Input {
	case "", InputImage:
		if q.Shape[0] != 3 {
			return q, fmt.Errorf("preprocess: images become 3 channels (RGB), shape %v asks for %d", q.Shape, q.Shape[0])
		}
	case InputF32:
		if q.Resize != ResizeNone || q.ShorterPx != 0 || q.Interpolation != "" || len(q.Mean) > 0 || len(q.Std) > 0 {
			return q, fmt.Errorf("preprocess: .f32 tensors are used as they are: no resize, interpolation, mean or std (preprocess them yourself or use images)")
		}
		return q, nil
	default:
		return q, fmt.Errorf("preprocess: input %q is not known (want %s or %s)", q.Input, InputImage, InputF32)
	}
	switch q.Resize {
	case ResizeNone:
		if q.ShorterPx != 0 || q.Interpolation != "" {
			return q, fmt.Errorf("preprocess: resize none takes no shorter side or interpolation")
		}
	case ResizeExact:
		if q.ShorterPx != 0 {
			return q, fmt.Errorf("preprocess: resize exact scales to the input size %d×%d and takes no shorter side", q.Shape[1], q.Shape[2])
		}
	case ResizeShorter:
		if crop := max(q.Shape[1], q.Shape[2]); q.ShorterPx < crop {
			return q, fmt.Errorf("preprocess: shorter side %d px is smaller than the %d×%d centre crop (want at least %d)", q.ShorterPx, q.Shape[1], q.Shape[2], crop)
		}
	default:
		return q, fmt.Errorf("preprocess: resize %q is not known (want none, exact or shorter)", q.Resize)
	}
	if q.Resize != ResizeNone {
		if q.Interpolation == "" {
			q.Interpolation = InterpBilinear
		}
		if q.Interpolation != InterpBilinear && q.Interpolation != InterpBilinearPIL {
			return q, fmt.Errorf("preprocess: interpolation %q is not known (want %s or %s)", q.Interpolation, InterpBilinear, InterpBilinearPIL)
		}
	}
	if len(q.Mean) != len(q.Std) {
		return q, fmt.Errorf("preprocess: %d mean values but %d std values (want one of each per channel, or neither)", len(q.Mean), len(q.Std))
	}
	if len(q.Mean) > 0 && len(q.Mean) != q.Shape[0] {
		return q, fmt.Errorf("preprocess: %d mean/std values for %d channels (want %d)", len(q.Mean), q.Shape[0], q.Shape[0])
	}
	for c := range q.Mean {
		if m := q.Mean[c]; math.IsNaN(m) || math.IsInf(m, 0) {
			return q, fmt.Errorf("preprocess: mean[%d] = %v is not finite", c, m)
		}
		if s := q.Std[c]; !(s > 0) || math.IsInf(s, 0) {
			return q, fmt.Errorf("preprocess: std[%d] = %v must be finite and > 0", c, s)
		}
	}
	return q, nil
}

// Elems is the number of float32 values in one item.
func (p Preprocess) Elems() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// String is a one-line account of the pipeline, for tables and logs.
func (p Preprocess) String() string {
	shape := joinInts(p.Shape, "×")
	if p.Input == InputF32 {
		return "raw .f32 tensors " + shape + " used as they are (" + LayoutNCHW + " float32)"
	}
	var b strings.Builder
	b.WriteString("image → RGB [0,1]")
	switch p.Resize {
	case ResizeShorter:
		fmt.Fprintf(&b, " → shorter side %d px, centre crop %d×%d (%s)", p.ShorterPx, hw(p.Shape, 1), hw(p.Shape, 2), p.interp())
	case ResizeExact:
		fmt.Fprintf(&b, " → resize to %d×%d (%s)", hw(p.Shape, 1), hw(p.Shape, 2), p.interp())
	default:
		b.WriteString(" → no resize")
	}
	if len(p.Mean) > 0 {
		fmt.Fprintf(&b, " → mean %s std %s", joinFloats(p.Mean), joinFloats(p.Std))
	}
	fmt.Fprintf(&b, " → %s float32 %s", LayoutNCHW, shape)
	return b.String()
}

func (p Preprocess) interp() Interpolation {
	if p.Interpolation == "" {
		return InterpBilinear
	}
	return p.Interpolation
}

func hw(shape []int, i int) int {
	if i < len(shape) {
		return shape[i]
	}
	return 0
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// ParseResize reads the --resize flag: "none", "exact", or an integer S
// (scale the shorter side to S px, then centre-crop to the model input).
func ParseResize(spec string) (ResizeMode, int, error) {
	switch s := strings.TrimSpace(spec); s {
	case "", string(ResizeNone):
		return ResizeNone, 0, nil
	case string(ResizeExact):
		return ResizeExact, 0, nil
	default:
		n, err := strconv.Atoi(strings.TrimPrefix(s, "shorter="))
		if err != nil || n <= 0 {
			return "", 0, fmt.Errorf("resize %q: want none, exact, or the shorter side in pixels (e.g. 256, then a centre crop to the model input)", spec)
		}
		return ResizeShorter, n, nil
	}
}
