package shapes3d

import (
	"image"
	"image/color"
	"image/draw"
)

// Grid draws a sample sheet: one row per shape (cube, cylinder, sphere,
// capsule, top to bottom), one column per scale (smallest left), with the
// three hues and the orientation varied across cells so that every factor
// shows. Each scene is magnified zoom times; noise p is applied as in a
// written data set (seeded by the scene index).
func Grid(r *Renderer, zoom int, p float64, seed uint64) *image.RGBA {
	const gap = 4
	cell := r.Size()*zoom + gap
	sheet := image.NewRGBA(image.Rect(0, 0, Scales*cell+gap, Shapes*cell+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for shape := range Shapes {
		for scale := range Scales {
			f := GridScene(shape, scale)
			img := r.Render(f)
			SaltPepper(img, p, NoiseSource(seed, f.Index()))
			x0, y0 := gap+scale*cell, gap+shape*cell
			for y := range r.Size() * zoom {
				for x := range r.Size() * zoom {
					sheet.SetRGBA(x0+x, y0+y, img.RGBAAt(x/zoom, y/zoom))
				}
			}
		}
	}
	return sheet
}

// GridScene is the scene in Grid's cell for a shape and scale: hues and
// orientation step through their ranges with different strides so that
// neighbouring cells differ in every factor.
func GridScene(shape, scale int) Factors {
	k := shape*Scales + scale
	return Factors{
		FloorHue:    (3*k + 1) % FloorHues,
		WallHue:     (7*k + 5) % WallHues,
		ObjectHue:   k % ObjectHues,
		Scale:       scale,
		Shape:       shape,
		Orientation: (4*k + shape) % Orientations,
	}
}
