//go:build !cgo || !(amd64 || arm64)

package engine

// Without the native kernels the Winograd transforms run in Go.

func nativeWinoIn(x []float32, q *winoPlan, cin, ty0, ty1, tx0, tx1 int, v []float32, vs int, buf []float32) bool {
	return false
}

func nativeWinoOut(m []float32, q *winoPlan, co0, co1 int, y []float32, ty0, ty1, tx0, tx1 int, bias []float32, a act, buf []float32) bool {
	return false
}
