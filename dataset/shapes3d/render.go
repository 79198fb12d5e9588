package shapes3d

import (
	"fmt"
	"image"
	"math"
	"sync"
)

// The scene, in room coordinates (metres, y up, the object on the floor at
// the origin). These are this package's choices: 3dshapes publishes its
// factors but not its camera or lights.
const (
	// Supersample is the samples per pixel side: 3×3 samples per pixel
	// anti-alias edges and the shadow.
	Supersample = 3

	// MinSize and MaxSize bound the image side in pixels.
	MinSize = 8
	MaxSize = 512

	roomHalfWidth = 3.0 // side walls at x = ±3
	backWall      = 3.0 // back wall at z = -3
	camDistance   = 3.9 // the camera orbits the object at this radius…
	camHeight     = 1.8 // …and height, looking at (0, lookAtY, 0)
	lookAtY       = 0.5
	tanHalfFOV    = 0.42 // ≈ 23° half field of view

	// Lambert shading: a surface gets ambient + diffuse·max(0, n·l). The
	// room is lit more evenly than the object so that the object's shading
	// carries its shape.
	roomAmbient, roomDiffuse = 0.45, 0.55
	objAmbient, objDiffuse   = 0.28, 0.72
)

// light is the unit direction towards the (directional) light: above, left
// and in front of the room, so the object's shadow falls behind it on the
// floor and every wall gets a different shade.
var light = unit(vec{-0.35, 1.0, 0.6})

type vec struct{ x, y, z float64 }

func (a vec) add(b vec) vec             { return vec{a.x + b.x, a.y + b.y, a.z + b.z} }
func (a vec) sub(b vec) vec             { return vec{a.x - b.x, a.y - b.y, a.z - b.z} }
func (a vec) scale(s float64) vec       { return vec{a.x * s, a.y * s, a.z * s} }
func (a vec) dot(b vec) float64         { return a.x*b.x + a.y*b.y + a.z*b.z }
func (a vec) cross(b vec) vec           { return vec{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x} }
func unit(a vec) vec                    { return a.scale(1 / math.Sqrt(a.dot(a))) }
func (a vec) madd(s float64, b vec) vec { return vec{a.x + s*b.x, a.y + s*b.y, a.z + s*b.z} }

// ScaleValue, OrientationDegrees and HueValue are the physical values of
// the class indices, as in 3dshapes.
func ScaleValue(k int) float64         { return 0.75 + float64(k)*0.5/float64(Scales-1) }
func OrientationDegrees(k int) float64 { return -30 + float64(k)*60/float64(Orientations-1) }
func HueValue(k int) float64           { return float64(k) / 10 }

// object is one of the four shapes at one scale, in room coordinates. The
// cube is axis-aligned; the cylinder stands upright; the capsule lies on
// the floor along the x axis, so that it differs from the cylinder in
// silhouette and turns with the orientation.
type object struct {
	shape  int
	a      float64 // half side of the cube, radius of cylinder and sphere
	r, h   float64 // capsule radius and half length of its axis segment
	centre vec     // of the bounding sphere
	bound  float64 // its radius squared
}

func newObject(shape, scale int) object {
	a := 0.5 * ScaleValue(scale)
	o := object{shape: shape, a: a, centre: vec{0, a, 0}}
	switch shape {
	case Cube:
		o.bound = 3 * a * a
	case Cylinder:
		o.bound = 2 * a * a
	case Sphere:
		o.bound = a * a
	case Capsule:
		o.r, o.h = 0.7*a, 0.85*a
		o.centre = vec{0, o.r, 0}
		o.bound = (o.r + o.h) * (o.r + o.h)
	}
	return o
}

const eps = 1e-9

// hit returns the nearest t > eps at which the ray o + t·d meets the object,
// with the outward normal there.
func (ob *object) hit(o, d vec) (float64, vec, bool) {
	oc := o.sub(ob.centre)
	dd := d.dot(d)
	b := oc.dot(d)
	if b*b-dd*(oc.dot(oc)-ob.bound) < 0 {
		return 0, vec{}, false
	}
	switch ob.shape {
	case Cube:
		return hitBox(o, d, vec{-ob.a, 0, -ob.a}, vec{ob.a, 2 * ob.a, ob.a})
	case Cylinder:
		return hitCylinder(o, d, ob.a, 2*ob.a)
	case Sphere:
		t, ok := hitSphere(o, d, ob.centre, ob.a)
		if !ok {
			return 0, vec{}, false
		}
		return t, o.madd(t, d).sub(ob.centre).scale(1 / ob.a), true
	}
	return hitCapsule(o, d, ob.r, ob.h)
}

