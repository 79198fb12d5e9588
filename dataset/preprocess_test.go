package dataset

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPreprocessValidate(t *testing.T) {
	s := []int{3, 224, 224}
	for _, c := range []struct {
		name string
		p    Preprocess
		want string // "" for valid
	}{
		{"zero with a shape", Preprocess{Shape: s}, ""},
		{"imagenet", Preprocess{Shape: s, Resize: ResizeShorter, ShorterPx: 256, Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}, ""},
		{"exact", Preprocess{Shape: []int{3, 64, 48}, Resize: ResizeExact, Interpolation: InterpBilinear}, ""},
		{"f32", Preprocess{Input: InputF32, Shape: []int{8, 7, 7}}, ""},
		{"no shape", Preprocess{}, "shape [] must have 3 entries C,H,W"},
		{"zero dimension", Preprocess{Shape: []int{3, 0, 4}}, "shape [3 0 4] must be positive"},
		{"grey shape for images", Preprocess{Shape: []int{1, 4, 4}}, "images become 3 channels (RGB), shape [1 4 4] asks for 1"},
		{"unknown input", Preprocess{Input: "npy", Shape: s}, `input "npy" is not known (want image or f32)`},
		{"unknown layout", Preprocess{Shape: s, Layout: "NHWC"}, `layout "NHWC" is not supported (want NCHW)`},
		{"unknown resize", Preprocess{Shape: s, Resize: "fit"}, `resize "fit" is not known (want none, exact or shorter)`},
		{"shorter below crop", Preprocess{Shape: []int{3, 224, 200}, Resize: ResizeShorter, ShorterPx: 223}, "shorter side 223 px is smaller than the 224×200 centre crop (want at least 224)"},
		{"shorter unset", Preprocess{Shape: s, Resize: ResizeShorter}, "shorter side 0 px is smaller"},
		{"shorter px with exact", Preprocess{Shape: s, Resize: ResizeExact, ShorterPx: 256}, "resize exact scales to the input size 224×224 and takes no shorter side"},
		{"interpolation without resize", Preprocess{Shape: s, Interpolation: InterpBilinear}, "resize none takes no shorter side or interpolation"},
		{"unknown interpolation", Preprocess{Shape: s, Resize: ResizeExact, Interpolation: "bicubic"}, `interpolation "bicubic" is not known (want bilinear`},
		{"mean without std", Preprocess{Shape: s, Mean: []float64{0, 0, 0}}, "3 mean values but 0 std values"},
		{"two channels of mean", Preprocess{Shape: s, Mean: []float64{0, 0}, Std: []float64{1, 1}}, "2 mean/std values for 3 channels (want 3)"},
		{"NaN mean", Preprocess{Shape: s, Mean: []float64{0, math.NaN(), 0}, Std: []float64{1, 1, 1}}, "mean[1] = NaN is not finite"},
		{"infinite mean", Preprocess{Shape: s, Mean: []float64{0, 0, math.Inf(1)}, Std: []float64{1, 1, 1}}, "mean[2] = +Inf is not finite"},
		{"zero std", Preprocess{Shape: s, Mean: []float64{0, 0, 0}, Std: []float64{1, 0, 1}}, "std[1] = 0 must be finite and > 0"},
		{"negative std", Preprocess{Shape: s, Mean: []float64{0, 0, 0}, Std: []float64{-1, 1, 1}}, "std[0] = -1 must be finite and > 0"},
		{"NaN std", Preprocess{Shape: s, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, math.NaN()}}, "std[2] = NaN must be finite and > 0"},
		{"infinite std", Preprocess{Shape: s, Mean: []float64{0, 0, 0}, Std: []float64{math.Inf(1), 1, 1}}, "std[0] = +Inf must be finite and > 0"},
		{"f32 with resize", Preprocess{Input: InputF32, Shape: s, Resize: ResizeExact}, ".f32 tensors are used as they are"},
		{"f32 with mean", Preprocess{Input: InputF32, Shape: s, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}, ".f32 tensors are used as they are"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("accepted; want %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q, want %q", err, c.want)
			}
		})
	}
}

