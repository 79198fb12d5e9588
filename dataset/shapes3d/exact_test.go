//go:build amd64 && !amd64.v3

package shapes3d

// exactFloats: the compiler rounds every multiply and add on its own here.
const exactFloats = true