// hitBox is the slab test for an axis-aligned box.
func hitBox(o, d, lo, hi vec) (float64, vec, bool) {
	tNear, tFar := math.Inf(-1), math.Inf(1)
	var n vec
	slab := func(o, d, lo, hi float64, axis vec) bool {
		if d == 0 {
			return o >= lo && o <= hi
		}
		t0, t1 := (lo-o)/d, (hi-o)/d
		nrm := axis.scale(-1)
		if t0 > t1 {
			t0, t1 = t1, t0
			nrm = axis
		}
		if t0 > tNear {
			tNear, n = t0, nrm
		}
		tFar = min(tFar, t1)
		return tNear <= tFar
	}
	if !slab(o.x, d.x, lo.x, hi.x, vec{1, 0, 0}) || !slab(o.y, d.y, lo.y, hi.y, vec{0, 1, 0}) ||
		!slab(o.z, d.z, lo.z, hi.z, vec{0, 0, 1}) || tNear <= eps {
		return 0, vec{}, false
	}
	return tNear, n, true
}

// hitSphere returns the nearest t > eps on a sphere.
func hitSphere(o, d, c vec, r float64) (float64, bool) {
	oc := o.sub(c)
	a, b, cc := d.dot(d), oc.dot(d), oc.dot(oc)-r*r
	disc := b*b - a*cc
	if disc < 0 {
		return 0, false
	}
	s := math.Sqrt(disc)
	if t := (-b - s) / a; t > eps {
		return t, true
	}
	if t := (-b + s) / a; t > eps {
		return t, true
	}
	return 0, false
}

// hitCylinder intersects an upright cylinder of radius r on the floor,
// height top: its side and its top cap (the bottom lies on the floor).
func hitCylinder(o, d vec, r, top float64) (float64, vec, bool) {
	best, n, ok := math.Inf(1), vec{}, false
	a := d.x*d.x + d.z*d.z
	if a > 0 {
		b := o.x*d.x + o.z*d.z
		disc := b*b - a*(o.x*o.x+o.z*o.z-r*r)
		if disc >= 0 {
			s := math.Sqrt(disc)
			for _, t := range [2]float64{(-b - s) / a, (-b + s) / a} {
				if y := o.y + t*d.y; t > eps && y >= 0 && y <= top {
					best, n, ok = t, vec{(o.x + t*d.x) / r, 0, (o.z + t*d.z) / r}, true
					break
				}
			}
		}
	}
	if d.y != 0 {
		t := (top - o.y) / d.y
		x, z := o.x+t*d.x, o.z+t*d.z
		if t > eps && t < best && x*x+z*z <= r*r {
			best, n, ok = t, vec{0, 1, 0}, true
		}
	}
	return best, n, ok
}

// hitCapsule intersects a capsule lying on the floor along x: the axis runs
// from (-h, r, 0) to (h, r, 0).
func hitCapsule(o, d vec, r, h float64) (float64, vec, bool) {
	best, n, ok := math.Inf(1), vec{}, false
	oy := o.y - r
	a := d.y*d.y + d.z*d.z
	if a > 0 {
		b := oy*d.y + o.z*d.z
		disc := b*b - a*(oy*oy+o.z*o.z-r*r)
		if disc >= 0 {
			s := math.Sqrt(disc)
			for _, t := range [2]float64{(-b - s) / a, (-b + s) / a} {
				if x := o.x + t*d.x; t > eps && x >= -h && x <= h {
					best, n, ok = t, vec{0, (oy + t*d.y) / r, (o.z + t*d.z) / r}, true
					break
				}
			}
		}
	}
	for _, c := range [2]vec{{-h, r, 0}, {h, r, 0}} {
		if t, hit := hitSphere(o, d, c, r); hit && t < best {
			best, n, ok = t, o.madd(t, d).sub(c).scale(1/r), true
		}
	}
	return best, n, ok
}

// Surfaces a camera ray can end on.
const (
	surfObject = iota
	surfFloor
	surfWall
)

// sample is what one camera ray sees: the surface, its light, and the
// patch: which plane, lit or in shadow (0 on the object, whose shading
// varies from ray to ray). Every ray that ends in one patch has the same
// light.
type sample struct {
	surf  int
	patch uint8
	lum   float32
}

// planes of the room: a point, its inward normal and its patch number.
var planes = [4]struct {
	axis  int // 0 x, 1 y, 2 z
	at    float64
	nrm   vec
	patch uint8
}{
	{1, 0, vec{0, 1, 0}, 2},
	{2, -backWall, vec{0, 0, 1}, 4},
	{0, roomHalfWidth, vec{-1, 0, 0}, 6},
	{0, -roomHalfWidth, vec{1, 0, 0}, 8},
}

