// Package wire is the size of a tensor on the wire in each encoding: the
// one formula the planner predicts with, the plan is checked against and
// the codecs produce. It imports nothing, so the plan package stays a leaf.
package wire

// QuantHeaderBytes is what a per-tensor affine quantized tensor carries
// besides its codes: a float32 scale and an int32 zero point.
const QuantHeaderBytes = 8

// Encodings of a float feature map, most precise first, and Raw, the uint8
// camera image that remote-only sends.
var Encodings = []string{"fp32", "fp16", "int8", "int4"}

// Raw is the encoding of the input image as the camera gives it.
const Raw = "uint8"

// Bytes is the size of elems values in encoding enc (without a lossless
// stage); ok is false for an encoding this build does not know.
func Bytes(enc string, elems int64) (n int64, ok bool) {
	switch enc {
	case "fp32":
		return 4 * elems, true
	case "fp16":
		return 2 * elems, true
	case "int8":
		return elems + QuantHeaderBytes, true
	case "int4":
		return (elems+1)/2 + QuantHeaderBytes, true
	case Raw:
		return elems, true
	}
	return 0, false
}
