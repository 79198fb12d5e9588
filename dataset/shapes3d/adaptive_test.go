package shapes3d

import "testing"

// fullGeometry is newGeometry without the shortcut: every sample of every
// pixel cast.
func fullGeometry(f Factors, size int) geometry {
	ob := newObject(f.Shape, f.Scale)
	cam := newCamera(f.Orientation)
	inv := 1 / float64(size*Supersample)
	g := make(geometry, 3*size*size)
	w := float32(1) / float32(Supersample*Supersample)
	for py := range size {
		for px := range size {
			var acc [3]float32
			for sy := range Supersample {
				for sx := range Supersample {
					u := (2*(float64(px*Supersample+sx)+0.5)*inv - 1) * tanHalfFOV
					v := (1 - 2*(float64(py*Supersample+sy)+0.5)*inv) * tanHalfFOV
					s := ob.shade(cam.pos, cam.fwd.madd(u, cam.right).madd(v, cam.up))
					acc[s.surf] += s.lum
				}
			}
			i := 3 * (py*size + px)
			g[i], g[i+1], g[i+2] = acc[0]*w, acc[1]*w, acc[2]*w
		}
	}
	return g
}

// The shortcut must give the pixels of full supersampling.
func TestSkippedSamplesChangeNothing(t *testing.T) {
	differ := 0
	for g := range Scales * Shapes * Orientations {
		f := Factors{Scale: g / (Shapes * Orientations), Shape: g / Orientations % Shapes, Orientation: g % Orientations}
		a, b := newGeometry(f, 64), fullGeometry(f, 64)
		for i := range a {
			if a[i] != b[i] {
				differ++
				t.Logf("%+v: pixel %d", f, i/3)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d values differ", differ)
	}
}
