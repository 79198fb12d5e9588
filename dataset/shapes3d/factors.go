package shapes3d

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// The number of values of each factor, as in 3dshapes.
const (
	FloorHues    = 10
	WallHues     = 10
	ObjectHues   = 10
	Scales       = 8
	Shapes       = 4
	Orientations = 15

	// NumScenes is every combination of the six factors.
	NumScenes = FloorHues * WallHues * ObjectHues * Scales * Shapes * Orientations
)

// The shapes, numbered as in 3dshapes.
const (
	Cube = iota
	Cylinder
	Sphere
	Capsule
)

// ShapeNames are the shapes in label order.
var ShapeNames = [Shapes]string{"cube", "cylinder", "sphere", "capsule"}

// Factors is one scene: each field is a class index (0-based), not a value.
// Hue k is k/10 of the HSV circle, scale k is 0.75 + k·0.5/7 and
// orientation k is -30° + k·60/14.
type Factors struct {
	FloorHue, WallHue, ObjectHue, Scale, Shape, Orientation int
}

// Columns are the factor names in label order (the labels.csv header).
var Columns = [6]string{"floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"}

var sizes = [6]int{FloorHues, WallHues, ObjectHues, Scales, Shapes, Orientations}

func (f Factors) values() [6]int {
	return [6]int{f.FloorHue, f.WallHue, f.ObjectHue, f.Scale, f.Shape, f.Orientation}
}

// Validate reports the first factor out of its range.
func (f Factors) Validate() error {
	for i, v := range f.values() {
		if v < 0 || v >= sizes[i] {
			return fmt.Errorf("shapes3d: %s %d out of range [0, %d)", Columns[i], v, sizes[i])
		}
	}
	return nil
}

// Index is the scene's position in the original's order: floor hue slowest,
// orientation fastest.
func (f Factors) Index() int {
	idx := 0
	for i, v := range f.values() {
		idx = idx*sizes[i] + v
	}
	return idx
}

// FromIndex inverts Index. It reports an error for an index outside
// [0, NumScenes).
func FromIndex(idx int) (Factors, error) {
	if idx < 0 || idx >= NumScenes {
		return Factors{}, fmt.Errorf("shapes3d: scene index %d out of range [0, %d)", idx, NumScenes)
	}
	var v [6]int
	for i := 5; i >= 0; i-- {
		v[i] = idx % sizes[i]
		idx /= sizes[i]
	}
	return Factors{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}

// Split is a part of the scene space.
type Split int

const (
	// Train holds the scenes with floor hue < 5 or wall hue < 5 (360,000).
	Train Split = iota
	// Test holds the scenes whose floor and wall hues are both ≥ 5
	// (120,000): colour pairs the training set never shows.
	Test
	// All is every scene.
	All
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	case All:
		return "all"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// ParseSplit reads "train", "test" or "all".
func ParseSplit(s string) (Split, error) {
	for _, sp := range []Split{Train, Test, All} {
		if s == sp.String() {
			return sp, nil
		}
	}
	return 0, fmt.Errorf("unknown split %q (valid: train, test, all)", s)
}

// Split is the part of MTL-Split's out-of-distribution colour split the
// scene belongs to: Train or Test, never All.
func (f Factors) Split() Split {
	if f.FloorHue >= FloorHues/2 && f.WallHue >= WallHues/2 {
		return Test
	}
	return Train
}

// Contains reports whether the scene belongs to s.
func (s Split) Contains(f Factors) bool { return s == All || f.Split() == s }

// Indices are the scene indices of s in ascending order.
func (s Split) Indices() []int {
	out := make([]int, 0, s.Len())
	for idx := range NumScenes {
		f, _ := FromIndex(idx)
		if s.Contains(f) {
			out = append(out, idx)
		}
	}
	return out
}

// Len is the number of scenes in s, counted from the rule rather than by
// enumeration.
func (s Split) Len() int {
	rest := NumScenes / (FloorHues * WallHues)
	test := (FloorHues - FloorHues/2) * (WallHues - WallHues/2) * rest
	switch s {
	case Train:
		return NumScenes - test
	case Test:
		return test
	}
	return NumScenes
}

// Sample draws n distinct scenes of s, the same ones for the same seed,
// and returns their indices in ascending order.
func Sample(s Split, n int, seed uint64) ([]int, error) {
	all := s.Indices()
	if n < 1 || n > len(all) {
		return nil, fmt.Errorf("cannot sample %d scenes: the %s split has %d (valid: 1..%d)", n, s, len(all), len(all))
	}
	rng := rand.New(rand.NewPCG(seed, 0x5348415045533344)) // "SHAPES3D"
	// A partial Fisher–Yates shuffle: the first n positions are the sample.
	for i := range n {
		j := i + rng.IntN(len(all)-i)
		all[i], all[j] = all[j], all[i]
	}
	out := all[:n:n]
	slices.Sort(out)
	return out, nil
}
