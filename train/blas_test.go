//go:build cgo && !noopenblas

package train

import (
	"os"
	"testing"

	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"

	_ "github.com/mtlsplit/mtlsplit/engine" // links OpenBLAS for netlib
)

// TestMain runs the tests and benchmarks on OpenBLAS when the build links
// it, as the CLI does.
func TestMain(m *testing.M) {
	G.Use(netlib.Implementation{})
	os.Exit(m.Run())
}