func (v vec) at(axis int) float64 {
	switch axis {
	case 0:
		return v.x
	case 1:
		return v.y
	}
	return v.z
}

// shade traces one camera ray.
func (ob *object) shade(o, d vec) sample {
	tObj, n, hitObj := ob.hit(o, d)
	t, plane := math.Inf(1), 1 // the back wall, should a ray meet nothing
	for i, p := range planes {
		// A plane faces the camera inside the room when the ray runs
		// against its normal.
		if dn := d.dot(p.nrm); dn < 0 {
			if tp := (p.at - o.at(p.axis)) / d.at(p.axis); tp < t {
				t, plane = tp, i
			}
		}
	}
	if hitObj && tObj < t {
		// Every hit returns a unit normal.
		return sample{surf: surfObject, lum: float32(objAmbient + objDiffuse*max(0, n.dot(light)))}
	}
	p := planes[plane]
	surf, patch := surfWall, p.patch
	if plane == 0 {
		surf = surfFloor
	}
	lit := max(0, p.nrm.dot(light))
	if lit > 0 && !math.IsInf(t, 1) {
		if _, _, shadowed := ob.hit(o.madd(t, d).madd(1e-6, p.nrm), light); shadowed {
			lit, patch = 0, patch+1
		}
	}
	return sample{surf: surf, patch: patch, lum: float32(roomAmbient + roomDiffuse*lit)}
}

// camera is a pinhole camera orbiting the object: each orientation turns
// the whole room (and the object with it) about the vertical axis, so the
// orientation shows in the walls' corners for every shape, as in 3dshapes.
type camera struct{ pos, fwd, right, up vec }

func newCamera(orientation int) camera {
	phi := OrientationDegrees(orientation) * math.Pi / 180
	pos := vec{camDistance * math.Sin(phi), camHeight, camDistance * math.Cos(phi)}
	fwd := unit(vec{0, lookAtY, 0}.sub(pos))
	right := unit(fwd.cross(vec{0, 1, 0}))
	return camera{pos: pos, fwd: fwd, right: right, up: right.cross(fwd)}
}

// geometry is a scene without its colours: per pixel, how much object,
// floor and wall light reaches it (coverage × shading, averaged over the
// supersamples), interleaved. A pixel's colour is linear in the three hues'
// colours, so one geometry serves all 1,000 hue triples.
type geometry []float32

func geometryIndex(f Factors) int { return (f.Scale*Shapes+f.Shape)*Orientations + f.Orientation }

// newGeometry casts Supersample² rays per pixel, but only where the pixel
// may hold more than one patch: a pixel whose middle ray and whose eight
// neighbours' middle rays all end in the same patch of the room has that
// patch's light in every sample (a straight edge through the pixel would
// put one of the nine middle rays on its far side), so its middle ray
// stands for all of them. That is about 3× fewer rays for the same pixels
// (a test checks all 480 geometries at 64×64 against full sampling), bar a
// corner of the object or its shadow thinner than a pixel that
// could poke between middle rays.
func newGeometry(f Factors, size int) geometry {
	ob := newObject(f.Shape, f.Scale)
	cam := newCamera(f.Orientation)
	inv := 1 / float64(size*Supersample)
	trace := func(sx, sy int) sample { // sx, sy count subsamples
		u := (2*(float64(sx)+0.5)*inv - 1) * tanHalfFOV
		v := (1 - 2*(float64(sy)+0.5)*inv) * tanHalfFOV
		return ob.shade(cam.pos, cam.fwd.madd(u, cam.right).madd(v, cam.up))
	}
	const mid = Supersample / 2
	middle := make([]sample, size*size)
	for py := range size {
		for px := range size {
			middle[py*size+px] = trace(px*Supersample+mid, py*Supersample+mid)
		}
	}
	uniform := func(px, py int) bool {
		patch := middle[py*size+px].patch
		if patch == 0 || px == 0 || py == 0 || px == size-1 || py == size-1 {
			return false
		}
		for y := py - 1; y <= py+1; y++ {
			for x := px - 1; x <= px+1; x++ {
				if middle[y*size+x].patch != patch {
					return false
				}
			}
		}
		return true
	}
	g := make(geometry, 3*size*size)
	w := float32(1) / float32(Supersample*Supersample)
	for py := range size {
		for px := range size {
			var acc [3]float32
			if m := middle[py*size+px]; uniform(px, py) {
				// The same sum the loop below would make.
				for range Supersample * Supersample {
					acc[m.surf] += m.lum
				}
			} else {
				for sy := range Supersample {
					for sx := range Supersample {
						s := trace(px*Supersample+sx, py*Supersample+sy)
						acc[s.surf] += s.lum
					}
				}
			}
			i := 3 * (py*size + px)
			g[i], g[i+1], g[i+2] = acc[0]*w, acc[1]*w, acc[2]*w
		}
	}
	return g
}

