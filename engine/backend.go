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
// (native.c) and keeps OpenBLAS for linear layers.
const (
	BackendGonum    Backend = "gonum"
	BackendOpenBLAS Backend = "openblas"
)

// Backends lists the backends this build can use, the fastest last.
func Backends() []Backend {
	if OpenBLASAvailable() {
		return []Backend{BackendGonum, BackendOpenBLAS}
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
	}
	return nil, fmt.Errorf("unknown backend %q (have %v)", b, Backends())
}

// Level3 is backend b's GEMM for callers outside the engine (the trainer),
// as the engine runs it: OpenBLAS single-threaded, so a caller that splits
// its GEMMs over its own goroutines has no OpenBLAS threads spinning on the
// cores they need.
func Level3(b Backend) (blas.Float32Level3, error) { return level3(b) }
