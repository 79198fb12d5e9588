//go:build !cgo

package main

import (
	"errors"
	"io"
)

// run needs cgo: ONNX Runtime is a C library, loaded through
// onnxruntime_go's cgo shim.
func run(config, io.Writer) error {
	return errors.New("built without cgo: ONNX Runtime needs it (CGO_ENABLED=1)")
}

func ortOnce(config) error {
	return errors.New("built without cgo: ONNX Runtime needs it (CGO_ENABLED=1)")
}