// hueRGB is HSV(h, 1, 1) in 0..255, the colours of 3dshapes' hues.
func hueRGB(k int) [3]float32 {
	h := HueValue(k) * 6
	i := int(h)
	f := float32(h - float64(i))
	var r, g, b float32
	switch i % 6 {
	case 0:
		r, g, b = 1, f, 0
	case 1:
		r, g, b = 1-f, 1, 0
	case 2:
		r, g, b = 0, 1, f
	case 3:
		r, g, b = 0, 1-f, 1
	case 4:
		r, g, b = f, 0, 1
	default:
		r, g, b = 1, 0, 1-f
	}
	return [3]float32{255 * r, 255 * g, 255 * b}
}

// paint colours a geometry with the scene's hues into dst.
func (g geometry) paint(dst *image.RGBA, f Factors) {
	obj, floor, wall := hueRGB(f.ObjectHue), hueRGB(f.FloorHue), hueRGB(f.WallHue)
	pix := dst.Pix
	for i := 0; i < len(g)/3; i++ {
		co, cf, cw := g[3*i], g[3*i+1], g[3*i+2]
		p := pix[4*i : 4*i+4 : 4*i+4]
		for c := range 3 {
			p[c] = quantize(co*obj[c] + cf*floor[c] + cw*wall[c])
		}
		p[3] = 255
	}
}

func quantize(v float32) uint8 {
	if v >= 254.5 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v + 0.5)
}

func checkSize(size int) error {
	if size < MinSize || size > MaxSize {
		return fmt.Errorf("image size %d out of range (valid: %d..%d)", size, MinSize, MaxSize)
	}
	return nil
}

// Render draws one scene as a size×size image by ray casting. It panics on
// invalid factors or size (check them with Validate and MinSize..MaxSize);
// a Renderer draws the same pixels much faster when it draws many scenes.
func Render(f Factors, size int) *image.RGBA {
	mustValid(f, size)
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	newGeometry(f, size).paint(img, f)
	return img
}

func mustValid(f Factors, size int) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	if err := checkSize(size); err != nil {
		panic("shapes3d: " + err.Error())
	}
}

// Renderer draws scenes of one size, casting the rays of each of the 480
// geometries (scale × shape × orientation) once and colouring them per
// scene afterwards. It is safe for concurrent use; its cache grows to
// 480 · 12 · size² bytes (24 MB at 64×64) when every geometry is drawn.
type Renderer struct {
	size  int
	cache [Scales * Shapes * Orientations]struct {
		once sync.Once
		g    geometry
	}
}

// NewRenderer returns a renderer of size×size images.
func NewRenderer(size int) (*Renderer, error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	return &Renderer{size: size}, nil
}

// Size is the image side in pixels.
func (r *Renderer) Size() int { return r.size }

// Render draws one scene; the pixels equal those of the package's Render.
// It panics on invalid factors.
func (r *Renderer) Render(f Factors) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, r.size, r.size))
	r.RenderInto(img, f)
	return img
}

// RenderInto draws one scene into dst, which must be size×size at the
// origin.
func (r *Renderer) RenderInto(dst *image.RGBA, f Factors) {
	mustValid(f, r.size)
	if dst.Rect != image.Rect(0, 0, r.size, r.size) {
		panic(fmt.Sprintf("shapes3d: RenderInto needs a %d×%d image at the origin, got %v", r.size, r.size, dst.Rect))
	}
	e := &r.cache[geometryIndex(f)]
	e.once.Do(func() { e.g = newGeometry(f, r.size) })
	e.g.paint(dst, f)
}

// AppendPlanar renders scene index into img (size×size, at the origin),
// with PaperNoise drawn from seed and the index when noise is set, and
// appends its planar RGB bytes (R plane, G plane, B plane: as a network
// reads them) to dst.
func (r *Renderer) AppendPlanar(dst []uint8, img *image.RGBA, index int, noise bool, seed uint64) ([]uint8, Factors, error) {
	f, err := FromIndex(index)
	if err != nil {
		return dst, f, err
	}
	r.RenderInto(img, f)
	if noise {
		PaperNoise(img, NoiseSource(seed, index))
	}
	n := img.Rect.Dx() * img.Rect.Dy()
	for c := range 3 {
		for p := range n {
			dst = append(dst, img.Pix[4*p+c])
		}
	}
	return dst, f, nil
}
