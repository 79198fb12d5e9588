//go:build !cgo

package export

import "errors"

func (b *Bundle) ortRunner(string) (runner, error) {
	return nil, errors.New("onnx runtime: this build has no cgo")
}
