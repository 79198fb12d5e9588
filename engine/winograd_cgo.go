//go:build cgo && (amd64 || arm64)

package engine

/*
#include "winograd.h"
*/
import "C"

// nativeWinoIn runs mts_wino_in (winograd.h); false when the Go transform
// must run instead.
func nativeWinoIn(x []float32, q *winoPlan, cin, ty0, ty1, tx0, tx1 int, v []float32, vs int, buf []float32) bool {
	if nativeISA == 0 {
		return false
	}
	nb := (ty1 - ty0) * (tx1 - tx0)
	_ = x[cin*q.h*q.w-1]
	_ = v[(q.xi-1)*vs+cin*nb-1]
	_ = buf[winoBufElems(q.m, ty1-ty0, tx1-tx0)-1]
	if q.m == 4 {
		C.mts_wino_in4(C.int(nativeISA), fptr(x), C.int(cin), C.int(q.h), C.int(q.w), C.int(ty0), C.int(ty1),
			C.int(tx0), C.int(tx1), fptr(v), C.long(vs), fptr(buf))
		return true
	}
	C.mts_wino_in(C.int(nativeISA), fptr(x), C.int(cin), C.int(q.h), C.int(q.w), C.int(ty0), C.int(ty1),
		C.int(tx0), C.int(tx1), fptr(v), C.long(vs), fptr(buf))
	return true
}

// nativeWinoOut runs mts_wino_out (winograd.h); false when the Go transform
// must run instead.
func nativeWinoOut(m []float32, q *winoPlan, co0, co1 int, y []float32, ty0, ty1, tx0, tx1 int, bias []float32, a act, buf []float32) bool {
	if nativeISA == 0 {
		return false
	}
	nb := (ty1 - ty0) * (tx1 - tx0)
	_ = m[q.xi*q.cout*nb-1]
	_ = y[q.cout*q.oh*q.ow-1]
	_ = buf[winoBufElems(q.m, ty1-ty0, tx1-tx0)-1]
	if bias != nil {
		_ = bias[co1-1]
	}
	if q.m == 4 {
		C.mts_wino_out4(C.int(nativeISA), fptr(m), C.long(q.cout*nb), C.int(co0), C.int(co1), fptr(y), C.int(q.oh),
			C.int(q.ow), C.int(ty0), C.int(ty1), C.int(tx0), C.int(tx1), fptr(bias), C.int(a), fptr(buf))
		return true
	}
	C.mts_wino_out(C.int(nativeISA), fptr(m), C.long(q.cout*nb), C.int(co0), C.int(co1), fptr(y), C.int(q.oh),
		C.int(q.ow), C.int(ty0), C.int(ty1), C.int(tx0), C.int(tx1), fptr(bias), C.int(a), fptr(buf))
	return true
}
