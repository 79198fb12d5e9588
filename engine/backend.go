package engine

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Backend names the BLAS implementation a Program multiplies matrices with.
type Backend string

// The backends. BackendGonum is pure Go and always present; BackendOpenBLAS
// needs cgo and Debian's libopenblas-dev (see OpenBLASAvailable). On CPUs
// with AVX-512, BackendOpenBLAS runs convolutions on the engine's own GEMM
// (native.h) and keeps OpenBLAS for linear layers. BackendNative is the
// same without OpenBLAS: the engine's GEMM for convolutions, gonum for
// linear layers; it needs cgo and a CPU with the native GEMM (AVX-512, or
// any arm64 CPU, whose release build links no OpenBLAS).
const (
	BackendGonum    Backend = "gonum"
	BackendOpenBLAS Backend = "openblas"
	BackendNative   Backend = "native"
)

// Backends lists the backends this build can use, the fastest last.
// BackendNative is listed only where OpenBLAS is not: with OpenBLAS linked,
// BackendOpenBLAS runs the same convolutions and faster linear layers.
func Backends() []Backend {
	switch {
	case OpenBLASAvailable():
		return []Backend{BackendGonum, BackendOpenBLAS}
	case nativeGEMM():
		return []Backend{BackendGonum, BackendNative}
	}
	return []Backend{BackendGonum}
}

// BestBackend is the fastest backend this build can use.
func BestBackend() Backend {
	b := Backends()
	return b[len(b)-1]
}

// OpenBLASAvailable reports whether this binary was built with cgo and linked
// against OpenBLAS (build tag noopenblas turns it off).
func OpenBLASAvailable() bool { return openBLASLinked }

// level3 returns the GEMM implementation of backend b.
func level3(b Backend) (blas.Float32Level3, error) {
	switch b {
	case "", BackendGonum:
		return gonum.Implementation{}, nil
	case BackendOpenBLAS:
		if !openBLASLinked {
			return nil, fmt.Errorf("backend %q: this build has no OpenBLAS (needs cgo and libopenblas-dev)", b)
		}
		return openBLAS(), nil
	case BackendNative:
		if !nativeGEMM() {
			return nil, fmt.Errorf("backend %q: this build or CPU has no native GEMM (needs cgo and AVX-512, or arm64)", b)
		}
		return gonum.Implementation{}, nil
	}
	return nil, fmt.Errorf("unknown backend %q (have %v)", b, Backends())
}

// Level3 is backend b's GEMM for callers outside the engine (the trainer),
// as the engine runs it: OpenBLAS single-threaded, so a caller that splits
// its GEMMs over its own goroutines has no OpenBLAS threads spinning on the
// cores they need.
func Level3(b Backend) (blas.Float32Level3, error) { return level3(b) }

// nativeConvs reports whether b runs convolutions on the native GEMM.
func nativeConvs(b Backend) bool {
	return (b == BackendOpenBLAS || b == BackendNative) && nativeGEMM()
}
