//go:build cgo && !noopenblas

package main

import (
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

// Training (mtlsplit train) multiplies on OpenBLAS when the build links it
// (the engine package links the library); gorgonia's BLAS is a process-wide
// choice, so main makes it.
func init() { G.Use(netlib.Implementation{}) }