func TestPreprocessString(t *testing.T) {
	for _, c := range []struct {
		p    Preprocess
		want string
	}{
		{Preprocess{Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256, Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}},
			"image → RGB [0,1] → shorter side 256 px, centre crop 224×224 (bilinear) → mean 0.485,0.456,0.406 std 0.229,0.224,0.225 → NCHW float32 3×224×224"},
		{Preprocess{Shape: []int{3, 64, 48}, Resize: ResizeExact}, "image → RGB [0,1] → resize to 64×48 (bilinear) → NCHW float32 3×64×48"},
		{Preprocess{Shape: []int{3, 64, 64}}, "image → RGB [0,1] → no resize → NCHW float32 3×64×64"},
		{Preprocess{Input: InputF32, Shape: []int{16, 8, 8}}, "raw .f32 tensors 16×8×8 used as they are (NCHW float32)"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestParseResize(t *testing.T) {
	for _, c := range []struct {
		spec    string
		mode    ResizeMode
		shorter int
		bad     bool
	}{
		{"none", ResizeNone, 0, false},
		{"", ResizeNone, 0, false},
		{"exact", ResizeExact, 0, false},
		{"256", ResizeShorter, 256, false},
		{"shorter=72", ResizeShorter, 72, false},
		{"0", "", 0, true},
		{"-3", "", 0, true},
		{"256x224", "", 0, true},
		{"fit", "", 0, true},
	} {
		mode, n, err := ParseResize(c.spec)
		if (err != nil) != c.bad || mode != c.mode || n != c.shorter {
			t.Errorf("ParseResize(%q) = %q, %d, %v; want %q, %d, error %v", c.spec, mode, n, err, c.mode, c.shorter, c.bad)
		}
	}
	if _, _, err := ParseResize("fit"); err == nil || !strings.Contains(err.Error(), "want none, exact, or the shorter side in pixels") {
		t.Errorf("error %v does not say what is valid", err)
	}
}

// TestBilinearByHand: a 2×2 plane [[0,1],[2,3]] scaled to 4×4 and a 1×4 row
// scaled to 1×2, worked out on paper from src = (d+0.5)·in/out − 0.5.
func TestBilinearByHand(t *testing.T) {
	// Up 2 → 4: scale 0.5, sources 0 (clamped from −0.25), 0.25, 0.75, 1.25
	// (past the last sample: all weight on sample 1). Along a row the
	// values are 0, 0.25, 0.75, 1; between rows they step by 2× that.
	src := []float32{0, 1, 2, 3}
	planes := append(append(append([]float32{}, src...), src...), src...)
	dst := make([]float32, 3*16)
	p := Preprocess{Shape: []int{3, 4, 4}, Resize: ResizeExact}
	if err := transform(p, planes, 2, 2, dst); err != nil {
		t.Fatal(err)
	}
	r := []float32{0, 0.25, 0.75, 1}
	for y := range 4 {
		for x := range 4 {
			if want := 2*r[y] + r[x]; dst[y*4+x] != want || dst[32+y*4+x] != want {
				t.Errorf("up (%d,%d) = %v, want %v", y, x, dst[y*4+x], want)
			}
		}
	}
	// Down 4 → 2: scale 2, sources 0.5 and 2.5: the mean of samples 0,1 and
	// of 2,3; samples are not averaged beyond two taps (no antialiasing).
	row := []float32{0, 1, 2, 10}
	down := make([]float32, 3*2)
	if err := transform(Preprocess{Shape: []int{3, 1, 2}, Resize: ResizeExact}, append(append(append([]float32{}, row...), row...), row...), 1, 4, down); err != nil {
		t.Fatal(err)
	}
	if down[0] != 0.5 || down[1] != 6 {
		t.Errorf("down = %v, want [0.5 6]", down[:2])
	}
}

// TestShorterAndCrop: torchvision's Resize(int) sizes (long side truncated)
// and CenterCrop offsets (Python's round: halves to even).
func TestShorterAndCrop(t *testing.T) {
	for _, c := range []struct{ h, w, s, wantH, wantW int }{
		{29, 37, 20, 20, 25}, // 20·37/29 = 25.52 → 25
		{300, 200, 256, 384, 256},
		{480, 640, 256, 256, 341}, // 341.33
		{100, 100, 64, 64, 64},
	} {
		if h, w := shorterSize(c.h, c.w, c.s); h != c.wantH || w != c.wantW {
			t.Errorf("shorterSize(%d×%d, %d) = %d×%d, want %d×%d", c.h, c.w, c.s, h, w, c.wantH, c.wantW)
		}
	}
	for _, c := range []struct{ size, crop, want int }{
		{33, 24, 4}, // 4.5 → 4
		{35, 24, 6}, // 5.5 → 6
		{256, 224, 16},
		{341, 224, 58}, // 58.5 → 58
		{224, 224, 0},
	} {
		if got := cropOffset(c.size, c.crop); got != c.want {
			t.Errorf("cropOffset(%d, %d) = %d, want %d", c.size, c.crop, got, c.want)
		}
	}
}

// TestNormalizeByHand: (x − mean) / std per channel.
func TestNormalizeByHand(t *testing.T) {
	p := Preprocess{Shape: []int{3, 1, 2}, Mean: []float64{0.5, 0, 1}, Std: []float64{0.25, 2, 0.5}}
	dst := []float32{0.5, 1, 0, 1, 1, 0}
	normalize(p, dst, 2)
	want := []float32{0, 2, 0, 0.5, 0, -2}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("normalized %v, want %v", dst, want)
			break
		}
	}
}

