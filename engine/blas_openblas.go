//go:build cgo && !noopenblas

package engine

// This links OpenBLAS for gonum's netlib binding (which names no library
// itself), sets OpenBLAS's thread count and reports which kernels OpenBLAS
// chose for this CPU. The engine's other cgo is its native kernels
// (native_cgo.go, native.c).

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

const openBLASLinked = true

// openBLAS returns OpenBLAS's GEMM, made single-threaded (a process-wide
// setting of the library): the engine splits GEMMs over its own threads, so
// that OpenBLAS's threads do not spin on the cores the engine's need.
func openBLAS() blas.Float32Level3 {
	C.openblas_set_num_threads(1)
	return netlib.Implementation{}
}

// OpenBLASCore is the kernel set OpenBLAS runs with, e.g. "Haswell" (AVX2)
// or "SkylakeX" (AVX-512); OPENBLAS_CORETYPE in the environment overrides
// OpenBLAS's own choice.
func OpenBLASCore() string { return C.GoString(C.openblas_get_corename()) }
