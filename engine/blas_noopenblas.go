//go:build !cgo || noopenblas

package engine

import "gonum.org/v1/gonum/blas"

const openBLASLinked = false

func openBLAS() blas.Float32Level3 { return nil }

// OpenBLASCore is "" in builds without OpenBLAS.
func OpenBLASCore() string { return "" }