// TestPILByHand: Pillow's bilinear shrinking a row 0,255,0,255 to 2 pixels.
// Scale 2 widens the triangle to support 2: output 0 is centred at 1.0 and
// covers samples 0–2 at distances 0.25, 0.25, 0.75 (after ÷2), weights
// 3/7, 3/7, 1/7 in 22-bit fixed point (1797559, 1797559, 599186):
// (2^21 + 255·1797559) >> 22 = 109. Output 1 covers samples 1–3 with
// weights 1/7, 3/7, 3/7: (2^21 + 255·(599186+1797559)) >> 22 = 146.
// PyTorch's bilinear would give 127.5 for both.
func TestPILByHand(t *testing.T) {
	row := []float32{0, 1, 0, 1}
	planes := append(append(append([]float32{}, row...), row...), row...)
	dst := make([]float32, 6)
	p := Preprocess{Shape: []int{3, 1, 2}, Resize: ResizeExact, Interpolation: InterpBilinearPIL}
	if err := transform(p, planes, 1, 4, dst); err != nil {
		t.Fatal(err)
	}
	if want := []float32{109.0 / 255, 146.0 / 255}; dst[0] != want[0] || dst[1] != want[1] || dst[4] != want[0] {
		t.Errorf("got %v·255, want [109 146]", []float32{dst[0] * 255, dst[1] * 255})
	}
	tp := newPILTaps(4, 2, 0, 2)
	if tp.lo[0] != 0 || tp.n[0] != 3 || tp.k[0] != 1797559 || tp.k[2] != 599186 || tp.lo[1] != 1 || tp.k[tp.ksize] != 599186 {
		t.Errorf("taps %+v", tp)
	}
}

// TestPreprocessRecord: the completed value a set reports survives YAML and
// JSON, as it will inside a plan.
func TestPreprocessRecord(t *testing.T) {
	p, err := Preprocess{Shape: []int{3, 224, 224}, Resize: ResizeShorter, ShorterPx: 256,
		Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}.complete(InputImage)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "input: image\nshape:\n    - 3\n    - 224\n    - 224\nresize: shorter\nshorter_px: 256\ninterpolation: bilinear\nmean:\n    - 0.485\n    - 0.456\n    - 0.406\nstd:\n    - 0.229\n    - 0.224\n    - 0.225\nlayout: NCHW\n"
	if string(y) != want {
		t.Errorf("YAML:\n%s\nwant:\n%s", y, want)
	}
	var back Preprocess
	dec := yaml.NewDecoder(bytes.NewReader(y))
	dec.KnownFields(true)
	if err := dec.Decode(&back); err != nil || back.String() != p.String() {
		t.Errorf("YAML round trip: %v, %s", err, back)
	}
	j, _ := json.Marshal(p)
	var fromJSON Preprocess
	if err := json.Unmarshal(j, &fromJSON); err != nil || fromJSON.String() != p.String() || fromJSON.Validate() != nil {
		t.Errorf("JSON round trip: %v, %s", err, fromJSON)
	}
}
