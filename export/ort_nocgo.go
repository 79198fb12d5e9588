//go:build !cgo

package export

import "errors"

func (b *Bundle) ortRunner(string) (runner, error) {
	return nil, errors.New("onnx runtime: this build has no cgo")
}

// TimeORT needs cgo to load ONNX Runtime.
func TimeORT(dir, lib string, s TimeSettings) ([]FileTiming, error) {
	return nil, errors.New("onnx runtime: this build has no cgo")
}
