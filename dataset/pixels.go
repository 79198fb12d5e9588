package dataset

import (
	"image"
	"image/color"
	// The two formats a data set may hold, registered for image.Decode.
	_ "image/jpeg"
	_ "image/png"
)

// planar writes img as three planes (R, G, B) of values in [0,1] into buf,
// grown as needed, and returns it with the image's height and width. 8-bit
// values are divided by 255 and 16-bit ones by 65535 in float32, as
// torchvision's ToTensor divides by 255. Grey is replicated to all three
// channels; alpha is dropped with the colour kept as stored (PIL's
// convert("RGB")), so premultiplied colours are first un-premultiplied.
// The common decoder outputs have direct paths; any other image goes through
// the colour model, which is exact but slower.
func planar(img image.Image, buf []float32) ([]float32, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h
	if cap(buf) < 3*n {
		buf = make([]float32, 3*n)
	}
	buf = buf[:3*n]
	r, g, bl := buf[:n], buf[n:2*n], buf[2*n:]
	set8 := func(i int, cr, cg, cb uint8) {
		r[i], g[i], bl[i] = float32(cr)/255, float32(cg)/255, float32(cb)/255
	}
	set16 := func(i int, cr, cg, cb uint16) {
		r[i], g[i], bl[i] = float32(cr)/65535, float32(cg)/65535, float32(cb)/65535
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				set8(y*w+x, v, v, v)
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			for x := 0; x < w; x++ {
				v := uint16(row[2*x])<<8 | uint16(row[2*x+1])
				set16(y*w+x, v, v, v)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				set8(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.RGBA:
		if !m.Opaque() {
			generic(img, r, g, bl)
			break
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				set8(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := 0; x < w; x++ {
				p := row[8*x:]
				set16(y*w+x, uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]), uint16(p[4])<<8|uint16(p[5]))
			}
		}
	case *image.Paletted:
		lut := make([][3]float32, len(m.Palette))
		for i, c := range m.Palette {
			lut[i] = rgbOf(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, k := range row {
				var c [3]float32 // an index past the palette reads as black, as image.Paletted.At does
				if int(k) < len(lut) {
					c = lut[k]
				}
				r[y*w+x], g[y*w+x], bl[y*w+x] = c[0], c[1], c[2]
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				set8(y*w+x, cr, cg, cb)
			}
		}
	default:
		generic(img, r, g, bl)
	}
	return buf, h, w
}

// generic converts any other image pixel by pixel.
func generic(img image.Image, r, g, b []float32) {
	bd := img.Bounds()
	w := bd.Dx()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			i := (y-bd.Min.Y)*w + (x - bd.Min.X)
			c := rgbOf(img.At(x, y))
			r[i], g[i], b[i] = c[0], c[1], c[2]
		}
	}
}

// rgbOf is a colour's RGB in [0,1] without its alpha. Colours stored
// un-premultiplied are read directly: going through color.Color's RGBA
// (premultiplied) and back would lose precision where alpha < 1, as it
// does, unavoidably, for colours stored premultiplied.
func rgbOf(c color.Color) [3]float32 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]float32{float32(c.R) / 255, float32(c.G) / 255, float32(c.B) / 255}
	case color.NRGBA64:
		return [3]float32{float32(c.R) / 65535, float32(c.G) / 65535, float32(c.B) / 65535}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]float32{float32(n.R) / 65535, float32(n.G) / 65535, float32(n.B) / 65535}
}
